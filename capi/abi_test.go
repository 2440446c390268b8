//go:build cgo

package capi

import (
	"testing"
	"unsafe"

	"github.com/ipcz-go/ipcz-go/compat"
	"github.com/ipcz-go/ipcz-go/mojo"
)

// TestConstantsMatchManifest compares every constant capi uses, as the C
// headers and the Go side define it, with the reference manifests.
func TestConstantsMatchManifest(t *testing.T) {
	var manifests []*compat.ABI
	for _, name := range []string{"mojo", "ipcz"} {
		m, err := compat.LoadManifest(name)
		if err != nil {
			t.Fatal(err)
		}
		manifests = append(manifests, m)
	}
	lookup := func(name string) (compat.Constant, bool) {
		for _, m := range manifests {
			if c, ok := m.Constant(name); ok {
				return c, true
			}
		}
		return compat.Constant{}, false
	}
	for name, pair := range abiConstants() {
		c, ok := lookup(name)
		if !ok {
			t.Errorf("%s: not in the manifests", name)
			continue
		}
		want, err := c.Uint64()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		// IpczResult is int: compare in 32 bits for the C value.
		if pair.c != want && uint64(uint32(pair.c)) != want {
			t.Errorf("%s: %d in the headers, %d in the manifest", name, pair.c, want)
		}
		if pair.goValue != want {
			t.Errorf("%s: %d on the Go side, %d in the manifest", name, pair.goValue, want)
		}
	}
	for name, l := range abiStructs() {
		var size int64
		var align int
		found := false
		for _, m := range manifests {
			if s, ok := m.Struct(name); ok {
				size, align, found = s.Size, s.Align, true
			} else if tb, ok := m.Table(name); ok {
				size, align, found = tb.Size, tb.Align, true
			}
		}
		if !found {
			t.Errorf("struct %s: not in the manifests", name)
			continue
		}
		if l.size != size || l.align != int64(align) {
			t.Errorf("struct %s: %d/%d in the headers, %d/%d in the manifest", name, l.size, l.align, size, align)
		}
	}
	for what, sizes := range reinterpretations() {
		if sizes[0] != sizes[1] {
			t.Errorf("%s: C size %d, Go size %d", what, sizes[0], sizes[1])
		}
	}
	// The field order capi relies on when it reinterprets signals states.
	var s mojo.HandleSignalsState
	if unsafe.Offsetof(s.Satisfiable) != 4 {
		t.Errorf("mojo.HandleSignalsState.Satisfiable at %d, want 4", unsafe.Offsetof(s.Satisfiable))
	}
	if len(abiConstants()) < 90 {
		t.Errorf("only %d constants checked", len(abiConstants()))
	}
}
