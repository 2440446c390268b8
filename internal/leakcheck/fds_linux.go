package leakcheck

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// OpenFDs returns the descriptors open in this process, sorted, as listed
// by /proc/self/fd (less the one the listing itself uses). It panics if
// the listing fails: tests cannot go on without it.
func OpenFDs() []string {
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		panic(err)
	}
	self := fmt.Sprint(f.Fd())
	names = slices.DeleteFunc(names, func(n string) bool { return n == self })
	slices.Sort(names)
	return names
}

// DescribeFDs names each descriptor with what it refers to.
func DescribeFDs(fds []string) string {
	var b strings.Builder
	for _, fd := range fds {
		target, _ := os.Readlink("/proc/self/fd/" + fd)
		fmt.Fprintf(&b, "  %s -> %s\n", fd, target)
	}
	return b.String()
}

// WarmUpPoller makes the Go runtime open the descriptors it opens lazily
// (its poller's), so that they are not taken for a test's leak.
func WarmUpPoller() {
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	_ = r.SetReadDeadline(time.Now())
	r.Close()
	w.Close()
}

// CheckFDs fails t if the descriptors open when the test and its other
// cleanups finish are not those open now. Call it first, so that its
// cleanup runs last.
func CheckFDs(t testing.TB) {
	t.Helper()
	before := OpenFDs()
	t.Cleanup(func() {
		if after := OpenFDs(); !slices.Equal(before, after) {
			t.Errorf("descriptor leak: before\n%safter\n%s", DescribeFDs(before), DescribeFDs(after))
		}
	})
}
