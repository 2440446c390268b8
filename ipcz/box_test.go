package ipcz

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// ---------------------------------------------------------------------------
// Box and Unbox.
// ---------------------------------------------------------------------------

func TestBoxArguments(t *testing.T) {
	e := newAPIEnv(t)
	bx, err := e.node.Box(InvalidDriverHandle)
	require.Equal(t, InvalidArgument, err)
	require.Nil(t, bx)
	var nilNode *Node
	bx, err = nilNode.Box(e.drv.newObject())
	require.Equal(t, InvalidArgument, err)
	require.Nil(t, bx)
	require.Equal(t, 1, e.drv.numOpen(), "a failed Box does not take the object")
}

func TestUnboxConsumesTheBox(t *testing.T) {
	e := newAPIEnv(t)
	bx, h := e.box()
	got, err := bx.Unbox(0)
	require.NoError(t, err)
	require.Equal(t, h, got)
	for _, flags := range []UnboxFlags{0, UnboxPeek} {
		got, err = bx.Unbox(flags)
		require.Equal(t, InvalidArgument, err)
		require.Equal(t, InvalidDriverHandle, got)
	}
	require.Equal(t, InvalidArgument, bx.Close())
	require.True(t, e.drv.isOpen(h), "the caller owns the unboxed object")
}

func TestUnboxPeek(t *testing.T) {
	e := newAPIEnv(t)
	bx, h := e.box()
	for range 3 {
		got, err := bx.Unbox(UnboxPeek)
		require.NoError(t, err)
		require.Equal(t, h, got)
	}
	require.True(t, e.drv.isOpen(h))
	got, err := bx.Unbox(0)
	require.NoError(t, err)
	require.Equal(t, h, got)
	_, err = bx.Unbox(UnboxPeek)
	require.Equal(t, InvalidArgument, err)
}

func TestBoxCloseClosesTheDriverObject(t *testing.T) {
	e := newAPIEnv(t)
	bx, h := e.box()
	other, h2 := e.box()
	require.NoError(t, bx.Close())
	require.False(t, e.drv.isOpen(h))
	require.True(t, e.drv.isOpen(h2))
	require.Equal(t, InvalidArgument, bx.Close())
	_, err := bx.Unbox(0)
	require.Equal(t, InvalidArgument, err)
	require.NoError(t, other.Close())
	require.Zero(t, e.drv.numOpen())
}

func TestBoxTravelsThroughPortals(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	c, d := e.pair()
	bx, h := e.box()
	require.NoError(t, a.Put([]byte("box"), []Object{bx}, nil))
	// The sender's box is dead; the object is not closed.
	_, err := bx.Unbox(UnboxPeek)
	require.Equal(t, InvalidArgument, err)
	require.Equal(t, InvalidArgument, bx.Close())
	require.True(t, e.drv.isOpen(h))

	_, objs := getParcel(t, b)
	require.Len(t, objs, 1)
	bx2, ok := objs[0].(*Box)
	require.True(t, ok)
	got, err := bx2.Unbox(UnboxPeek)
	require.NoError(t, err)
	require.Equal(t, h, got)

	// And on again.
	require.NoError(t, c.Put(nil, []Object{bx2}, nil))
	_, objs = getParcel(t, d)
	bx3 := objs[0].(*Box)
	got, err = bx3.Unbox(UnboxPeek)
	require.NoError(t, err)
	require.Equal(t, h, got)
	require.NoError(t, bx3.Close())
	require.False(t, e.drv.isOpen(h))
}

// ---------------------------------------------------------------------------
// Discarded parcels: objects nobody will read are closed.
// ---------------------------------------------------------------------------

func TestUnreadBoxesClosedWithTheirPortal(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	bx1, h1 := e.box()
	bx2, h2 := e.box()
	bx3, h3 := e.box()
	require.NoError(t, a.Put([]byte("1"), []Object{bx1}, nil))
	require.NoError(t, a.Put([]byte("2"), []Object{bx2, bx3}, nil))
	require.Equal(t, 3, e.drv.numOpen())
	require.NoError(t, b.Close())
	require.False(t, e.drv.isOpen(h1))
	require.False(t, e.drv.isOpen(h2))
	require.False(t, e.drv.isOpen(h3))
	require.Zero(t, e.drv.numOpen())
}

