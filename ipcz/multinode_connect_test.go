package ipcz_test

import (
	"fmt"
	"testing"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/stretchr/testify/require"
)

// TestConnectNodeArgumentErrors: bad arguments give InvalidArgument (or
// OutOfRange above 64 initial portals) and leave the transport unused, so
// a correct call with the same transport then works.
func TestConnectNodeArgumentErrors(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		broker, err := ipcz.CreateNode(d.forNode("A"), 0, ipcz.CreateNodeAsBroker)
		require.NoError(t, err)
		client, err := ipcz.CreateNode(d.forNode("B"), 0, 0)
		require.NoError(t, err)
		defer broker.Close()
		defer client.Close()
		tb, tc := d.newTransportPair(t, true, false)

		type call struct {
			node  *ipcz.Node
			t     ipcz.DriverHandle
			n     int
			flags ipcz.ConnectNodeFlags
			want  ipcz.Result
		}
		const (
			toBroker = ipcz.ConnectNodeToBroker
			share    = ipcz.ConnectNodeShareBroker
			inherit  = ipcz.ConnectNodeInheritBroker
			delegate = ipcz.ConnectNodeToAllocationDelegate
		)
		calls := []call{
			{broker, ipcz.InvalidDriverHandle, 1, 0, ipcz.InvalidArgument},
			{broker, tb, 0, 0, ipcz.InvalidArgument},
			{broker, tb, -1, 0, ipcz.InvalidArgument},
			{broker, tb, 65, 0, ipcz.OutOfRange},
			{broker, tb, 1000, 0, ipcz.OutOfRange},
			{broker, tb, 1, 1 << 9, ipcz.InvalidArgument},
			{broker, tb, 1, share, ipcz.InvalidArgument},
			{broker, tb, 1, inherit, ipcz.InvalidArgument},
			{broker, tb, 1, delegate, ipcz.InvalidArgument},
			{broker, tb, 1, toBroker | delegate, ipcz.InvalidArgument},
			{broker, tb, 1, toBroker | share, ipcz.InvalidArgument},
			{client, tc, 1, 0, ipcz.InvalidArgument},
			{client, tc, 1, delegate, ipcz.InvalidArgument},
			{client, tc, 1, toBroker | inherit, ipcz.InvalidArgument},
			{client, tc, 1, toBroker | share, ipcz.InvalidArgument},
			{client, tc, 1, inherit | share, ipcz.InvalidArgument},
			{client, tc, 1, share, ipcz.InvalidArgument}, // no broker to share
			{client, tc, 65, toBroker, ipcz.OutOfRange},
			{client, ipcz.InvalidDriverHandle, 1, toBroker, ipcz.InvalidArgument},
		}
		for i, c := range calls {
			portals, err := c.node.ConnectNode(c.t, c.n, c.flags)
			require.Equal(t, c.want, err, "call %d: %+v", i, c)
			require.Nil(t, portals, "call %d", i)
		}

		// The transports are untouched: 64 initial portals work.
		bp, err := broker.ConnectNode(tb, 64, 0)
		require.NoError(t, err)
		cp, err := client.ConnectNode(tc, 64, d.clientFlags())
		require.NoError(t, err)
		require.Len(t, bp, 64)
		require.Len(t, cp, 64)
		for i := range 64 {
			pingPong(t, bp[i], cp[i], fmt.Sprint(i))
		}

		// A second broker connection is refused once there is one, and
		// a closed node refuses everything.
		t2, other2 := d.newTransportPair(t, true, false)
		_, err = client.ConnectNode(t2, 1, ipcz.ConnectNodeToBroker)
		require.Equal(t, ipcz.InvalidArgument, err)
		require.NoError(t, d.close(t2))
		require.NoError(t, d.close(other2))
		require.NoError(t, client.Close())
		t3, other3 := d.newTransportPair(t, true, false)
		_, err = client.ConnectNode(t3, 1, ipcz.ConnectNodeToBroker)
		require.Equal(t, ipcz.InvalidArgument, err)
		require.NoError(t, d.close(t3))
		require.NoError(t, d.close(other3))
	})
}

