package inprocess

import (
	"sync/atomic"
	"unsafe"
)

// wordAt returns the 8-byte word at b[i:] for atomic access, panicking if
// it is misaligned.
func wordAt(b []byte, i int) *atomic.Uint64 {
	p := unsafe.Pointer(&b[i])
	if uintptr(p)%8 != 0 {
		panic("misaligned word")
	}
	return (*atomic.Uint64)(p)
}
