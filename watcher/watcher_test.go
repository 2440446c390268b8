package watcher

import (
	"sync"
	"testing"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/inprocess"
	"github.com/ipcz-go/ipcz-go/mojo/types"
)

// fakeSource has settable signals and no portal.
type fakeSource struct {
	mu sync.Mutex
	s  types.HandleSignalsState
	n  *Notifier
}

func newFake(satisfied, satisfiable types.HandleSignals) *fakeSource {
	return &fakeSource{s: types.HandleSignalsState{Satisfied: satisfied, Satisfiable: satisfiable}, n: NewNotifier(nil)}
}

func (f *fakeSource) SignalsState() types.HandleSignalsState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s
}

func (f *fakeSource) Notifier() *Notifier { return f.n }

// set changes the signals, as an API call would.
func (f *fakeSource) set(d *Dispatcher, satisfied, satisfiable types.HandleSignals) {
	counted := d.Enter()
	f.mu.Lock()
	f.s = types.HandleSignalsState{Satisfied: satisfied, Satisfiable: satisfiable}
	f.mu.Unlock()
	f.n.Changed()
	d.Exit(counted)
}

type event struct {
	ctx   uintptr
	r     types.Result
	flags types.WatcherNotificationFlags
}

type log struct {
	mu sync.Mutex
	es []event
}

func (l *log) cb(ctx uintptr, r types.Result, _ types.HandleSignalsState, f types.WatcherNotificationFlags) {
	l.mu.Lock()
	l.es = append(l.es, event{ctx, r, f})
	l.mu.Unlock()
}

func (l *log) take() []event {
	l.mu.Lock()
	defer l.mu.Unlock()
	es := l.es
	l.es = nil
	return es
}

const (
	R  = types.HandleSignalReadable
	W  = types.HandleSignalWritable
	PC = types.HandleSignalPeerClosed
)

func TestArmAndNotify(t *testing.T) {
	d := NewDispatcher()
	var l log
	w := New(d, l.cb)
	src := newFake(0, R|PC)
	if r := w.Arm(nil, nil, nil, nil); r != types.ResultNotFound {
		t.Fatalf("Arm with no watches: %v", r)
	}
	if r := w.Watch(src, R, 1); r != types.ResultOK {
		t.Fatal(r)
	}
	if r := w.Arm(nil, nil, nil, nil); r != types.ResultOK {
		t.Fatal(r)
	}
	if r := w.Arm(nil, nil, nil, nil); r != types.ResultOK {
		t.Fatalf("Arm when armed: %v", r)
	}
	src.set(d, R, R|PC)
	if es := l.take(); len(es) != 1 || es[0] != (event{1, types.ResultOK, 0}) {
		t.Fatalf("events %v", es)
	}
	// Disarmed now.
	src.set(d, R|PC, R|PC)
	if es := l.take(); len(es) != 0 {
		t.Fatalf("events while disarmed %v", es)
	}
	// Unsatisfiable: FAILED_PRECONDITION on arming.
	src.set(d, PC, PC)
	n := uint32(1)
	ctx, res, st := make([]uintptr, 1), make([]types.Result, 1), make([]types.HandleSignalsState, 1)
	if r := w.Arm(&n, ctx, res, st); r != types.ResultFailedPrecondition || n != 1 || ctx[0] != 1 || res[0] != types.ResultFailedPrecondition {
		t.Fatalf("Arm: %v %d %v %v", r, n, ctx, res)
	}
	counted := d.Enter()
	w.Close()
	if es := l.take(); len(es) != 0 {
		t.Fatalf("delivered inside the API call: %v", es)
	}
	d.Exit(counted)
	if es := l.take(); len(es) != 1 || es[0].r != types.ResultCancelled {
		t.Fatalf("events %v", es)
	}
	if r := w.Close(); r != types.ResultInvalidArgument {
		t.Fatal(r)
	}
}

