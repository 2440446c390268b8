package ipcz

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustTrap(t *testing.T, p *Portal, c TrapConditions, h TrapHandler, context uintptr) {
	t.Helper()
	flags, status, err := p.Trap(&c, h, context)
	require.NoError(t, err)
	require.Zero(t, flags)
	require.Equal(t, PortalStatus{}, status)
}

func ev(context uintptr, flags TrapConditionFlags, s PortalStatus) TrapEvent {
	return TrapEvent{Context: context, ConditionFlags: flags, Status: s}
}

// ---------------------------------------------------------------------------
// REMOVED.
// ---------------------------------------------------------------------------

func TestTrapRemovedOnClose(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	mustPut(t, a, "abc")
	mustPut(t, b, "12345")
	var log trapLog
	mustTrap(t, b, TrapConditions{}, log.handler, 1)
	mustTrap(t, b, TrapConditions{Flags: TrapPeerClosed | TrapDead}, log.handler, 2)
	mustTrap(t, b, TrapConditions{Flags: TrapAboveMinLocalParcels, MinLocalParcels: 5}, log.handler, 3)
	mustTrap(t, b, TrapConditions{Flags: TrapNewLocalParcel | TrapConsumedRemoteParcel}, log.handler, 4)
	mustTrap(t, b, TrapConditions{Flags: TrapBelowMaxRemoteParcels, MaxRemoteParcels: 1}, log.handler, 5)
	require.Zero(t, log.count())

	require.NoError(t, b.Close())
	s := PortalStatus{NumLocalParcels: 1, NumLocalBytes: 3, NumRemoteParcels: 1, NumRemoteBytes: 5}
	require.Equal(t, []TrapEvent{
		ev(1, TrapRemoved, s), ev(2, TrapRemoved, s), ev(3, TrapRemoved, s),
		ev(4, TrapRemoved, s), ev(5, TrapRemoved, s),
	}, log.get())

	// Exactly once: nothing more, whatever happens next.
	require.Equal(t, InvalidArgument, b.Close())
	require.Equal(t, NotFound, a.Put([]byte("x"), nil, nil))
	require.NoError(t, a.Close())
	require.Len(t, log.get(), 5)
}

func TestTrapRemovedOnlyForTrapsStillInstalled(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	var log trapLog
	mustTrap(t, b, TrapConditions{Flags: TrapNewLocalParcel}, log.handler, 1)
	mustTrap(t, b, TrapConditions{Flags: TrapPeerClosed}, log.handler, 2)
	mustPut(t, a, "x")
	require.Equal(t, []TrapEvent{ev(1, TrapNewLocalParcel, PortalStatus{NumLocalParcels: 1, NumLocalBytes: 1})}, log.get())
	require.NoError(t, b.Close())
	require.Equal(t, []TrapEvent{
		ev(1, TrapNewLocalParcel, PortalStatus{NumLocalParcels: 1, NumLocalBytes: 1}),
		ev(2, TrapRemoved, PortalStatus{NumLocalParcels: 1, NumLocalBytes: 1}),
	}, log.get())
}

func TestTrapRemovedWhenPortalIsSent(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	x, y := e.pair()
	mustPut(t, y, "queued")
	var log trapLog
	mustTrap(t, x, TrapConditions{Flags: TrapPeerClosed}, log.handler, 7)
	mustTrap(t, x, TrapConditions{Flags: TrapNewLocalParcel}, log.handler, 8)

	// A failed send leaves the traps in place.
	require.NoError(t, b.Close())
	require.Equal(t, NotFound, a.Put(nil, []Object{x}, nil))
	require.Zero(t, log.count())

	c, d := e.pair()
	require.NoError(t, c.Put(nil, []Object{x}, nil))
	s := PortalStatus{NumLocalParcels: 1, NumLocalBytes: 6}
	require.Equal(t, []TrapEvent{ev(7, TrapRemoved, s), ev(8, TrapRemoved, s)}, log.get())

	// The portal lives on at the receiver, without the old traps.
	_, objs := getParcel(t, d)
	x2 := objs[0].(*Portal)
	mustPut(t, y, "more")
	require.NoError(t, y.Close())
	require.NoError(t, x2.Close())
	require.Len(t, log.get(), 2)
}

func TestTrapRemovedWhenMerged(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	c, d := e.pair()
	mustPut(t, a, "to b")
	var log trapLog
	mustTrap(t, b, TrapConditions{Flags: TrapPeerClosed}, log.handler, 1)
	mustTrap(t, c, TrapConditions{Flags: TrapNewLocalParcel}, log.handler, 2)
	mustTrap(t, c, TrapConditions{}, log.handler, 3)
	require.NoError(t, MergePortals(b, c))
	require.ElementsMatch(t, []TrapEvent{
		ev(1, TrapRemoved, PortalStatus{NumLocalParcels: 1, NumLocalBytes: 4}),
		ev(2, TrapRemoved, PortalStatus{}),
		ev(3, TrapRemoved, PortalStatus{}),
	}, log.get())
	// Traffic through the merged routers does not reach the old traps.
	got, _ := getParcel(t, d)
	require.Equal(t, "to b", got)
	requirePortalWorks(t, a, d)
	require.NoError(t, a.Close())
	require.NoError(t, d.Close())
	require.Len(t, log.get(), 3)
}

// A failed merge leaves the traps in place.
func TestTrapKeptWhenMergeFails(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	var log trapLog
	mustTrap(t, a, TrapConditions{Flags: TrapPeerClosed}, log.handler, 1)
	require.Equal(t, InvalidArgument, MergePortals(a, b))
	mustPut(t, a, "x")
	c, _ := e.pair()
	require.Equal(t, FailedPrecondition, MergePortals(a, c))
	require.Zero(t, log.count())
	require.NoError(t, b.Close())
	events := log.get()
	require.Len(t, events, 1)
	require.Equal(t, TrapPeerClosed, events[0].ConditionFlags)
	require.Equal(t, PortalStatusPeerClosed|PortalStatusDead, events[0].Status.Flags)
}

