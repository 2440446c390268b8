package ipcz

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ---------------------------------------------------------------------------
// Helpers shared by the single-node API suite (api_test.go, trap_test.go,
// put_get_test.go, merge_test.go, box_test.go).
// ---------------------------------------------------------------------------

// apiEnv is one node on a testDriver.
type apiEnv struct {
	t    *testing.T
	drv  *testDriver
	node *Node
}

func newAPIEnv(t *testing.T) *apiEnv {
	t.Helper()
	drv := newTestDriver()
	n, err := CreateNode(drv, 0, 0)
	require.NoError(t, err)
	require.NotNil(t, n)
	return &apiEnv{t: t, drv: drv, node: n}
}

// pair opens a pair of entangled portals.
func (e *apiEnv) pair() (*Portal, *Portal) {
	e.t.Helper()
	a, b, err := e.node.OpenPortals()
	require.NoError(e.t, err)
	require.NotNil(e.t, a)
	require.NotNil(e.t, b)
	return a, b
}

// box boxes a fresh driver object.
func (e *apiEnv) box() (*Box, DriverHandle) {
	e.t.Helper()
	h := e.drv.newObject()
	b, err := e.node.Box(h)
	require.NoError(e.t, err)
	require.NotNil(e.t, b)
	return b, h
}

func statusOf(t *testing.T, p *Portal) PortalStatus {
	t.Helper()
	s, err := p.QueryStatus()
	require.NoError(t, err)
	return s
}

func mustPut(t *testing.T, p *Portal, data string, objects ...Object) {
	t.Helper()
	require.NoError(t, p.Put([]byte(data), objects, nil))
}

// getParcel gets the next parcel with ample buffers.
func getParcel(t *testing.T, p *Portal) (string, []Object) {
	t.Helper()
	data := make([]byte, 1<<12)
	objects := make([]Object, 64)
	nb, no, err := p.Get(0, data, objects)
	require.NoError(t, err)
	return string(data[:nb]), objects[:no]
}

// requireGetErr asserts that a Get on p fails with want and fills nothing.
func requireGetErr(t *testing.T, p *Portal, want error) {
	t.Helper()
	nb, no, err := p.Get(0, make([]byte, 64), make([]Object, 4))
	require.Equal(t, want, err)
	require.Zero(t, nb)
	require.Zero(t, no)
}

// requirePortalWorks checks that p and q are a live, entangled pair.
func requirePortalWorks(t *testing.T, p, q *Portal) {
	t.Helper()
	mustPut(t, p, "ping")
	got, objs := getParcel(t, q)
	require.Equal(t, "ping", got)
	require.Empty(t, objs)
	mustPut(t, q, "pong")
	got, objs = getParcel(t, p)
	require.Equal(t, "pong", got)
	require.Empty(t, objs)
}

// trapLog records trap events; its handler is safe from any goroutine.
type trapLog struct {
	mu     sync.Mutex
	events []TrapEvent
}

func (l *trapLog) handler(e *TrapEvent) {
	l.mu.Lock()
	l.events = append(l.events, *e)
	l.mu.Unlock()
}

func (l *trapLog) get() []TrapEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]TrapEvent(nil), l.events...)
}

func (l *trapLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}

// deadlockTimeout is how long a call may take before the suite calls it a
// deadlock. Everything here is synchronous and quick, so it is generous.
const deadlockTimeout = 5 * time.Second

// requireNoDeadlock runs f on the test goroutine (so f may use require)
// while a watchdog goroutine waits for it on a channel; if f does not
// return within deadlockTimeout, the watchdog panics with every
// goroutine's stack, which shows where ipcz is stuck.
func requireNoDeadlock(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	name := t.Name()
	go func() {
		select {
		case <-done:
		case <-time.After(deadlockTimeout):
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			panic(fmt.Sprintf("deadlock: %s did not return within %v\n%s", name, deadlockTimeout, buf[:n]))
		}
	}()
	defer close(done)
	f()
}

// ---------------------------------------------------------------------------
// Result codes and flag values (ipcz.h).
// ---------------------------------------------------------------------------

