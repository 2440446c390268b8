package ipcz

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// ---------------------------------------------------------------------------
// Put and Get.
// ---------------------------------------------------------------------------

func TestPutGetRoundTripBytesAndObjects(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	box1, h1 := e.box()
	box2, h2 := e.box()
	x, y := e.pair()

	data := []byte{0, 1, 2, 0xff, 'z'}
	require.NoError(t, a.Put(data, []Object{box1, x, box2}, nil))
	// The sent handles are dead; Put copied the bytes.
	_, err := box1.Unbox(UnboxPeek)
	require.Equal(t, InvalidArgument, err)
	_, err = x.QueryStatus()
	require.Equal(t, InvalidArgument, err)
	data[0] = 99

	buf := make([]byte, 5)
	objs := make([]Object, 3)
	nb, no, err := b.Get(0, buf, objs)
	require.NoError(t, err)
	require.Equal(t, 5, nb)
	require.Equal(t, 3, no)
	require.Equal(t, []byte{0, 1, 2, 0xff, 'z'}, buf)

	gotBox1, ok := objs[0].(*Box)
	require.True(t, ok)
	gotX, ok := objs[1].(*Portal)
	require.True(t, ok)
	gotBox2, ok := objs[2].(*Box)
	require.True(t, ok)
	got, err := gotBox1.Unbox(0)
	require.NoError(t, err)
	require.Equal(t, h1, got)
	got, err = gotBox2.Unbox(0)
	require.NoError(t, err)
	require.Equal(t, h2, got)
	requirePortalWorks(t, gotX, y)
	requireGetErr(t, b, Unavailable)
}

func TestPutGetOrderAndExactSizes(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	msgs := []string{"a", "", "bcd", "efghijklmnop", ""}
	for _, m := range msgs {
		mustPut(t, a, m)
	}
	for _, m := range msgs {
		buf := make([]byte, 100)
		nb, no, err := b.Get(0, buf, nil)
		require.NoError(t, err)
		require.Equal(t, len(m), nb)
		require.Zero(t, no)
		require.Equal(t, m, string(buf[:nb]))
	}
	requireGetErr(t, b, Unavailable)
	// Both directions are independent.
	mustPut(t, b, "back")
	got, _ := getParcel(t, a)
	require.Equal(t, "back", got)
}

func TestGetTooSmallBuffers(t *testing.T) {
	cases := []struct {
		name          string
		data, objects int
	}{
		{"no buffers", 0, 0},
		{"data too small", 3, 2},
		{"objects too small", 4, 1},
		{"both too small", 1, 0},
		{"nil data only", 0, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newAPIEnv(t)
			a, b := e.pair()
			bx1, _ := e.box()
			bx2, _ := e.box()
			require.NoError(t, a.Put([]byte("wxyz"), []Object{bx1, bx2}, nil))
			var data []byte
			if c.data > 0 {
				data = make([]byte, c.data)
			}
			var objects []Object
			if c.objects > 0 {
				objects = make([]Object, c.objects)
			}
			nb, no, err := b.Get(0, data, objects)
			require.Equal(t, ResourceExhausted, err)
			require.Equal(t, 4, nb, "required bytes")
			require.Equal(t, 2, no, "required objects")
			for _, o := range objects {
				require.Nil(t, o, "nothing copied")
			}
			nb, no, v, err := b.GetValidated(0, data, objects)
			require.Equal(t, ResourceExhausted, err)
			require.Equal(t, 4, nb)
			require.Equal(t, 2, no)
			require.Nil(t, v)
			// The parcel is still queued, whole.
			require.Equal(t, PortalStatus{NumLocalParcels: 1, NumLocalBytes: 4}, statusOf(t, b))
			require.Equal(t, PortalStatus{NumRemoteParcels: 1, NumRemoteBytes: 4}, statusOf(t, a))
			got, objs := getParcel(t, b)
			require.Equal(t, "wxyz", got)
			require.Len(t, objs, 2)
			require.Equal(t, PortalStatus{}, statusOf(t, b))
			require.Equal(t, PortalStatus{}, statusOf(t, a))
		})
	}
}

func TestGetPartial(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	bx1, h1 := e.box()
	bx2, h2 := e.box()
	bx3, h3 := e.box()
	require.NoError(t, a.Put([]byte("abcdef"), []Object{bx1, bx2, bx3}, nil))
	mustPut(t, a, "next")

	// Nothing fits: a partial get still succeeds and takes nothing.
	nb, no, err := b.Get(GetPartial, nil, nil)
	require.NoError(t, err)
	require.Zero(t, nb)
	require.Zero(t, no)
	require.Equal(t, PortalStatus{NumLocalParcels: 2, NumLocalBytes: 10}, statusOf(t, b))

	buf := make([]byte, 2)
	objs := make([]Object, 1)
	nb, no, err = b.Get(GetPartial, buf, objs)
	require.NoError(t, err)
	require.Equal(t, 2, nb)
	require.Equal(t, 1, no)
	require.Equal(t, "ab", string(buf))
	h, err := objs[0].(*Box).Unbox(0)
	require.NoError(t, err)
	require.Equal(t, h1, h)
	require.Equal(t, PortalStatus{NumLocalParcels: 2, NumLocalBytes: 8}, statusOf(t, b))
	require.Equal(t, PortalStatus{NumRemoteParcels: 2, NumRemoteBytes: 8}, statusOf(t, a))

	// A non-partial get now needs exactly what is left.
	nb, no, err = b.Get(0, nil, nil)
	require.Equal(t, ResourceExhausted, err)
	require.Equal(t, 4, nb)
	require.Equal(t, 2, no)

	// Partial with more bytes than left takes the rest of the bytes and
	// one object; the parcel stays for its last object.
	buf = make([]byte, 10)
	objs = make([]Object, 1)
	nb, no, err = b.Get(GetPartial, buf, objs)
	require.NoError(t, err)
	require.Equal(t, 4, nb)
	require.Equal(t, 1, no)
	require.Equal(t, "cdef", string(buf[:nb]))
	h, err = objs[0].(*Box).Unbox(0)
	require.NoError(t, err)
	require.Equal(t, h2, h)
	require.Equal(t, PortalStatus{NumLocalParcels: 2, NumLocalBytes: 4}, statusOf(t, b))

	got, rest := getParcel(t, b)
	require.Equal(t, "", got)
	require.Len(t, rest, 1)
	h, err = rest[0].(*Box).Unbox(0)
	require.NoError(t, err)
	require.Equal(t, h3, h)
	require.Equal(t, PortalStatus{NumLocalParcels: 1, NumLocalBytes: 4}, statusOf(t, b))
	require.Equal(t, PortalStatus{NumRemoteParcels: 1, NumRemoteBytes: 4}, statusOf(t, a))

	got, _ = getParcel(t, b)
	require.Equal(t, "next", got)
	require.Equal(t, PortalStatus{}, statusOf(t, b))
	require.Equal(t, PortalStatus{}, statusOf(t, a))
}

