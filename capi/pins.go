//go:build cgo

package capi

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// pinTable keeps memory that C holds pinned (runtime.Pinner) until C gives
// it back, keyed by what C gives it back with: a message handle, a data
// pipe or portal handle during a two-phase operation, a mapping's address.
//
// Pinning a pointer that is not Go heap memory (mmap'd shared memory, C
// memory) does nothing, so every buffer goes through the table whatever
// backs it. Go's collector never moves heap objects; the pin is what the
// cgo pointer rules require before C may keep a Go pointer, and it keeps
// the object alive even if Go drops its last reference.
//
// No lock of the table is held while calling into mojo or ipcz (a watcher
// callback or trap handler may call back in), so a pin and the release of
// the same key may race only if the application uses a buffer while
// ending its operation on another thread; the cost of that misuse is a
// stale pin, released by the key's next pin or release.
type pinTable[K comparable] struct {
	mu sync.Mutex
	// m holds the pins by key. Guarded by mu.
	m map[K]*pinned
	// n is len(m), read without the lock to skip empty tables. Atomic.
	n atomic.Int64
}

type pinned struct {
	p    runtime.Pinner
	addr unsafe.Pointer
}

// pin pins b's first byte under k, replacing (and releasing) any pin k
// held for other memory.
func (t *pinTable[K]) pin(k K, b []byte) {
	if len(b) == 0 {
		return
	}
	addr := unsafe.Pointer(unsafe.SliceData(b))
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[K]*pinned)
	}
	if old := t.m[k]; old != nil {
		if old.addr == addr {
			return
		}
		old.p.Unpin()
	} else {
		t.n.Add(1)
	}
	pn := &pinned{addr: addr}
	pn.p.Pin(addr)
	t.m[k] = pn
}

// lend pins b under k and, if dst is not nil, stores the address of b's
// first byte (nil when b is empty) at dst, a C pointer-to-pointer: how C
// is handed Go memory it may use until k's pin is released.
func (t *pinTable[K]) lend(k K, b []byte, dst unsafe.Pointer) {
	t.pin(k, b)
	if dst != nil {
		storePointer(dst, bytesPtr(b))
	}
}

// release unpins whatever k holds.
func (t *pinTable[K]) release(k K) {
	if t.n.Load() == 0 {
		return
	}
	t.mu.Lock()
	if old := t.m[k]; old != nil {
		old.p.Unpin()
		delete(t.m, k)
		t.n.Add(-1)
	}
	t.mu.Unlock()
}

// len returns the number of keys holding a pin.
func (t *pinTable[K]) len() int { return int(t.n.Load()) }
