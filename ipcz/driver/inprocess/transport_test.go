package inprocess

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ipcz-go/ipcz-go/ipcz"
)

const (
	flagError       = ipcz.TransportActivityError
	flagDeactivated = ipcz.TransportActivityDeactivated
)

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

func transmitAll(t testing.TB, d *Driver, from ipcz.DriverHandle, msgs []string) {
	t.Helper()
	for _, m := range msgs {
		if err := d.Transmit(from, []byte(m), nil); err != nil {
			t.Fatalf("Transmit(%q): %v", m, err)
		}
	}
}

// TestSyncDeliversBeforeReturning checks that an uncontended Sync Transmit
// has called the peer's handler when it returns.
func TestSyncDeliversBeforeReturning(t *testing.T) {
	d := newDriver(t, Sync)
	var ra, rb recorder
	a, b := activePair(t, d, &ra, &rb)
	for i := range 10 {
		transmitAll(t, d, a, []string{"m"})
		if n := len(rb.messages()); n != i+1 {
			t.Fatalf("after Transmit %d: %d messages delivered", i, n)
		}
	}
	transmitAll(t, d, b, []string{"back"})
	if got := ra.messages(); !slices.Equal(got, []string{"back"}) {
		t.Fatalf("a got %q", got)
	}
}

// TestTransmitBeforeActivation checks that messages sent to an idle
// endpoint are delivered in order once it is activated, in Sync mode from
// inside ActivateTransport.
func TestTransmitBeforeActivation(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		var ra, rb recorder
		a, b := d.NewTransportPair(true, false)
		want := numbered("early", 100)
		transmitAll(t, d, a, want) // neither end active yet
		if err := d.ActivateTransport(a, ra.handle); err != nil {
			t.Fatal(err)
		}
		transmitAll(t, d, a, numbered("late", 5))
		want = append(want, numbered("late", 5)...)
		if len(rb.snapshot()) != 0 {
			t.Fatal("idle endpoint's handler called")
		}
		if err := d.ActivateTransport(b, rb.handle); err != nil {
			t.Fatal(err)
		}
		if d.Mode() == Sync {
			if got := rb.messages(); !slices.Equal(got, want) {
				t.Fatalf("after ActivateTransport: %d messages, want %d in order", len(got), len(want))
			}
		}
		waitFor(t, "backlog", func() bool { return len(rb.messages()) == len(want) })
		if got := rb.messages(); !slices.Equal(got, want) {
			t.Fatalf("got %q", got)
		}
		t.Cleanup(func() { // runs after the closeLater below
			waitFor(t, "final calls", func() bool { return ra.deactivated() && rb.deactivated() })
			ra.checkSane(t)
			rb.checkSane(t)
		})
		closeLater(t, d, a, b)
	})
}

// TestManyInOrder sends 10,000 messages each way and checks their order.
func TestManyInOrder(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		var ra, rb recorder
		a, b := activePair(t, d, &ra, &rb)
		const n = 10000
		var wg sync.WaitGroup
		wg.Go(func() { transmitAll(t, d, a, numbered("", n)) })
		wg.Go(func() { transmitAll(t, d, b, numbered("", n)) })
		wg.Wait()
		waitFor(t, "messages", func() bool { return len(ra.messages()) == n && len(rb.messages()) == n })
		for name, r := range map[string]*recorder{"a": &ra, "b": &rb} {
			if got := r.messages(); !slices.Equal(got, numbered("", n)) {
				t.Errorf("%s: messages out of order", name)
			}
		}
	})
}

