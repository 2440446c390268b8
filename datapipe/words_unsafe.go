package datapipe

import "unsafe"

// wordsAt returns pointers to the shared words of a header that starts
// at b[0], or ok false if b is too short or not 8-byte aligned. The
// pointers are valid while the mapping holding b is; they are only used
// with sync/atomic, and every value loaded is validated (see sharedWords).
func wordsAt(b []byte) (w sharedWords, ok bool) {
	if len(b) < headerSize {
		return sharedWords{}, false
	}
	base := unsafe.Pointer(unsafe.SliceData(b))
	if uintptr(base)%8 != 0 {
		return sharedWords{}, false
	}
	w.written = (*uint64)(unsafe.Add(base, writtenOff))
	w.consumerWaiting = (*uint32)(unsafe.Add(base, consumerWaitingOff))
	w.read = (*uint64)(unsafe.Add(base, readOff))
	w.producerWaiting = (*uint32)(unsafe.Add(base, producerWaitingOff))
	return w, true
}