func TestPartlyReadParcelClosesOnlyUnreadObjects(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	bx1, h1 := e.box()
	bx2, h2 := e.box()
	require.NoError(t, a.Put([]byte("ab"), []Object{bx1, bx2}, nil))
	objs := make([]Object, 1)
	_, n, err := b.Get(GetPartial, nil, objs)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NoError(t, b.Close())
	require.True(t, e.drv.isOpen(h1), "taken by the application")
	require.False(t, e.drv.isOpen(h2), "discarded")
	got, err := objs[0].(*Box).Unbox(0)
	require.NoError(t, err)
	require.Equal(t, h1, got)
}

func TestUnreadBoxesInATwoPhaseGetClosedWithTheirPortal(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	bx1, h1 := e.box()
	bx2, h2 := e.box()
	require.NoError(t, a.Put(nil, []Object{bx1, bx2}, nil))
	_, _, err := b.BeginGet(false, true)
	require.NoError(t, err)
	objs, err := b.EndGet(0, 1, 0)
	require.NoError(t, err)
	require.Len(t, objs, 1)
	_, _, err = b.BeginGet(false, true)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	require.True(t, e.drv.isOpen(h1))
	require.False(t, e.drv.isOpen(h2))
}

func TestPortalsInDiscardedParcelsAreClosed(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	x, y := e.pair()
	p, q := e.pair()
	inner, innerHandle := e.box()
	// p's queue holds a parcel with a box; p and x travel to b, which
	// never reads them.
	require.NoError(t, q.Put([]byte("for p"), []Object{inner}, nil))
	require.NoError(t, a.Put(nil, []Object{x, p}, nil))

	var log trapLog
	mustTrap(t, y, TrapConditions{Flags: TrapPeerClosed}, log.handler, 1)
	require.NoError(t, b.Close())
	require.Equal(t, []TrapEvent{ev(1, TrapPeerClosed, PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead})}, log.get())
	require.Equal(t, NotFound, y.Put(nil, nil, nil))
	// p was closed with its unread parcel, whose box went with it.
	require.Equal(t, PortalStatusPeerClosed|PortalStatusDead, statusOf(t, q).Flags)
	require.False(t, e.drv.isOpen(innerHandle))
	require.Zero(t, e.drv.numOpen())
}

func TestDeeplyNestedDiscard(t *testing.T) {
	e := newAPIEnv(t)
	const depth = 20
	// Each level's portal carries the next level's pair end, whose queue
	// holds a parcel with a box.
	outer, outerPeer := e.pair()
	var handles []DriverHandle
	sender := outer
	for range depth {
		x, y := e.pair()
		bx, h := e.box()
		handles = append(handles, h)
		require.NoError(t, x.Put(nil, []Object{bx}, nil))
		require.NoError(t, sender.Put(nil, []Object{y}, nil))
		sender = x
	}
	require.NoError(t, outerPeer.Close())
	for _, h := range handles {
		require.False(t, e.drv.isOpen(h))
	}
	require.NoError(t, sender.Close())
	require.NoError(t, outer.Close())
	require.Zero(t, e.drv.numOpen())
}

// ---------------------------------------------------------------------------
// Validators and Reject.
// ---------------------------------------------------------------------------

// fakeParcelSource stands for the node link a parcel came over: rejecting
// the parcel reports the link's transport to the driver.
type fakeParcelSource struct {
	driver    Driver
	transport DriverHandle
	err       error
}

func (s *fakeParcelSource) reportBadActivity(context uintptr) error {
	if s.err != nil {
		return s.err
	}
	return s.driver.ReportBadTransportActivity(s.transport, context)
}

func (d *testDriver) badActivityReports() []badActivityReport {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]badActivityReport(nil), d.reports...)
}

func TestValidatorOfALocalParcel(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	mustPut(t, a, "one")
	mustPut(t, a, "two")
	mustPut(t, a, "three")

	_, _, v1, err := b.GetValidated(0, make([]byte, 3), nil)
	require.NoError(t, err)
	require.NotNil(t, v1)
	_, _, v2, err := b.GetValidated(GetPartial, make([]byte, 1), nil)
	require.NoError(t, err)
	require.NotNil(t, v2)
	_, _, err = b.BeginGet(true, true)
	require.NoError(t, err)
	_, v3, err := b.EndGetValidated(2, 0, 0)
	require.NoError(t, err)
	require.NotNil(t, v3)

	for _, v := range []*Validator{v1, v2, v3} {
		require.Equal(t, FailedPrecondition, v.Reject(7))
		require.NoError(t, v.Close())
		require.Equal(t, InvalidArgument, v.Reject(7))
		require.Equal(t, InvalidArgument, v.Close())
	}
	require.Empty(t, e.drv.badActivityReports())
}