// ---------------------------------------------------------------------------
// PEER_CLOSED and DEAD.
// ---------------------------------------------------------------------------

func TestTrapPeerClosedAndDead(t *testing.T) {
	cases := []struct {
		name   string
		flags  TrapConditionFlags
		queued bool
		want   TrapConditionFlags
		status PortalStatus
	}{
		{"peer closed, empty", TrapPeerClosed, false, TrapPeerClosed, PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead}},
		{"dead, empty", TrapDead, false, TrapDead, PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead}},
		{"both, empty", TrapPeerClosed | TrapDead, false, TrapPeerClosed | TrapDead, PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead}},
		{"peer closed, queued", TrapPeerClosed, true, TrapPeerClosed, PortalStatus{Flags: PortalStatusPeerClosed, NumLocalParcels: 1, NumLocalBytes: 2}},
		{"both, queued", TrapPeerClosed | TrapDead, true, TrapPeerClosed, PortalStatus{Flags: PortalStatusPeerClosed, NumLocalParcels: 1, NumLocalBytes: 2}},
		{"with other conditions", TrapPeerClosed | TrapNewLocalParcel | TrapAboveMinLocalParcels, true, TrapPeerClosed, PortalStatus{Flags: PortalStatusPeerClosed, NumLocalParcels: 1, NumLocalBytes: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newAPIEnv(t)
			a, b := e.pair()
			if c.queued {
				mustPut(t, a, "hi")
			}
			var log trapLog
			mustTrap(t, b, TrapConditions{Flags: c.flags, MinLocalParcels: 1}, log.handler, 9)
			require.NoError(t, a.Close())
			require.Equal(t, []TrapEvent{ev(9, c.want, c.status)}, log.get())
		})
	}
}

func TestTrapDeadWhenLastParcelConsumed(t *testing.T) {
	consume := map[string]func(t *testing.T, b *Portal){
		"Get": func(t *testing.T, b *Portal) { getParcel(t, b) },
		"GetPartial": func(t *testing.T, b *Portal) {
			_, _, err := b.Get(GetPartial, make([]byte, 8), nil)
			require.NoError(t, err)
		},
		"GetMessage": func(t *testing.T, b *Portal) {
			_, _, err := b.GetMessage()
			require.NoError(t, err)
		},
		"EndGet": func(t *testing.T, b *Portal) {
			data, _, err := b.BeginGet(true, true)
			require.NoError(t, err)
			_, err = b.EndGet(len(data), 0, 0)
			require.NoError(t, err)
		},
	}
	for name, get := range consume {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t)
			a, b := e.pair()
			mustPut(t, a, "one")
			mustPut(t, a, "two")
			require.NoError(t, a.Close())
			var log trapLog
			mustTrap(t, b, TrapConditions{Flags: TrapDead}, log.handler, 3)
			get(t, b)
			require.Zero(t, log.count(), "one parcel is left")
			get(t, b)
			require.Equal(t, []TrapEvent{ev(3, TrapDead, PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead})}, log.get())
		})
	}
}

func TestTrapDeadNotBeforePartialParcelIsFinished(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	mustPut(t, a, "abcd")
	require.NoError(t, a.Close())
	var log trapLog
	mustTrap(t, b, TrapConditions{Flags: TrapDead}, log.handler, 1)
	_, _, err := b.Get(GetPartial, make([]byte, 3), nil)
	require.NoError(t, err)
	require.Zero(t, log.count())
	_, _, err = b.Get(GetPartial, make([]byte, 3), nil)
	require.NoError(t, err)
	require.Equal(t, []TrapEvent{ev(1, TrapDead, PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead})}, log.get())
}

// ---------------------------------------------------------------------------
// Local thresholds.
// ---------------------------------------------------------------------------

func TestTrapAboveMinLocalParcels(t *testing.T) {
	for _, min := range []int{0, 1, 3} {
		t.Run("", func(t *testing.T) {
			e := newAPIEnv(t)
			a, b := e.pair()
			var log trapLog
			mustTrap(t, b, TrapConditions{Flags: TrapAboveMinLocalParcels, MinLocalParcels: min}, log.handler, 5)
			for i := 1; i <= min; i++ {
				mustPut(t, a, "p")
				require.Zero(t, log.count(), "%d parcels is not above %d", i, min)
			}
			mustPut(t, a, "p")
			require.Equal(t, []TrapEvent{ev(5, TrapAboveMinLocalParcels, PortalStatus{NumLocalParcels: min + 1, NumLocalBytes: min + 1})}, log.get())
			mustPut(t, a, "p")
			require.Len(t, log.get(), 1, "the trap is gone")
		})
	}
}

func TestTrapAboveMinLocalBytes(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	var log trapLog
	mustTrap(t, b, TrapConditions{Flags: TrapAboveMinLocalBytes, MinLocalBytes: 5}, log.handler, 6)
	mustPut(t, a, "abc")
	mustPut(t, a, "")
	mustPut(t, a, "de")
	require.Zero(t, log.count(), "5 bytes is not above 5")
	mustPut(t, a, "f")
	require.Equal(t, []TrapEvent{ev(6, TrapAboveMinLocalBytes, PortalStatus{NumLocalParcels: 4, NumLocalBytes: 6})}, log.get())

	// The threshold counts unread bytes: after a partial get it takes more.
	_, _, err := b.Get(GetPartial, make([]byte, 2), nil)
	require.NoError(t, err)
	require.Equal(t, 4, statusOf(t, b).NumLocalBytes)
	mustTrap(t, b, TrapConditions{Flags: TrapAboveMinLocalBytes, MinLocalBytes: 5}, log.handler, 7)
	mustPut(t, a, "g")
	require.Len(t, log.get(), 1)
	mustPut(t, a, "h")
	require.Equal(t, ev(7, TrapAboveMinLocalBytes, PortalStatus{NumLocalParcels: 6, NumLocalBytes: 6}), log.get()[1])
}

