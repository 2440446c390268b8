// Package handles is the handle table of the built-in ipcz drivers: it
// gives each driver object a handle, finds objects by handle and counts
// the live ones by kind.
//
// # Contract
//
// Handles are numbered from 1 and never reused, so a stale handle names
// nothing rather than some newer object; handle 0 never names an object.
// The table trusts its caller (a driver) for the objects it stores; the
// handles it is asked about may come from ipcz or the application and are
// only looked up.
//
// A [Table] is safe for concurrent use. Its methods take its mutex, except
// those named …Locked, which need it held: a driver holds it across
// several …Locked calls to check and change entries as one step. The
// mutex is a leaf lock: no method calls out while holding it.
package handles

import "sync"

// MaxKinds bounds the kinds a Table counts: a kind is from 0 to
// MaxKinds-1.
const MaxKinds = 8

// Handle is the type of the handles a Table gives out.
type Handle interface{ ~uintptr | ~uint64 }

// Table maps handles of type H to objects of type O. Init it before use.
type Table[H Handle, O comparable] struct {
	// Mutex guards the fields below, and lets a caller make several
	// …Locked calls as one step.
	sync.Mutex

	// kind returns an object's kind. Immutable after Init.
	kind func(O) int
	// objects is the table. Guarded by Mutex.
	objects map[H]O
	// next is the last handle given out. Guarded by Mutex.
	next H
	// counts mirrors objects by kind. Guarded by Mutex.
	counts [MaxKinds]int
}

// Init makes t an empty table whose objects are counted by kind (a
// function of the object, below MaxKinds).
func (t *Table[H, O]) Init(kind func(O) int) {
	t.kind = kind
	t.objects = make(map[H]O)
}

// Insert adds o to the table and returns its new handle.
func (t *Table[H, O]) Insert(o O) H {
	t.Lock()
	defer t.Unlock()
	return t.InsertLocked(o)
}

// InsertLocked is Insert with t held.
func (t *Table[H, O]) InsertLocked(o O) H {
	t.next++
	t.objects[t.next] = o
	t.counts[t.kind(o)]++
	return t.next
}

// RestoreLocked puts o back under the handle it had before a Remove.
// Preconditions: t held; h was removed and holds nothing (handles are never
// reused, so nothing else can have taken it).
func (t *Table[H, O]) RestoreLocked(h H, o O) {
	t.objects[h] = o
	t.counts[t.kind(o)]++
}

// Lookup returns the object named by h, or the zero O.
func (t *Table[H, O]) Lookup(h H) O {
	if h == 0 {
		var none O
		return none
	}
	t.Lock()
	defer t.Unlock()
	return t.objects[h]
}

// LookupLocked is Lookup with t held.
func (t *Table[H, O]) LookupLocked(h H) O { return t.objects[h] }

// Remove takes h out of the table if it names o (any object if o is the
// zero O) and returns the object removed, or the zero O.
func (t *Table[H, O]) Remove(h H, o O) O {
	if h == 0 {
		var none O
		return none
	}
	t.Lock()
	defer t.Unlock()
	return t.RemoveLocked(h, o)
}

// RemoveLocked is Remove with t held.
func (t *Table[H, O]) RemoveLocked(h H, o O) O {
	var none O
	cur, ok := t.objects[h]
	if !ok || (o != none && cur != o) {
		return none
	}
	delete(t.objects, h)
	t.counts[t.kind(cur)]--
	return cur
}

// Counts returns the number of live objects of each kind.
func (t *Table[H, O]) Counts() [MaxKinds]int {
	t.Lock()
	defer t.Unlock()
	return t.counts
}
