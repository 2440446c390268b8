package multiprocess

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/internal/leakcheck"
	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/stretchr/testify/require"
)

// childEnv names the child function a re-executed test binary runs
// instead of the tests.
const childEnv = "IPCZ_MULTIPROCESS_TEST_CHILD"

// children are the functions a child process can run, by name; each
// returns the process's exit status.
var children = map[string]func() int{}

// registerChild adds a child function; names must be unique.
func registerChild(name string, f func() int) {
	if _, dup := children[name]; dup {
		panic("duplicate child " + name)
	}
	children[name] = f
}

// TestMain runs a child function when the binary was re-executed as a
// child; otherwise it runs the tests and then fails the run if goroutines
// running this package's code are still alive (after a bounded wait).
func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		os.Unsetenv(childEnv)
		leakcheck.WarmUpPoller()
		f := children[name]
		if f == nil {
			fmt.Fprintf(os.Stderr, "unknown child %q\n", name)
			os.Exit(2)
		}
		os.Exit(f())
	}
	leakcheck.WarmUpPoller()
	os.Exit(leakcheck.AfterTests(m.Run(), 10*time.Second,
		"github.com/ipcz-go/ipcz-go/ipcz/driver/multiprocess", "testing.(*F).Fuzz"))
}

// waitUntil polls cond until it holds or the timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	return leakcheck.WaitUntil(timeout, time.Millisecond, cond)
}

// newDriver returns a Driver made with opts whose cleanup checks (after a
// bounded wait) that every object was closed, every driver goroutine
// exited, no descriptor opened during the test is still open and no ring
// is still mapped.
func newDriver(t testing.TB, opts ...Option) *Driver {
	t.Helper()
	before := leakcheck.OpenFDs()
	rings := ringMappings()
	d := New(opts...)
	t.Cleanup(func() {
		ok := waitUntil(10*time.Second, func() bool {
			return d.RunningGoroutines() == 0 && d.LiveObjects().Total() == 0 &&
				slices.Equal(leakcheck.OpenFDs(), before) && ringMappings() == rings
		})
		if ok {
			return
		}
		if n := ringMappings(); n != rings {
			t.Errorf("ring mappings: %d before, %d after", rings, n)
		}
		if n := d.RunningGoroutines(); n != 0 {
			t.Errorf("%d driver goroutines still running", n)
		}
		if c := d.LiveObjects(); c.Total() != 0 {
			t.Errorf("objects still open: %+v", c)
		}
		if after := leakcheck.OpenFDs(); !slices.Equal(after, before) {
			t.Errorf("descriptor leak: before\n%safter\n%s", leakcheck.DescribeFDs(before), leakcheck.DescribeFDs(after))
		}
	})
	return d
}

// event is one activity handler call, recorded.
type event struct {
	data    []byte
	handles []ipcz.DriverHandle
	flags   ipcz.TransportActivityFlags
}

// recorder is an activity handler that records its calls in a channel.
// The final call is also recorded by closing done.
type recorder struct {
	events chan event
	done   chan struct{}

	mu sync.Mutex
	// reject, if set, decides the handler's result for a message.
	// Guarded by mu.
	reject func(event) error
	// calls counts calls by flags; inCall detects overlapping calls.
	// Guarded by mu.
	calls  map[ipcz.TransportActivityFlags]int
	inCall bool
	// overlap is set if two calls overlapped. Guarded by mu.
	overlap bool
	// afterFinal is set if a call came after the final one. Guarded by
	// mu.
	afterFinal bool
}

func newRecorder() *recorder {
	return &recorder{
		events: make(chan event, 1<<14),
		done:   make(chan struct{}),
		calls:  make(map[ipcz.TransportActivityFlags]int),
	}
}