func TestTrapLocalThresholdsWithOutOfOrderArrival(t *testing.T) {
	e := newAPIEnv(t)
	_, b := e.pair()
	r := b.router.Load()
	var log trapLog
	mustTrap(t, b, TrapConditions{Flags: TrapNewLocalParcel}, log.handler, 1)
	mustTrap(t, b, TrapConditions{Flags: TrapAboveMinLocalParcels, MinLocalParcels: 1}, log.handler, 2)
	require.True(t, r.acceptInboundParcel(&Parcel{seq: 1, data: []byte("1")}))
	require.True(t, r.acceptInboundParcel(&Parcel{seq: 2, data: []byte("22")}))
	require.Zero(t, log.count(), "nothing is available before parcel 0")
	require.True(t, r.acceptInboundParcel(&Parcel{seq: 0, data: []byte("")}))
	s := PortalStatus{NumLocalParcels: 3, NumLocalBytes: 3}
	require.Equal(t, []TrapEvent{ev(1, TrapNewLocalParcel, s), ev(2, TrapAboveMinLocalParcels, s)}, log.get())
}

// ---------------------------------------------------------------------------
// Remote thresholds and CONSUMED_REMOTE_PARCEL: fed by the peer's gets.
// ---------------------------------------------------------------------------

func TestTrapBelowMaxRemoteParcels(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	mustPut(t, a, "aa")
	mustPut(t, a, "bb")
	mustPut(t, a, "cc")
	var log trapLog
	mustTrap(t, a, TrapConditions{Flags: TrapBelowMaxRemoteParcels, MaxRemoteParcels: 2}, log.handler, 4)
	// Consuming bytes only does not change the parcel count.
	_, _, err := b.Get(GetPartial, make([]byte, 1), nil)
	require.NoError(t, err)
	require.Zero(t, log.count())
	_, _, err = b.Get(GetPartial, make([]byte, 1), nil)
	require.NoError(t, err)
	require.Zero(t, log.count(), "2 parcels is not below 2")
	getParcel(t, b)
	require.Equal(t, []TrapEvent{ev(4, TrapBelowMaxRemoteParcels, PortalStatus{NumRemoteParcels: 1, NumRemoteBytes: 2})}, log.get())
	getParcel(t, b)
	require.Len(t, log.get(), 1)
}

func TestTrapBelowMaxRemoteBytes(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	mustPut(t, a, "aaaa")
	mustPut(t, a, "bbbb")
	mustPut(t, b, "local")
	var log trapLog
	mustTrap(t, a, TrapConditions{Flags: TrapBelowMaxRemoteBytes, MaxRemoteBytes: 5}, log.handler, 8)
	for range 3 {
		_, _, err := b.Get(GetPartial, make([]byte, 1), nil)
		require.NoError(t, err)
	}
	require.Zero(t, log.count(), "5 bytes is not below 5")
	_, _, err := b.Get(GetPartial, make([]byte, 1), nil)
	require.NoError(t, err)
	require.Equal(t, []TrapEvent{ev(8, TrapBelowMaxRemoteBytes, PortalStatus{
		NumLocalParcels: 1, NumLocalBytes: 5, NumRemoteParcels: 1, NumRemoteBytes: 4,
	})}, log.get())
}

func TestTrapConsumedRemoteParcel(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	mustPut(t, a, "xy")
	mustPut(t, a, "z")
	// Edge-triggered: a consumption before the trap is installed does not
	// count.
	getParcel(t, b)
	mustPut(t, a, "w")
	var log trapLog
	mustTrap(t, a, TrapConditions{Flags: TrapConsumedRemoteParcel}, log.handler, 3)
	require.Zero(t, log.count())

	// Part of a parcel is not a parcel.
	_, _, err := b.Get(GetPartial, nil, nil)
	require.NoError(t, err)
	require.Zero(t, log.count())
	getParcel(t, b)
	require.Equal(t, []TrapEvent{ev(3, TrapConsumedRemoteParcel, PortalStatus{NumRemoteParcels: 1, NumRemoteBytes: 1})}, log.get())
	getParcel(t, b)
	require.Len(t, log.get(), 1, "the trap is gone")

	// Re-installed, it fires again; a two-phase get counts too.
	mustTrap(t, a, TrapConditions{Flags: TrapConsumedRemoteParcel}, log.handler, 4)
	mustPut(t, a, "v")
	_, _, err = b.BeginGet(true, true)
	require.NoError(t, err)
	_, err = b.EndGet(1, 0, 0)
	require.NoError(t, err)
	require.Equal(t, ev(4, TrapConsumedRemoteParcel, PortalStatus{}), log.get()[1])

	// Combined with a level condition that does not hold: only the edge
	// is reported.
	mustPut(t, a, "1")
	mustPut(t, a, "2")
	mustPut(t, a, "3")
	mustTrap(t, a, TrapConditions{Flags: TrapConsumedRemoteParcel | TrapBelowMaxRemoteParcels, MaxRemoteParcels: 1}, log.handler, 5)
	getParcel(t, b)
	require.Equal(t, ev(5, TrapConsumedRemoteParcel, PortalStatus{NumRemoteParcels: 2, NumRemoteBytes: 2}), log.get()[2])
	// And both when both hold.
	mustTrap(t, a, TrapConditions{Flags: TrapConsumedRemoteParcel | TrapBelowMaxRemoteParcels, MaxRemoteParcels: 2}, log.handler, 6)
	getParcel(t, b)
	require.Equal(t, ev(6, TrapConsumedRemoteParcel|TrapBelowMaxRemoteParcels, PortalStatus{NumRemoteParcels: 1, NumRemoteBytes: 1}), log.get()[3])
}

