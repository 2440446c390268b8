package mojo

import (
	"sync"
	"sync/atomic"
)

// Handle values: the low 24 bits are a slot index (never 0, so no value is
// 0), the high 8 bits the slot's generation, bumped each time the slot is
// freed. Freed slots are reused oldest first, so a value comes back only
// after its slot was reused 256 times and every other free slot was used
// in between.
const (
	slotBits  = 24
	slotMask  = 1<<slotBits - 1
	maxSlots  = 1 << slotBits
	chunkBits = 10
	chunkSize = 1 << chunkBits
)

// table maps 32-bit handle values to values of type T. Lookups take no
// lock; changes are serialized by mu. The zero value is ready to use.
type table[T any] struct {
	// chunks is the slot storage; replaced (never modified in place) under
	// mu when it grows. Atomic.
	chunks atomic.Pointer[[]*[chunkSize]slot[T]]

	mu sync.Mutex
	// free is a FIFO of free slot indices; free[head:] are queued.
	// Guarded by mu.
	free []uint32
	head int
	// next is the lowest index never used. Guarded by mu.
	next uint32
	// live counts occupied slots. Guarded by mu.
	live int
}

type slot[T any] struct {
	// e is the slot's entry, nil when free. Atomic; stored under mu.
	e atomic.Pointer[entry[T]]
	// gen is the slot's current generation. Guarded by table.mu.
	gen uint8
}

// entry is one live handle.
type entry[T any] struct {
	h uint32 // immutable; the full handle value
	v T      // immutable
	// busy is set while the handle is attached to a message being sent:
	// it cannot be closed, attached again or used. Atomic; changed under
	// table.mu.
	busy atomic.Bool
}

func (t *table[T]) slotFor(idx uint32) *slot[T] {
	cs := t.chunks.Load()
	if cs == nil || int(idx>>chunkBits) >= len(*cs) {
		return nil
	}
	return &(*cs)[idx>>chunkBits][idx&(chunkSize-1)]
}

// get returns the entry for h, or nil.
func (t *table[T]) get(h uint32) *entry[T] {
	idx := h & slotMask
	if idx == 0 {
		return nil
	}
	s := t.slotFor(idx)
	if s == nil {
		return nil
	}
	e := s.e.Load()
	if e == nil || e.h != h {
		return nil
	}
	return e
}

// lookup returns the value of a live, non-busy handle.
func (t *table[T]) lookup(h uint32) (T, bool) {
	e := t.get(h)
	if e == nil || e.busy.Load() {
		var zero T
		return zero, false
	}
	return e.v, true
}

// add inserts v and returns its handle, or false if the table is full.
func (t *table[T]) add(v T) (uint32, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.addLocked(v)
}

func (t *table[T]) addLocked(v T) (uint32, bool) {
	var idx uint32
	switch {
	case t.head < len(t.free):
		idx = t.free[t.head]
		t.head++
		if t.head == len(t.free) {
			t.free, t.head = t.free[:0], 0
		} else if t.head > 1024 && t.head*2 > len(t.free) {
			t.free = append(t.free[:0], t.free[t.head:]...)
			t.head = 0
		}
	case t.next < maxSlots:
		if t.next == 0 {
			t.next = 1
		}
		idx = t.next
		t.next++
		t.growLocked(idx)
	default:
		return 0, false
	}
	s := t.slotFor(idx)
	h := uint32(s.gen)<<slotBits | idx
	s.e.Store(&entry[T]{h: h, v: v})
	t.live++
	return h, true
}

// growLocked makes sure a chunk holds idx. Preconditions: mu held.
func (t *table[T]) growLocked(idx uint32) {
	ci := int(idx >> chunkBits)
	var cs []*[chunkSize]slot[T]
	if p := t.chunks.Load(); p != nil {
		cs = *p
	}
	if ci < len(cs) {
		return
	}
	grown := make([]*[chunkSize]slot[T], ci+1)
	copy(grown, cs)
	for i := len(cs); i <= ci; i++ {
		grown[i] = new([chunkSize]slot[T])
	}
	t.chunks.Store(&grown)
}

// removeLocked frees e's slot. Preconditions: mu held; e is live.
func (t *table[T]) removeLocked(e *entry[T]) {
	idx := e.h & slotMask
	s := t.slotFor(idx)
	s.e.Store(nil)
	s.gen++
	t.free = append(t.free, idx)
	t.live--
}

// remove takes h out of the table. Results: InvalidArgument if h is not
// live; Busy if it is attached to a message being sent.
func (t *table[T]) remove(h uint32) (T, Result) {
	var zero T
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.get(h)
	if e == nil {
		return zero, ResultInvalidArgument
	}
	if e.busy.Load() {
		return zero, ResultBusy
	}
	t.removeLocked(e)
	return e.v, ResultOK
}

// beginTransit marks every handle of hs busy. Results: InvalidArgument if
// one is not live, Busy if one is busy (including one listed twice); no
// handle is marked then.
func (t *table[T]) beginTransit(hs []Handle) ([]*entry[T], Result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	es := make([]*entry[T], 0, len(hs))
	fail := func(r Result) ([]*entry[T], Result) {
		for _, e := range es {
			e.busy.Store(false)
		}
		return nil, r
	}
	for _, h := range hs {
		e := t.get(uint32(h))
		if e == nil {
			return fail(ResultInvalidArgument)
		}
		if e.busy.Load() {
			return fail(ResultBusy)
		}
		e.busy.Store(true)
		es = append(es, e)
	}
	return es, ResultOK
}

// cancelTransit clears the busy marks of beginTransit.
func (t *table[T]) cancelTransit(es []*entry[T]) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range es {
		e.busy.Store(false)
	}
}

// completeTransit removes the handles marked by beginTransit.
func (t *table[T]) completeTransit(es []*entry[T]) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range es {
		t.removeLocked(e)
	}
}

// addAll inserts every value, all or none: false if the table cannot hold
// them all.
func (t *table[T]) addAll(vs []T) ([]uint32, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	hs := make([]uint32, 0, len(vs))
	for _, v := range vs {
		h, ok := t.addLocked(v)
		if !ok {
			for _, h := range hs {
				t.removeLocked(t.get(h))
			}
			return nil, false
		}
		hs = append(hs, h)
	}
	return hs, true
}

// len returns the number of live handles.
func (t *table[T]) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.live
}
