package mojo

import "testing"

// Watchers over data pipes: READABLE, WRITABLE, NEW_DATA_READABLE,
// PEER_CLOSED, and local changes (the end of two-phase operations).
func TestWatchDataPipes(t *testing.T) {
	c := newCore(t)
	var rec recorder
	w, _ := c.CreateWatcher(rec.callback)
	p, cons, _ := c.CreateDataPipe(&CreateDataPipeOptions{StructSize: 16, ElementNumBytes: 1, CapacityNumBytes: 4})
	ok(t, "Watch(consumer, READABLE)", c.Watch(w, cons, HandleSignalReadable, 1))
	ok(t, "Watch(producer, WRITABLE)", c.Watch(w, p, HandleSignalWritable, 2))
	expect(t, "Arm: producer writable", c.ArmWatcher(w, nil, nil, nil, nil), ResultFailedPrecondition)
	// Fill the pipe: the producer is no longer writable.
	n, _ := c.WriteData(p, []byte("abcd"), 0)
	if n != 4 {
		t.Fatal(n)
	}
	expect(t, "Arm: consumer readable", c.ArmWatcher(w, nil, nil, nil, nil), ResultFailedPrecondition)
	ok(t, "CancelWatch(1)", c.CancelWatch(w, 1))
	rec.take()
	ok(t, "Arm", c.ArmWatcher(w, nil, nil, nil, nil))
	// A read makes room: WRITABLE notified.
	_, r := c.ReadData(cons, make([]byte, 1), 1, 0)
	ok(t, "ReadData", r)
	ns := rec.take()
	if len(ns) != 1 || ns[0].context != 2 || ns[0].result != ResultOK || !ns[0].state.Satisfies(HandleSignalWritable) {
		t.Fatalf("after read: %v", ns)
	}
	// During a two-phase write the producer is not writable; ending it is
	// a local change that notifies.
	_, r = c.BeginWriteData(p, 0)
	ok(t, "BeginWriteData", r)
	ok(t, "Arm during two-phase", c.ArmWatcher(w, nil, nil, nil, nil))
	ok(t, "EndWriteData(0)", c.EndWriteData(p, 0))
	ns = rec.take()
	if len(ns) != 1 || ns[0].context != 2 || ns[0].result != ResultOK {
		t.Fatalf("after EndWriteData: %v", ns)
	}
	ok(t, "CancelWatch(2)", c.CancelWatch(w, 2))
	rec.take()

	// Two-phase read: not readable meanwhile; EndReadData with data left
	// notifies READABLE.
	ok(t, "Watch(consumer, READABLE)", c.Watch(w, cons, HandleSignalReadable, 3))
	_, r = c.BeginReadData(cons, 0)
	ok(t, "BeginReadData", r)
	ok(t, "Arm during two-phase read", c.ArmWatcher(w, nil, nil, nil, nil))
	ok(t, "EndReadData(1)", c.EndReadData(cons, 1))
	ns = rec.take()
	if len(ns) != 1 || ns[0].context != 3 || ns[0].result != ResultOK {
		t.Fatalf("after EndReadData: %v", ns)
	}
	ok(t, "CancelWatch(3)", c.CancelWatch(w, 3))
	rec.take()

	// NEW_DATA_READABLE: notified by a write after a read cleared it.
	ok(t, "Watch(consumer, NEW_DATA_READABLE)", c.Watch(w, cons, HandleSignalNewDataReadable, 4))
	_, r = c.ReadData(cons, nil, 0, ReadDataFlagQuery) // clears the latch
	ok(t, "query", r)
	ok(t, "Arm", c.ArmWatcher(w, nil, nil, nil, nil))
	_, r = c.WriteData(p, []byte("e"), 0)
	ok(t, "WriteData", r)
	ns = rec.take()
	if len(ns) != 1 || ns[0].context != 4 || ns[0].result != ResultOK || !ns[0].state.Satisfies(HandleSignalNewDataReadable) {
		t.Fatalf("after write: %v", ns)
	}
	ok(t, "CancelWatch(4)", c.CancelWatch(w, 4))
	rec.take()

	// The producer closing with data left: a READABLE watch cannot be
	// armed (still readable); a NEW_DATA_READABLE one fails: NDR is no
	// longer satisfiable.
	ok(t, "Watch(consumer, PEER_CLOSED)", c.Watch(w, cons, HandleSignalPeerClosed, 5))
	ok(t, "Arm", c.ArmWatcher(w, nil, nil, nil, nil))
	ok(t, "Close(producer)", c.Close(p))
	ns = rec.take()
	if len(ns) != 1 || ns[0].context != 5 || ns[0].result != ResultOK ||
		ns[0].state != (HandleSignalsState{Satisfied: HandleSignalReadable | HandleSignalPeerClosed, Satisfiable: HandleSignalReadable | HandleSignalPeerClosed}) {
		t.Fatalf("after producer closed: %v", ns)
	}
	closeAll(t, c, cons)
	ns = rec.take()
	if len(ns) != 1 || ns[0].context != 5 || ns[0].result != ResultCancelled {
		t.Fatalf("closing the consumer: %v", ns)
	}
	closeAll(t, c, w)
}