func TestTrapConsumedRemoteParcelWithObjectsOnly(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	bx, _ := e.box()
	require.NoError(t, a.Put(nil, []Object{bx}, nil))
	var log trapLog
	mustTrap(t, a, TrapConditions{Flags: TrapConsumedRemoteParcel}, log.handler, 1)
	objs := make([]Object, 1)
	_, n, err := b.Get(0, nil, objs)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, []TrapEvent{ev(1, TrapConsumedRemoteParcel, PortalStatus{})}, log.get())
}

// A CONSUMED_REMOTE_PARCEL trap must not lose its edge because another
// trap with remote conditions was installed between the peer publishing
// its consumption and the notification reaching us (which is what happens
// when the peer's Get runs on another goroutine). The test plays the
// peer's part step by step.
func TestTrapConsumedRemoteParcelNotLostToAnotherInstall(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	mustPut(t, a, "x")
	mustPut(t, a, "y")
	var log trapLog
	mustTrap(t, a, TrapConditions{Flags: TrapConsumedRemoteParcel}, log.handler, 1)

	// b consumes one parcel and publishes it (the first half of its Get).
	ra, rb := a.router.Load(), b.router.Load()
	rb.mu.Lock()
	l := rb.outward.primary
	notify := l.state().publishConsumed(l.side(), 1, 1)
	rb.mu.Unlock()
	require.True(t, notify, "a asked to hear about consumption")

	// Meanwhile a installs another remote trap (here one that already
	// holds, so it is refused).
	_, _, err := a.Trap(&TrapConditions{Flags: TrapBelowMaxRemoteParcels, MaxRemoteParcels: 5}, log.handler, 2)
	require.Equal(t, FailedPrecondition, err)

	// b's notification arrives (the second half of its Get).
	ra.onPeerConsumed()
	require.Equal(t, []TrapEvent{ev(1, TrapConsumedRemoteParcel, PortalStatus{NumRemoteParcels: 1, NumRemoteBytes: 1})}, log.get())
}

// ---------------------------------------------------------------------------
// NEW_LOCAL_PARCEL.
// ---------------------------------------------------------------------------

func TestTrapNewLocalParcel(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	mustPut(t, a, "old")
	var log trapLog
	// Edge-triggered: parcels already queued do not prevent installation
	// and do not fire it.
	mustTrap(t, b, TrapConditions{Flags: TrapNewLocalParcel}, log.handler, 11)
	require.Zero(t, log.count())
	// Getting is not a new parcel.
	getParcel(t, b)
	require.Zero(t, log.count())
	mustPut(t, a, "new")
	require.Equal(t, []TrapEvent{ev(11, TrapNewLocalParcel, PortalStatus{NumLocalParcels: 1, NumLocalBytes: 3})}, log.get())
	mustPut(t, a, "newer")
	require.Len(t, log.get(), 1, "fires once")

	// An empty parcel is a new parcel; the peer's closure is not.
	mustTrap(t, b, TrapConditions{Flags: TrapNewLocalParcel}, log.handler, 12)
	require.NoError(t, a.Put(nil, nil, nil))
	require.Equal(t, ev(12, TrapNewLocalParcel, PortalStatus{NumLocalParcels: 3, NumLocalBytes: 8}), log.get()[1])
	mustTrap(t, b, TrapConditions{Flags: TrapNewLocalParcel}, log.handler, 13)
	require.NoError(t, a.Close())
	require.Len(t, log.get(), 2)
	require.NoError(t, b.Close())
	require.Equal(t, ev(13, TrapRemoved, PortalStatus{Flags: PortalStatusPeerClosed, NumLocalParcels: 3, NumLocalBytes: 8}), log.get()[2])
}

// ---------------------------------------------------------------------------
// FAILED_PRECONDITION at installation.
// ---------------------------------------------------------------------------