func TestAPIResultValuesAndNames(t *testing.T) {
	cases := []struct {
		r    Result
		v    int32
		name string
	}{
		{OK, 0, "OK"}, {Cancelled, 1, "CANCELLED"}, {Unknown, 2, "UNKNOWN"},
		{InvalidArgument, 3, "INVALID_ARGUMENT"}, {DeadlineExceeded, 4, "DEADLINE_EXCEEDED"},
		{NotFound, 5, "NOT_FOUND"}, {AlreadyExists, 6, "ALREADY_EXISTS"},
		{PermissionDenied, 7, "PERMISSION_DENIED"}, {ResourceExhausted, 8, "RESOURCE_EXHAUSTED"},
		{FailedPrecondition, 9, "FAILED_PRECONDITION"}, {Aborted, 10, "ABORTED"},
		{OutOfRange, 11, "OUT_OF_RANGE"}, {Unimplemented, 12, "UNIMPLEMENTED"},
		{Internal, 13, "INTERNAL"}, {Unavailable, 14, "UNAVAILABLE"}, {DataLoss, 15, "DATA_LOSS"},
	}
	for _, c := range cases {
		require.Equal(t, c.v, int32(c.r))
		require.Equal(t, c.name, c.r.String())
		require.Equal(t, "ipcz: "+c.name, c.r.Error())
		require.Equal(t, c.r, ResultOf(c.r.Err()))
	}
	require.NoError(t, OK.Err())
	require.Equal(t, InvalidArgument, InvalidArgument.Err())
	require.Equal(t, "Result(16)", Result(16).String())
	require.Equal(t, "Result(-1)", Result(-1).String())
	require.Equal(t, OK, ResultOf(nil))
	require.Equal(t, NotFound, ResultOf(fmt.Errorf("wrapped: %w", NotFound)))
	require.Equal(t, Unknown, ResultOf(errors.New("other")))
}

func TestAPIFlagValues(t *testing.T) {
	require.EqualValues(t, 1, TransportActivityError)
	require.EqualValues(t, 2, TransportActivityDeactivated)
	require.EqualValues(t, 1, CreateNodeAsBroker)
	require.EqualValues(t, 1, ConnectNodeToBroker)
	require.EqualValues(t, 2, ConnectNodeInheritBroker)
	require.EqualValues(t, 4, ConnectNodeShareBroker)
	require.EqualValues(t, 8, ConnectNodeToAllocationDelegate)
	require.EqualValues(t, 1, BeginPutAllowPartial)
	require.EqualValues(t, 1, EndPutAbort)
	require.EqualValues(t, 1, GetPartial)
	require.EqualValues(t, 1, EndGetAbort)
	require.EqualValues(t, 1, UnboxPeek)
	require.EqualValues(t, 1, PortalStatusPeerClosed)
	require.EqualValues(t, 2, PortalStatusDead)
	require.EqualValues(t, 0x1, TrapRemoved)
	require.EqualValues(t, 0x2, TrapPeerClosed)
	require.EqualValues(t, 0x4, TrapDead)
	require.EqualValues(t, 0x8, TrapAboveMinLocalParcels)
	require.EqualValues(t, 0x10, TrapAboveMinLocalBytes)
	require.EqualValues(t, 0x20, TrapBelowMaxRemoteParcels)
	require.EqualValues(t, 0x40, TrapBelowMaxRemoteBytes)
	require.EqualValues(t, 0x80, TrapNewLocalParcel)
	require.EqualValues(t, 0x100, TrapConsumedRemoteParcel)
	require.EqualValues(t, 0, InvalidDriverHandle)
}

// ---------------------------------------------------------------------------
// Node: CreateNode, Close, OpenPortals.
// ---------------------------------------------------------------------------

func TestAPICreateNode(t *testing.T) {
	n, err := CreateNode(nil, 0, 0)
	require.Equal(t, InvalidArgument, err)
	require.Nil(t, n)

	drv := newTestDriver()
	n, err = CreateNode(drv, InvalidDriverHandle, 0)
	require.NoError(t, err)
	require.NotNil(t, n)
	require.False(t, n.IsBroker())
	require.Same(t, drv, n.Driver().(*testDriver))

	b, err := CreateNode(drv, 42, CreateNodeAsBroker)
	require.NoError(t, err)
	require.True(t, b.IsBroker())
}