func TestGetPartialWithFittingBuffersTakesWholeParcel(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	mustPut(t, a, "abc")
	buf := make([]byte, 10)
	nb, no, err := b.Get(GetPartial, buf, make([]Object, 3))
	require.NoError(t, err)
	require.Equal(t, 3, nb)
	require.Zero(t, no)
	require.Equal(t, PortalStatus{}, statusOf(t, b))
	requireGetErr(t, b, Unavailable)
}

func TestGetEmptyQueueAndPeerClosure(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	requireGetErr(t, b, Unavailable)
	_, _, err := b.GetMessage()
	require.Equal(t, Unavailable, err)
	_, _, err = b.BeginGet(true, true)
	require.Equal(t, Unavailable, err)
	_, _, v, err := b.GetValidated(0, nil, nil)
	require.Equal(t, Unavailable, err)
	require.Nil(t, v)

	mustPut(t, a, "one")
	mustPut(t, a, "two")
	require.NoError(t, a.Close())
	// Parcels put before the closure are still there.
	require.Equal(t, PortalStatus{Flags: PortalStatusPeerClosed, NumLocalParcels: 2, NumLocalBytes: 6}, statusOf(t, b))
	got, _ := getParcel(t, b)
	require.Equal(t, "one", got)
	require.Equal(t, PortalStatus{Flags: PortalStatusPeerClosed, NumLocalParcels: 1, NumLocalBytes: 3}, statusOf(t, b))
	got, _ = getParcel(t, b)
	require.Equal(t, "two", got)
	require.Equal(t, PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead}, statusOf(t, b))

	requireGetErr(t, b, NotFound)
	_, _, err = b.Get(GetPartial, nil, nil)
	require.Equal(t, NotFound, err)
	_, _, err = b.GetMessage()
	require.Equal(t, NotFound, err)
	_, _, err = b.BeginGet(true, true)
	require.Equal(t, NotFound, err)
	_, _, v, err = b.GetValidated(0, nil, nil)
	require.Equal(t, NotFound, err)
	require.Nil(t, v)
	require.NoError(t, b.Close())
}

func TestPutAfterPeerClosed(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	require.NoError(t, b.Close())
	require.Equal(t, PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead}, statusOf(t, a))

	bx, h := e.box()
	x, y := e.pair()
	require.Equal(t, NotFound, a.Put([]byte("lost"), nil, nil))
	require.Equal(t, NotFound, a.Put(nil, nil, nil))
	require.Equal(t, NotFound, a.Put([]byte("lost"), []Object{bx, x}, nil))
	require.Equal(t, NotFound, a.Put([]byte("lost"), nil, &PutLimits{MaxQueuedParcels: 10, MaxQueuedBytes: 10}))
	buf, err := a.BeginPut(3, 0, nil)
	require.Equal(t, NotFound, err)
	require.Nil(t, buf)
	require.Equal(t, FailedPrecondition, a.EndPut(0, nil, 0), "no put was started")

	// The objects stayed the caller's and still work.
	got, err := bx.Unbox(UnboxPeek)
	require.NoError(t, err)
	require.Equal(t, h, got)
	require.True(t, e.drv.isOpen(h))
	requirePortalWorks(t, x, y)
	require.Equal(t, PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead}, statusOf(t, a))
}

func TestStatusCountsAtEachStep(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	type both struct{ a, b PortalStatus }
	check := func(want both) {
		t.Helper()
		require.Equal(t, want.a, statusOf(t, a), "a")
		require.Equal(t, want.b, statusOf(t, b), "b")
	}
	check(both{})
	mustPut(t, a, "123")
	check(both{PortalStatus{NumRemoteParcels: 1, NumRemoteBytes: 3}, PortalStatus{NumLocalParcels: 1, NumLocalBytes: 3}})
	mustPut(t, a, "")
	check(both{PortalStatus{NumRemoteParcels: 2, NumRemoteBytes: 3}, PortalStatus{NumLocalParcels: 2, NumLocalBytes: 3}})
	mustPut(t, b, "abcdefg")
	check(both{
		PortalStatus{NumLocalParcels: 1, NumLocalBytes: 7, NumRemoteParcels: 2, NumRemoteBytes: 3},
		PortalStatus{NumLocalParcels: 2, NumLocalBytes: 3, NumRemoteParcels: 1, NumRemoteBytes: 7},
	})
	// A partial get of one byte.
	_, _, err := b.Get(GetPartial, make([]byte, 1), nil)
	require.NoError(t, err)
	check(both{
		PortalStatus{NumLocalParcels: 1, NumLocalBytes: 7, NumRemoteParcels: 2, NumRemoteBytes: 2},
		PortalStatus{NumLocalParcels: 2, NumLocalBytes: 2, NumRemoteParcels: 1, NumRemoteBytes: 7},
	})
	getParcel(t, b)
	check(both{
		PortalStatus{NumLocalParcels: 1, NumLocalBytes: 7, NumRemoteParcels: 1},
		PortalStatus{NumLocalParcels: 1, NumRemoteParcels: 1, NumRemoteBytes: 7},
	})
	getParcel(t, b) // the empty parcel
	check(both{
		PortalStatus{NumLocalParcels: 1, NumLocalBytes: 7},
		PortalStatus{NumRemoteParcels: 1, NumRemoteBytes: 7},
	})
	getParcel(t, a)
	check(both{})
}