// Notifications are deferred to the outermost API call: a callback's own
// API calls never run another callback inside it.
func TestNotificationsAreDeferred(t *testing.T) {
	c := newCore(t)
	a, b := pipe(t, c)
	x, y := pipe(t, c)
	var log []string
	inFirst := false
	w2, _ := c.CreateWatcher(func(ctx uintptr, r Result, _ HandleSignalsState, _ WatcherNotificationFlags) {
		if r != ResultOK {
			return
		}
		if inFirst {
			t.Error("second callback nested inside the first")
		}
		log = append(log, "second")
	})
	w1, _ := c.CreateWatcher(func(ctx uintptr, r Result, _ HandleSignalsState, _ WatcherNotificationFlags) {
		if r != ResultOK {
			return
		}
		inFirst = true
		log = append(log, "first begins")
		// Makes y readable: w2's notification waits for us to return.
		if r := c.WriteMessage(x, []byte("ping"), nil, 0); r != ResultOK {
			t.Errorf("WriteMessage in callback: %v", r)
		}
		log = append(log, "first ends")
		inFirst = false
	})
	ok(t, "Watch(w1, b)", c.Watch(w1, b, HandleSignalReadable, 1))
	ok(t, "Watch(w2, y)", c.Watch(w2, y, HandleSignalReadable, 2))
	ok(t, "Arm(w1)", c.ArmWatcher(w1, nil, nil, nil, nil))
	ok(t, "Arm(w2)", c.ArmWatcher(w2, nil, nil, nil, nil))
	ok(t, "WriteMessage(a)", c.WriteMessage(a, []byte("go"), nil, 0))
	// Both ran, in order, before WriteMessage returned.
	want := []string{"first begins", "first ends", "second"}
	if len(log) != len(want) {
		t.Fatalf("log %q", log)
	}
	for i := range want {
		if log[i] != want[i] {
			t.Fatalf("log %q, want %q", log, want)
		}
	}
	closeAll(t, c, a, b, x, y, w1, w2)
}

// Adding a ready watch to an armed watcher disarms it and notifies.
func TestWatchOnArmedWatcher(t *testing.T) {
	c := newCore(t)
	var rec recorder
	w, _ := c.CreateWatcher(rec.callback)
	a, b := pipe(t, c)
	x, y := pipe(t, c)
	ok(t, "Watch(a)", c.Watch(w, a, HandleSignalReadable, 1))
	ok(t, "Arm", c.ArmWatcher(w, nil, nil, nil, nil))
	ok(t, "Watch(x, WRITABLE)", c.Watch(w, x, HandleSignalWritable, 2))
	ns := rec.take()
	if len(ns) != 1 || ns[0].context != 2 || ns[0].result != ResultOK {
		t.Fatalf("notifications %v", ns)
	}
	// Disarmed: a write to a's peer notifies nothing.
	ok(t, "write", c.WriteMessage(b, nil, nil, 0))
	if ns := rec.take(); len(ns) != 0 {
		t.Fatalf("notified while disarmed: %v", ns)
	}
	closeAll(t, c, a, b, x, y, w)
	if ns := rec.take(); len(ns) != 2 {
		t.Fatalf("cancellations %v", ns)
	}
}

// A callback that closes its own watcher gets every CANCELLED after it
// returns, and nothing else.
func TestCallbackClosesWatcher(t *testing.T) {
	c := newCore(t)
	var w Handle
	var got []notification
	w, _ = c.CreateWatcher(func(ctx uintptr, r Result, s HandleSignalsState, f WatcherNotificationFlags) {
		got = append(got, notification{ctx, r, s, f})
		if r == ResultOK {
			if r := c.Close(w); r != ResultOK {
				t.Errorf("Close in callback: %v", r)
			}
		}
	})
	a, b := pipe(t, c)
	x, y := pipe(t, c)
	ok(t, "Watch", c.Watch(w, a, HandleSignalReadable, 1))
	ok(t, "Watch", c.Watch(w, x, HandleSignalReadable, 2))
	ok(t, "Arm", c.ArmWatcher(w, nil, nil, nil, nil))
	ok(t, "write", c.WriteMessage(b, nil, nil, 0))
	if len(got) != 3 || got[0].result != ResultOK || got[1].result != ResultCancelled || got[2].result != ResultCancelled {
		t.Fatalf("notifications %v", got)
	}
	closeAll(t, c, a, b, x, y)
	if len(got) != 3 {
		t.Fatalf("more notifications: %v", got)
	}
}
