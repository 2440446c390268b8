package leakcheck

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

const self = "github.com/ipcz-go/ipcz-go/internal/leakcheck"

func park(stop <-chan struct{}) { <-stop }

func TestGoroutines(t *testing.T) {
	if g := Goroutines(self); len(g) != 0 {
		t.Fatalf("found %d goroutines before starting any:\n%v", len(g), g)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { park(stop); close(done) }()
	parked := func() bool {
		g := Goroutines(self)
		return len(g) == 1 && strings.Contains(g[0], "leakcheck.park(")
	}
	if !WaitUntil(10*time.Second, time.Millisecond, parked) {
		t.Fatal("the parked goroutine was not found")
	}
	if g := Goroutines(self, "leakcheck.park"); len(g) != 0 {
		t.Fatalf("skip did not leave out the parked goroutine:\n%v", g)
	}
	if AfterTests(0, 10*time.Millisecond, self, "leakcheck.park") != 0 {
		t.Fatal("AfterTests reported a skipped goroutine")
	}
	if AfterTests(0, 10*time.Millisecond, self) != 1 { // prints the stack
		t.Fatal("AfterTests missed the parked goroutine")
	}
	if AfterTests(3, 10*time.Millisecond, self) != 3 {
		t.Fatal("AfterTests changed a failing status")
	}
	close(stop)
	<-done
	if AfterTests(0, 10*time.Second, self) != 0 {
		t.Fatal("AfterTests reported a goroutine that ended")
	}
}

func TestWaitUntil(t *testing.T) {
	if WaitUntil(time.Millisecond, time.Millisecond, func() bool { return false }) {
		t.Fatal("WaitUntil reported a condition that never held")
	}
	n := 0
	if !WaitUntil(10*time.Second, time.Microsecond, func() bool { n++; return n == 3 }) || n != 3 {
		t.Fatalf("WaitUntil stopped after %d calls", n)
	}
}

func TestOpenFDsSeesNewDescriptors(t *testing.T) {
	before := OpenFDs()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	during := OpenFDs()
	r.Close()
	w.Close()
	if len(during) != len(before)+2 {
		t.Fatalf("%d descriptors with a pipe open, want %d", len(during), len(before)+2)
	}
	if after := OpenFDs(); !slices.Equal(before, after) {
		t.Fatalf("descriptors after closing the pipe:\n%s want\n%s", DescribeFDs(after), DescribeFDs(before))
	}
	if !strings.Contains(DescribeFDs(during), "pipe:") {
		t.Fatalf("DescribeFDs does not name the pipe:\n%s", DescribeFDs(during))
	}
}