func TestEmptyParcelsCountAsParcels(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	require.NoError(t, a.Put(nil, nil, nil))
	require.NoError(t, a.Put([]byte{}, []Object{}, nil))
	require.Equal(t, PortalStatus{NumLocalParcels: 2}, statusOf(t, b))
	require.Equal(t, PortalStatus{NumRemoteParcels: 2}, statusOf(t, a))
	nb, no, err := b.Get(0, nil, nil)
	require.NoError(t, err)
	require.Zero(t, nb)
	require.Zero(t, no)
	data, objs, err := b.GetMessage()
	require.NoError(t, err)
	require.Empty(t, data)
	require.Empty(t, objs)
	require.Equal(t, PortalStatus{}, statusOf(t, b))
	require.Equal(t, PortalStatus{}, statusOf(t, a))
	requireGetErr(t, b, Unavailable)
	// An empty parcel with limits that admit no bytes.
	require.NoError(t, a.Put(nil, nil, &PutLimits{MaxQueuedParcels: 1, MaxQueuedBytes: 0}))
	require.Equal(t, ResourceExhausted, a.Put(nil, nil, &PutLimits{MaxQueuedParcels: 1, MaxQueuedBytes: 0}))
}

func TestGetMessage(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	bx, h := e.box()
	x, y := e.pair()
	require.NoError(t, a.Put([]byte("message"), []Object{bx, x}, nil))
	mustPut(t, a, "second")

	data, objs, err := b.GetMessage()
	require.NoError(t, err)
	require.Equal(t, "message", string(data))
	require.Len(t, objs, 2)
	got, err := objs[0].(*Box).Unbox(0)
	require.NoError(t, err)
	require.Equal(t, h, got)
	requirePortalWorks(t, objs[1].(*Portal), y)
	require.Equal(t, PortalStatus{NumLocalParcels: 1, NumLocalBytes: 6}, statusOf(t, b))
	require.Equal(t, PortalStatus{NumRemoteParcels: 1, NumRemoteBytes: 6}, statusOf(t, a))

	// After a partial get, GetMessage returns the remainder.
	buf := make([]byte, 2)
	_, _, err = b.Get(GetPartial, buf, nil)
	require.NoError(t, err)
	require.Equal(t, "se", string(buf))
	data, objs, err = b.GetMessage()
	require.NoError(t, err)
	require.Equal(t, "cond", string(data))
	require.Empty(t, objs)
	require.Equal(t, PortalStatus{}, statusOf(t, b))
	require.Equal(t, PortalStatus{}, statusOf(t, a))

	// Appending to the returned slices must not write into anything ipcz
	// still uses.
	mustPut(t, a, "xy")
	mustPut(t, a, "zw")
	data, _, err = b.GetMessage()
	require.NoError(t, err)
	require.Equal(t, len(data), cap(data))
	_ = append(data, '!')
	got2, _ := getParcel(t, b)
	require.Equal(t, "zw", got2)

	// Errors.
	_, _, err = b.GetMessage()
	require.Equal(t, Unavailable, err)
	mustPut(t, a, "z")
	_, _, err = b.BeginGet(true, true)
	require.NoError(t, err)
	_, _, err = b.GetMessage()
	require.Equal(t, AlreadyExists, err)
	_, err = b.EndGet(0, 0, EndGetAbort)
	require.NoError(t, err)
	require.NoError(t, a.Close())
	data, _, err = b.GetMessage()
	require.NoError(t, err)
	require.Equal(t, "z", string(data))
	_, _, err = b.GetMessage()
	require.Equal(t, NotFound, err)
}

func TestSentPortalKeepsItsQueueAndPeer(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	x, y := e.pair()
	mustPut(t, y, "queued before the move")
	mustPut(t, x, "to y")
	require.NoError(t, a.Put(nil, []Object{x}, nil))
	mustPut(t, y, "queued during the move")
	_, objs := getParcel(t, b)
	require.Len(t, objs, 1)
	x2 := objs[0].(*Portal)
	require.Equal(t, PortalStatus{NumLocalParcels: 2, NumLocalBytes: 44, NumRemoteParcels: 1, NumRemoteBytes: 4}, statusOf(t, x2))
	got, _ := getParcel(t, x2)
	require.Equal(t, "queued before the move", got)
	got, _ = getParcel(t, x2)
	require.Equal(t, "queued during the move", got)
	got, _ = getParcel(t, y)
	require.Equal(t, "to y", got)
	requirePortalWorks(t, x2, y)
}

func TestSendBothPortalsOfAPairInOneParcel(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	x, y := e.pair()
	mustPut(t, x, "x->y")
	require.NoError(t, a.Put(nil, []Object{x, y}, nil))
	_, objs := getParcel(t, b)
	require.Len(t, objs, 2)
	x2, y2 := objs[0].(*Portal), objs[1].(*Portal)
	got, _ := getParcel(t, y2)
	require.Equal(t, "x->y", got)
	requirePortalWorks(t, x2, y2)
	require.NoError(t, x2.Close())
	require.Equal(t, PortalStatusPeerClosed|PortalStatusDead, statusOf(t, y2).Flags)
}

// ---------------------------------------------------------------------------
// Put limits.
// ---------------------------------------------------------------------------

