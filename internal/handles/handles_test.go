package handles

import "testing"

type handle uint64

type obj struct{ k int }

func newTable() *Table[handle, *obj] {
	t := new(Table[handle, *obj])
	t.Init(func(o *obj) int { return o.k })
	return t
}

func TestInsertLookupRemove(t *testing.T) {
	tab := newTable()
	a, b := &obj{k: 1}, &obj{k: 2}
	ha, hb := tab.Insert(a), tab.Insert(b)
	if ha != 1 || hb != 2 {
		t.Fatalf("handles %d, %d; want 1, 2", ha, hb)
	}
	if tab.Lookup(ha) != a || tab.Lookup(hb) != b || tab.Lookup(0) != nil || tab.Lookup(3) != nil {
		t.Fatal("Lookup found the wrong objects")
	}
	if c := tab.Counts(); c[1] != 1 || c[2] != 1 {
		t.Fatalf("Counts() = %v", c)
	}
	if tab.Remove(ha, b) != nil {
		t.Fatal("Remove took a handle that names another object")
	}
	if tab.Remove(ha, a) != a || tab.Remove(ha, nil) != nil || tab.Lookup(ha) != nil {
		t.Fatal("Remove of a live handle failed, or removed it twice")
	}
	if tab.Remove(hb, nil) != b || tab.Remove(0, nil) != nil {
		t.Fatal("Remove with any object failed")
	}
	if c := tab.Counts(); c != ([MaxKinds]int{}) {
		t.Fatalf("Counts() = %v after removing everything", c)
	}
	if h := tab.Insert(a); h != 3 {
		t.Fatalf("handle %d after removals; want 3 (never reused)", h)
	}
}

func TestRestoreLocked(t *testing.T) {
	tab := newTable()
	a := &obj{k: 3}
	h := tab.Insert(a)
	tab.Lock()
	if tab.RemoveLocked(h, a) != a || tab.LookupLocked(h) != nil {
		t.Fatal("RemoveLocked failed")
	}
	tab.RestoreLocked(h, a)
	got := tab.LookupLocked(h)
	tab.Unlock()
	if got != a || tab.Counts()[3] != 1 {
		t.Fatal("RestoreLocked did not put the object back")
	}
}
