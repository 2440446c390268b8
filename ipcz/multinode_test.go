package ipcz_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/inprocess"
	"github.com/stretchr/testify/require"
)

// The in-process driver modes every multi-node test runs under (besides
// the multiprocess driver; see forEachDriver).
var driverModes = []inprocess.Mode{
	inprocess.Sync,
	inprocess.Async,
	inprocess.AsyncDelegatedAlloc,
	inprocess.AsyncForcedBrokering,
}

// newBrokerAndClient connects a broker and a non-broker with n initial
// portals and returns both nodes and both sets of portals.
func newBrokerAndClient(t *testing.T, d *mnDriver, n int) (broker, client *ipcz.Node, bp, cp []*ipcz.Portal) {
	t.Helper()
	var err error
	broker, err = ipcz.CreateNode(d.forNode("broker"), 0, ipcz.CreateNodeAsBroker)
	require.NoError(t, err)
	client, err = ipcz.CreateNode(d.forNode("client"), 0, 0)
	require.NoError(t, err)
	tb, tc := d.newTransportPair(t, true, false)
	bp, err = broker.ConnectNode(tb, n, 0)
	require.NoError(t, err)
	cp, err = client.ConnectNode(tc, n, d.clientFlags())
	require.NoError(t, err)
	t.Cleanup(func() {
		client.Close()
		broker.Close()
	})
	return
}

// waitMessage polls p until a parcel arrives or the deadline passes.
func waitMessage(t *testing.T, p *ipcz.Portal) ([]byte, []ipcz.Object) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, objects, err := p.GetMessage()
		if err == nil {
			return data, objects
		}
		require.Equal(t, ipcz.Unavailable, err)
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for a parcel")
		}
		time.Sleep(time.Millisecond)
	}
}

// waitStatus polls p until its status flags include want.
func waitStatus(t *testing.T, p *ipcz.Portal, want ipcz.PortalStatusFlags) ipcz.PortalStatus {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := p.QueryStatus()
		require.NoError(t, err)
		if s.Flags&want == want {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for status %v, have %+v", want, s)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestConnectBrokerAndClient(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		broker, client, bp, cp := newBrokerAndClient(t, d, 2)
		require.NoError(t, cp[0].Put([]byte("to broker"), nil, nil))
		require.NoError(t, bp[1].Put([]byte("to client"), nil, nil))
		data, _ := waitMessage(t, bp[0])
		require.Equal(t, "to broker", string(data))
		data, _ = waitMessage(t, cp[1])
		require.Equal(t, "to client", string(data))
		require.True(t, broker.Name().IsValid())
		require.True(t, client.Name().IsValid())
		require.NotEqual(t, broker.Name(), client.Name())
	})
}

func TestSurplusInitialPortalsSeePeerClosed(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		broker, err := ipcz.CreateNode(d.forNode("broker"), 0, ipcz.CreateNodeAsBroker)
		require.NoError(t, err)
		client, err := ipcz.CreateNode(d.forNode("client"), 0, 0)
		require.NoError(t, err)
		defer broker.Close()
		defer client.Close()
		tb, tc := d.newTransportPair(t, true, false)
		bp, err := broker.ConnectNode(tb, 3, 0)
		require.NoError(t, err)
		cp, err := client.ConnectNode(tc, 1, ipcz.ConnectNodeToBroker)
		require.NoError(t, err)
		s := waitStatus(t, bp[2], ipcz.PortalStatusPeerClosed)
		require.Equal(t, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead, s.Flags)
		waitStatus(t, bp[1], ipcz.PortalStatusDead)
		require.Equal(t, ipcz.NotFound, bp[1].Put([]byte("x"), nil, nil))
		require.NoError(t, cp[0].Put([]byte("ok"), nil, nil))
		data, _ := waitMessage(t, bp[0])
		require.Equal(t, "ok", string(data))
	})
}

func TestBoxAcrossNodes(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		broker, client, bp, cp := newBrokerAndClient(t, d, 1)
		blob := d.newBlob(t, []byte("blob contents"))
		box, err := client.Box(blob)
		require.NoError(t, err)
		require.NoError(t, cp[0].Put([]byte("box"), []ipcz.Object{box}, nil))
		data, objects := waitMessage(t, bp[0])
		require.Equal(t, "box", string(data))
		require.Len(t, objects, 1)
		got := objects[0].(*ipcz.Box)
		h, err := got.Unbox(0)
		require.NoError(t, err)
		require.Equal(t, "blob contents", d.takeBlob(t, h))
		_ = broker
	})
}

