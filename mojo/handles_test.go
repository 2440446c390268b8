package mojo

import (
	"testing"

	"github.com/ipcz-go/ipcz-go/ipcz/driver/inprocess"
)

// Handle values: never 0, reused over time, stale values never name the
// new object (the slot's generation changes).
func TestHandleValues(t *testing.T) {
	c := newCore(t)
	a, b := pipe(t, c)
	closeAll(t, c, a, b)
	seen := map[Handle]bool{a: true, b: true}
	reused := false
	for range 600 {
		x, y := pipe(t, c)
		if x == 0 || y == 0 {
			t.Fatal("handle 0 given out")
		}
		if seen[x] || seen[y] {
			reused = true
		}
		// The stale a never names a live object unless reused.
		if x != a && y != a {
			expect(t, "Close(stale)", c.Close(a), ResultInvalidArgument)
		}
		closeAll(t, c, x, y)
		seen[x], seen[y] = true, true
	}
	if !reused {
		t.Fatal("no handle value was ever reused")
	}
}

// A handle attached to a message being sent is busy: Close gives BUSY,
// attaching it again gives BUSY, using it gives INVALID_ARGUMENT.
func TestBusyHandles(t *testing.T) {
	c := newCore(t)
	x, y := pipe(t, c)
	a, b := pipe(t, c)
	es, r := c.handles.beginTransit([]Handle{x})
	ok(t, "beginTransit", r)
	expect(t, "Close(busy)", c.Close(x), ResultBusy)
	expect(t, "WriteMessage(busy)", c.WriteMessage(x, nil, nil, 0), ResultInvalidArgument)
	expect(t, "attach busy", c.WriteMessage(a, nil, []Handle{x}, 0), ResultBusy)
	_, r = c.AllocMessage(0, []Handle{x}, 0)
	expect(t, "AllocMessage(busy)", r, ResultBusy)
	expect(t, "FuseMessagePipes(busy)", c.FuseMessagePipes(x, y), ResultInvalidArgument)
	c.handles.cancelTransit(es)
	ok(t, "Close after cancel", c.Close(x))
	closeAll(t, c, a, b)
}

// Every function given a handle of the wrong kind, or handle 0, says
// INVALID_ARGUMENT.
func TestWrongKinds(t *testing.T) {
	c := newCore(t)
	a, b := pipe(t, c)
	p, cons, _ := c.CreateDataPipe(nil)
	buf, _ := c.CreateSharedBuffer(nil, 8)
	w, _ := c.CreateWatcher(func(uintptr, Result, HandleSignalsState, WatcherNotificationFlags) {})
	ph, _ := c.WrapPlatformHandle(&PlatformHandle{StructSize: 16})
	all := []Handle{0, a, p, cons, buf, w, ph}
	for _, h := range all {
		if h != a {
			expect(t, "WriteMessage", c.WriteMessage(h, nil, nil, 0), ResultInvalidArgument)
			_, _, r := c.ReadMessage(h, nil, nil, 0)
			expect(t, "ReadMessage", r, ResultInvalidArgument)
			_, _, _, r = c.ReadMessageNew(h, nil, 0)
			expect(t, "ReadMessageNew", r, ResultInvalidArgument)
			m, _ := c.AllocMessage(0, nil, 0)
			expect(t, "WriteMessageNew", c.WriteMessageNew(h, m, 0), ResultInvalidArgument)
		}
		if h != p {
			_, r := c.WriteData(h, []byte("x"), 0)
			expect(t, "WriteData", r, ResultInvalidArgument)
			_, r = c.BeginWriteData(h, 0)
			expect(t, "BeginWriteData", r, ResultInvalidArgument)
			expect(t, "EndWriteData", c.EndWriteData(h, 0), ResultInvalidArgument)
		}
		if h != cons {
			_, r := c.ReadData(h, make([]byte, 1), 1, 0)
			expect(t, "ReadData", r, ResultInvalidArgument)
			_, r = c.BeginReadData(h, 0)
			expect(t, "BeginReadData", r, ResultInvalidArgument)
			expect(t, "EndReadData", c.EndReadData(h, 0), ResultInvalidArgument)
		}
		if h != buf {
			_, r := c.DuplicateBufferHandle(h, nil)
			expect(t, "DuplicateBufferHandle", r, ResultInvalidArgument)
			_, r = c.MapBuffer(h, 0, 1, 0)
			expect(t, "MapBuffer", r, ResultInvalidArgument)
		}
		if h != w {
			expect(t, "Watch", c.Watch(h, a, HandleSignalReadable, 1), ResultInvalidArgument)
			expect(t, "CancelWatch", c.CancelWatch(h, 1), ResultInvalidArgument)
			expect(t, "ArmWatcher", c.ArmWatcher(h, nil, nil, nil, nil), ResultInvalidArgument)
		}
	}
	closeAll(t, c, a, b, p, cons, buf, w, ph)
	if c.NumHandles() != 0 {
		t.Fatalf("%d handles leaked", c.NumHandles())
	}
}