func (r *recorder) handler(data []byte, handles []ipcz.DriverHandle, flags ipcz.TransportActivityFlags) error {
	r.mu.Lock()
	if r.inCall {
		r.overlap = true
	}
	if r.calls[ipcz.TransportActivityDeactivated] > 0 {
		r.afterFinal = true
	}
	r.inCall = true
	r.calls[flags]++
	reject := r.reject
	r.mu.Unlock()
	ev := event{data: bytes.Clone(data), handles: slices.Clone(handles), flags: flags}
	var err error
	if reject != nil && flags == 0 {
		err = reject(ev)
	}
	if err == nil {
		r.events <- ev
	}
	r.mu.Lock()
	r.inCall = false
	r.mu.Unlock()
	if flags&ipcz.TransportActivityDeactivated != 0 {
		close(r.done)
	}
	return err
}

// count returns the number of calls with flags so far.
func (r *recorder) count(flags ipcz.TransportActivityFlags) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[flags]
}

// next returns the next recorded call, failing the test after a timeout.
func (r *recorder) next(t testing.TB) event {
	t.Helper()
	select {
	case ev := <-r.events:
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("timed out waiting for an activity handler call")
		return event{}
	}
}

// nextMessage returns the next call, which must be a message.
func (r *recorder) nextMessage(t testing.TB) event {
	t.Helper()
	ev := r.next(t)
	require.Zero(t, ev.flags, "expected a message, got flags %v", ev.flags)
	return ev
}

// expectError waits for the transport's error call (skipping messages,
// whose handles it closes) and checks that it is the only one.
func (r *recorder) expectError(t testing.TB, d *Driver) {
	t.Helper()
	for {
		ev := r.next(t)
		if ev.flags == 0 {
			d.closeHandles(ev.handles)
			continue
		}
		require.Equal(t, ipcz.TransportActivityError, ev.flags)
		return
	}
}

// finish deactivates the transport (ignoring the result), waits for the
// final call, closes the transport and checks the handler's record.
func (r *recorder) finish(t testing.TB, d *Driver, h ipcz.DriverHandle) {
	t.Helper()
	_ = d.DeactivateTransport(h)
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		t.Fatal("timed out waiting for the final call")
	}
	require.NoError(t, d.Close(h))
	for {
		select {
		case ev := <-r.events:
			d.closeHandles(ev.handles)
			continue
		default:
		}
		break
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	require.False(t, r.overlap, "handler calls overlapped")
	require.False(t, r.afterFinal, "handler called after the final call")
	require.Equal(t, 1, r.calls[ipcz.TransportActivityDeactivated], "final calls")
	require.LessOrEqual(t, r.calls[ipcz.TransportActivityError], 1, "error calls")
}

// activate activates h with a new recorder, deactivated and closed at
// cleanup.
func activate(t testing.TB, d *Driver, h ipcz.DriverHandle) *recorder {
	t.Helper()
	r := newRecorder()
	require.NoError(t, d.ActivateTransport(h, r.handler))
	t.Cleanup(func() {
		if d.lookupTransport(h) != nil {
			r.finish(t, d, h)
		}
	})
	return r
}

// newPair returns two activated ends of a new socketpair.
func newPair(t testing.TB, d *Driver) (a, b ipcz.DriverHandle, ra, rb *recorder) {
	t.Helper()
	a, b, err := d.NewTransportPair()
	require.NoError(t, err)
	return a, b, activate(t, d, a), activate(t, d, b)
}

// startChild re-executes the test binary as the named child with one end
// of a new transport, and returns the parent's (idle) end. At cleanup it
// waits for the child to exit and checks that it succeeded, unless
// wantExit says otherwise (nil: exit status 0).
func startChild(t testing.TB, d *Driver, name string, wantExit func(*exec.ExitError) bool) ipcz.DriverHandle {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// GORACE: the race detector otherwise sleeps a second at exit.
	cmd.Env = append(os.Environ(), childEnv+"="+name, "GORACE=atexit_sleep_ms=0")
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	h, err := d.Spawn(cmd)
	require.NoError(t, err)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		var err error
		select {
		case err = <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("child %s did not exit", name)
			return
		}
		if wantExit == nil {
			require.NoError(t, err, "child %s", name)
			return
		}
		ee, ok := err.(*exec.ExitError)
		require.True(t, ok && wantExit(ee), "child %s: unexpected exit: %v", name, err)
	})
	childProcs.Store(h, cmd)
	return h
}