func TestPutLimitsParcels(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	limits := &PutLimits{MaxQueuedParcels: 2, MaxQueuedBytes: 1 << 20}
	require.NoError(t, a.Put([]byte("1"), nil, limits))
	require.NoError(t, a.Put([]byte("2"), nil, limits))
	require.Equal(t, ResourceExhausted, a.Put([]byte("3"), nil, limits))
	require.Equal(t, ResourceExhausted, a.Put(nil, nil, limits), "an empty parcel is still a parcel")
	require.Equal(t, PortalStatus{NumRemoteParcels: 2, NumRemoteBytes: 2}, statusOf(t, a))

	// A partial get does not free a parcel slot.
	_, _, err := b.Get(GetPartial, nil, nil)
	require.NoError(t, err)
	require.Equal(t, ResourceExhausted, a.Put([]byte("3"), nil, limits))

	got, _ := getParcel(t, b)
	require.Equal(t, "1", got)
	require.NoError(t, a.Put([]byte("3"), nil, limits))
	require.Equal(t, ResourceExhausted, a.Put([]byte("4"), nil, limits))
	// Without limits anything goes.
	require.NoError(t, a.Put([]byte("4"), nil, nil))
	require.Equal(t, PortalStatus{NumRemoteParcels: 3, NumRemoteBytes: 3}, statusOf(t, a))
	for _, want := range []string{"2", "3", "4"} {
		got, _ := getParcel(t, b)
		require.Equal(t, want, got)
	}
	requireGetErr(t, b, Unavailable)
}

func TestPutLimitsBytes(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	limits := &PutLimits{MaxQueuedParcels: 100, MaxQueuedBytes: 10}
	require.Equal(t, ResourceExhausted, a.Put(make([]byte, 11), nil, limits), "bigger than the whole limit")
	require.NoError(t, a.Put(make([]byte, 6), nil, limits))
	require.Equal(t, ResourceExhausted, a.Put(make([]byte, 5), nil, limits))
	require.NoError(t, a.Put(make([]byte, 4), nil, limits), "exactly at the limit")
	require.Equal(t, ResourceExhausted, a.Put(make([]byte, 1), nil, limits))
	require.NoError(t, a.Put(nil, nil, limits), "an empty parcel adds no bytes")
	require.Equal(t, PortalStatus{NumRemoteParcels: 3, NumRemoteBytes: 10}, statusOf(t, a))

	// The peer consumes 3 bytes of the head parcel: 3 bytes of room.
	_, _, err := b.Get(GetPartial, make([]byte, 3), nil)
	require.NoError(t, err)
	require.Equal(t, PortalStatus{NumRemoteParcels: 3, NumRemoteBytes: 7}, statusOf(t, a))
	require.Equal(t, ResourceExhausted, a.Put(make([]byte, 4), nil, limits))
	require.NoError(t, a.Put(make([]byte, 3), nil, limits))
	require.Equal(t, ResourceExhausted, a.Put(make([]byte, 1), nil, limits))
	// A tighter limit than what is already queued admits no bytes.
	require.Equal(t, ResourceExhausted, a.Put(make([]byte, 1), nil, &PutLimits{MaxQueuedParcels: 100, MaxQueuedBytes: 5}))
}

func TestPutLimitsZero(t *testing.T) {
	cases := []struct {
		name   string
		limits PutLimits
		data   int
		want   error
	}{
		{"zero limits, empty parcel", PutLimits{}, 0, ResourceExhausted},
		{"zero limits, bytes", PutLimits{}, 1, ResourceExhausted},
		{"zero parcels", PutLimits{MaxQueuedParcels: 0, MaxQueuedBytes: 100}, 1, ResourceExhausted},
		{"zero bytes, empty parcel", PutLimits{MaxQueuedParcels: 1, MaxQueuedBytes: 0}, 0, nil},
		{"zero bytes, one byte", PutLimits{MaxQueuedParcels: 1, MaxQueuedBytes: 0}, 1, ResourceExhausted},
		{"negative bytes", PutLimits{MaxQueuedParcels: 1, MaxQueuedBytes: -1}, 0, ResourceExhausted},
		{"negative parcels", PutLimits{MaxQueuedParcels: -1, MaxQueuedBytes: 1}, 0, ResourceExhausted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newAPIEnv(t)
			a, b := e.pair()
			limits := c.limits
			require.Equal(t, c.want, a.Put(make([]byte, c.data), nil, &limits))
			if c.want != nil {
				requireGetErr(t, b, Unavailable)
				require.Equal(t, PortalStatus{}, statusOf(t, a))
			}
		})
	}
}

func TestPutLimitsObjectsStayWithCaller(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	bx, h := e.box()
	x, y := e.pair()
	require.Equal(t, ResourceExhausted, a.Put([]byte("x"), []Object{bx, x}, &PutLimits{}))
	got, err := bx.Unbox(UnboxPeek)
	require.NoError(t, err)
	require.Equal(t, h, got)
	requirePortalWorks(t, x, y)
	requireGetErr(t, b, Unavailable)
	// Then the same objects can be sent.
	require.NoError(t, a.Put([]byte("x"), []Object{bx, x}, nil))
	_, objs := getParcel(t, b)
	require.Len(t, objs, 2)
}

