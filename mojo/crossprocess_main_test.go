package mojo

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/internal/leakcheck"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/multiprocess"
)

// Cross-process tests re-execute the test binary as child processes. A
// child is named by crossChildEnv; TestMain runs the registered function
// of that name instead of the tests. Children that use Mojo get their
// socket from multiprocess.Driver.Spawn (TransportFromEnvironment) and
// accept an invitation from the parent, whose core is the broker.

// crossChildEnv names the child function a re-executed test binary runs.
const crossChildEnv = "MOJO_CROSSPROCESS_CHILD"

// crossTimeout bounds every wait of the cross-process tests, in parent
// and child.
const crossTimeout = 60 * time.Second

// crossChildren are the child functions, by name.
var crossChildren = map[string]func(){}

// registerCrossChild adds a child function; names must be unique.
func registerCrossChild(name string, f func()) {
	if _, dup := crossChildren[name]; dup {
		panic("duplicate cross-process child " + name)
	}
	crossChildren[name] = f
}

// TestMain runs a child function when the binary was re-executed as a
// cross-process child, and the tests otherwise.
func TestMain(m *testing.M) {
	if name := os.Getenv(crossChildEnv); name != "" {
		os.Unsetenv(crossChildEnv)
		os.Exit(runCrossChild(name))
	}
	os.Exit(m.Run())
}

// childFailure is the panic value with which a child reports a failed
// check; runCrossChild turns it into exit status 3.
type childFailure string

// runCrossChild runs the named child function and returns the exit
// status: 0, 2 for an unknown name, 3 for a failed check, 5 on timeout.
func runCrossChild(name string) (code int) {
	f := crossChildren[name]
	if f == nil {
		fmt.Fprintf(os.Stderr, "unknown cross-process child %q\n", name)
		return 2
	}
	time.AfterFunc(2*crossTimeout, func() {
		fmt.Fprintf(os.Stderr, "child %s: timed out\n", name)
		os.Exit(5)
	})
	defer func() {
		if e := recover(); e != nil {
			msg, ok := e.(childFailure)
			if !ok {
				panic(e)
			}
			fmt.Fprintf(os.Stderr, "child %s: %s\n", name, msg)
			code = 3
		}
	}()
	f()
	return 0
}

// childTB is the testing.TB of a child process, so that the helpers of the
// tests (ok, expect, expectState, closeAll, ...) work there too: a failure
// panics with a childFailure. Only the methods below may be used.
type childTB struct{ testing.TB }