// TestConnectNodeMaxInitialPortalsMismatch: 64 portals on one side and 3
// on the other: three routes work, the other 61 see their peer closed.
func TestConnectNodeMaxInitialPortalsMismatch(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		broker, err := ipcz.CreateNode(d.forNode("A"), 0, ipcz.CreateNodeAsBroker)
		require.NoError(t, err)
		client, err := ipcz.CreateNode(d.forNode("B"), 0, 0)
		require.NoError(t, err)
		defer broker.Close()
		defer client.Close()
		tb, tc := d.newTransportPair(t, true, false)
		cp, err := client.ConnectNode(tc, 64, d.clientFlags())
		require.NoError(t, err)
		bp, err := broker.ConnectNode(tb, 3, 0)
		require.NoError(t, err)
		for i := range 3 {
			pingPong(t, bp[i], cp[i], fmt.Sprint(i))
		}
		for i := 3; i < 64; i++ {
			s := waitStatus(t, cp[i], ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
			require.Equal(t, ipcz.PortalStatus{Flags: ipcz.PortalStatusPeerClosed | ipcz.PortalStatusDead}, s)
		}
	})
}

// newBrokerPair connects two brokers, each with ConnectNodeToBroker, with
// n initial portals.
func newBrokerPair(t *testing.T, d *mnDriver, n int) (x, y *ipcz.Node, xp, yp []*ipcz.Portal) {
	t.Helper()
	var err error
	x, err = ipcz.CreateNode(newGateDriver(d, "A1"), 0, ipcz.CreateNodeAsBroker)
	require.NoError(t, err)
	y, err = ipcz.CreateNode(newGateDriver(d, "A2"), 0, ipcz.CreateNodeAsBroker)
	require.NoError(t, err)
	t.Cleanup(func() {
		x.Close()
		y.Close()
	})
	tx, ty := d.newTransportPair(t, true, true)
	xp, err = x.ConnectNode(tx, n, ipcz.ConnectNodeToBroker)
	require.NoError(t, err)
	yp, err = y.ConnectNode(ty, n, ipcz.ConnectNodeToBroker)
	require.NoError(t, err)
	return
}

// TestBrokerToBrokerConnect: two brokers connect with ConnectNodeToBroker
// on both sides; their initial portals work both ways, in order, and can
// carry boxes and portals.
func TestBrokerToBrokerConnect(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		x, y, xp, yp := newBrokerPair(t, d, 3)
		for i := range 3 {
			for j := range uint64(50) {
				require.NoError(t, xp[i].Put(seqParcel(byte('x'+i), j, 20), nil, nil))
				require.NoError(t, yp[i].Put(seqParcel(byte('a'+i), j, 20), nil, nil))
			}
		}
		for i := range 3 {
			(&seqReader{stream: byte('x' + i)}).readN(t, yp[i], 50)
			(&seqReader{stream: byte('a' + i)}).readN(t, xp[i], 50)
		}
		require.NotEqual(t, x.Name(), y.Name())
		require.Equal(t, []ipcz.NodeName{y.Name()}, x.Stats().LinkedNodes)
		require.Equal(t, []ipcz.NodeName{x.Name()}, y.Stats().LinkedNodes)

		box, err := x.Box(d.newBlob(t, []byte("between brokers")))
		require.NoError(t, err)
		p, q, err := x.OpenPortals()
		require.NoError(t, err)
		require.NoError(t, xp[0].Put([]byte("objects"), []ipcz.Object{box, q}, nil))
		data, objects := waitMessage(t, yp[0])
		require.Equal(t, "objects", string(data))
		require.Len(t, objects, 2)
		h, err := objects[0].(*ipcz.Box).Unbox(0)
		require.NoError(t, err)
		require.Equal(t, "between brokers", d.takeBlob(t, h))
		q = objects[1].(*ipcz.Portal)
		pingPong(t, p, q, "moved to the other broker")
		eventually(t, "no proxies", func() bool { return x.Stats().Proxies+y.Stats().Proxies == 0 })
	})
}

