package ipcz

import "unsafe"

// linkStateAt views the 64 bytes at b[off:] as a linkState. The caller
// guarantees the bytes exist and are 8-byte aligned (block regions start
// at 64-byte multiples of buffers that are themselves 8-byte aligned), and
// that the memory outlives the view (buffers stay mapped until the link
// is gone). The memory may be shared with another node: linkState holds
// only atomics for that reason.
func linkStateAt(b []byte, off int) *linkState {
	if off < 0 || off+linkStateSize > len(b) {
		return nil
	}
	p := unsafe.Pointer(&b[off])
	if uintptr(p)%8 != 0 {
		return nil
	}
	return (*linkState)(p)
}