// childProcs maps parent transport handles to their child's command, for
// tests that kill the child.
var childProcs sync.Map

// childKit is what a child function works with: its driver, its transport
// to the parent (activated with a recorder) and a way to fail.
type childKit struct {
	d      *Driver
	t      ipcz.DriverHandle
	r      *recorder
	before []string
	failed bool
}

// newChildKit adopts the inherited transport and activates it.
func newChildKit() *childKit {
	// The inherited socket is in the baseline of the leak check; the
	// transport closes it before the check.
	inherited := os.Getenv(TransportFDEnv)
	before := slices.DeleteFunc(leakcheck.OpenFDs(), func(fd string) bool { return fd == inherited })
	k := &childKit{d: New(), r: newRecorder(), before: before}
	h, err := k.d.TransportFromEnvironment()
	if err != nil {
		k.fatalf("TransportFromEnvironment: %v", err)
	}
	k.t = h
	if err := k.d.ActivateTransport(h, k.r.handler); err != nil {
		k.fatalf("ActivateTransport: %v", err)
	}
	return k
}

func (k *childKit) fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "child: "+format+"\n", args...)
	os.Exit(3)
}

// next returns the next handler call, or exits after a timeout.
func (k *childKit) next() event {
	select {
	case ev := <-k.r.events:
		return ev
	case <-time.After(20 * time.Second):
		k.fatalf("timed out waiting for the parent")
		return event{}
	}
}

// send transmits data and handles to the parent.
func (k *childKit) send(data []byte, handles ...ipcz.DriverHandle) {
	if err := k.d.Transmit(k.t, data, handles); err != nil {
		k.fatalf("Transmit: %v", err)
	}
}

// serialize serializes h for sending to the parent.
func (k *childKit) serialize(h ipcz.DriverHandle) ([]byte, ipcz.DriverHandle) {
	data := make([]byte, SerializedNumBytes)
	handles := make([]ipcz.DriverHandle, SerializedNumHandles)
	if _, _, err := k.d.Serialize(h, k.t, data, handles); err != nil {
		k.fatalf("Serialize: %v", err)
	}
	return data, handles[0]
}

// finish waits for the parent to close its end (the error call),
// deactivates and closes the transport, and checks for leaks. It returns
// the exit status.
func (k *childKit) finish() int {
	for {
		ev := k.next()
		if ev.flags == ipcz.TransportActivityError {
			break
		}
		k.d.closeHandles(ev.handles)
	}
	k.d.DeactivateTransport(k.t)
	<-k.r.done
	k.d.Close(k.t)
	ok := waitUntil(10*time.Second, func() bool {
		return k.d.RunningGoroutines() == 0 && k.d.LiveObjects().Total() == 0 &&
			slices.Equal(leakcheck.OpenFDs(), k.before) && ringMappings() == 0
	})
	if !ok {
		fmt.Fprintf(os.Stderr, "child: leak: goroutines %d, objects %+v, rings mapped %d, fds before\n%safter\n%s",
			k.d.RunningGoroutines(), k.d.LiveObjects(), ringMappings(), leakcheck.DescribeFDs(k.before), leakcheck.DescribeFDs(leakcheck.OpenFDs()))
		return 4
	}
	return 0
}

// serializeFor serializes h in the parent with the two-pass protocol.
func serializeFor(t testing.TB, d *Driver, h, over ipcz.DriverHandle) ([]byte, ipcz.DriverHandle) {
	t.Helper()
	n, k, err := d.Serialize(h, over, nil, nil)
	require.Equal(t, ipcz.ResourceExhausted, err)
	data := make([]byte, n)
	handles := make([]ipcz.DriverHandle, k)
	n2, k2, err := d.Serialize(h, over, data, handles)
	require.NoError(t, err)
	require.Equal(t, n, n2)
	require.Equal(t, k, k2)
	return data, handles[0]
}
