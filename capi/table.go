//go:build cgo

package capi

import (
	"sync"
	"sync/atomic"
)

// table maps handle values that C holds (IpczHandle, MojoExtInvitation,
// transport listeners) to Go values. A handle is the slot index in its low
// 32 bits (never 0) and the slot's generation in its high 32 bits, so a
// stale handle names nothing until its slot has been reused 2^32 times.
// Values are never Go pointers: C can keep, copy and compare them freely.
//
// Lookups take no lock: an atomic load of the chunk and of the slot's
// entry, and a comparison of the full handle. Insertions take mu; removals
// claim the entry with a compare-and-swap (so exactly one of several
// racing removals wins) and then take mu to free the slot.
type table[T any] struct {
	mu sync.Mutex
	// free lists released slot indices, reused oldest first. Guarded by mu.
	free []uint32
	// next is the next never-used index (starts at 1). Guarded by mu.
	next uint32
	// gens counts the generations of each slot. Guarded by mu.
	gens map[uint32]uint32
	// chunks hold the slots; a chunk, once published, never moves.
	chunks [tableChunks]atomic.Pointer[[tableChunkSize]atomic.Pointer[entry[T]]]
	// live counts the entries. Atomic.
	live atomic.Int64
}

const (
	tableChunkBits = 12
	tableChunkSize = 1 << tableChunkBits
	tableChunks    = 1 << 10 // 4M handles per table
)

// entry is what a slot holds. Immutable once published.
type entry[T any] struct {
	handle uint64
	v      T
}

func (t *table[T]) slot(idx uint32) *atomic.Pointer[entry[T]] {
	c := idx >> tableChunkBits
	if c >= tableChunks {
		return nil
	}
	chunk := t.chunks[c].Load()
	if chunk == nil {
		return nil
	}
	return &chunk[idx&(tableChunkSize-1)]
}

// add stores v and returns its new handle, or 0 if the table is full.
func (t *table[T]) add(v T) uint64 {
	t.mu.Lock()
	var idx uint32
	if len(t.free) > 0 {
		idx = t.free[0]
		t.free = t.free[1:]
	} else {
		if t.next == 0 {
			t.next = 1
			t.gens = make(map[uint32]uint32)
		}
		idx = t.next
		if idx>>tableChunkBits >= tableChunks {
			t.mu.Unlock()
			return 0
		}
		if t.chunks[idx>>tableChunkBits].Load() == nil {
			t.chunks[idx>>tableChunkBits].Store(new([tableChunkSize]atomic.Pointer[entry[T]]))
		}
		t.next++
	}
	gen := t.gens[idx] + 1
	t.gens[idx] = gen
	h := uint64(gen)<<32 | uint64(idx)
	t.slot(idx).Store(&entry[T]{handle: h, v: v})
	t.mu.Unlock()
	t.live.Add(1)
	return h
}

// lookup returns the value of a live handle.
func (t *table[T]) lookup(h uint64) (T, bool) {
	if s := t.slot(uint32(h)); s != nil {
		if e := s.Load(); e != nil && e.handle == h {
			return e.v, true
		}
	}
	var zero T
	return zero, false
}

// remove takes a live handle out of the table and returns its value.
func (t *table[T]) remove(h uint64) (T, bool) {
	var zero T
	s := t.slot(uint32(h))
	if s == nil {
		return zero, false
	}
	e := s.Load()
	if e == nil || e.handle != h || !s.CompareAndSwap(e, nil) {
		return zero, false
	}
	t.release(uint32(h))
	return e.v, true
}

// removeIf is remove, only if the handle still holds the value for which
// same reports true (for handles whose object was consumed elsewhere).
func (t *table[T]) removeIf(h uint64, same func(T) bool) bool {
	s := t.slot(uint32(h))
	if s == nil {
		return false
	}
	e := s.Load()
	if e == nil || e.handle != h || !same(e.v) || !s.CompareAndSwap(e, nil) {
		return false
	}
	t.release(uint32(h))
	return true
}

func (t *table[T]) release(idx uint32) {
	t.mu.Lock()
	t.free = append(t.free, idx)
	t.mu.Unlock()
	t.live.Add(-1)
}

// len returns the number of live handles.
func (t *table[T]) len() int { return int(t.live.Load()) }