func TestTrapFailedPreconditionAtInstall(t *testing.T) {
	type setup func(t *testing.T, e *apiEnv, a, b *Portal)
	putABC := func(t *testing.T, e *apiEnv, a, b *Portal) { mustPut(t, a, "abc"); mustPut(t, a, "de") }
	cases := []struct {
		name    string
		setup   setup
		conds   TrapConditions
		want    TrapConditionFlags
		status  PortalStatus
		install bool // the trap installs instead
	}{
		{
			name:   "peer closed with parcels",
			setup:  func(t *testing.T, e *apiEnv, a, b *Portal) { mustPut(t, a, "abc"); require.NoError(t, a.Close()) },
			conds:  TrapConditions{Flags: TrapPeerClosed | TrapDead},
			want:   TrapPeerClosed,
			status: PortalStatus{Flags: PortalStatusPeerClosed, NumLocalParcels: 1, NumLocalBytes: 3},
		},
		{
			name:   "dead",
			setup:  func(t *testing.T, e *apiEnv, a, b *Portal) { require.NoError(t, a.Close()) },
			conds:  TrapConditions{Flags: TrapDead},
			want:   TrapDead,
			status: PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead},
		},
		{
			name:   "peer closed and dead",
			setup:  func(t *testing.T, e *apiEnv, a, b *Portal) { require.NoError(t, a.Close()) },
			conds:  TrapConditions{Flags: TrapPeerClosed | TrapDead | TrapNewLocalParcel},
			want:   TrapPeerClosed | TrapDead,
			status: PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead},
		},
		{
			name:   "above min local parcels",
			setup:  putABC,
			conds:  TrapConditions{Flags: TrapAboveMinLocalParcels, MinLocalParcels: 1},
			want:   TrapAboveMinLocalParcels,
			status: PortalStatus{NumLocalParcels: 2, NumLocalBytes: 5},
		},
		{
			name:    "at min local parcels",
			setup:   putABC,
			conds:   TrapConditions{Flags: TrapAboveMinLocalParcels, MinLocalParcels: 2},
			install: true,
		},
		{
			name:   "above min local bytes",
			setup:  putABC,
			conds:  TrapConditions{Flags: TrapAboveMinLocalBytes | TrapAboveMinLocalParcels, MinLocalBytes: 4, MinLocalParcels: 2},
			want:   TrapAboveMinLocalBytes,
			status: PortalStatus{NumLocalParcels: 2, NumLocalBytes: 5},
		},
		{
			name:    "at min local bytes",
			setup:   putABC,
			conds:   TrapConditions{Flags: TrapAboveMinLocalBytes, MinLocalBytes: 5},
			install: true,
		},
		{
			name:   "below max remote parcels (nothing queued)",
			setup:  func(t *testing.T, e *apiEnv, a, b *Portal) {},
			conds:  TrapConditions{Flags: TrapBelowMaxRemoteParcels, MaxRemoteParcels: 1},
			want:   TrapBelowMaxRemoteParcels,
			status: PortalStatus{},
		},
		{
			name:   "below max remote parcels and bytes",
			setup:  func(t *testing.T, e *apiEnv, a, b *Portal) { mustPut(t, b, "xyz") },
			conds:  TrapConditions{Flags: TrapBelowMaxRemoteParcels | TrapBelowMaxRemoteBytes, MaxRemoteParcels: 2, MaxRemoteBytes: 4},
			want:   TrapBelowMaxRemoteParcels | TrapBelowMaxRemoteBytes,
			status: PortalStatus{NumRemoteParcels: 1, NumRemoteBytes: 3},
		},
		{
			name:    "at max remote bytes",
			setup:   func(t *testing.T, e *apiEnv, a, b *Portal) { mustPut(t, b, "xyz") },
			conds:   TrapConditions{Flags: TrapBelowMaxRemoteBytes, MaxRemoteBytes: 3},
			install: true,
		},
		{
			name:    "zero max remote never holds",
			setup:   func(t *testing.T, e *apiEnv, a, b *Portal) {},
			conds:   TrapConditions{Flags: TrapBelowMaxRemoteParcels | TrapBelowMaxRemoteBytes},
			install: true,
		},
		{
			name:    "edge conditions never refuse",
			setup:   func(t *testing.T, e *apiEnv, a, b *Portal) { putABC(t, e, a, b); mustPut(t, b, "q") },
			conds:   TrapConditions{Flags: TrapNewLocalParcel | TrapConsumedRemoteParcel},
			install: true,
		},
		{
			name:    "thresholds ignored without their flags",
			setup:   putABC,
			conds:   TrapConditions{Flags: TrapPeerClosed, MaxRemoteParcels: 100, MaxRemoteBytes: 100},
			install: true,
		},
		{
			name:    "no conditions",
			setup:   putABC,
			conds:   TrapConditions{},
			install: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newAPIEnv(t)
			a, b := e.pair()
			c.setup(t, e, a, b)
			var log trapLog
			conds := c.conds
			flags, status, err := b.Trap(&conds, log.handler, 1)
			if c.install {
				require.NoError(t, err)
				require.Zero(t, flags)
				require.NoError(t, b.Close())
				require.Len(t, log.get(), 1)
				require.Equal(t, TrapRemoved, log.get()[0].ConditionFlags)
				return
			}
			require.Equal(t, FailedPrecondition, err)
			require.Equal(t, c.want, flags)
			require.Equal(t, c.status, status)
			require.Equal(t, c.status, statusOf(t, b))
			// Not installed: closing the portal fires nothing.
			require.NoError(t, b.Close())
			require.Zero(t, log.count())
		})
	}
}

// ---------------------------------------------------------------------------
// Handler semantics: once, removed before running, several traps, context.
// ---------------------------------------------------------------------------

func TestTrapRemovedBeforeHandlerRuns(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	var log trapLog
	// The handler closes the portal: had the trap still been installed, it
	// would also have been called with REMOVED.
	mustTrap(t, b, TrapConditions{Flags: TrapNewLocalParcel}, func(ev *TrapEvent) {
		log.handler(ev)
		assert.NoError(t, b.Close())
	}, 1)
	mustPut(t, a, "x")
	require.Equal(t, []TrapEvent{ev(1, TrapNewLocalParcel, PortalStatus{NumLocalParcels: 1, NumLocalBytes: 1})}, log.get())
	require.Equal(t, PortalStatusPeerClosed|PortalStatusDead, statusOf(t, a).Flags)
}

func TestTrapReinstalledFromItsHandler(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	var log trapLog
	var handler TrapHandler
	handler = func(ev *TrapEvent) {
		log.handler(ev)
		if ev.ConditionFlags&TrapRemoved != 0 {
			return
		}
		_, _, err := b.Trap(&TrapConditions{Flags: TrapNewLocalParcel}, handler, ev.Context+1)
		assert.NoError(t, err)
	}
	mustTrap(t, b, TrapConditions{Flags: TrapNewLocalParcel}, handler, 1)
	for range 3 {
		mustPut(t, a, "x")
	}
	require.NoError(t, b.Close())
	require.Equal(t, []TrapEvent{
		ev(1, TrapNewLocalParcel, PortalStatus{NumLocalParcels: 1, NumLocalBytes: 1}),
		ev(2, TrapNewLocalParcel, PortalStatus{NumLocalParcels: 2, NumLocalBytes: 2}),
		ev(3, TrapNewLocalParcel, PortalStatus{NumLocalParcels: 3, NumLocalBytes: 3}),
		ev(4, TrapRemoved, PortalStatus{NumLocalParcels: 3, NumLocalBytes: 3}),
	}, log.get())
}