func TestAPINodeClose(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	bx, h := e.box()

	require.NoError(t, e.node.Close())
	require.Equal(t, InvalidArgument, e.node.Close(), "second Close")

	p, q, err := e.node.OpenPortals()
	require.Equal(t, InvalidArgument, err, "OpenPortals on a closed node")
	require.Nil(t, p)
	require.Nil(t, q)

	nb, err := e.node.Box(e.drv.newObject())
	require.Equal(t, InvalidArgument, err, "Box on a closed node")
	require.Nil(t, nb)

	// Objects already made keep working between themselves.
	requirePortalWorks(t, a, b)
	mustPut(t, a, "", bx)
	_, objs := getParcel(t, b)
	require.Len(t, objs, 1)
	got, err := objs[0].(*Box).Unbox(0)
	require.NoError(t, err)
	require.Equal(t, h, got)
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
}

func TestAPINilHandles(t *testing.T) {
	e := newAPIEnv(t)
	live, _ := e.pair()
	var p *Portal
	var n *Node
	var bx *Box
	var v *Validator

	calls := map[string]func() error{
		"Node.Close":       func() error { return n.Close() },
		"Node.OpenPortals": func() error { _, _, err := n.OpenPortals(); return err },
		"Node.Box":         func() error { _, err := n.Box(1); return err },
		"Portal.Close":     func() error { return p.Close() },
		"QueryStatus":      func() error { _, err := p.QueryStatus(); return err },
		"Put":              func() error { return p.Put([]byte("x"), nil, nil) },
		"BeginPut":         func() error { _, err := p.BeginPut(1, 0, nil); return err },
		"EndPut":           func() error { return p.EndPut(0, nil, 0) },
		"EndPut(abort)":    func() error { return p.EndPut(0, nil, EndPutAbort) },
		"Get":              func() error { _, _, err := p.Get(0, nil, nil); return err },
		"GetValidated":     func() error { _, _, _, err := p.GetValidated(0, nil, nil); return err },
		"GetMessage":       func() error { _, _, err := p.GetMessage(); return err },
		"BeginGet":         func() error { _, _, err := p.BeginGet(true, true); return err },
		"EndGet":           func() error { _, err := p.EndGet(0, 0, 0); return err },
		"EndGetValidated":  func() error { _, _, err := p.EndGetValidated(0, 0, 0); return err },
		"Trap": func() error {
			_, _, err := p.Trap(&TrapConditions{Flags: TrapPeerClosed}, func(*TrapEvent) {}, 0)
			return err
		},
		"MergePortals(nil, live)": func() error { return MergePortals(p, live) },
		"MergePortals(live, nil)": func() error { return MergePortals(live, p) },
		"MergePortals(nil, nil)":  func() error { return MergePortals(p, p) },
		"Box.Close":               func() error { return bx.Close() },
		"Box.Unbox":               func() error { _, err := bx.Unbox(0); return err },
		"Box.Unbox(peek)":         func() error { _, err := bx.Unbox(UnboxPeek); return err },
		"Validator.Close":         func() error { return v.Close() },
		"Validator.Reject":        func() error { return v.Reject(1) },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = call() })
			require.Equal(t, InvalidArgument, err)
		})
	}
	// The live portal was not harmed by the failed merges.
	_ = statusOf(t, live)
}

// deadPortal makes a portal whose handle is dead in the named way, and
// returns it with a live portal of the same node.
func deadPortal(t *testing.T, e *apiEnv, how string) *Portal {
	t.Helper()
	switch how {
	case "closed":
		p, _ := e.pair()
		require.NoError(t, p.Close())
		return p
	case "sent":
		p, _ := e.pair()
		carrier, _ := e.pair()
		require.NoError(t, carrier.Put(nil, []Object{p}, nil))
		return p
	case "merged":
		_, p := e.pair()
		q, _ := e.pair()
		require.NoError(t, MergePortals(p, q))
		return p
	}
	t.Fatalf("unknown way %q", how)
	return nil
}