func TestMovePortalAcrossNodes(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		broker, client, bp, cp := newBrokerAndClient(t, d, 1)
		x, y, err := client.OpenPortals()
		require.NoError(t, err)
		require.NoError(t, y.Put([]byte("queued before the move"), nil, nil))
		require.NoError(t, cp[0].Put(nil, []ipcz.Object{x}, nil))
		_, objects := waitMessage(t, bp[0])
		require.Len(t, objects, 1)
		moved := objects[0].(*ipcz.Portal)
		data, _ := waitMessage(t, moved)
		require.Equal(t, "queued before the move", string(data))
		for i := range 100 {
			require.NoError(t, y.Put([]byte{byte(i)}, nil, nil))
			require.NoError(t, moved.Put([]byte{byte(i)}, nil, nil))
		}
		for i := range 100 {
			data, _ = waitMessage(t, moved)
			require.Equal(t, []byte{byte(i)}, data)
			data, _ = waitMessage(t, y)
			require.Equal(t, []byte{byte(i)}, data)
		}
		require.NoError(t, y.Close())
		waitStatus(t, moved, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
		_ = broker
	})
}

func TestNodeCloseDisconnectsRoutes(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		_, client, bp, cp := newBrokerAndClient(t, d, 1)
		require.NoError(t, cp[0].Put([]byte("last"), nil, nil))
		data, _ := waitMessage(t, bp[0])
		require.Equal(t, "last", string(data))
		require.NoError(t, client.Close())
		waitStatus(t, bp[0], ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
		require.Equal(t, ipcz.NotFound, bp[0].Put([]byte("x"), nil, nil))
	})
}

// TestParcelDataThroughSharedMemory floods a link with more data than its
// primary buffer holds, so the pool must grow: every byte arrives intact,
// the data went through shared memory, and a node that delegates its
// allocation never allocated shared memory itself.
func TestParcelDataThroughSharedMemory(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		broker, client, bp, cp := newBrokerAndClient(t, d, 1)
		allocatedBefore := d.allocationCount("client")
		const count, size = 64, 60000
		want := make([][]byte, count)
		for i := range want {
			want[i] = make([]byte, size)
			for j := range want[i] {
				want[i][j] = byte(i*7 + j)
			}
			require.NoError(t, cp[0].Put(want[i], nil, nil))
		}
		for i := range want {
			data, _ := waitMessage(t, bp[0])
			require.Equal(t, want[i], data, "parcel %d", i)
		}
		s := client.Stats()
		require.Equal(t, uint64(count), s.ParcelsSent)
		// Growth is acknowledged before use (and, when delegated, waits for
		// the delegate), so some parcels went inline; once the pool has
		// grown, a second flood goes through more shared memory than the
		// primary buffer holds.
		require.Equal(t, uint64(count*size), s.ParcelBytesShared+s.ParcelBytesInline)
		eventually(t, "the pool to grow", func() bool {
			before := client.Stats().ParcelBytesShared
			for i := range want {
				require.NoError(t, cp[0].Put(want[i], nil, nil))
			}
			for i := range want {
				data, _ := waitMessage(t, bp[0])
				require.Equal(t, want[i], data, "parcel %d", i)
			}
			return client.Stats().ParcelBytesShared-before > uint64(16*size)
		})
		if d.delegatesAllocation() {
			require.Equal(t, allocatedBefore, d.allocationCount("client"))
		}
		// The pool that grew keeps serving.
		for i := range 10 {
			require.NoError(t, bp[0].Put(want[i], nil, nil))
			data, _ := waitMessage(t, cp[0])
			require.Equal(t, want[i], data)
		}
		require.Greater(t, broker.Stats().ParcelBytesShared, uint64(0))
	})
}

// TestReferralSharesBroker: R, connected to the broker, connects a new
// node N with ConnectNodeShareBroker / ConnectNodeInheritBroker. Their
// initial portals work, N gets a name from the broker and can reach nodes
// it was never connected to (the broker's other client) through it.
func TestReferralSharesBroker(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newTestNetwork(t, d, 2)
		r := net.nodes[0]
		n, err := ipcz.CreateNode(d.forNode("referred"), 0, 0)
		require.NoError(t, err)
		t.Cleanup(func() { n.Close() })
		// The referrer hands its end to the broker, so (for the
		// forced-brokering driver) that end is the broker's.
		tr, tn := d.newTransportPair(t, true, false)
		rp, err := r.ConnectNode(tr, 2, ipcz.ConnectNodeShareBroker)
		require.NoError(t, err)
		np, err := n.ConnectNode(tn, 3, ipcz.ConnectNodeInheritBroker)
		require.NoError(t, err)
		pingPong(t, rp[0], np[0], "a")
		pingPong(t, np[1], rp[1], "b")
		waitStatus(t, np[2], ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
		require.True(t, n.Name().IsValid())
		require.Contains(t, net.broker.Stats().LinkedNodes, n.Name())
		require.Contains(t, r.Stats().LinkedNodes, n.Name())

		// N reaches the broker's other client: a portal of C's goes to N
		// through R; the route ends direct between N and C.
		c := net.nodes[1]
		x, y, err := c.OpenPortals()
		require.NoError(t, err)
		require.NoError(t, net.toBroker[1].Put(nil, []ipcz.Object{y}, nil))
		_, objs := waitMessage(t, net.toNode[1])
		require.NoError(t, net.toNode[0].Put(nil, objs, nil))
		_, objs = waitMessage(t, net.toBroker[0])
		require.NoError(t, rp[0].Put(nil, objs, nil))
		_, objs = waitMessage(t, np[0])
		y = objs[0].(*ipcz.Portal)
		pingPong(t, x, y, "c-n")
		eventually(t, "a direct N-C route", func() bool {
			return net.broker.Stats().Proxies == 0 && r.Stats().Proxies == 0 && c.Stats().Proxies == 0 && n.Stats().Proxies == 0
		})
		require.Contains(t, n.Stats().LinkedNodes, c.Name())
		pingPong(t, x, y, "direct")
	})
}