func TestBeginPutLimits(t *testing.T) {
	limits := &PutLimits{MaxQueuedParcels: 3, MaxQueuedBytes: 10}
	e := newAPIEnv(t)
	a, b := e.pair()
	require.NoError(t, a.Put(make([]byte, 6), nil, nil))

	// Without ALLOW_PARTIAL: exactly the remaining capacity fits.
	buf, err := a.BeginPut(5, 0, limits)
	require.Equal(t, ResourceExhausted, err)
	require.Nil(t, buf)
	buf, err = a.BeginPut(4, 0, limits)
	require.NoError(t, err)
	require.Len(t, buf, 4)
	require.NoError(t, a.EndPut(0, nil, EndPutAbort))

	// With ALLOW_PARTIAL: the buffer shrinks to the remaining capacity.
	buf, err = a.BeginPut(8, BeginPutAllowPartial, limits)
	require.NoError(t, err)
	require.Len(t, buf, 4)
	copy(buf, "wxyz")
	require.NoError(t, a.EndPut(4, nil, 0))
	require.Equal(t, PortalStatus{NumRemoteParcels: 2, NumRemoteBytes: 10}, statusOf(t, a))

	// And is not shrunk when there is room.
	buf, err = a.BeginPut(0, BeginPutAllowPartial, limits)
	require.NoError(t, err, "an empty parcel still fits")
	require.Len(t, buf, 0)
	require.NoError(t, a.EndPut(0, nil, EndPutAbort))

	// No room left at all.
	for _, flags := range []BeginPutFlags{0, BeginPutAllowPartial} {
		buf, err = a.BeginPut(1, flags, limits)
		require.Equal(t, ResourceExhausted, err, "flags %d", flags)
		require.Nil(t, buf)
	}

	// The peer takes the first parcel: 6 bytes of room.
	getParcel(t, b)
	buf, err = a.BeginPut(100, BeginPutAllowPartial, limits)
	require.NoError(t, err)
	require.Len(t, buf, 6)
	require.NoError(t, a.EndPut(6, nil, 0))
	buf, err = a.BeginPut(3, 0, nil)
	require.NoError(t, err, "no limits")
	require.Len(t, buf, 3)
	require.NoError(t, a.EndPut(3, nil, 0))
	// Now 3 parcels (13 bytes) are queued: the parcel limit is reached,
	// whatever the bytes.
	require.Equal(t, PortalStatus{NumRemoteParcels: 3, NumRemoteBytes: 13}, statusOf(t, a))
	for _, flags := range []BeginPutFlags{0, BeginPutAllowPartial} {
		_, err = a.BeginPut(0, flags, &PutLimits{MaxQueuedParcels: 3, MaxQueuedBytes: 100})
		require.Equal(t, ResourceExhausted, err)
	}
	got, _ := getParcel(t, b)
	require.Equal(t, "wxyz", got)
	require.Equal(t, PortalStatus{NumRemoteParcels: 2, NumRemoteBytes: 9}, statusOf(t, a))
	// More bytes queued than a (new) limit allows.
	_, err = a.BeginPut(0, BeginPutAllowPartial, &PutLimits{MaxQueuedParcels: 100, MaxQueuedBytes: 5})
	require.Equal(t, ResourceExhausted, err)
	// Zero limits admit nothing.
	_, err = a.BeginPut(0, BeginPutAllowPartial, &PutLimits{})
	require.Equal(t, ResourceExhausted, err)
	// One parcel slot is free again.
	buf, err = a.BeginPut(91, BeginPutAllowPartial, &PutLimits{MaxQueuedParcels: 3, MaxQueuedBytes: 100})
	require.NoError(t, err)
	require.Len(t, buf, 91)
	require.NoError(t, a.EndPut(0, nil, EndPutAbort))
}

// ---------------------------------------------------------------------------
// Two-phase put.
// ---------------------------------------------------------------------------

func TestTwoPhasePut(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	buf, err := a.BeginPut(5, 0, nil)
	require.NoError(t, err)
	require.Len(t, buf, 5)
	copy(buf, "hello")
	// Nothing is visible before EndPut.
	require.Equal(t, PortalStatus{}, statusOf(t, a))
	requireGetErr(t, b, Unavailable)

	_, err = a.BeginPut(1, 0, nil)
	require.Equal(t, AlreadyExists, err)
	_, err = a.BeginPut(1, BeginPutAllowPartial, &PutLimits{MaxQueuedParcels: 10, MaxQueuedBytes: 10})
	require.Equal(t, AlreadyExists, err)

	require.NoError(t, a.EndPut(5, nil, 0))
	require.Equal(t, PortalStatus{NumRemoteParcels: 1, NumRemoteBytes: 5}, statusOf(t, a))
	got, _ := getParcel(t, b)
	require.Equal(t, "hello", got)
	require.Equal(t, FailedPrecondition, a.EndPut(0, nil, 0))

	// Commit fewer bytes than reserved.
	buf, err = a.BeginPut(10, 0, nil)
	require.NoError(t, err)
	require.Len(t, buf, 10)
	copy(buf, "abcdefghij")
	require.NoError(t, a.EndPut(3, nil, 0))
	require.Equal(t, PortalStatus{NumRemoteParcels: 1, NumRemoteBytes: 3}, statusOf(t, a))
	got, _ = getParcel(t, b)
	require.Equal(t, "abc", got)

	// A zero-byte two-phase put is an empty parcel.
	buf, err = a.BeginPut(0, 0, nil)
	require.NoError(t, err)
	require.Len(t, buf, 0)
	require.NoError(t, a.EndPut(0, nil, 0))
	require.Equal(t, PortalStatus{NumLocalParcels: 1}, statusOf(t, b))
	got, objs := getParcel(t, b)
	require.Equal(t, "", got)
	require.Empty(t, objs)
}

func TestTwoPhasePutAbort(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	buf, err := a.BeginPut(3, 0, nil)
	require.NoError(t, err)
	copy(buf, "abc")
	require.NoError(t, a.EndPut(99, []Object{a}, EndPutAbort), "abort ignores the other arguments")
	requireGetErr(t, b, Unavailable)
	require.Equal(t, PortalStatus{}, statusOf(t, a))
	require.Equal(t, FailedPrecondition, a.EndPut(0, nil, EndPutAbort))
	require.Equal(t, FailedPrecondition, a.EndPut(3, nil, 0))
	// A new put can begin, and the portal can be merged (nothing was put).
	_, err = a.BeginPut(1, 0, nil)
	require.NoError(t, err)
	require.NoError(t, a.EndPut(0, nil, EndPutAbort))
	c, d := e.pair()
	require.NoError(t, MergePortals(a, c))
	requirePortalWorks(t, b, d)
}