// TestRouteAcrossTwoBrokers: B belongs to broker A1 and C to broker A2,
// and the brokers are connected. A portal made on B travels B→A1→A2→C;
// the route works at once, in order, and settles into a direct B–C link
// (the brokers introduce B and C to each other).
func TestRouteAcrossTwoBrokers(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		a1, a2, a1p, a2p := newBrokerPair(t, d, 1)
		b, err := ipcz.CreateNode(d.forNode("B"), 0, 0)
		require.NoError(t, err)
		c, err := ipcz.CreateNode(d.forNode("C"), 0, 0)
		require.NoError(t, err)
		t.Cleanup(func() {
			b.Close()
			c.Close()
		})
		connect := func(broker, node *ipcz.Node) (*ipcz.Portal, *ipcz.Portal) {
			tb, tn := d.newTransportPair(t, true, false)
			bp, err := broker.ConnectNode(tb, 1, 0)
			require.NoError(t, err)
			np, err := node.ConnectNode(tn, 1, d.clientFlags())
			require.NoError(t, err)
			return bp[0], np[0]
		}
		a1ToB, bToA1 := connect(a1, b)
		a2ToC, cToA2 := connect(a2, c)

		p, q, err := b.OpenPortals()
		require.NoError(t, err)
		for i := range uint64(20) {
			require.NoError(t, p.Put(seqParcel('p', i, 16), nil, nil))
		}
		require.NoError(t, bToA1.Put([]byte("q"), []ipcz.Object{q}, nil))
		q = recvPortal(t, a1ToB, "q")
		require.NoError(t, a1p[0].Put([]byte("q"), []ipcz.Object{q}, nil))
		q = recvPortal(t, a2p[0], "q")
		require.NoError(t, a2ToC.Put([]byte("q"), []ipcz.Object{q}, nil))
		q = recvPortal(t, cToA2, "q")
		for i := uint64(20); i < 40; i++ {
			require.NoError(t, p.Put(seqParcel('p', i, 16), nil, nil))
			require.NoError(t, q.Put(seqParcel('q', i-20, 16), nil, nil))
		}
		(&seqReader{stream: 'p'}).readUntil(t, q, 40)
		(&seqReader{stream: 'q'}).readUntil(t, p, 20)

		nodes := []*ipcz.Node{a1, a2, b, c}
		eventually(t, "no proxies", func() bool {
			n := 0
			for _, node := range nodes {
				n += node.Stats().Proxies
			}
			return n == 0
		})
		require.Contains(t, b.Stats().LinkedNodes, c.Name())
		require.Contains(t, c.Stats().LinkedNodes, b.Name())
		before := a1.Stats().ParcelsReceived + a2.Stats().ParcelsReceived
		pingPong(t, p, q, "direct")
		require.Equal(t, before, a1.Stats().ParcelsReceived+a2.Stats().ParcelsReceived)
	})
}

// TestReferral: B (connected to broker A) connects to a new node C with
// ConnectNodeShareBroker, and C with ConnectNodeInheritBroker. Their
// initial portals work; C gets a name from A and can reach A's other
// nodes through moved portals that settle into direct links.
func TestReferral(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 2) // A, B, D (index 2)
		const a, b, dd = 0, 1, 2
		c, err := ipcz.CreateNode(d.forNode("C"), 0, 0)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		// B hands its end to the broker, which ends up owning it.
		tb, tc := d.newTransportPair(t, true, false)
		bp, err := net.nodes[b].ConnectNode(tb, 2, ipcz.ConnectNodeShareBroker)
		require.NoError(t, err)
		cp, err := c.ConnectNode(tc, 2, ipcz.ConnectNodeInheritBroker)
		require.NoError(t, err)
		for i := range 2 {
			pingPong(t, bp[i], cp[i], fmt.Sprint("referred ", i))
		}
		require.True(t, c.Name().IsValid())
		require.Contains(t, c.Stats().LinkedNodes, net.broker().Name())
		require.Contains(t, c.Stats().LinkedNodes, net.nodes[b].Name())

		// A route from D to C through B.
		p, q, err := net.nodes[dd].OpenPortals()
		require.NoError(t, err)
		q = net.send(dd, 0, q)
		q = net.send(0, b, q)
		require.NoError(t, bp[0].Put([]byte("q"), []ipcz.Object{q}, nil))
		q = recvPortal(t, cp[0], "q")
		for i := range uint64(30) {
			require.NoError(t, p.Put(seqParcel('p', i, 16), nil, nil))
			require.NoError(t, q.Put(seqParcel('q', i, 16), nil, nil))
		}
		(&seqReader{stream: 'p'}).readUntil(t, q, 30)
		(&seqReader{stream: 'q'}).readUntil(t, p, 30)
		eventually(t, "no proxies", func() bool { return net.totalProxies()+c.Stats().Proxies == 0 })
		require.Contains(t, c.Stats().LinkedNodes, net.nodes[dd].Name())
		_ = a
	})
}

