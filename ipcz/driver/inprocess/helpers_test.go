package inprocess

import (
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/internal/leakcheck"
	"github.com/ipcz-go/ipcz-go/ipcz"
)

var allModes = []Mode{Sync, Async, AsyncDelegatedAlloc, AsyncForcedBrokering}

// forEachMode runs f as a subtest for every mode.
func forEachMode(t *testing.T, f func(t *testing.T, d *Driver)) {
	t.Helper()
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) { f(t, newDriver(t, mode)) })
	}
}

// TestMain fails the run if goroutines running this package's code (the
// driver's delivery goroutines or goroutines started by tests) are still
// alive once the tests finish, after a bounded wait. Goroutines of the
// testing framework itself (such as the fuzzing coordinator's) are ignored.
func TestMain(m *testing.M) {
	os.Exit(leakcheck.AfterTests(m.Run(), 10*time.Second, "github.com/ipcz-go/ipcz-go/ipcz/driver/inprocess"))
}

// newDriver returns a Driver whose cleanup checks (after a bounded wait)
// that every object was closed and every delivery goroutine exited.
func newDriver(t testing.TB, mode Mode) *Driver {
	t.Helper()
	d := New(mode)
	t.Cleanup(func() {
		waitUntil(10*time.Second, func() bool {
			return d.RunningGoroutines() == 0 && d.LiveObjects().Total() == 0
		})
		if n := d.RunningGoroutines(); n != 0 {
			t.Errorf("%d delivery goroutines still running", n)
		}
		if c := d.LiveObjects(); c.Total() != 0 {
			t.Errorf("objects leaked: %+v", c)
		}
	})
	return d
}

// waitUntil polls cond until it holds or the timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	return leakcheck.WaitUntil(timeout, 200*time.Microsecond, cond)
}

// waitFor fails the test if cond does not hold within 10 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !waitUntil(10*time.Second, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// closeLater closes the handles at cleanup, ignoring those already closed.
func closeLater(t testing.TB, d *Driver, hs ...ipcz.DriverHandle) {
	t.Cleanup(func() {
		for _, h := range hs {
			_ = d.Close(h)
		}
	})
}

// wantErr reports a mismatch between an error and the Result expected (nil
// for success).
func wantErr(t testing.TB, what string, got, want error) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

// rec is one recorded handler call.
type rec struct {
	flags   ipcz.TransportActivityFlags
	data    string
	handles []ipcz.DriverHandle
}

// recorder is an activity handler that records every call and detects
// overlapping calls and calls after the final one.
type recorder struct {
	active   atomic.Int32
	overlaps atomic.Int32

	// onMessage, if set before activation, runs inside the handler for each
	// message (flags 0) and its result is returned to the driver.
	onMessage func(data []byte, handles []ipcz.DriverHandle) error
	// onNotice, if set before activation, runs inside the handler for each
	// error or deactivation notice.
	onNotice func(flags ipcz.TransportActivityFlags)

	mu         sync.Mutex
	recs       []rec // guarded by mu
	finals     int   // DEACTIVATED calls; guarded by mu
	afterFinal int   // calls after the first DEACTIVATED; guarded by mu
}

func (r *recorder) handle(data []byte, handles []ipcz.DriverHandle, flags ipcz.TransportActivityFlags) error {
	if r.active.Add(1) != 1 {
		r.overlaps.Add(1)
	}
	defer r.active.Add(-1)
	r.mu.Lock()
	if r.finals > 0 {
		r.afterFinal++
	}
	if flags&ipcz.TransportActivityDeactivated != 0 {
		r.finals++
	}
	r.recs = append(r.recs, rec{flags, string(data), slices.Clone(handles)})
	r.mu.Unlock()
	if flags == 0 {
		if r.onMessage != nil {
			return r.onMessage(data, handles)
		}
	} else if r.onNotice != nil {
		r.onNotice(flags)
	}
	return nil
}

func (r *recorder) snapshot() []rec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.recs)
}

// messages returns the data of the messages received, in order.
func (r *recorder) messages() []string {
	var out []string
	for _, c := range r.snapshot() {
		if c.flags == 0 {
			out = append(out, c.data)
		}
	}
	return out
}

// count returns the number of calls with exactly these flags.
func (r *recorder) count(flags ipcz.TransportActivityFlags) int {
	n := 0
	for _, c := range r.snapshot() {
		if c.flags == flags {
			n++
		}
	}
	return n
}

// checkSane reports overlapping calls and calls after the final one.
func (r *recorder) checkSane(t testing.TB) {
	t.Helper()
	if n := r.overlaps.Load(); n != 0 {
		t.Errorf("%d overlapping handler calls", n)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finals > 1 || r.afterFinal != 0 {
		t.Errorf("%d DEACTIVATED calls, %d calls after the first", r.finals, r.afterFinal)
	}
}

func (r *recorder) deactivated() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.finals > 0
}

// activePair returns an activated transport pair (a's node a broker, so
// every object can be serialized over it in every mode) whose ends are
// closed at cleanup, which waits for both final calls and checks the
// recorders.
func activePair(t testing.TB, d *Driver, ra, rb *recorder) (a, b ipcz.DriverHandle) {
	t.Helper()
	a, b = d.NewTransportPair(true, false)
	if err := d.ActivateTransport(a, ra.handle); err != nil {
		t.Fatalf("ActivateTransport(a): %v", err)
	}
	if err := d.ActivateTransport(b, rb.handle); err != nil {
		t.Fatalf("ActivateTransport(b): %v", err)
	}
	t.Cleanup(func() {
		_ = d.Close(a)
		_ = d.Close(b)
		waitFor(t, "final calls", func() bool { return ra.deactivated() && rb.deactivated() })
		ra.checkSane(t)
		rb.checkSane(t)
	})
	return a, b
}

// serializeNew serializes h over transport and fails the test on error.
func serializeNew(t testing.TB, d *Driver, h, transport ipcz.DriverHandle) ([]byte, ipcz.DriverHandle) {
	t.Helper()
	data := make([]byte, SerializedNumBytes)
	hs := make([]ipcz.DriverHandle, SerializedNumHandles)
	if _, _, err := d.Serialize(h, transport, data, hs); err != nil {
		t.Fatalf("Serialize: %v", err)
	}
	return data, hs[0]
}