func TestReferralArgumentErrors(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		n, err := ipcz.CreateNode(d.forNode("n"), 0, 0)
		require.NoError(t, err)
		defer n.Close()
		tr, other := d.newTransportPair(t, false, false)
		// Sharing a broker one does not have.
		_, err = n.ConnectNode(tr, 1, ipcz.ConnectNodeShareBroker)
		require.Equal(t, ipcz.InvalidArgument, err)
		for _, flags := range []ipcz.ConnectNodeFlags{
			ipcz.ConnectNodeShareBroker | ipcz.ConnectNodeInheritBroker,
			ipcz.ConnectNodeToBroker | ipcz.ConnectNodeInheritBroker,
			ipcz.ConnectNodeToBroker | ipcz.ConnectNodeShareBroker,
			0,
			1 << 7,
		} {
			_, err = n.ConnectNode(tr, 1, flags)
			require.Equal(t, ipcz.InvalidArgument, err, "flags %#x", flags)
		}
		_, err = n.ConnectNode(tr, 65, ipcz.ConnectNodeToBroker)
		require.Equal(t, ipcz.OutOfRange, err)
		_, err = n.ConnectNode(0, 1, ipcz.ConnectNodeToBroker)
		require.Equal(t, ipcz.InvalidArgument, err)
		_, err = n.ConnectNode(tr, 0, ipcz.ConnectNodeToBroker)
		require.Equal(t, ipcz.InvalidArgument, err)
		require.NoError(t, d.close(tr))
		require.NoError(t, d.close(other))
	})
}

// TestBrokersJoinNetworks: two brokers connected with ConnectNodeToBroker
// on both sides. A portal goes from N1 (B1's client) through B1 and B2 to
// N2 (B2's client); the route ends direct between N1 and N2, whom the
// brokers introduced across networks.
func TestBrokersJoinNetworks(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net1 := newTestNetwork(t, d, 1)
		net2 := newTestNetwork(t, d, 1)
		t1, t2 := d.newTransportPair(t, true, true)
		p1, err := net1.broker.ConnectNode(t1, 1, ipcz.ConnectNodeToBroker)
		require.NoError(t, err)
		p2, err := net2.broker.ConnectNode(t2, 1, ipcz.ConnectNodeToBroker)
		require.NoError(t, err)
		pingPong(t, p1[0], p2[0], "brokers")

		n1, n2 := net1.nodes[0], net2.nodes[0]
		x, y, err := n1.OpenPortals()
		require.NoError(t, err)
		require.NoError(t, net1.toBroker[0].Put(nil, []ipcz.Object{y}, nil))
		_, objs := waitMessage(t, net1.toNode[0])
		require.NoError(t, p1[0].Put(nil, objs, nil))
		_, objs = waitMessage(t, p2[0])
		require.NoError(t, net2.toNode[0].Put(nil, objs, nil))
		_, objs = waitMessage(t, net2.toBroker[0])
		y = objs[0].(*ipcz.Portal)
		pingPong(t, x, y, "across")
		eventually(t, "a direct N1-N2 route", func() bool {
			for _, n := range []*ipcz.Node{n1, n2, net1.broker, net2.broker} {
				if n.Stats().Proxies != 0 {
					return false
				}
			}
			return true
		})
		require.Contains(t, n1.Stats().LinkedNodes, n2.Name())
		before := net1.broker.Stats().ParcelsReceived + net2.broker.Stats().ParcelsReceived
		for i := range 20 {
			pingPong(t, x, y, fmt.Sprint(i))
		}
		require.Equal(t, before, net1.broker.Stats().ParcelsReceived+net2.broker.Stats().ParcelsReceived)
	})
}