func (childTB) Helper()                           {}
func (childTB) Failed() bool                      { return false }
func (childTB) Fatal(args ...any)                 { panic(childFailure(fmt.Sprint(args...))) }
func (childTB) Fatalf(format string, args ...any) { panic(childFailure(fmt.Sprintf(format, args...))) }
func (childTB) Error(args ...any)                 { panic(childFailure(fmt.Sprint(args...))) }
func (childTB) Errorf(format string, args ...any) { panic(childFailure(fmt.Sprintf(format, args...))) }
func (childTB) Logf(format string, args ...any)   { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// crossKit is what a Mojo child works with: its core (not a broker), on its
// own multiprocess driver, and the invitation it accepted.
type crossKit struct {
	t   childTB
	d   *multiprocess.Driver
	c   *Core
	inv *IncomingInvitation
}

// acceptCross connects a child to the parent: it adopts the inherited
// socket and accepts the invitation sent over it.
func acceptCross() *crossKit {
	t := childTB{}
	d := multiprocess.New()
	transport, err := d.TransportFromEnvironment()
	if err != nil {
		t.Fatalf("TransportFromEnvironment: %v", err)
	}
	c, err := NewCore(d, false)
	if err != nil {
		t.Fatalf("NewCore: %v", err)
	}
	inv, r := c.AcceptInvitation(transport, 0)
	ok(t, "AcceptInvitation", r)
	return &crossKit{t: t, d: d, c: c, inv: inv}
}

// extract extracts the named pipes from the invitation and closes it.
func (k *crossKit) extract(names ...string) []Handle {
	hs := make([]Handle, len(names))
	for i, name := range names {
		h, r := k.inv.ExtractMessagePipe(name)
		ok(k.t, "ExtractMessagePipe("+name+")", r)
		hs[i] = h
	}
	k.inv.Close()
	return hs
}

// finish ends a child: it waits until the parent has closed control (so
// that everything the child sent was read before its sockets close),
// closes control and checks that the child closed every other handle and,
// once its core is shut down, left no driver object or goroutine.
func (k *crossKit) finish(control Handle) {
	waitPeerClosed(k.t, k.c, control)
	closeAll(k.t, k.c, control)
	if n := k.c.NumHandles(); n != 0 {
		k.t.Fatalf("%d handles still open at exit", n)
	}
	if n := k.c.NumMessages(); n != 0 {
		k.t.Fatalf("%d message objects still live at exit", n)
	}
	if err := k.c.Shutdown(); err != nil {
		k.t.Fatalf("Shutdown: %v", err)
	}
	if !leakcheck.WaitUntil(10*time.Second, time.Millisecond, func() bool {
		return k.d.LiveObjects().Total() == 0 && k.d.RunningGoroutines() == 0
	}) {
		k.t.Fatalf("driver objects %+v and %d driver goroutines left at exit",
			k.d.LiveObjects(), k.d.RunningGoroutines())
	}
}

// crossBroker is the parent's side: a broker core on a multiprocess
// driver, whose cleanup checks that nothing leaked once the test's
// children have exited.
type crossBroker struct {
	t testing.TB
	d *multiprocess.Driver
	c *Core
}

// newCrossBroker returns a broker core on a new multiprocess driver. At
// cleanup (after the children's cleanups, which wait for them to exit) it
// checks that the test closed every handle, shuts the core down, and then
// checks that no driver object, descriptor or goroutine is left over from
// the test.
func newCrossBroker(t testing.TB) *crossBroker {
	t.Helper()
	leakcheck.WarmUpPoller()
	fdsBefore := leakcheck.OpenFDs()
	goroutinesBefore := runtime.NumGoroutine()
	d := multiprocess.New()
	c, err := NewCore(d, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		failed := t.Failed()
		if !failed {
			if n := c.NumHandles(); n != 0 {
				t.Errorf("parent: %d handles still open", n)
			}
			if n := c.NumMessages(); n != 0 {
				t.Errorf("parent: %d message objects still live", n)
			}
		}
		if err := c.Shutdown(); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if failed {
			return // handles may be left open; the leak check would only add noise
		}
		// Descriptors: none open that was not open before (an earlier
		// failed test may still be closing some of its own).
		newFDs := func() []string {
			return slices.DeleteFunc(leakcheck.OpenFDs(), func(fd string) bool { return slices.Contains(fdsBefore, fd) })
		}
		clean := leakcheck.WaitUntil(10*time.Second, time.Millisecond, func() bool {
			return d.LiveObjects().Total() == 0 && d.RunningGoroutines() == 0 &&
				len(newFDs()) == 0 && runtime.NumGoroutine() <= goroutinesBefore
		})
		if clean {
			return
		}
		if o := d.LiveObjects(); o.Total() != 0 {
			t.Errorf("parent: driver objects still open: %+v", o)
		}
		if n := d.RunningGoroutines(); n != 0 {
			t.Errorf("parent: %d driver goroutines still running", n)
		}
		if fds := newFDs(); len(fds) != 0 {
			var desc []string
			for _, fd := range fds {
				target, _ := os.Readlink("/proc/self/fd/" + fd)
				desc = append(desc, fd+" -> "+target)
			}
			t.Errorf("parent: descriptors leaked: %v", desc)
		}
		if n := runtime.NumGoroutine(); n > goroutinesBefore {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("parent: goroutine leak: %d before, %d after:\n%s", goroutinesBefore, n, buf)
		}
	})
	return &crossBroker{t: t, d: d, c: c}
}

// crossChild is a running child process.
type crossChild struct {
	role   string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error         // cmd.Wait's result, once exited is closed
	stderr *bytes.Buffer // the child's stderr if captured, else nil
}