// MojoFuseMessagePipes over ipcz.MergePortals.
func TestFuseMessagePipes(t *testing.T) {
	c := newCore(t)
	a, b := pipe(t, c)
	x, y := pipe(t, c)
	ok(t, "Fuse(b, x)", c.FuseMessagePipes(b, x))
	for _, h := range []Handle{b, x} {
		expect(t, "fused handle is gone", c.Close(h), ResultInvalidArgument)
	}
	ok(t, "a writes", c.WriteMessage(a, []byte("a to y"), nil, 0))
	if got := readMessage(t, c, y); got != "a to y" {
		t.Fatalf("y got %q", got)
	}
	ok(t, "y writes", c.WriteMessage(y, []byte("y to a"), nil, 0))
	if got := readMessage(t, c, a); got != "y to a" {
		t.Fatalf("a got %q", got)
	}
	// Invalid handles: both consumed, INVALID_ARGUMENT.
	u, v := pipe(t, c)
	buf, _ := c.CreateSharedBuffer(nil, 8)
	expect(t, "Fuse(u, buffer)", c.FuseMessagePipes(u, buf), ResultInvalidArgument)
	expect(t, "u consumed", c.Close(u), ResultInvalidArgument)
	expect(t, "buffer consumed", c.Close(buf), ResultInvalidArgument)
	expectState(t, c, v, HandleSignalPeerClosed, HandleSignalPeerClosed)
	// A pipe that was written: FAILED_PRECONDITION, both closed.
	m, n := pipe(t, c)
	o, q := pipe(t, c)
	ok(t, "write n", c.WriteMessage(n, []byte("x"), nil, 0))
	expect(t, "Fuse(n, o) after a write", c.FuseMessagePipes(n, o), ResultFailedPrecondition)
	expect(t, "n consumed", c.Close(n), ResultInvalidArgument)
	expectState(t, c, q, HandleSignalPeerClosed, HandleSignalPeerClosed)
	// The two ends of one pipe.
	e, f := pipe(t, c)
	expect(t, "Fuse(e, f)", c.FuseMessagePipes(e, f), ResultFailedPrecondition)
	expect(t, "e consumed", c.Close(e), ResultInvalidArgument)
	closeAll(t, c, a, y, v, m, q)
}