// TestConcurrentTransmit has 4 goroutines transmit to one peer at once:
// every message arrives exactly once, in order per sender, and handler
// calls never overlap.
func TestConcurrentTransmit(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		var ra, rb recorder
		rb.onMessage = func([]byte, []ipcz.DriverHandle) error {
			runtime.Gosched() // widen the window for an overlap
			return nil
		}
		a, _ := activePair(t, d, &ra, &rb)
		const senders, each = 4, 2500
		var wg sync.WaitGroup
		for s := range senders {
			wg.Go(func() {
				for i := range each {
					if err := d.Transmit(a, fmt.Appendf(nil, "%d/%d", s, i), nil); err != nil {
						t.Errorf("Transmit: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		waitFor(t, "messages", func() bool { return len(rb.messages()) == senders*each })
		next := make([]int, senders)
		for _, m := range rb.messages() {
			var s, i int
			if _, err := fmt.Sscanf(m, "%d/%d", &s, &i); err != nil || s < 0 || s >= senders {
				t.Fatalf("bad message %q", m)
			}
			if i != next[s] {
				t.Fatalf("sender %d: got %d, want %d", s, i, next[s])
			}
			next[s]++
		}
		if n := rb.overlaps.Load(); n != 0 {
			t.Fatalf("%d overlapping handler calls", n)
		}
	})
}

// TestPingPong bounces a counter between the two ends 1000 times from
// inside the handlers. In Sync mode it all happens within the first
// Transmit, on one goroutine, with a bounded stack.
func TestPingPong(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		const rounds = 1000
		var ra, rb recorder
		var a, b ipcz.DriverHandle
		var minDepth, maxDepth atomic.Int64
		minDepth.Store(1 << 30)
		pcs := make([]uintptr, 4096)
		var pcsMu sync.Mutex
		bounce := func(self *ipcz.DriverHandle) func([]byte, []ipcz.DriverHandle) error {
			return func(data []byte, _ []ipcz.DriverHandle) error {
				pcsMu.Lock()
				depth := int64(runtime.Callers(0, pcs))
				pcsMu.Unlock()
				for v := minDepth.Load(); depth < v && !minDepth.CompareAndSwap(v, depth); v = minDepth.Load() {
				}
				for v := maxDepth.Load(); depth > v && !maxDepth.CompareAndSwap(v, depth); v = maxDepth.Load() {
				}
				n, err := strconv.Atoi(string(data))
				if err != nil {
					return err
				}
				if n < rounds {
					return d.Transmit(*self, []byte(strconv.Itoa(n+1)), nil)
				}
				return nil
			}
		}
		ra.onMessage = bounce(&a)
		rb.onMessage = bounce(&b)
		a, b = activePair(t, d, &ra, &rb)
		transmitAll(t, d, a, []string{"0"})
		total := func() int { return len(ra.messages()) + len(rb.messages()) }
		if d.Mode() == Sync {
			if got := total(); got != rounds+1 {
				t.Fatalf("after the first Transmit: %d messages, want %d", got, rounds+1)
			}
			if spread := maxDepth.Load() - minDepth.Load(); spread > 40 {
				t.Fatalf("stack depth grew by %d frames", spread)
			}
		}
		waitFor(t, "ping-pong", func() bool { return total() == rounds+1 })
	})
}

// TestDeactivation checks that deactivation produces exactly one final
// call, that nothing follows it, and that deactivating again, transmitting
// from the deactivated end and transmitting to it behave as documented.
func TestDeactivation(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		var ra, rb recorder
		a, b := activePair(t, d, &ra, &rb)
		transmitAll(t, d, a, numbered("", 10))
		waitFor(t, "messages", func() bool { return len(rb.messages()) == 10 })
		wantErr(t, "DeactivateTransport", d.DeactivateTransport(b), nil)
		waitFor(t, "final call", rb.deactivated)
		wantErr(t, "DeactivateTransport again", d.DeactivateTransport(b), nil)
		wantErr(t, "Transmit from deactivated end", d.Transmit(b, []byte("x"), nil), ipcz.FailedPrecondition)
		// Transmit to a deactivated (but open) end is accepted and dropped,
		// handles included.
		_, s := serializeNew(t, d, d.NewBlob(nil), a)
		wantErr(t, "Transmit to deactivated end", d.Transmit(a, []byte("dropped"), []ipcz.DriverHandle{s}), nil)
		if d.LiveObjects().Serialized != 0 {
			t.Error("handles of a dropped message not closed")
		}
		// Closing the deactivated end tells the peer, once.
		wantErr(t, "Close(b)", d.Close(b), nil)
		waitFor(t, "error on a", func() bool { return ra.count(flagError) == 1 })
		wantErr(t, "Close(a)", d.Close(a), nil)
		waitFor(t, "final call on a", ra.deactivated)
		got := rb.snapshot()
		if len(got) != 11 || got[10].flags != flagDeactivated {
			t.Fatalf("b got %d calls, last %v", len(got), got[len(got)-1].flags)
		}
		var flags []ipcz.TransportActivityFlags
		for _, c := range ra.snapshot() {
			flags = append(flags, c.flags)
		}
		if !slices.Equal(flags, []ipcz.TransportActivityFlags{flagError, flagDeactivated}) {
			t.Fatalf("a got %v", flags)
		}
	})
}

