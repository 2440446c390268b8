package ipcz_test

import (
	"bytes"
	"testing"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/inprocess"
	"github.com/stretchr/testify/require"
)

// Put and BeginPut write parcel data straight into the node pair's shared
// memory when the portal's route leaves through another node. These tests
// check the bytes that arrive, and that every block goes back to its pool
// whichever way the put ends: the 64 KiB pool holds at most 1024 blocks
// (maxPoolBytesPerClass), so a leak of one block per put would push data
// inline (ParcelBytesInline) long before the loops below end.

// sharedPutPair connects a broker and a client over the Async in-process
// driver and returns the two ends of their initial route.
func sharedPutPair(t *testing.T) (broker *ipcz.Node, a, b *ipcz.Portal) {
	t.Helper()
	d := inprocess.New(inprocess.Async)
	broker, err := ipcz.CreateNode(d.ForNode("broker"), 0, ipcz.CreateNodeAsBroker)
	require.NoError(t, err)
	client, err := ipcz.CreateNode(d.ForNode("client"), 0, 0)
	require.NoError(t, err)
	tb, tc := d.NewTransportPair(true, false)
	bp, err := broker.ConnectNode(tb, 1, 0)
	require.NoError(t, err)
	cp, err := client.ConnectNode(tc, 1, ipcz.ConnectNodeToBroker)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, client.Close())
		require.NoError(t, broker.Close())
		eventually(t, "the driver's objects to be released", func() bool { return d.LiveObjects().Total() == 0 })
	})
	pingPong(t, bp[0], cp[0], "connected")
	return broker, bp[0], cp[0]
}

// patterned returns n bytes that differ with seed.
func patterned(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

// getOne waits for the next parcel on p and returns its bytes.
func getOne(t *testing.T, p *ipcz.Portal) []byte {
	t.Helper()
	var data []byte
	eventually(t, "a parcel", func() bool {
		var err error
		data, _, err = p.GetMessage()
		return err == nil
	})
	return data
}

func TestPutThroughSharedMemoryReusesBlocks(t *testing.T) {
	broker, a, b := sharedPutPair(t)
	before := broker.Stats()
	buf := make([]byte, 64<<10)
	for i := range 3000 {
		want := patterned(len(buf), byte(i))
		require.NoError(t, a.Put(want, nil, nil))
		n, _, err := getAfter(t, b, buf)
		require.NoError(t, err)
		require.Equal(t, len(want), n)
		if !bytes.Equal(want, buf[:n]) {
			t.Fatalf("parcel %d: wrong bytes", i)
		}
	}
	st := broker.Stats()
	require.Equal(t, uint64(3000*len(buf)), st.ParcelBytesShared-before.ParcelBytesShared)
	require.Equal(t, before.ParcelBytesInline, st.ParcelBytesInline, "64 KiB parcels went inline: blocks leaked")
}

// getAfter waits until p has a parcel and gets it into buf.
func getAfter(t *testing.T, p *ipcz.Portal, buf []byte) (int, int, error) {
	t.Helper()
	var n, k int
	var err error
	eventually(t, "a parcel", func() bool {
		n, k, err = p.Get(0, buf, nil)
		return err != ipcz.Unavailable
	})
	return n, k, err
}

func TestTwoPhasePutThroughSharedMemory(t *testing.T) {
	broker, a, b := sharedPutPair(t)
	before := broker.Stats()
	const size = 64 << 10
	committed := 0
	for i := range 3000 {
		buf, err := a.BeginPut(size, 0, nil)
		require.NoError(t, err)
		require.Len(t, buf, size)
		want := patterned(size, byte(i))
		copy(buf, want)
		switch i % 5 {
		case 0: // the whole buffer
			require.NoError(t, a.EndPut(size, nil, 0))
		case 1: // part of it, still big enough for shared memory
			require.NoError(t, a.EndPut(1000, nil, 0))
			want = want[:1000]
		case 2: // too little for shared memory: it goes inline
			require.NoError(t, a.EndPut(100, nil, 0))
			want = want[:100]
		case 3: // nothing
			require.NoError(t, a.EndPut(0, nil, 0))
			want = nil
		case 4: // aborted
			require.NoError(t, a.EndPut(0, nil, ipcz.EndPutAbort))
			require.Equal(t, ipcz.FailedPrecondition, a.EndPut(0, nil, 0))
			continue
		}
		committed++
		got := getOne(t, b)
		if !bytes.Equal(want, got) {
			t.Fatalf("parcel %d: got %d bytes, want %d", i, len(got), len(want))
		}
	}
	st := broker.Stats()
	require.Equal(t, uint64(committed), st.ParcelsSent-before.ParcelsSent)
	require.Equal(t, uint64(600*size+600*1000), st.ParcelBytesShared-before.ParcelBytesShared)
	require.Equal(t, uint64(600*100), st.ParcelBytesInline-before.ParcelBytesInline)
}

func TestTwoPhasePutRetriedAfterFailedEndPut(t *testing.T) {
	_, a, b := sharedPutPair(t)
	buf, err := a.BeginPut(4096, 0, nil)
	require.NoError(t, err)
	copy(buf, patterned(4096, 3))
	// Too many bytes: the put stays in progress with its buffer.
	require.Equal(t, ipcz.InvalidArgument, a.EndPut(4097, nil, 0))
	// Sending the portal itself is refused: still in progress.
	require.Equal(t, ipcz.InvalidArgument, a.EndPut(4096, []ipcz.Object{a}, 0))
	require.Equal(t, ipcz.AlreadyExists, a.Put([]byte("x"), nil, nil))
	require.NoError(t, a.EndPut(4096, nil, 0))
	require.Equal(t, patterned(4096, 3), getOne(t, b))
}

// routeAcross opens a portal pair on the broker, sends one end to the
// client over via (an end of a route between them) and returns both ends
// once the route is direct.
func routeAcross(t *testing.T, broker *ipcz.Node, via, viaPeer *ipcz.Portal) (*ipcz.Portal, *ipcz.Portal) {
	t.Helper()
	a, moving, err := broker.OpenPortals()
	require.NoError(t, err)
	require.NoError(t, via.Put(nil, []ipcz.Object{moving}, nil))
	var b *ipcz.Portal
	eventually(t, "the moved portal", func() bool {
		_, objects, err := viaPeer.GetMessage()
		if err != nil {
			return false
		}
		b = objects[0].(*ipcz.Portal)
		return true
	})
	eventually(t, "the route to settle", func() bool { return broker.Stats().Proxies == 0 })
	return a, b
}

func TestClosingPortalReleasesPendingSharedPut(t *testing.T) {
	broker, via, viaPeer := sharedPutPair(t)
	before := broker.Stats().ParcelBytesShared
	// Each round starts a 64 KiB put into shared memory and closes the
	// portal with the put pending.
	for i := range 1500 {
		a, b := routeAcross(t, broker, via, viaPeer)
		buf, err := a.BeginPut(64<<10, 0, nil)
		require.NoError(t, err)
		buf[0] = byte(i)
		require.NoError(t, a.Close())
		require.NoError(t, b.Close())
	}
	a, b := routeAcross(t, broker, via, viaPeer)
	require.NoError(t, a.Put(patterned(64<<10, 9), nil, nil))
	require.Equal(t, patterned(64<<10, 9), getOne(t, b))
	require.Equal(t, uint64(64<<10), broker.Stats().ParcelBytesShared-before, "the last put went inline: blocks leaked")
}