// TestReferralWhileReferrerStillConnecting: B shares its broker with C
// right after its own ConnectNode to the broker returned, before that
// handshake has completed; the referral still goes through and the
// initial portals of B and C work.
func TestReferralWhileReferrerStillConnecting(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		for round := range 10 {
			broker, err := ipcz.CreateNode(d.forNode("A"), 0, ipcz.CreateNodeAsBroker)
			require.NoError(t, err)
			b, err := ipcz.CreateNode(d.forNode("B"), 0, 0)
			require.NoError(t, err)
			c, err := ipcz.CreateNode(d.forNode("C"), 0, 0)
			require.NoError(t, err)
			ta, tb := d.newTransportPair(t, true, false)
			ap, err := broker.ConnectNode(ta, 1, 0)
			require.NoError(t, err)
			bp, err := b.ConnectNode(tb, 1, d.clientFlags())
			require.NoError(t, err)
			tr, tn := d.newTransportPair(t, true, false)
			rp, err := b.ConnectNode(tr, 1, ipcz.ConnectNodeShareBroker)
			require.NoError(t, err)
			cp, err := c.ConnectNode(tn, 1, ipcz.ConnectNodeInheritBroker)
			require.NoError(t, err)
			pingPong(t, rp[0], cp[0], fmt.Sprint("referred ", round))
			pingPong(t, ap[0], bp[0], fmt.Sprint("broker ", round))
			require.NoError(t, c.Close())
			require.NoError(t, b.Close())
			require.NoError(t, broker.Close())
		}
	})
}

// TestReferralParcelsBeforeReferredNodeIsReady: the referrer B may put
// into its initial portals as soon as the broker accepts the referral,
// before the referred node C has heard from the broker. Here C holds the
// broker's answer until B's first parcel is on its way over the new B–C
// transport; C must still get it (and the next) once it binds its
// portals.
func TestReferralParcelsBeforeReferredNodeIsReady(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 1)
		const b = 1
		cd := newGateDriver(d, "C")
		c, err := ipcz.CreateNode(cd, 0, 0)
		require.NoError(t, err)
		t.Cleanup(func() {
			cd.resumeAll()
			c.Close()
		})
		tr, tn := d.newTransportPair(t, true, false)
		rp, err := net.nodes[b].ConnectNode(tr, 1, ipcz.ConnectNodeShareBroker)
		require.NoError(t, err)
		cd.setPauseNew(true)
		cp, err := c.ConnectNode(tn, 1, ipcz.ConnectNodeInheritBroker)
		require.NoError(t, err)
		cd.setPauseNew(false)
		held := cd.gateFor(tn)
		require.NotNil(t, held)

		sent := net.nodes[b].Stats().ParcelsSent
		require.NoError(t, rp[0].Put(seqParcel('b', 0, 16), nil, nil))
		eventually(t, "B to send its parcel to C", func() bool {
			return net.nodes[b].Stats().ParcelsSent == sent+1
		})
		require.NoError(t, rp[0].Put(seqParcel('b', 1, 16), nil, nil))
		held.resume()
		(&seqReader{stream: 'b'}).readN(t, cp[0], 2)
		pingPong(t, rp[0], cp[0], "referred")
	})
}