// TestDeactivationDropsQueued blocks the handler, queues messages behind
// it with handles, deactivates, and checks that the queued messages are
// dropped (their handles closed) and only the final call follows.
func TestDeactivationDropsQueued(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		var ra, rb recorder
		entered, release := make(chan struct{}), make(chan struct{})
		var first atomic.Bool
		rb.onMessage = func([]byte, []ipcz.DriverHandle) error {
			if first.CompareAndSwap(false, true) {
				close(entered)
				<-release
			}
			return nil
		}
		a, b := activePair(t, d, &ra, &rb)
		var wg sync.WaitGroup
		wg.Go(func() { transmitAll(t, d, a, []string{"first"}) }) // blocks in Sync mode
		<-entered
		for i := range 10 {
			_, s := serializeNew(t, d, d.NewBlob(nil), a)
			if err := d.Transmit(a, []byte(strconv.Itoa(i)), []ipcz.DriverHandle{s}); err != nil {
				t.Fatal(err)
			}
		}
		wantErr(t, "DeactivateTransport", d.DeactivateTransport(b), nil)
		if got := d.LiveObjects().Serialized; got != 0 {
			t.Errorf("%d serialized objects of dropped messages still live", got)
		}
		close(release)
		wg.Wait()
		waitFor(t, "final call", rb.deactivated)
		got := rb.snapshot()
		if len(got) != 2 || got[0].data != "first" || got[1].flags != flagDeactivated {
			t.Fatalf("b got %v", got)
		}
	})
}

// TestLifecycleFromHandlers drives the whole life cycle from inside the
// handlers, as ipcz does: on ERROR deactivate, on DEACTIVATED close.
func TestLifecycleFromHandlers(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		var ra, rb recorder
		a, b := d.NewTransportPair(true, false)
		selfManage := func(r *recorder, h ipcz.DriverHandle) {
			r.onNotice = func(f ipcz.TransportActivityFlags) {
				switch f {
				case flagError:
					wantErr(t, "DeactivateTransport in handler", d.DeactivateTransport(h), nil)
				case flagDeactivated:
					wantErr(t, "Close in handler", d.Close(h), nil)
				}
			}
			r.onMessage = func(data []byte, _ []ipcz.DriverHandle) error {
				if string(data) == "bye" {
					return d.DeactivateTransport(h)
				}
				return nil
			}
		}
		selfManage(&ra, a)
		selfManage(&rb, b)
		if err := d.ActivateTransport(a, ra.handle); err != nil {
			t.Fatal(err)
		}
		if err := d.ActivateTransport(b, rb.handle); err != nil {
			t.Fatal(err)
		}
		transmitAll(t, d, a, []string{"hi", "bye"})
		// By now a may be closed already (in Sync mode it is: the whole
		// cascade ran inside the last Transmit), or deactivated, or b gone.
		switch err := d.Transmit(a, []byte("unseen"), nil); err {
		case nil, ipcz.InvalidArgument, ipcz.FailedPrecondition, ipcz.Unavailable:
		default:
			t.Errorf("Transmit(unseen): %v", err)
		}
		if d.Mode() == Sync && !(ra.deactivated() && rb.deactivated()) {
			t.Error("Sync: cascade not finished when Transmit returned")
		}
		// b deactivates and closes itself; a learns from the ERROR call and
		// does the same.
		waitFor(t, "both closed", func() bool { return ra.deactivated() && rb.deactivated() })
		ra.checkSane(t)
		rb.checkSane(t)
		if got := rb.messages(); !slices.Equal(got, []string{"hi", "bye"}) {
			t.Errorf("b got %q", got)
		}
		if ra.count(flagError) != 1 || rb.count(flagError) != 0 {
			t.Errorf("ERROR calls: a %d, b %d", ra.count(flagError), rb.count(flagError))
		}
	})
}