func TestAPIDeadPortalHandles(t *testing.T) {
	for _, how := range []string{"closed", "sent", "merged"} {
		t.Run(how, func(t *testing.T) {
			e := newAPIEnv(t)
			other, _ := e.pair()
			calls := map[string]func(p *Portal) error{
				"Close":       func(p *Portal) error { return p.Close() },
				"QueryStatus": func(p *Portal) error { _, err := p.QueryStatus(); return err },
				"Put":         func(p *Portal) error { return p.Put([]byte("x"), nil, nil) },
				"BeginPut":    func(p *Portal) error { _, err := p.BeginPut(1, 0, nil); return err },
				"EndPut":      func(p *Portal) error { return p.EndPut(0, nil, 0) },
				"EndPutAbort": func(p *Portal) error { return p.EndPut(0, nil, EndPutAbort) },
				"Get":         func(p *Portal) error { _, _, err := p.Get(GetPartial, nil, nil); return err },
				"GetValidated": func(p *Portal) error {
					_, _, v, err := p.GetValidated(0, nil, nil)
					assert.Nil(t, v)
					return err
				},
				"GetMessage": func(p *Portal) error { _, _, err := p.GetMessage(); return err },
				"BeginGet":   func(p *Portal) error { _, _, err := p.BeginGet(true, true); return err },
				"EndGet":     func(p *Portal) error { _, err := p.EndGet(0, 0, 0); return err },
				"EndGetAbort": func(p *Portal) error {
					_, err := p.EndGet(0, 0, EndGetAbort)
					return err
				},
				"EndGetValidated": func(p *Portal) error { _, _, err := p.EndGetValidated(0, 0, 0); return err },
				"Trap": func(p *Portal) error {
					_, _, err := p.Trap(&TrapConditions{Flags: TrapNewLocalParcel}, func(*TrapEvent) {}, 0)
					return err
				},
				"MergeFirst":  func(p *Portal) error { return MergePortals(p, other) },
				"MergeSecond": func(p *Portal) error { return MergePortals(other, p) },
				"SentInPut":   func(p *Portal) error { return other.Put(nil, []Object{p}, nil) },
			}
			for name, call := range calls {
				p := deadPortal(t, e, how)
				require.Equal(t, InvalidArgument, call(p), name)
			}
			// other survived every failed use.
			_ = statusOf(t, other)
		})
	}
}

func TestAPIOpenPortalsFreshStatus(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	require.NotSame(t, a, b)
	require.Equal(t, PortalStatus{}, statusOf(t, a))
	require.Equal(t, PortalStatus{}, statusOf(t, b))
	requireGetErr(t, a, Unavailable)
	requireGetErr(t, b, Unavailable)
	requirePortalWorks(t, a, b)
}

func TestAPIPortalCloseTwice(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	require.NoError(t, a.Close())
	require.Equal(t, InvalidArgument, a.Close())
	require.Equal(t, PortalStatusPeerClosed|PortalStatusDead, statusOf(t, b).Flags)
	require.NoError(t, b.Close())
	require.Equal(t, InvalidArgument, b.Close())
}

// ---------------------------------------------------------------------------
// Put: the objects argument.
// ---------------------------------------------------------------------------

