package mojo

import "unsafe"

// alignedBytes returns n zeroed bytes whose first byte is 8-byte aligned
// (the bytes of a []uint64). The Go garbage collector never moves heap
// objects, so the address is stable for as long as the slice (or any
// slice of it) is reachable: message payloads handed to C through
// GetMessageBuffer rely on this, with the C layer pinning them while C
// holds the pointer.
func alignedBytes(n int) []byte {
	if n == 0 {
		return make([]byte, 0, 8)[:0:0]
	}
	words := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), n)
}

// addressOf returns the address of b's first byte (b must not be empty).
func addressOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// aligned8 reports whether b starts on an 8-byte boundary.
func aligned8(b []byte) bool { return len(b) == 0 || addressOf(b)%8 == 0 }
