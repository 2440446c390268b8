//go:build cgo

package capi

import (
	"testing"

	"github.com/ipcz-go/ipcz-go/capi/internal/ctest"
	"github.com/ipcz-go/ipcz-go/mojo"
)

// TestPanicDoesNotCrossIntoC makes an export panic while C is calling it:
// the C caller gets INTERNAL and carries on.
func TestPanicDoesNotCrossIntoC(t *testing.T) {
	before := panics.Load()
	testPanic.Store(true)
	r := ctest.Close(1)
	testPanic.Store(false)
	if r != uint32(mojo.ResultInternal) {
		t.Fatalf("MojoClose during a panic returned %d, want INTERNAL", r)
	}
	if panics.Load() != before+1 {
		t.Fatalf("recovered %d panics, want 1", panics.Load()-before)
	}
	if r := ctest.Close(0); r != uint32(mojo.ResultInvalidArgument) {
		t.Fatalf("MojoClose(0) = %d after the panic", r)
	}
}

// TestHammerFromCThreads runs two C threads against the exports inside
// this (possibly race-instrumented) test binary.
func TestHammerFromCThreads(t *testing.T) {
	n := 3000
	if raceEnabled {
		n = 300
	}
	if failed := ctest.Hammer(n); failed != 0 {
		t.Fatalf("%d threads failed", failed)
	}
	if c := getCore(); c != nil && c.NumHandles() != 0 {
		t.Errorf("%d handles left", c.NumHandles())
	}
	if n := dataPins.len() + msgPins.len() + mapPins.len(); n != 0 {
		t.Errorf("%d pins left", n)
	}
}

func TestTable(t *testing.T) {
	var tb table[string]
	h1 := tb.add("one")
	h2 := tb.add("two")
	if h1 == 0 || h2 == 0 || h1 == h2 {
		t.Fatalf("handles %x %x", h1, h2)
	}
	if v, ok := tb.lookup(h1); !ok || v != "one" {
		t.Fatalf("lookup: %q %v", v, ok)
	}
	if v, ok := tb.remove(h1); !ok || v != "one" {
		t.Fatalf("remove: %q %v", v, ok)
	}
	if _, ok := tb.remove(h1); ok {
		t.Fatal("removed twice")
	}
	h3 := tb.add("three") // reuses h1's slot with a new generation
	if uint32(h3) != uint32(h1) || h3 == h1 {
		t.Fatalf("slot reuse: %x after %x", h3, h1)
	}
	if _, ok := tb.lookup(h1); ok {
		t.Fatal("stale handle found")
	}
	if tb.removeIf(h3, func(v string) bool { return v == "other" }) {
		t.Fatal("removeIf ignored the predicate")
	}
	if tb.len() != 2 {
		t.Fatalf("len %d", tb.len())
	}
	if _, ok := tb.lookup(0); ok {
		t.Fatal("0 is a handle")
	}
	if _, ok := tb.lookup(1 << 40); ok {
		t.Fatal("out-of-range handle found")
	}
}