func TestTwoPhasePutWithObjects(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	bx, h := e.box()
	x, y := e.pair()
	buf, err := a.BeginPut(2, 0, nil)
	require.NoError(t, err)
	copy(buf, "ok")

	// A bad object fails the commit; the put stays pending and the good
	// objects stay the caller's.
	require.Equal(t, InvalidArgument, a.EndPut(2, []Object{bx, x, a}, 0))
	require.Equal(t, InvalidArgument, a.EndPut(2, []Object{bx, bx}, 0))
	got, err := bx.Unbox(UnboxPeek)
	require.NoError(t, err)
	require.Equal(t, h, got)
	_, err = a.BeginPut(1, 0, nil)
	require.Equal(t, AlreadyExists, err)
	requireGetErr(t, b, Unavailable)

	require.NoError(t, a.EndPut(2, []Object{bx, x}, 0))
	_, err = bx.Unbox(UnboxPeek)
	require.Equal(t, InvalidArgument, err)
	_, err = x.QueryStatus()
	require.Equal(t, InvalidArgument, err)

	data, objs := getParcel(t, b)
	require.Equal(t, "ok", data)
	require.Len(t, objs, 2)
	got, err = objs[0].(*Box).Unbox(0)
	require.NoError(t, err)
	require.Equal(t, h, got)
	requirePortalWorks(t, objs[1].(*Portal), y)
}

func TestTwoPhasePutPeerClosedMeanwhile(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	bx, h := e.box()
	buf, err := a.BeginPut(3, 0, nil)
	require.NoError(t, err)
	copy(buf, "abc")
	require.NoError(t, b.Close())

	require.Equal(t, NotFound, a.EndPut(3, []Object{bx}, 0))
	// The objects stayed the caller's...
	got, err := bx.Unbox(UnboxPeek)
	require.NoError(t, err)
	require.Equal(t, h, got)
	// ...and the put is still pending.
	_, err = a.BeginPut(1, 0, nil)
	require.Equal(t, AlreadyExists, err)
	require.Equal(t, NotFound, a.EndPut(3, nil, 0))
	require.NoError(t, a.EndPut(0, nil, EndPutAbort))
	require.Equal(t, FailedPrecondition, a.EndPut(0, nil, 0))
	_, err = a.BeginPut(1, 0, nil)
	require.Equal(t, NotFound, err)
}

func TestTwoPhasePutBlocksSendingThePortal(t *testing.T) {
	e := newAPIEnv(t)
	c, d := e.pair()
	x, y := e.pair()
	_, err := x.BeginPut(1, 0, nil)
	require.NoError(t, err)
	require.Equal(t, InvalidArgument, c.Put(nil, []Object{x}, nil))
	requireGetErr(t, d, Unavailable)
	require.NoError(t, x.EndPut(0, nil, EndPutAbort))
	require.NoError(t, c.Put(nil, []Object{x}, nil))
	_, objs := getParcel(t, d)
	require.Len(t, objs, 1)
	requirePortalWorks(t, objs[0].(*Portal), y)
}

func TestTwoPhasePutClosedWhilePending(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	_, err := a.BeginPut(3, 0, nil)
	require.NoError(t, err)
	require.NoError(t, a.Close())
	require.Equal(t, InvalidArgument, a.EndPut(0, nil, 0))
	require.Equal(t, InvalidArgument, a.EndPut(0, nil, EndPutAbort))
	require.Equal(t, PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead}, statusOf(t, b))
	requireGetErr(t, b, NotFound)
}

// The seed: a successful BeginPut "must be completed with EndPut() before
// any further Put() or BeginPut() calls are allowed on `portal`".
func TestPutDuringTwoPhasePut(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	buf, err := a.BeginPut(3, 0, nil)
	require.NoError(t, err)
	copy(buf, "two")
	err = a.Put([]byte("one"), nil, nil)
	require.Equal(t, AlreadyExists, err)
	requireGetErr(t, b, Unavailable)
	require.NoError(t, a.EndPut(3, nil, 0))
	got, _ := getParcel(t, b)
	require.Equal(t, "two", got)
}

// ---------------------------------------------------------------------------
// Two-phase get.
// ---------------------------------------------------------------------------

func TestTwoPhaseGet(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	bx1, h1 := e.box()
	bx2, h2 := e.box()
	require.NoError(t, a.Put([]byte("abcdef"), []Object{bx1, bx2}, nil))
	mustPut(t, a, "tail")

	data, n, err := b.BeginGet(true, true)
	require.NoError(t, err)
	require.Equal(t, "abcdef", string(data))
	require.Equal(t, 2, n)

	// Every other get is refused while the two-phase get is in progress.
	_, _, err = b.BeginGet(true, true)
	require.Equal(t, AlreadyExists, err)
	nb, no, err := b.Get(0, make([]byte, 10), make([]Object, 2))
	require.Equal(t, AlreadyExists, err)
	require.Zero(t, nb)
	require.Zero(t, no)
	_, _, err = b.Get(GetPartial, make([]byte, 10), make([]Object, 2))
	require.Equal(t, AlreadyExists, err)
	_, _, v, err := b.GetValidated(0, make([]byte, 10), make([]Object, 2))
	require.Equal(t, AlreadyExists, err)
	require.Nil(t, v)
	_, _, err = b.GetMessage()
	require.Equal(t, AlreadyExists, err)

	// Consume 2 bytes and 1 object: the rest stays at the head.
	objs, err := b.EndGet(2, 1, 0)
	require.NoError(t, err)
	require.Len(t, objs, 1)
	got, err := objs[0].(*Box).Unbox(0)
	require.NoError(t, err)
	require.Equal(t, h1, got)
	require.Equal(t, PortalStatus{NumLocalParcels: 2, NumLocalBytes: 8}, statusOf(t, b))
	require.Equal(t, PortalStatus{NumRemoteParcels: 2, NumRemoteBytes: 8}, statusOf(t, a))

	data, n, err = b.BeginGet(true, true)
	require.NoError(t, err)
	require.Equal(t, "cdef", string(data))
	require.Equal(t, 1, n)
	// Consume nothing: nothing changes.
	objs, err = b.EndGet(0, 0, 0)
	require.NoError(t, err)
	require.Empty(t, objs)
	require.Equal(t, PortalStatus{NumLocalParcels: 2, NumLocalBytes: 8}, statusOf(t, b))

	// Plain Get sees the remainder.
	buf := make([]byte, 4)
	rest := make([]Object, 1)
	nb, no, err = b.Get(0, buf, rest)
	require.NoError(t, err)
	require.Equal(t, 4, nb)
	require.Equal(t, 1, no)
	require.Equal(t, "cdef", string(buf))
	got, err = rest[0].(*Box).Unbox(0)
	require.NoError(t, err)
	require.Equal(t, h2, got)

	// The whole of the next parcel in one two-phase get.
	data, n, err = b.BeginGet(true, false)
	require.NoError(t, err)
	require.Equal(t, "tail", string(data))
	require.Zero(t, n)
	objs, err = b.EndGet(4, 0, 0)
	require.NoError(t, err)
	require.Empty(t, objs)
	require.Equal(t, PortalStatus{}, statusOf(t, b))
	require.Equal(t, PortalStatus{}, statusOf(t, a))
	_, _, err = b.BeginGet(true, true)
	require.Equal(t, Unavailable, err)
}