func TestTrapReinstallFromHandlerWhenLevelHolds(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	var log trapLog
	var gotFlags TrapConditionFlags
	var gotStatus PortalStatus
	var gotErr error
	mustTrap(t, b, TrapConditions{Flags: TrapAboveMinLocalParcels}, func(ev *TrapEvent) {
		log.handler(ev)
		gotFlags, gotStatus, gotErr = b.Trap(&TrapConditions{Flags: TrapAboveMinLocalParcels}, log.handler, 2)
	}, 1)
	mustPut(t, a, "x")
	require.Equal(t, FailedPrecondition, gotErr)
	require.Equal(t, TrapAboveMinLocalParcels, gotFlags)
	require.Equal(t, PortalStatus{NumLocalParcels: 1, NumLocalBytes: 1}, gotStatus)
	require.Len(t, log.get(), 1)
}

func TestTrapSeveralOnOnePortal(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	var log trapLog
	mustTrap(t, b, TrapConditions{Flags: TrapNewLocalParcel}, log.handler, 1)
	mustTrap(t, b, TrapConditions{Flags: TrapAboveMinLocalParcels, MinLocalParcels: 1}, log.handler, 2)
	mustTrap(t, b, TrapConditions{Flags: TrapAboveMinLocalBytes, MinLocalBytes: 2}, log.handler, 3)
	mustTrap(t, b, TrapConditions{Flags: TrapPeerClosed}, log.handler, 4)
	mustTrap(t, b, TrapConditions{Flags: TrapNewLocalParcel}, log.handler, 5)
	mustTrap(t, b, TrapConditions{Flags: TrapDead}, log.handler, 6)

	mustPut(t, a, "a")
	s1 := PortalStatus{NumLocalParcels: 1, NumLocalBytes: 1}
	require.Equal(t, []TrapEvent{ev(1, TrapNewLocalParcel, s1), ev(5, TrapNewLocalParcel, s1)}, log.get())
	mustPut(t, a, "bc")
	s2 := PortalStatus{NumLocalParcels: 2, NumLocalBytes: 3}
	require.Equal(t, []TrapEvent{ev(2, TrapAboveMinLocalParcels, s2), ev(3, TrapAboveMinLocalBytes, s2)}, log.get()[2:])
	require.NoError(t, a.Close())
	s3 := PortalStatus{Flags: PortalStatusPeerClosed, NumLocalParcels: 2, NumLocalBytes: 3}
	require.Equal(t, []TrapEvent{ev(4, TrapPeerClosed, s3)}, log.get()[4:])
	getParcel(t, b)
	getParcel(t, b)
	require.Equal(t, []TrapEvent{ev(6, TrapDead, PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead})}, log.get()[5:])
	require.NoError(t, b.Close())
	require.Len(t, log.get(), 6, "no trap was left to remove")
}

func TestTrapSameHandlerDifferentContexts(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	var log trapLog
	contexts := []uintptr{0, 1, ^uintptr(0), 0xdeadbeef}
	for _, c := range contexts {
		mustTrap(t, b, TrapConditions{Flags: TrapNewLocalParcel}, log.handler, c)
	}
	mustPut(t, a, "x")
	var got []uintptr
	for _, e := range log.get() {
		got = append(got, e.Context)
		require.Equal(t, TrapNewLocalParcel, e.ConditionFlags)
	}
	require.Equal(t, contexts, got)
}

// The event's status is a snapshot: a handler may keep the event, and
// later changes do not show in it.
func TestTrapEventStatusIsASnapshot(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	var kept *TrapEvent
	mustTrap(t, b, TrapConditions{Flags: TrapNewLocalParcel}, func(ev *TrapEvent) { kept = ev }, 1)
	mustPut(t, a, "abc")
	mustPut(t, a, "defg")
	require.NotNil(t, kept)
	require.Equal(t, PortalStatus{NumLocalParcels: 1, NumLocalBytes: 3}, kept.Status)
}

// ---------------------------------------------------------------------------
// Re-entrancy: handlers call back into ipcz.
// ---------------------------------------------------------------------------

func TestTrapHandlerPingPong(t *testing.T) {
	const rounds = 200
	e := newAPIEnv(t)
	a, b := e.pair()
	counts := map[*Portal]int{}
	var install func(p *Portal)
	install = func(p *Portal) {
		_, _, err := p.Trap(&TrapConditions{Flags: TrapNewLocalParcel}, func(ev *TrapEvent) {
			if ev.ConditionFlags&TrapRemoved != 0 {
				return
			}
			data, _, err := p.GetMessage()
			if !assert.NoError(t, err) {
				return
			}
			counts[p]++
			if counts[p] >= rounds {
				return
			}
			install(p)
			assert.NoError(t, p.Put(data, nil, nil))
		}, 0)
		assert.NoError(t, err)
	}
	requireNoDeadlock(t, func() {
		install(a)
		install(b)
		assert.NoError(t, a.Put([]byte("ball"), nil, nil))
	})
	// b got the ball first, so it got it the last time too.
	require.Equal(t, rounds-1, counts[a])
	require.Equal(t, rounds, counts[b])
	require.Equal(t, PortalStatus{}, statusOf(t, a))
	require.Equal(t, PortalStatus{}, statusOf(t, b))
}

