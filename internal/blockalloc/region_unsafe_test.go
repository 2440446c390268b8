package blockalloc

import "unsafe"

// alignedBytes returns a zeroed n-byte slice on the Go heap that starts on
// an 8-byte boundary (it is backed by a []uint64).
func alignedBytes(n int) []byte {
	buf := make([]uint64, (n+7)/8+1)
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(buf))), n)
}