// TestCloseActive checks that closing an active endpoint without
// deactivating it still makes exactly one final call.
func TestCloseActive(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		var ra, rb recorder
		a, b := activePair(t, d, &ra, &rb)
		transmitAll(t, d, a, numbered("", 3))
		wantErr(t, "Close(b)", d.Close(b), nil)
		waitFor(t, "final call", rb.deactivated)
		waitFor(t, "error on a", func() bool { return ra.count(flagError) == 1 })
		for _, c := range rb.snapshot() {
			if c.flags == flagError {
				t.Error("closed end got an ERROR call")
			}
		}
	})
}

// TestClosedPeer checks Transmit towards a closed endpoint: Unavailable
// each time, and exactly one ERROR call on the survivor, delivered after
// the messages already queued for it, even if it is activated later.
func TestClosedPeer(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		t.Run("active", func(t *testing.T) {
			var ra, rb recorder
			a, b := activePair(t, d, &ra, &rb)
			transmitAll(t, d, b, []string{"before"})
			wantErr(t, "Close(b)", d.Close(b), nil)
			for range 3 {
				wantErr(t, "Transmit to closed", d.Transmit(a, []byte("x"), nil), ipcz.Unavailable)
			}
			waitFor(t, "error", func() bool { return ra.count(flagError) == 1 })
			wantErr(t, "DeactivateTransport(a)", d.DeactivateTransport(a), nil)
			waitFor(t, "final", ra.deactivated)
			var flags []ipcz.TransportActivityFlags
			for _, c := range ra.snapshot() {
				flags = append(flags, c.flags)
			}
			if !slices.Equal(flags, []ipcz.TransportActivityFlags{0, flagError, flagDeactivated}) {
				t.Fatalf("a got %v", flags)
			}
		})
		t.Run("idleSurvivor", func(t *testing.T) {
			var ra recorder
			a, b := d.NewTransportPair(false, false)
			closeLater(t, d, a)
			transmitAll(t, d, b, []string{"m1", "m2"})
			wantErr(t, "Close(b)", d.Close(b), nil)
			wantErr(t, "Transmit to closed", d.Transmit(a, nil, nil), ipcz.Unavailable)
			if err := d.ActivateTransport(a, ra.handle); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "error", func() bool { return ra.count(flagError) == 1 })
			got := ra.snapshot()
			if len(got) != 3 || got[0].data != "m1" || got[1].data != "m2" || got[2].flags != flagError {
				t.Fatalf("a got %v", got)
			}
			wantErr(t, "Close(a)", d.Close(a), nil)
			waitFor(t, "final", ra.deactivated)
			ra.checkSane(t)
		})
	})
}