func TestTrapHandlersCallIntoIpcz(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, e *apiEnv)
	}{
		{"Get, Put and Trap from a NEW_LOCAL_PARCEL handler", func(t *testing.T, e *apiEnv) {
			a, b := e.pair()
			var reply string
			mustTrap(t, a, TrapConditions{Flags: TrapNewLocalParcel}, func(*TrapEvent) {
				data, _, err := a.GetMessage()
				assert.NoError(t, err)
				reply = string(data)
			}, 0)
			mustTrap(t, b, TrapConditions{Flags: TrapNewLocalParcel}, func(*TrapEvent) {
				data, _, err := b.GetMessage()
				assert.NoError(t, err)
				assert.NoError(t, b.Put(append(data, '!'), nil, nil))
				s, err := b.QueryStatus()
				assert.NoError(t, err)
				assert.Equal(t, PortalStatus{NumRemoteParcels: 0}, s, "a's handler already took the reply")
				_, _, err = b.Trap(&TrapConditions{Flags: TrapPeerClosed}, func(*TrapEvent) {}, 0)
				assert.NoError(t, err)
			}, 0)
			mustPut(t, a, "hi")
			require.Equal(t, "hi!", reply)
		}},
		{"two-phase get from a handler", func(t *testing.T, e *apiEnv) {
			a, b := e.pair()
			var got string
			mustTrap(t, b, TrapConditions{Flags: TrapAboveMinLocalBytes, MinLocalBytes: 2}, func(*TrapEvent) {
				data, _, err := b.BeginGet(true, true)
				assert.NoError(t, err)
				got = string(data)
				_, err = b.EndGet(len(data), 0, 0)
				assert.NoError(t, err)
			}, 0)
			mustPut(t, a, "abc")
			require.Equal(t, "abc", got)
		}},
		{"the putter closes itself from the receiver's handler", func(t *testing.T, e *apiEnv) {
			a, b := e.pair()
			mustTrap(t, b, TrapConditions{Flags: TrapNewLocalParcel}, func(*TrapEvent) {
				assert.NoError(t, a.Close())
			}, 0)
			require.NoError(t, a.Put([]byte("last words"), nil, nil))
			require.Equal(t, PortalStatus{Flags: PortalStatusPeerClosed, NumLocalParcels: 1, NumLocalBytes: 10}, statusOf(t, b))
			got, _ := getParcel(t, b)
			require.Equal(t, "last words", got)
			requireGetErr(t, b, NotFound)
		}},
		{"close from a PEER_CLOSED handler, REMOVED handler calls in", func(t *testing.T, e *apiEnv) {
			a, b := e.pair()
			x, y := e.pair()
			var log trapLog
			mustTrap(t, b, TrapConditions{}, func(ev *TrapEvent) {
				log.handler(ev)
				// The portal is already dead inside its REMOVED handler.
				_, err := b.QueryStatus()
				assert.Equal(t, InvalidArgument, err)
				assert.NoError(t, x.Put([]byte("from REMOVED"), nil, nil))
			}, 1)
			mustTrap(t, b, TrapConditions{Flags: TrapPeerClosed}, func(ev *TrapEvent) {
				log.handler(ev)
				assert.Equal(t, NotFound, b.Put(nil, nil, nil))
				assert.NoError(t, b.Close())
			}, 2)
			require.NoError(t, a.Close())
			require.Equal(t, []TrapEvent{
				ev(2, TrapPeerClosed, PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead}),
				ev(1, TrapRemoved, PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead}),
			}, log.get())
			got, _ := getParcel(t, y)
			require.Equal(t, "from REMOVED", got)
		}},
		{"merge from a handler", func(t *testing.T, e *apiEnv) {
			a, b := e.pair()
			c, d := e.pair()
			f, g := e.pair()
			mustTrap(t, g, TrapConditions{Flags: TrapNewLocalParcel}, func(*TrapEvent) {
				assert.NoError(t, MergePortals(b, c))
			}, 0)
			mustTrap(t, b, TrapConditions{}, func(*TrapEvent) {
				// REMOVED, from inside MergePortals inside a handler.
				_, err := a.QueryStatus()
				assert.NoError(t, err)
			}, 0)
			mustPut(t, f, "go")
			requirePortalWorks(t, a, d)
		}},
		{"flow control from a BELOW_MAX_REMOTE_PARCELS handler", func(t *testing.T, e *apiEnv) {
			const total = 50
			a, b := e.pair()
			limits := &PutLimits{MaxQueuedParcels: 2, MaxQueuedBytes: 1 << 20}
			sent := 0
			var pump func()
			pump = func() {
				for sent < total {
					err := a.Put([]byte{byte(sent)}, nil, limits)
					if err == ResourceExhausted {
						_, _, err := a.Trap(&TrapConditions{Flags: TrapBelowMaxRemoteParcels, MaxRemoteParcels: 2}, func(ev *TrapEvent) {
							if ev.ConditionFlags&TrapRemoved == 0 {
								pump()
							}
						}, 0)
						if err == FailedPrecondition {
							continue
						}
						assert.NoError(t, err)
						return
					}
					if !assert.NoError(t, err) {
						return
					}
					sent++
				}
			}
			pump()
			require.Equal(t, 2, sent)
			for i := range total {
				buf := make([]byte, 1)
				_, _, err := b.Get(0, buf, nil)
				require.NoError(t, err)
				require.Equal(t, byte(i), buf[0])
				require.LessOrEqual(t, statusOf(t, b).NumLocalParcels, 2)
			}
			require.Equal(t, total, sent)
			requireGetErr(t, b, Unavailable)
		}},
		{"EndPut's receiver handler touches the pending put", func(t *testing.T, e *apiEnv) {
			a, b := e.pair()
			mustTrap(t, b, TrapConditions{Flags: TrapNewLocalParcel}, func(*TrapEvent) {
				_, err := a.BeginPut(1, 0, nil)
				assert.Equal(t, AlreadyExists, err, "the put is still being committed")
				_, err = a.QueryStatus()
				assert.NoError(t, err)
			}, 0)
			buf, err := a.BeginPut(2, 0, nil)
			require.NoError(t, err)
			copy(buf, "ok")
			require.NoError(t, a.EndPut(2, nil, 0))
			buf, err = a.BeginPut(1, 0, nil)
			require.NoError(t, err, "the put is over")
			require.Len(t, buf, 1)
			got, _ := getParcel(t, b)
			require.Equal(t, "ok", got)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			requireNoDeadlock(t, func() { c.run(t, newAPIEnv(t)) })
		})
	}
}