func TestTwoPhaseGetAbort(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	bx, _ := e.box()
	require.NoError(t, a.Put([]byte("abc"), []Object{bx}, nil))
	_, _, err := b.BeginGet(true, true)
	require.NoError(t, err)
	objs, v, err := b.EndGetValidated(3, 1, EndGetAbort)
	require.NoError(t, err)
	require.Nil(t, objs)
	require.Nil(t, v)
	require.Equal(t, PortalStatus{NumLocalParcels: 1, NumLocalBytes: 3}, statusOf(t, b))
	_, err = b.EndGet(0, 0, EndGetAbort)
	require.Equal(t, FailedPrecondition, err)
	data, n, err := b.BeginGet(true, true)
	require.NoError(t, err)
	require.Equal(t, "abc", string(data))
	require.Equal(t, 1, n)
	objs, v, err = b.EndGetValidated(3, 1, 0)
	require.NoError(t, err)
	require.Len(t, objs, 1)
	require.NotNil(t, v)
	require.Equal(t, FailedPrecondition, v.Reject(0), "a local parcel")
	require.NoError(t, v.Close())
}

func TestTwoPhaseGetOutOfRangeKeepsItInProgress(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	bx, _ := e.box()
	require.NoError(t, a.Put([]byte("abcd"), []Object{bx}, nil))
	_, _, err := b.BeginGet(true, true)
	require.NoError(t, err)
	_, err = b.EndGet(2, 0, 0)
	require.NoError(t, err)
	// Now 2 bytes and 1 object are left.
	data, n, err := b.BeginGet(true, true)
	require.NoError(t, err)
	require.Equal(t, "cd", string(data))
	require.Equal(t, 1, n)
	_, err = b.EndGet(3, 0, 0)
	require.Equal(t, OutOfRange, err)
	_, err = b.EndGet(0, 2, 0)
	require.Equal(t, OutOfRange, err)
	_, _, err = b.BeginGet(true, true)
	require.Equal(t, AlreadyExists, err, "still in progress")
	objs, err := b.EndGet(2, 1, 0)
	require.NoError(t, err)
	require.Len(t, objs, 1)
	require.Equal(t, PortalStatus{}, statusOf(t, b))
}

func TestBeginGetAcceptFlags(t *testing.T) {
	cases := []struct {
		name                      string
		data                      string
		objects                   int
		acceptData, acceptObjects bool
		want                      error
	}{
		{"bytes, data refused", "abc", 0, false, true, ResourceExhausted},
		{"objects, objects refused", "", 1, true, false, ResourceExhausted},
		{"both, both refused", "abc", 1, false, false, ResourceExhausted},
		{"both, objects refused", "abc", 1, true, false, ResourceExhausted},
		{"both, data refused", "abc", 1, false, true, ResourceExhausted},
		{"empty parcel, both refused", "", 0, false, false, nil},
		{"bytes only, objects refused", "abc", 0, true, false, nil},
		{"objects only, data refused", "", 2, false, true, nil},
		{"both accepted", "abc", 2, true, true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newAPIEnv(t)
			a, b := e.pair()
			var objects []Object
			for range c.objects {
				bx, _ := e.box()
				objects = append(objects, bx)
			}
			require.NoError(t, a.Put([]byte(c.data), objects, nil))
			data, n, err := b.BeginGet(c.acceptData, c.acceptObjects)
			require.Equal(t, c.want, err)
			if err != nil {
				require.Nil(t, data)
				require.Zero(t, n)
				// Nothing started, nothing consumed.
				_, err = b.EndGet(0, 0, 0)
				require.Equal(t, FailedPrecondition, err)
				require.Equal(t, PortalStatus{NumLocalParcels: 1, NumLocalBytes: len(c.data)}, statusOf(t, b))
				return
			}
			require.Equal(t, c.data, string(data))
			require.Equal(t, c.objects, n)
			objs, err := b.EndGet(len(c.data), c.objects, 0)
			require.NoError(t, err)
			require.Len(t, objs, c.objects)
			require.Equal(t, PortalStatus{}, statusOf(t, b))
		})
	}
}

func TestTwoPhaseGetBlocksSendingThePortal(t *testing.T) {
	e := newAPIEnv(t)
	c, d := e.pair()
	x, y := e.pair()
	mustPut(t, y, "m")
	_, _, err := x.BeginGet(true, true)
	require.NoError(t, err)
	require.Equal(t, InvalidArgument, c.Put(nil, []Object{x}, nil))
	_, err = x.EndGet(0, 0, EndGetAbort)
	require.NoError(t, err)
	require.NoError(t, c.Put(nil, []Object{x}, nil))
	_, objs := getParcel(t, d)
	got, _ := getParcel(t, objs[0].(*Portal))
	require.Equal(t, "m", got)
}

