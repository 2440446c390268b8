package blockalloc

import (
	"sync/atomic"
	"unsafe"
)

// words gives atomic access to the aligned words of a region. It is the
// only code in the package that turns offsets into pointers; callers
// guarantee that every offset is in range and aligned (New checks the
// region's alignment and size, and the allocator only ever passes
// offsets of validated block indices).
type words struct {
	// base is the first byte of the region; immutable. Holding it keeps a
	// region allocated on the Go heap alive.
	base unsafe.Pointer
	// size is the region's length; immutable. Used to bounds-check every
	// access, so an allocator bug could panic but never touch memory
	// outside the region.
	size int
}

func newWords(region []byte) words {
	return words{base: unsafe.Pointer(unsafe.SliceData(region)), size: len(region)}
}

// aligned8 reports whether b starts on an 8-byte boundary.
func aligned8(b []byte) bool {
	return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%8 == 0
}

func (w words) p32(off int) *uint32 {
	if off < 0 || off > w.size-4 || off%4 != 0 {
		panic("blockalloc: internal error: word offset out of range")
	}
	return (*uint32)(unsafe.Add(w.base, off))
}

func (w words) p64(off int) *uint64 {
	if off < 0 || off > w.size-8 || off%8 != 0 {
		panic("blockalloc: internal error: word offset out of range")
	}
	return (*uint64)(unsafe.Add(w.base, off))
}

func (w words) load32(off int) uint32     { return atomic.LoadUint32(w.p32(off)) }
func (w words) store32(off int, v uint32) { atomic.StoreUint32(w.p32(off), v) }
func (w words) load64(off int) uint64     { return atomic.LoadUint64(w.p64(off)) }
func (w words) store64(off int, v uint64) { atomic.StoreUint64(w.p64(off), v) }
func (w words) cas64(off int, old, new uint64) bool {
	return atomic.CompareAndSwapUint64(w.p64(off), old, new)
}