// spawnOptions changes how spawn starts a child and judges its exit.
type spawnOptions struct {
	// captureStderr keeps the child's stderr in crossChild.stderr rather
	// than passing it through.
	captureStderr bool
	// wantExit, if set, judges the child's exit instead of requiring
	// status 0.
	wantExit func(err error) error
}

// spawn starts the test binary as the child role with an invitation
// carrying a new pipe for each of names, sent by the broker, and returns
// the child and the local ends of the pipes. At cleanup it waits for the
// child to exit (killing it if the test failed or it takes too long) and
// checks its exit status.
func (b *crossBroker) spawn(role string, opts spawnOptions, names ...string) (*crossChild, []Handle) {
	t := b.t
	t.Helper()
	if crossChildren[role] == nil {
		t.Fatalf("no child %q", role)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// GORACE: the race detector otherwise sleeps a second at exit.
	cmd.Env = append(os.Environ(), crossChildEnv+"="+role, "GORACE=atexit_sleep_ms=0")
	cmd.Stdout = os.Stdout
	ch := &crossChild{role: role, cmd: cmd, exited: make(chan struct{})}
	if opts.captureStderr {
		ch.stderr = new(bytes.Buffer)
		cmd.Stderr = ch.stderr
	} else {
		cmd.Stderr = os.Stderr
	}
	transport, err := b.d.Spawn(cmd)
	if err != nil {
		t.Fatalf("Spawn: %v", err)
	}
	go func() {
		ch.err = cmd.Wait()
		close(ch.exited)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			_ = cmd.Process.Kill()
		}
		select {
		case <-ch.exited:
		case <-time.After(crossTimeout):
			_ = cmd.Process.Kill()
			<-ch.exited
			t.Errorf("child %s did not exit", role)
			return
		}
		if t.Failed() {
			return
		}
		if opts.wantExit != nil {
			if err := opts.wantExit(ch.err); err != nil {
				t.Errorf("child %s: %v", role, err)
			}
		} else if ch.err != nil {
			t.Errorf("child %s: %v", role, ch.err)
		}
	})
	inv := b.c.CreateInvitation()
	hs := make([]Handle, len(names))
	for i, name := range names {
		h, r := inv.AttachMessagePipe(name)
		ok(t, "AttachMessagePipe("+name+")", r)
		hs[i] = h
	}
	ok(t, "Send invitation", inv.Send(transport, 0))
	return ch, hs
}

// wait waits for the child to exit and returns cmd.Wait's result.
func (ch *crossChild) wait(t testing.TB) error {
	t.Helper()
	select {
	case <-ch.exited:
		return ch.err
	case <-time.After(crossTimeout):
		t.Fatalf("child %s did not exit", ch.role)
		return nil
	}
}

// waiter waits for one handle's signals with a watcher (the seed era has
// no MojoWait).
type waiter struct {
	c     *Core
	w     Handle
	ch    chan notification
	timer *time.Timer
	// Arm's out-parameters, kept to save allocations.
	ctxs    [1]uintptr
	results [1]Result
	states  [1]HandleSignalsState
}

// newWaiter watches h for signals.
func newWaiter(t testing.TB, c *Core, h Handle, signals HandleSignals) *waiter {
	t.Helper()
	ch := make(chan notification, 1)
	w, r := c.CreateWatcher(func(context uintptr, result Result, s HandleSignalsState, flags WatcherNotificationFlags) {
		if result == ResultCancelled {
			return
		}
		select {
		case ch <- notification{context, result, s, flags}:
		default:
		}
	})
	ok(t, "CreateWatcher", r)
	ok(t, "Watch", c.Watch(w, h, signals, 1))
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	return &waiter{c: c, w: w, ch: ch, timer: timer}
}

// wait blocks until the watch is ready and returns its result (OK: a
// signal is satisfied; FailedPrecondition: none can be) and the handle's
// signals then.
func (w *waiter) wait(t testing.TB) (Result, HandleSignalsState) {
	t.Helper()
	n := uint32(1)
	switch r := w.c.ArmWatcher(w.w, &n, w.ctxs[:], w.results[:], w.states[:]); r {
	case ResultOK:
	case ResultFailedPrecondition:
		return w.results[0], w.states[0]
	default:
		t.Fatalf("ArmWatcher = %v", r)
	}
	w.timer.Reset(crossTimeout)
	select {
	case nt := <-w.ch:
		w.timer.Stop()
		return nt.result, nt.state
	case <-w.timer.C:
		t.Fatalf("timed out waiting for signals")
		return 0, HandleSignalsState{}
	}
}