func TestAPIPutInvalidObjects(t *testing.T) {
	cases := []struct {
		name string
		make func(e *apiEnv, a, b *Portal) []Object
	}{
		{"portal itself", func(e *apiEnv, a, b *Portal) []Object { return []Object{a} }},
		{"its local peer", func(e *apiEnv, a, b *Portal) []Object { return []Object{b} }},
		{"same portal twice", func(e *apiEnv, a, b *Portal) []Object {
			x, _ := e.pair()
			return []Object{x, x}
		}},
		{"same box twice", func(e *apiEnv, a, b *Portal) []Object {
			bx, _ := e.box()
			return []Object{bx, bx}
		}},
		// Past maxPairwiseDuplicateCheck objects, duplicates are found
		// with a set.
		{"same portal twice among many", func(e *apiEnv, a, b *Portal) []Object {
			x, _ := e.pair()
			objects := []Object{x}
			for range maxPairwiseDuplicateCheck {
				y, _ := e.pair()
				objects = append(objects, y)
			}
			return append(objects, x)
		}},
		{"same box twice among many", func(e *apiEnv, a, b *Portal) []Object {
			bx, _ := e.box()
			objects := []Object{bx}
			for range maxPairwiseDuplicateCheck {
				y, _ := e.box()
				objects = append(objects, y)
			}
			return append(objects, bx)
		}},
		{"closed portal", func(e *apiEnv, a, b *Portal) []Object {
			x, _ := e.pair()
			require.NoError(e.t, x.Close())
			return []Object{x}
		}},
		{"portal already sent", func(e *apiEnv, a, b *Portal) []Object {
			x, _ := e.pair()
			c, _ := e.pair()
			require.NoError(e.t, c.Put(nil, []Object{x}, nil))
			return []Object{x}
		}},
		{"merged portal", func(e *apiEnv, a, b *Portal) []Object {
			_, x := e.pair()
			y, _ := e.pair()
			require.NoError(e.t, MergePortals(x, y))
			return []Object{x}
		}},
		{"closed box", func(e *apiEnv, a, b *Portal) []Object {
			bx, _ := e.box()
			require.NoError(e.t, bx.Close())
			return []Object{bx}
		}},
		{"unboxed box", func(e *apiEnv, a, b *Portal) []Object {
			bx, _ := e.box()
			_, err := bx.Unbox(0)
			require.NoError(e.t, err)
			return []Object{bx}
		}},
		{"its own node", func(e *apiEnv, a, b *Portal) []Object { return []Object{e.node} }},
		{"another node", func(e *apiEnv, a, b *Portal) []Object { return []Object{newAPIEnv(e.t).node} }},
		{"a validator", func(e *apiEnv, a, b *Portal) []Object {
			x, y := e.pair()
			mustPut(e.t, x, "v")
			_, _, v, err := y.GetValidated(0, make([]byte, 1), nil)
			require.NoError(e.t, err)
			return []Object{v}
		}},
		{"portal of another node", func(e *apiEnv, a, b *Portal) []Object {
			x, _ := newAPIEnv(e.t).pair()
			return []Object{x}
		}},
		{"box of another node", func(e *apiEnv, a, b *Portal) []Object {
			bx, _ := newAPIEnv(e.t).box()
			return []Object{bx}
		}},
		{"nil object", func(e *apiEnv, a, b *Portal) []Object { return []Object{nil} }},
		{"portal in a two-phase put", func(e *apiEnv, a, b *Portal) []Object {
			x, _ := e.pair()
			_, err := x.BeginPut(1, 0, nil)
			require.NoError(e.t, err)
			return []Object{x}
		}},
		{"portal in a two-phase get", func(e *apiEnv, a, b *Portal) []Object {
			x, y := e.pair()
			mustPut(e.t, y, "z")
			_, _, err := x.BeginGet(true, true)
			require.NoError(e.t, err)
			return []Object{x}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newAPIEnv(t)
			a, b := e.pair()
			good, goodHandle := e.box()
			goodPortal, goodPeer := e.pair()
			bad := c.make(e, a, b)
			// The bad object is last, so every good object before it has
			// been checked (and must be given back untouched).
			objects := append([]Object{good, goodPortal}, bad...)
			require.Equal(t, InvalidArgument, a.Put([]byte("data"), objects, nil))
			requireGetErr(t, b, Unavailable)
			require.Equal(t, PortalStatus{}, statusOf(t, a))

			// Bad first, too.
			objects = append(append([]Object(nil), bad...), good, goodPortal)
			require.Equal(t, InvalidArgument, a.Put([]byte("data"), objects, nil))
			requireGetErr(t, b, Unavailable)

			// The good objects stayed the caller's.
			h, err := good.Unbox(UnboxPeek)
			require.NoError(t, err)
			require.Equal(t, goodHandle, h)
			requirePortalWorks(t, goodPortal, goodPeer)
			// And the sending portal still works.
			requirePortalWorks(t, a, b)
		})
	}
}