// ---------------------------------------------------------------------------
// Traps of a portal in transit.
// ---------------------------------------------------------------------------

// When a portal is sent, its sender's traps get REMOVED, and nothing else:
// whatever the receiver does with the portal once it has it (here, at once,
// from the handler that sees the parcel arrive, while the sender's Put is
// still running) is the receiver's business.
func TestTrapsOfASentPortalStayWithTheirOwner(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	x, y := e.pair()
	var senderLog, receiverLog trapLog
	mustTrap(t, x, TrapConditions{Flags: TrapPeerClosed | TrapNewLocalParcel}, senderLog.handler, 1)

	var x2 *Portal
	mustTrap(t, b, TrapConditions{Flags: TrapNewLocalParcel}, func(*TrapEvent) {
		_, objs, err := b.GetMessage()
		if !assert.NoError(t, err) || !assert.Len(t, objs, 1) {
			return
		}
		x2 = objs[0].(*Portal)
		_, _, err = x2.Trap(&TrapConditions{Flags: TrapPeerClosed}, receiverLog.handler, 2)
		assert.NoError(t, err)
		// The receiver uses the route at once.
		assert.NoError(t, y.Put([]byte("hello x2"), nil, nil))
	}, 0)
	require.NoError(t, a.Put(nil, []Object{x}, nil))
	require.NotNil(t, x2)

	sender := senderLog.get()
	receiver := receiverLog.get()
	require.Len(t, sender, 1)
	require.Equal(t, TrapRemoved, sender[0].ConditionFlags)
	require.Empty(t, receiver, "the receiver's trap is still installed")
	require.NoError(t, y.Close())
	require.Equal(t, []TrapEvent{ev(2, TrapPeerClosed, PortalStatus{Flags: PortalStatusPeerClosed, NumLocalParcels: 1, NumLocalBytes: 8})}, receiverLog.get())
	require.Len(t, senderLog.get(), 1)
}

func TestTrapEdgeAndLevelFlagsTogether(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	var log trapLog
	mustTrap(t, b, TrapConditions{Flags: TrapNewLocalParcel | TrapAboveMinLocalParcels | TrapAboveMinLocalBytes, MinLocalParcels: 0, MinLocalBytes: 3}, log.handler, 1)
	mustPut(t, a, "ab")
	require.Equal(t, []TrapEvent{ev(1, TrapNewLocalParcel|TrapAboveMinLocalParcels, PortalStatus{NumLocalParcels: 1, NumLocalBytes: 2})}, log.get())
}

func TestTrapConsumedRemoteParcelViaGetMessage(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	mustPut(t, a, "abc")
	var log trapLog
	mustTrap(t, a, TrapConditions{Flags: TrapConsumedRemoteParcel | TrapBelowMaxRemoteBytes, MaxRemoteBytes: 1}, log.handler, 1)
	_, _, err := b.GetMessage()
	require.NoError(t, err)
	require.Equal(t, []TrapEvent{ev(1, TrapConsumedRemoteParcel|TrapBelowMaxRemoteBytes, PortalStatus{})}, log.get())
}

// The peer's consumption notices reach a router whose portal is gone
// (closed, or merged into a bridge): nothing fires, nothing breaks.
func TestTrapRemoteNoticeAfterWatcherIsGone(t *testing.T) {
	t.Run("closed", func(t *testing.T) {
		e := newAPIEnv(t)
		a, b := e.pair()
		mustPut(t, a, "x")
		mustPut(t, a, "y")
		var log trapLog
		mustTrap(t, a, TrapConditions{Flags: TrapConsumedRemoteParcel}, log.handler, 1)
		require.NoError(t, a.Close())
		require.Equal(t, []TrapEvent{ev(1, TrapRemoved, PortalStatus{NumRemoteParcels: 2, NumRemoteBytes: 2})}, log.get())
		getParcel(t, b)
		getParcel(t, b)
		require.Len(t, log.get(), 1)
		requireGetErr(t, b, NotFound)
	})
	t.Run("merged", func(t *testing.T) {
		e := newAPIEnv(t)
		a, b := e.pair()
		c, d := e.pair()
		var log trapLog
		mustPut(t, d, "to c") // queued at c, forwarded to a after the merge
		mustTrap(t, c, TrapConditions{Flags: TrapBelowMaxRemoteParcels | TrapConsumedRemoteParcel, MaxRemoteParcels: 0}, log.handler, 1)
		require.NoError(t, MergePortals(b, c))
		require.Equal(t, []TrapEvent{ev(1, TrapRemoved, PortalStatus{NumLocalParcels: 1, NumLocalBytes: 4})}, log.get())
		got, _ := getParcel(t, a)
		require.Equal(t, "to c", got)
		requirePortalWorks(t, a, d)
		require.Len(t, log.get(), 1)
	})
}