// MojoNotifyBadMessage: a message from this node goes to the embedder's
// handler; one from another node is also rejected through ipcz, which
// tells the driver about the transport it came over.
func TestNotifyBadMessage(t *testing.T) {
	broker, child, a, b := twoCores(t, inprocess.Sync)
	var errs []string
	child.SetBadMessageHandler(func(err string) { errs = append(errs, err) })
	x, y := pipe(t, child)
	ok(t, "local write", child.WriteMessage(x, []byte("local"), nil, 0))
	m, _, _, r := child.ReadMessageNew(y, nil, 0)
	ok(t, "read local", r)
	ok(t, "NotifyBadMessage(local)", child.NotifyBadMessage(m, "bad local"))
	ok(t, "FreeMessage", child.FreeMessage(m))

	d := child.driver.(*testDriver)
	before := len(d.BadActivityReports())
	ok(t, "remote write", broker.WriteMessage(a, []byte("remote"), nil, 0))
	var rm MessageHandle
	waitFor(t, "the remote message", func() bool {
		var r Result
		rm, _, _, r = child.ReadMessageNew(b, nil, 0)
		return r == ResultOK
	})
	ok(t, "NotifyBadMessage(remote)", child.NotifyBadMessage(rm, "bad remote"))
	if got := len(d.BadActivityReports()); got != before+1 {
		t.Fatalf("%d bad activity reports, want %d", got, before+1)
	}
	ok(t, "FreeMessage", child.FreeMessage(rm))
	m, _ = child.AllocMessage(1, nil, 0)
	ok(t, "NotifyBadMessage(allocated)", child.NotifyBadMessage(m, "never sent"))
	ok(t, "FreeMessage", child.FreeMessage(m))
	expect(t, "NotifyBadMessage(freed)", child.NotifyBadMessage(m, ""), ResultInvalidArgument)
	if len(errs) != 3 || errs[0] != "bad local" || errs[1] != "bad remote" {
		t.Fatalf("handler saw %q", errs)
	}
	closeAll(t, child, x, y, b)
	closeAll(t, broker, a)
}

// Messages whose handles need no ipcz object (only invalid platform
// handles) carry a placeholder, and arrive intact.
func TestMessageWithOnlyInvalidPlatformHandles(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			broker, child, a, b := twoCores(t, mode)
			h1, _ := broker.WrapPlatformHandle(&PlatformHandle{StructSize: 16})
			h2, _ := broker.WrapPlatformHandle(&PlatformHandle{StructSize: 16})
			ok(t, "write", broker.WriteMessage(a, []byte("payload"), []Handle{h1, h2}, 0))
			hs := make([]Handle, 2)
			buf := make([]byte, 16)
			waitFor(t, "message", func() bool {
				n, nh, r := child.ReadMessage(b, buf, hs, 0)
				if r == ResultShouldWait {
					return false
				}
				ok(t, "read", r)
				if nh != 2 || string(buf[:n]) != "payload" {
					t.Fatalf("got %d handles, %q", nh, buf[:n])
				}
				return true
			})
			for _, h := range hs {
				out := PlatformHandle{StructSize: 16, Type: 5}
				ok(t, "Unwrap", child.UnwrapPlatformHandle(h, &out))
				if out.Type != PlatformHandleTypeInvalid {
					t.Fatalf("type %d", out.Type)
				}
			}
			closeAll(t, broker, a)
			closeAll(t, child, b)
		})
	}
}

// Data pipe endpoints sent over a pipe of the same core carry their data.
func TestDataPipeEndpointsOverPipe(t *testing.T) {
	c := newCore(t)
	a, b := pipe(t, c)
	p, cons, _ := c.CreateDataPipe(nil)
	n, _ := c.WriteData(p, []byte("before"), 0)
	if n != 6 {
		t.Fatal(n)
	}
	ok(t, "send both ends", c.WriteMessage(a, nil, []Handle{p, cons}, 0))
	expect(t, "producer gone", c.Close(p), ResultInvalidArgument)
	hs := readHandles(t, c, b, 2)
	n, r := c.WriteData(hs[0], []byte(" after"), 0)
	if r != ResultOK || n != 6 {
		t.Fatalf("write after move: %d %v", n, r)
	}
	buf := make([]byte, 32)
	n, r = c.ReadData(hs[1], buf, 32, 0)
	if r != ResultOK || string(buf[:n]) != "before after" {
		t.Fatalf("read %q %v", buf[:n], r)
	}
	closeAll(t, c, a, b, hs[0], hs[1])
}