// close closes the watcher.
func (w *waiter) close(t testing.TB) {
	t.Helper()
	ok(t, "Close watcher", w.c.Close(w.w))
}

// waitSignals waits until h satisfies one of signals (OK) or can satisfy
// none (FailedPrecondition).
func waitSignals(t testing.TB, c *Core, h Handle, signals HandleSignals) (Result, HandleSignalsState) {
	t.Helper()
	w := newWaiter(t, c, h, signals)
	defer w.close(t)
	return w.wait(t)
}

// waitPeerClosed waits until h's peer is closed.
func waitPeerClosed(t testing.TB, c *Core, h Handle) {
	t.Helper()
	if r, _ := waitSignals(t, c, h, HandleSignalPeerClosed); r != ResultOK {
		t.Fatalf("waiting for PEER_CLOSED: %v", r)
	}
}

// recv waits for the next message on pipe h and returns its bytes and
// handles.
func recv(t testing.TB, c *Core, h Handle) ([]byte, []Handle) {
	t.Helper()
	if r, s := waitSignals(t, c, h, HandleSignalReadable); r != ResultOK {
		t.Fatalf("waiting for a message: %v (signals %v)", r, s)
	}
	buf := make([]byte, 256)
	hs := make([]Handle, 8)
	for {
		n, nh, r := c.ReadMessage(h, buf, hs, 0)
		switch r {
		case ResultOK:
			return buf[:n], hs[:nh]
		case ResultResourceExhausted:
			buf = make([]byte, max(n, uint32(len(buf))))
			hs = make([]Handle, max(nh, uint32(len(hs))))
		default:
			t.Fatalf("ReadMessage = %v", r)
		}
	}
}

// recvString waits for a message without handles and returns it as a
// string.
func recvString(t testing.TB, c *Core, h Handle) string {
	t.Helper()
	b, hs := recv(t, c, h)
	if len(hs) != 0 {
		t.Fatalf("message %q came with %d handles", b, len(hs))
	}
	return string(b)
}

// send writes a message, requiring OK.
func send(t testing.TB, c *Core, h Handle, msg string, handles ...Handle) {
	t.Helper()
	ok(t, "WriteMessage "+msg, c.WriteMessage(h, []byte(msg), handles, 0))
}

// expectString fails unless got is want.
func expectString(t testing.TB, what, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

// The stream pattern: byte o of a test stream is
// patternBytes()[o%patternPeriod]. The period is not a multiple of any
// chunk or ring size, so a byte lost or repeated anywhere shifts what
// follows, and its bytes are random, so a checksum notices.
const patternPeriod = 1<<20 + 7

// patternBytes returns two periods of the pattern, so that any span of up
// to one period starts at a single index.
var patternBytes = sync.OnceValue(func() []byte {
	r := rand.New(rand.NewChaCha8([32]byte{'m', 'o', 'j', 'o'}))
	p := make([]byte, 2*patternPeriod)
	for i := 0; i < patternPeriod; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < patternPeriod; j++ {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	copy(p[patternPeriod:], p[:patternPeriod])
	return p
})

// fillPattern fills dst with the stream from offset off.
func fillPattern(dst []byte, off uint64) {
	p := patternBytes()
	for len(dst) > 0 {
		s := off % patternPeriod
		n := copy(dst, p[s:s+patternPeriod])
		dst = dst[n:]
		off += uint64(n)
	}
}

// matchesPattern reports whether got is the stream from offset off.
func matchesPattern(got []byte, off uint64) bool {
	p := patternBytes()
	for len(got) > 0 {
		s := off % patternPeriod
		n := min(len(got), patternPeriod)
		if !bytes.Equal(got[:n], p[s:s+uint64(n)]) {
			return false
		}
		got = got[n:]
		off += uint64(n)
	}
	return true
}