// Typed nil pointers are non-nil Object interface values. Put must reject
// them with InvalidArgument rather than crash.
func TestAPIPutTypedNilObjects(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	for name, o := range map[string]Object{
		"*Portal":    (*Portal)(nil),
		"*Box":       (*Box)(nil),
		"*Validator": (*Validator)(nil),
		"*Node":      (*Node)(nil),
	} {
		var err error
		require.NotPanics(t, func() { err = a.Put(nil, []Object{o}, nil) }, name)
		require.Equal(t, InvalidArgument, err, name)
	}
	requireGetErr(t, b, Unavailable)
}

// ---------------------------------------------------------------------------
// BeginPut / EndPut arguments.
// ---------------------------------------------------------------------------

func TestAPIBeginPutArguments(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	buf, err := a.BeginPut(-1, 0, nil)
	require.Equal(t, InvalidArgument, err)
	require.Nil(t, buf)
	buf, err = a.BeginPut(-1, BeginPutAllowPartial, &PutLimits{MaxQueuedParcels: 10, MaxQueuedBytes: 10})
	require.Equal(t, InvalidArgument, err)
	require.Nil(t, buf)
	// No put was started.
	require.Equal(t, FailedPrecondition, a.EndPut(0, nil, 0))
	require.Equal(t, FailedPrecondition, a.EndPut(0, nil, EndPutAbort))
	requireGetErr(t, b, Unavailable)
}

func TestAPIEndPutArguments(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	require.Equal(t, FailedPrecondition, a.EndPut(0, nil, 0), "EndPut without BeginPut")
	require.Equal(t, FailedPrecondition, a.EndPut(0, nil, EndPutAbort), "abort without BeginPut")

	buf, err := a.BeginPut(4, 0, nil)
	require.NoError(t, err)
	require.Len(t, buf, 4)
	copy(buf, "abcd")
	require.Equal(t, InvalidArgument, a.EndPut(5, nil, 0), "more bytes than the buffer")
	require.Equal(t, InvalidArgument, a.EndPut(-1, nil, 0), "negative byte count")
	require.Equal(t, InvalidArgument, a.EndPut(2, []Object{a}, 0), "the portal itself")
	require.Equal(t, InvalidArgument, a.EndPut(2, []Object{b}, 0), "its local peer")
	requireGetErr(t, b, Unavailable)
	// The put is still pending...
	_, err = a.BeginPut(1, 0, nil)
	require.Equal(t, AlreadyExists, err)
	// ...and can be committed.
	require.NoError(t, a.EndPut(4, nil, 0))
	got, objs := getParcel(t, b)
	require.Equal(t, "abcd", got)
	require.Empty(t, objs)
	require.Equal(t, FailedPrecondition, a.EndPut(0, nil, 0), "the put is over")
}

// ---------------------------------------------------------------------------
// Get / BeginGet / EndGet arguments and two-phase interplay.
// ---------------------------------------------------------------------------

func TestAPIEndGetArguments(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	_, err := b.EndGet(0, 0, 0)
	require.Equal(t, FailedPrecondition, err)
	_, err = b.EndGet(0, 0, EndGetAbort)
	require.Equal(t, FailedPrecondition, err)
	_, v, err := b.EndGetValidated(0, 0, 0)
	require.Equal(t, FailedPrecondition, err)
	require.Nil(t, v)

	bx, _ := e.box()
	mustPut(t, a, "abc", bx)
	data, n, err := b.BeginGet(true, true)
	require.NoError(t, err)
	require.Equal(t, "abc", string(data))
	require.Equal(t, 1, n)
	for _, c := range []struct{ bytes, objects int }{{4, 0}, {0, 2}, {-1, 0}, {0, -1}, {4, 2}} {
		objs, err := b.EndGet(c.bytes, c.objects, 0)
		require.Equal(t, OutOfRange, err, "%+v", c)
		require.Nil(t, objs)
	}
	// Still in progress: another get is refused, and EndGet works.
	_, _, err = b.Get(0, make([]byte, 8), make([]Object, 2))
	require.Equal(t, AlreadyExists, err)
	objs, err := b.EndGet(3, 1, 0)
	require.NoError(t, err)
	require.Len(t, objs, 1)
	require.NoError(t, objs[0].Close())
}