func TestTwoPhaseGetThenDead(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	mustPut(t, a, "last")
	require.NoError(t, a.Close())
	_, _, err := b.BeginGet(true, true)
	require.NoError(t, err)
	_, err = b.EndGet(2, 0, 0)
	require.NoError(t, err)
	require.Equal(t, PortalStatus{Flags: PortalStatusPeerClosed, NumLocalParcels: 1, NumLocalBytes: 2}, statusOf(t, b))
	_, _, err = b.BeginGet(true, true)
	require.NoError(t, err)
	_, err = b.EndGet(2, 0, 0)
	require.NoError(t, err)
	require.Equal(t, PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead}, statusOf(t, b))
	_, _, err = b.BeginGet(true, true)
	require.Equal(t, NotFound, err)
}

func TestCloseDuringTwoPhaseGet(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	bx, h := e.box()
	require.NoError(t, a.Put([]byte("abc"), []Object{bx}, nil))
	_, _, err := b.BeginGet(true, true)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	_, err = b.EndGet(3, 1, 0)
	require.Equal(t, InvalidArgument, err)
	require.False(t, e.drv.isOpen(h), "the unread parcel was discarded")
	require.Equal(t, PortalStatusPeerClosed|PortalStatusDead, statusOf(t, a).Flags)
}

// ---------------------------------------------------------------------------
// The router's checks on parcels arriving over its outward link (what a
// remote link will feed it).
// ---------------------------------------------------------------------------

func TestRouterRejectsImpossibleInboundParcels(t *testing.T) {
	e := newAPIEnv(t)
	_, b := e.pair()
	r := b.router.Load()
	require.NotNil(t, r)

	boxed := func() (*Parcel, DriverHandle) {
		bx, h := e.box()
		return &Parcel{objects: []Object{bx}}, h
	}

	// Out of order arrival is fine: parcel 1 waits for parcel 0.
	require.True(t, r.acceptInboundParcel(&Parcel{seq: 1, data: []byte("one")}))
	require.Equal(t, PortalStatus{}, statusOf(t, b))
	requireGetErr(t, b, Unavailable)
	require.True(t, r.acceptInboundParcel(&Parcel{seq: 0, data: []byte("zero")}))
	require.Equal(t, PortalStatus{NumLocalParcels: 2, NumLocalBytes: 7}, statusOf(t, b))

	// A duplicate of a queued parcel.
	p, h := boxed()
	p.seq = 1
	require.False(t, r.acceptInboundParcel(p))
	require.False(t, e.drv.isOpen(h), "the rejected parcel's objects are closed")

	got, _ := getParcel(t, b)
	require.Equal(t, "zero", got)
	// A parcel already consumed.
	p, h = boxed()
	p.seq = 0
	require.False(t, r.acceptInboundParcel(p))
	require.False(t, e.drv.isOpen(h))
	// Absurdly far ahead.
	p, h = boxed()
	p.seq = 1 + maxSequenceGap
	require.False(t, r.acceptInboundParcel(p))
	require.False(t, e.drv.isOpen(h))

	// The closure: lengths below what arrived are refused, and so is a
	// second, different length.
	require.False(t, r.acceptClosureFromOutward(1))
	require.Zero(t, statusOf(t, b).Flags)
	require.True(t, r.acceptClosureFromOutward(3))
	require.Equal(t, PortalStatus{Flags: PortalStatusPeerClosed, NumLocalParcels: 1, NumLocalBytes: 3}, statusOf(t, b))
	require.False(t, r.acceptClosureFromOutward(4))
	require.True(t, r.acceptClosureFromOutward(3), "the same length again is harmless")

	// Beyond the final length.
	p, h = boxed()
	p.seq = 3
	require.False(t, r.acceptInboundParcel(p))
	require.False(t, e.drv.isOpen(h))

	// Parcel 2 is still expected.
	require.True(t, r.acceptInboundParcel(&Parcel{seq: 2, data: []byte("two")}))
	got, _ = getParcel(t, b)
	require.Equal(t, "one", got)
	got, _ = getParcel(t, b)
	require.Equal(t, "two", got)
	require.Equal(t, PortalStatusPeerClosed|PortalStatusDead, statusOf(t, b).Flags)
	requireGetErr(t, b, NotFound)
}

func TestPutGetPayloadSizes(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	sizes := []int{0, 1, 63, 64, 65, 255, 256, 257, 4096, 1 << 16}
	for _, n := range sizes {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*7 + n)
		}
		require.NoError(t, a.Put(data, nil, nil))
		for i := range data {
			data[i] = 0 // Put copied it
		}
	}
	require.Equal(t, len(sizes), statusOf(t, b).NumLocalParcels)
	for _, n := range sizes {
		buf := make([]byte, n)
		nb, _, err := b.Get(0, buf, nil)
		require.NoError(t, err)
		require.Equal(t, n, nb)
		for i := range buf {
			if buf[i] != byte(i*7+n) {
				require.Failf(t, "corrupt payload", "size %d, byte %d", n, i)
			}
		}
	}
}

func TestPutTooManyObjects(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	objects := make([]Object, MaxObjectsPerParcel+1)
	for i := range objects {
		bx, _ := e.box()
		objects[i] = bx
	}
	require.Equal(t, ResourceExhausted, a.Put(nil, objects, nil))
	// The objects stay the caller's.
	for _, o := range objects {
		_, err := o.(*Box).Unbox(UnboxPeek)
		require.NoError(t, err)
	}
	require.NoError(t, a.Put(nil, objects[:MaxObjectsPerParcel], nil))
	_, got, err := b.GetMessage()
	require.NoError(t, err)
	require.Len(t, got, MaxObjectsPerParcel)
}