func TestRejectReachesTheDriver(t *testing.T) {
	e := newAPIEnv(t)
	_, b := e.pair()
	r := b.router.Load()
	src1 := &fakeParcelSource{driver: e.drv, transport: 101}
	src2 := &fakeParcelSource{driver: e.drv, transport: 202}
	failing := &fakeParcelSource{err: Unknown}
	bx, h := e.box()
	require.True(t, r.acceptInboundParcel(&Parcel{seq: 0, data: []byte("bad"), source: src1}))
	require.True(t, r.acceptInboundParcel(&Parcel{seq: 1, data: []byte("worse"), objects: []Object{bx}, source: src2}))
	require.True(t, r.acceptInboundParcel(&Parcel{seq: 2, data: []byte("x"), source: failing}))
	require.True(t, r.acceptInboundParcel(&Parcel{seq: 3, data: []byte("ignored"), source: src1}))

	buf := make([]byte, 8)
	nb, _, v, err := b.GetValidated(0, buf, nil)
	require.NoError(t, err)
	require.Equal(t, "bad", string(buf[:nb]))
	require.NoError(t, v.Reject(0xc0ffee))
	require.Equal(t, []badActivityReport{{101, 0xc0ffee}}, e.drv.badActivityReports())

	// A two-phase get of a remote parcel, in two parts: both validators
	// name the same transport.
	data, n, err := b.BeginGet(true, true)
	require.NoError(t, err)
	require.Equal(t, "worse", string(data))
	require.Equal(t, 1, n)
	_, vPart, err := b.EndGetValidated(2, 0, 0)
	require.NoError(t, err)
	_, _, err = b.BeginGet(true, true)
	require.NoError(t, err)
	objs, vRest, err := b.EndGetValidated(3, 1, 0)
	require.NoError(t, err)
	got, err := objs[0].(*Box).Unbox(0)
	require.NoError(t, err)
	require.Equal(t, h, got)
	require.NoError(t, vRest.Reject(2))
	require.NoError(t, vPart.Reject(1))
	require.Equal(t, []badActivityReport{{101, 0xc0ffee}, {202, 2}, {202, 1}}, e.drv.badActivityReports())

	// The source's error is Reject's.
	_, _, vFail, err := b.GetValidated(0, buf, nil)
	require.NoError(t, err)
	require.Equal(t, Unknown, vFail.Reject(3))
	require.Len(t, e.drv.badActivityReports(), 3)

	// A closed validator reports nothing; plain gets make no validator.
	_, _, v4, err := b.GetValidated(GetPartial, buf[:1], nil)
	require.NoError(t, err)
	require.NoError(t, v4.Close())
	require.Equal(t, InvalidArgument, v4.Reject(4))
	got2, _ := getParcel(t, b)
	require.Equal(t, "gnored", got2)
	require.Len(t, e.drv.badActivityReports(), 3)

	// A validator outlives its portal.
	require.NoError(t, b.Close())
	require.NoError(t, v.Reject(5))
	require.Equal(t, badActivityReport{101, 5}, e.drv.badActivityReports()[3])
}

func TestValidatorArguments(t *testing.T) {
	var v *Validator
	require.Equal(t, InvalidArgument, v.Reject(0))
	require.Equal(t, InvalidArgument, v.Close())

	e := newAPIEnv(t)
	a, b := e.pair()
	mustPut(t, a, "x")
	// No validator on failure.
	_, _, v, err := b.GetValidated(0, nil, nil)
	require.Equal(t, ResourceExhausted, err)
	require.Nil(t, v)
	_, _, err = b.BeginGet(true, true)
	require.NoError(t, err)
	_, v, err = b.EndGetValidated(5, 0, 0)
	require.Equal(t, OutOfRange, err)
	require.Nil(t, v)
}