// TestHandlerRejects checks what follows a handler error for a message:
// one ERROR call, no more messages, and the handles of the rejected and
// dropped messages closed.
func TestHandlerRejects(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		var ra, rb recorder
		rb.onMessage = func(data []byte, _ []ipcz.DriverHandle) error {
			if string(data) == "3" {
				return errors.New("bad message")
			}
			return nil
		}
		var recvHandles [][]ipcz.DriverHandle
		a, b := activePair(t, d, &ra, &rb)
		for i := range 10 {
			_, s := serializeNew(t, d, d.NewBlob(nil), a)
			if err := d.Transmit(a, []byte(strconv.Itoa(i)), []ipcz.DriverHandle{s}); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "error", func() bool { return rb.count(flagError) == 1 })
		if got := rb.messages(); !slices.Equal(got, numbered("", 4)) {
			t.Errorf("b got %q", got)
		}
		for _, c := range rb.snapshot()[:3] {
			recvHandles = append(recvHandles, c.handles)
		}
		// Messages 0-2 were accepted, so their handles are the receiver's.
		for _, hs := range recvHandles {
			for _, h := range hs {
				wantErr(t, "Close(received)", d.Close(h), nil)
			}
		}
		waitFor(t, "dropped handles closed", func() bool { return d.LiveObjects().Serialized == 0 })
		// Still accepted and dropped until ipcz deactivates.
		transmitAll(t, d, a, []string{"later"})
		wantErr(t, "DeactivateTransport(b)", d.DeactivateTransport(b), nil)
		waitFor(t, "final", rb.deactivated)
		if got := rb.messages(); len(got) != 4 || rb.count(flagError) != 1 {
			t.Errorf("b got %q and %d ERROR calls", got, rb.count(flagError))
		}
	})
}

// TestHandlePassing sends a transport, a memory region and a blob with
// data over a transport, deserializes them on the far side and uses them.
func TestHandlePassing(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		var rx, ry recorder
		type received struct {
			payload   string
			transport ipcz.DriverHandle
			memory    ipcz.DriverHandle
			blob      ipcz.DriverHandle
		}
		got := make(chan received, 1)
		var y ipcz.DriverHandle
		ry.onMessage = func(data []byte, hs []ipcz.DriverHandle) error {
			const n = SerializedNumBytes
			if len(data) < 3*n || len(hs) != 3 {
				return ipcz.InvalidArgument
			}
			forms := data[len(data)-3*n:]
			var r received
			r.payload = string(data[:len(data)-3*n])
			var err error
			for i, dst := range []*ipcz.DriverHandle{&r.transport, &r.memory, &r.blob} {
				if *dst, err = d.Deserialize(forms[i*n:(i+1)*n], hs[i:i+1], y); err != nil {
					return err
				}
			}
			got <- r
			return nil
		}
		x, yy := activePair(t, d, &rx, &ry)
		y = yy

		// Objects to send: one end of a new pair (with a message already
		// queued for it), a memory region with data in it, and a blob.
		p, q := d.NewTransportPair(false, false)
		transmitAll(t, d, q, []string{"queued before the move"})
		mem, err := d.AllocateSharedMemory(64)
		if err != nil {
			t.Fatal(err)
		}
		mapping, bytesX, err := d.MapSharedMemory(mem)
		if err != nil {
			t.Fatal(err)
		}
		copy(bytesX, "hello")
		bl := d.NewBlob([]byte("application object"))

		msg := []byte("payload")
		var hs []ipcz.DriverHandle
		for _, h := range []ipcz.DriverHandle{p, mem, bl} {
			form, s := serializeNew(t, d, h, x)
			msg = append(msg, form...)
			hs = append(hs, s)
		}
		if err := d.Transmit(x, msg, hs); err != nil {
			t.Fatal(err)
		}
		var r received
		select {
		case r = <-got:
		case <-t.Context().Done():
			t.Fatal("no message")
		}
		if r.payload != "payload" {
			t.Errorf("payload %q", r.payload)
		}

		// The memory region is shared.
		mapping2, bytesY, err := d.MapSharedMemory(r.memory)
		if err != nil {
			t.Fatal(err)
		}
		if string(bytesY[:5]) != "hello" {
			t.Errorf("received region holds %q", bytesY[:5])
		}
		copy(bytesY, "world")
		if string(bytesX[:5]) != "world" {
			t.Errorf("write through the received region not seen: %q", bytesX[:5])
		}
		// The blob is intact.
		if b, err := d.BlobBytes(r.blob); err != nil || string(b) != "application object" {
			t.Errorf("blob %q, %v", b, err)
		}
		// The transport works, and kept the message queued for it.
		var rp, rq recorder
		if err := d.ActivateTransport(r.transport, rp.handle); err != nil {
			t.Fatal(err)
		}
		if err := d.ActivateTransport(q, rq.handle); err != nil {
			t.Fatal(err)
		}
		transmitAll(t, d, q, []string{"after the move"})
		transmitAll(t, d, r.transport, []string{"reply"})
		waitFor(t, "traffic on the moved transport", func() bool {
			return len(rp.messages()) == 2 && len(rq.messages()) == 1
		})
		if m := rp.messages(); !slices.Equal(m, []string{"queued before the move", "after the move"}) {
			t.Errorf("moved end got %q", m)
		}
		if m := rq.messages(); !slices.Equal(m, []string{"reply"}) {
			t.Errorf("fixed end got %q", m)
		}
		for _, h := range []ipcz.DriverHandle{r.transport, q, r.memory, mapping, mapping2, r.blob} {
			wantErr(t, "Close", d.Close(h), nil)
		}
		waitFor(t, "final calls", func() bool { return rp.deactivated() && rq.deactivated() })
		rp.checkSane(t)
		rq.checkSane(t)
	})
}

