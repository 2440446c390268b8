package inprocess

import "unsafe"

// alignedBytes returns n zeroed bytes whose first byte is 8-byte aligned:
// the bytes of a []uint64, so ipcz can use 64-bit atomics on them. The
// garbage collector never moves heap memory, and the returned slice keeps
// the whole array alive.
func alignedBytes(n int) []byte {
	words := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), n)
}