func TestAPITrapArguments(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	var log trapLog
	_, _, err := a.Trap(nil, log.handler, 0)
	require.Equal(t, InvalidArgument, err)
	_, _, err = a.Trap(&TrapConditions{Flags: TrapPeerClosed}, nil, 0)
	require.Equal(t, InvalidArgument, err)
	// Nothing was installed: neither the peer's closure nor our own
	// closure reaches the handler.
	require.NoError(t, b.Close())
	require.NoError(t, a.Close())
	require.Zero(t, log.count())
}

func TestAPIQueryStatusOfEveryStage(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	require.Equal(t, PortalStatus{}, statusOf(t, a))
	mustPut(t, a, "12345")
	require.Equal(t, PortalStatus{NumRemoteParcels: 1, NumRemoteBytes: 5}, statusOf(t, a))
	require.Equal(t, PortalStatus{NumLocalParcels: 1, NumLocalBytes: 5}, statusOf(t, b))
	require.NoError(t, a.Close())
	require.Equal(t, PortalStatus{Flags: PortalStatusPeerClosed, NumLocalParcels: 1, NumLocalBytes: 5}, statusOf(t, b))
	getParcel(t, b)
	require.Equal(t, PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead}, statusOf(t, b))
	_, err := a.QueryStatus()
	require.Equal(t, InvalidArgument, err)
}

// ---------------------------------------------------------------------------
// Calls racing a Close on another goroutine: every call returns one of its
// documented results, nothing panics, and every trap that was installed
// sees exactly one event.
// ---------------------------------------------------------------------------

func TestAPICallsRacingClose(t *testing.T) {
	allowed := map[error]bool{
		nil: true, InvalidArgument: true, Unavailable: true, NotFound: true,
		AlreadyExists: true, FailedPrecondition: true, ResourceExhausted: true, OutOfRange: true,
	}
	for range 40 {
		e := newAPIEnv(t)
		a, b := e.pair()
		c, _ := e.pair()
		for range 3 {
			mustPut(t, a, "abc")
		}
		var fired sync.WaitGroup
		var mu sync.Mutex
		var bad []string
		check := func(op string, err error) {
			if !allowed[err] {
				mu.Lock()
				bad = append(bad, fmt.Sprintf("%s: %v", op, err))
				mu.Unlock()
			}
		}
		ops := []func(){
			func() {
				_, _, err := b.Get(GetPartial, make([]byte, 1), make([]Object, 1))
				check("Get", err)
			},
			func() { _, err := b.QueryStatus(); check("QueryStatus", err) },
			func() {
				fired.Add(1)
				_, _, err := b.Trap(&TrapConditions{Flags: TrapNewLocalParcel}, func(*TrapEvent) { fired.Done() }, 0)
				if err != nil {
					fired.Done() // not installed: no event will come
				}
				check("Trap", err)
			},
			func() { check("Put", a.Put([]byte("x"), nil, nil)) },
			func() { check("Put(b)", b.Put([]byte("y"), nil, nil)) },
			func() {
				_, err := b.BeginPut(1, 0, nil)
				check("BeginPut", err)
				check("EndPut", b.EndPut(1, nil, 0))
			},
			func() {
				_, _, err := b.BeginGet(true, true)
				check("BeginGet", err)
				_, err = b.EndGet(1, 0, 0)
				check("EndGet", err)
			},
			func() { check("MergePortals", MergePortals(b, c)) },
			func() { check("Put(c, b)", c.Put(nil, []Object{b}, nil)) },
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, op := range ops {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for range 20 {
					op()
				}
			}()
		}
		close(start)
		err := b.Close()
		check("Close", err)
		wg.Wait()
		require.Empty(t, bad)
		// b is dead one way or another: closed, merged or sent.
		_, err = b.QueryStatus()
		require.Equal(t, InvalidArgument, err)
		// Every trap that was installed fired exactly once (WaitGroup
		// panics on a second Done).
		requireNoDeadlock(t, fired.Wait)
	}
}