// Deliver pumps as the system unless an API call is in progress.
func TestDeliverFlags(t *testing.T) {
	d := NewDispatcher()
	var l log
	w := New(d, l.cb)
	src := newFake(0, R)
	w.Watch(src, R, 7)
	w.Arm(nil, nil, nil, nil)
	d.Deliver(func() {
		src.mu.Lock()
		src.s = types.HandleSignalsState{Satisfied: R, Satisfiable: R}
		src.mu.Unlock()
		src.n.Changed()
	})
	if es := l.take(); len(es) != 1 || es[0] != (event{7, types.ResultOK, types.WatcherNotificationFlagFromSystem}) {
		t.Fatalf("events %v", es)
	}
	// Inside an API call, a delivery leaves its events to the call.
	src.set(d, 0, R)
	w.Arm(nil, nil, nil, nil)
	counted := d.Enter()
	d.Deliver(func() {
		src.mu.Lock()
		src.s = types.HandleSignalsState{Satisfied: R, Satisfiable: R}
		src.mu.Unlock()
		src.n.Changed()
	})
	if es := l.take(); len(es) != 0 {
		t.Fatalf("delivered inside an API call: %v", es)
	}
	d.Exit(counted)
	if es := l.take(); len(es) != 1 || es[0] != (event{7, types.ResultOK, 0}) {
		t.Fatalf("events %v", es)
	}
	w.Close()
}

// Exactly one CANCELLED per watch, by each way of ending it, and nothing
// after.
func TestCancelExactlyOnce(t *testing.T) {
	d := NewDispatcher()
	var l log
	w := New(d, l.cb)
	a, b, c := newFake(0, R), newFake(0, R), newFake(0, R)
	w.Watch(a, R, 1)
	w.Watch(b, R, 2)
	w.Watch(c, R, 3)
	if r := w.Watch(a, W, 4); r != types.ResultAlreadyExists {
		t.Fatal(r)
	}
	if r := w.Watch(newFake(0, R), W, 1); r != types.ResultAlreadyExists {
		t.Fatal(r)
	}
	w.Arm(nil, nil, nil, nil)
	counted := d.Enter()
	if r := w.CancelWatch(1); r != types.ResultOK {
		t.Fatal(r)
	}
	if r := w.CancelWatch(1); r != types.ResultNotFound {
		t.Fatal(r)
	}
	b.n.Close() // the source goes away
	b.n.Close()
	w.Close()
	d.Exit(counted)
	es := l.take()
	got := map[uintptr]int{}
	for _, e := range es {
		if e.r != types.ResultCancelled {
			t.Fatalf("event %v", e)
		}
		got[e.ctx]++
	}
	if len(es) != 3 || got[1] != 1 || got[2] != 1 || got[3] != 1 {
		t.Fatalf("events %v", es)
	}
	a.set(d, R, R)
	c.set(d, R, R)
	if es := l.take(); len(es) != 0 {
		t.Fatalf("events after cancellation: %v", es)
	}
	if r := w.Watch(a, R, 9); r != types.ResultInvalidArgument {
		t.Fatalf("Watch on a closed watcher: %v", r)
	}
}

// A Notifier over a real portal sees parcels and closure.
func TestNotifierOverPortal(t *testing.T) {
	n, err := ipcz.CreateNode(inprocess.New(inprocess.Sync), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, q, _ := n.OpenPortals()
	d := NewDispatcher()
	var l log
	w := New(d, l.cb)
	src := &portalSource{p: q, n: NewNotifier(q)}
	w.Watch(src, R, 5)
	if r := w.Arm(nil, nil, nil, nil); r != types.ResultOK {
		t.Fatal(r)
	}
	counted := d.Enter()
	p.Put([]byte("x"), nil, nil)
	d.Exit(counted)
	if es := l.take(); len(es) != 1 || es[0] != (event{5, types.ResultOK, 0}) {
		t.Fatalf("events %v", es)
	}
	q.Get(0, make([]byte, 1), nil)
	if r := w.Arm(nil, nil, nil, nil); r != types.ResultOK {
		t.Fatal(r)
	}
	counted = d.Enter()
	p.Close()
	d.Exit(counted)
	if es := l.take(); len(es) != 1 || es[0] != (event{5, types.ResultFailedPrecondition, 0}) {
		t.Fatalf("events %v", es)
	}
	counted = d.Enter()
	src.n.Close()
	q.Close()
	d.Exit(counted)
	if es := l.take(); len(es) != 1 || es[0].r != types.ResultCancelled {
		t.Fatalf("events %v", es)
	}
	w.Close()
}

// portalSource is a message pipe as the mojo package sees it.
type portalSource struct {
	p *ipcz.Portal
	n *Notifier
}

func (s *portalSource) Notifier() *Notifier { return s.n }

func (s *portalSource) SignalsState() types.HandleSignalsState {
	st, err := s.p.QueryStatus()
	if err != nil {
		return types.HandleSignalsState{}
	}
	var r types.HandleSignalsState
	if st.NumLocalParcels > 0 {
		r.Satisfied |= R
	}
	if st.Flags&ipcz.PortalStatusDead == 0 {
		r.Satisfiable |= R
	}
	return r
}
