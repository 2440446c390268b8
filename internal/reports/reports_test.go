package reports

import (
	"slices"
	"testing"
)

func TestLog(t *testing.T) {
	var l Log[int]
	l.Record(1) // no hook yet
	var seen []int
	l.SetHook(func(r int) {
		seen = append(seen, r)
		_ = l.All() // the hook runs with no lock held
	})
	l.Record(2)
	l.Record(3)
	l.SetHook(nil)
	l.Record(4)
	all := l.All()
	if want := []int{1, 2, 3, 4}; !slices.Equal(all, want) {
		t.Fatalf("All() = %v, want %v", all, want)
	}
	if want := []int{2, 3}; !slices.Equal(seen, want) {
		t.Fatalf("hook saw %v, want %v", seen, want)
	}
	all[0] = 99
	if l.All()[0] != 1 {
		t.Fatal("All returned the log itself, not a copy")
	}
}