// TestCreateTransports checks that a created pair is connected.
func TestCreateTransports(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		t0, far0 := d.NewTransportPair(true, false)
		t1, far1 := d.NewTransportPair(true, false)
		closeLater(t, d, t0, far0, t1, far1)
		n0, n1, err := d.CreateTransports(t0, t1)
		if err != nil {
			t.Fatal(err)
		}
		var r0, r1 recorder
		for h, r := range map[ipcz.DriverHandle]*recorder{n0: &r0, n1: &r1} {
			if err := d.ActivateTransport(h, r.handle); err != nil {
				t.Fatal(err)
			}
		}
		transmitAll(t, d, n0, []string{"to 1"})
		transmitAll(t, d, n1, []string{"to 0"})
		waitFor(t, "messages", func() bool { return len(r0.messages()) == 1 && len(r1.messages()) == 1 })
		if r0.messages()[0] != "to 0" || r1.messages()[0] != "to 1" {
			t.Errorf("got %q and %q", r0.messages(), r1.messages())
		}
		wantErr(t, "Close(n0)", d.Close(n0), nil)
		wantErr(t, "Close(n1)", d.Close(n1), nil)
		waitFor(t, "final calls", func() bool { return r0.deactivated() && r1.deactivated() })
	})
}

// TestWakeUpMessage checks that an empty Transmit still makes one call.
func TestWakeUpMessage(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		var ra, rb recorder
		a, _ := activePair(t, d, &ra, &rb)
		wantErr(t, "Transmit(empty)", d.Transmit(a, nil, nil), nil)
		waitFor(t, "wake-up", func() bool { return rb.count(0) == 1 })
		if c := rb.snapshot()[0]; len(c.data) != 0 || len(c.handles) != 0 {
			t.Errorf("wake-up carried %v", c)
		}
	})
}

// TestTransmitCopies checks that the caller may reuse its buffers as soon
// as Transmit returns.
func TestTransmitCopies(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		var ra, rb recorder
		a, b := d.NewTransportPair(true, false)
		buf := []byte("original")
		transmitAll(t, d, a, []string{string(buf)})
		if err := d.Transmit(a, buf, nil); err != nil {
			t.Fatal(err)
		}
		copy(buf, "CHANGED!")
		if err := d.ActivateTransport(b, rb.handle); err != nil {
			t.Fatal(err)
		}
		if err := d.ActivateTransport(a, ra.handle); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { waitFor(t, "final", func() bool { return ra.deactivated() && rb.deactivated() }) })
		closeLater(t, d, a, b)
		waitFor(t, "messages", func() bool { return len(rb.messages()) == 2 })
		if got := rb.messages(); got[1] != "original" {
			t.Errorf("got %q", got[1])
		}
	})
}
