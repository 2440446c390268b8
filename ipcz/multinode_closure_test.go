package ipcz_test

import (
	"testing"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/inprocess"
	"github.com/stretchr/testify/require"
)

// requirePeerClosedAfter checks the far end of a closed route: it sees
// PEER_CLOSED, then gets exactly count parcels of stream in order, and
// only then is DEAD (and a get says NotFound).
func requirePeerClosedAfter(t *testing.T, p *ipcz.Portal, stream byte, count uint64) {
	t.Helper()
	waitStatus(t, p, ipcz.PortalStatusPeerClosed)
	r := &seqReader{stream: stream}
	for r.next < count {
		s := statusOfPortal(t, p)
		require.Zero(t, s.Flags&ipcz.PortalStatusDead, "DEAD with %d of %d parcels read", r.next, count)
		r.readUntil(t, p, r.next+1)
	}
	s := waitStatus(t, p, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
	require.Zero(t, s.NumLocalParcels)
	_, _, err := p.GetMessage()
	require.Equal(t, ipcz.NotFound, err)
	require.Equal(t, ipcz.NotFound, p.Put([]byte("late"), nil, nil))
}

// TestCloseThroughProxyChain: q is moved B→C→D→A→C without waiting for
// the route to settle, so proxies are (usually) still in place, and then
// one end puts 200 parcels and closes at once. The other end sees
// PEER_CLOSED, gets all 200 parcels in order, and only then DEAD. Both
// directions, and the proxies all go away.
func TestCloseThroughProxyChain(t *testing.T) {
	for _, closer := range []string{"stay-put end", "moved end"} {
		t.Run(closer, func(t *testing.T) {
			forEachDriver(t, func(t *testing.T, d *inprocess.Driver) {
				net := newMNNet(t, d, 3)
				const a, b, c, dd = 0, 1, 2, 3
				net.ch(b, c)
				net.ch(c, dd)
				p, q, err := net.nodes[b].OpenPortals()
				require.NoError(t, err)
				for i := range uint64(10) {
					require.NoError(t, p.Put(seqParcel('p', i, 40), nil, nil))
				}
				q = net.send(b, c, q)
				q = net.send(c, dd, q)
				q = net.send(dd, a, q)
				q = net.send(a, c, q)
				t.Logf("proxies when closing: %d", net.totalProxies())
				if closer == "stay-put end" {
					for i := uint64(10); i < 200; i++ {
						require.NoError(t, p.Put(seqParcel('p', i, 40), nil, nil))
					}
					require.NoError(t, p.Close())
					requirePeerClosedAfter(t, q, 'p', 200)
				} else {
					(&seqReader{stream: 'p'}).readUntil(t, q, 10)
					for i := range uint64(200) {
						require.NoError(t, q.Put(seqParcel('q', i, 40), nil, nil))
					}
					require.NoError(t, q.Close())
					requirePeerClosedAfter(t, p, 'q', 200)
				}
				net.requireNoProxiesEventually()
			})
		})
	}
}

// TestCloseWhileProxyIsHeld: q moves from B to C, and B holds back what C
// sends it, so the proxy q left on B cannot finish its bypass and is
// certainly still there. p (on B) puts 100 parcels and closes: q sees
// PEER_CLOSED and gets all 100 before DEAD. Then, the other way round, a
// second route: q puts 100 and closes while B holds C's messages; once B
// lets them through p gets all 100 in order before DEAD.
func TestCloseWhileProxyIsHeld(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *inprocess.Driver) {
		net := newMNNet(t, d, 2)
		const b, c = 1, 2
		net.ch(b, c)

		p, q, err := net.nodes[b].OpenPortals()
		require.NoError(t, err)
		g := net.gate(b, c)
		g.pause()
		q = net.send(b, c, q)
		require.GreaterOrEqual(t, net.nodes[b].Stats().Proxies, 1, "the proxy on B")
		for i := range uint64(100) {
			require.NoError(t, p.Put(seqParcel('p', i, 40), nil, nil))
		}
		require.NoError(t, p.Close())
		requirePeerClosedAfter(t, q, 'p', 100)
		require.NoError(t, q.Close())
		g.resume()
		net.requireNoProxiesEventually()

		p, q, err = net.nodes[b].OpenPortals()
		require.NoError(t, err)
		g.pause()
		q = net.send(b, c, q)
		require.GreaterOrEqual(t, net.nodes[b].Stats().Proxies, 1, "the proxy on B")
		for i := range uint64(100) {
			require.NoError(t, q.Put(seqParcel('q', i, 40), nil, nil))
		}
		require.NoError(t, q.Close())
		require.Zero(t, statusOfPortal(t, p).Flags&ipcz.PortalStatusPeerClosed)
		g.resume()
		requirePeerClosedAfter(t, p, 'q', 100)
		require.NoError(t, p.Close())
		net.requireNoProxiesEventually()
	})
}

// routeThroughHeldProxy makes a route p (on B) – q (on D) that still runs
// through a proxy on node via: q goes B→via→D while via holds back what B
// sends it (the returned gate), so the proxy on via never hears that its
// bypass is complete. The route itself already runs directly between B
// and D.
func routeThroughHeldProxy(t *testing.T, net *mnNet, via int) (p, q *ipcz.Portal, held *gate) {
	t.Helper()
	const b, dd = 1, 3
	p, q, err := net.nodes[b].OpenPortals()
	require.NoError(t, err)
	q = net.send(b, via, q)
	// Let the proxy q left on B go first.
	eventually(t, "the proxy on B bypassed", func() bool { return net.nodes[b].Stats().Proxies == 0 })
	held = net.gate(via, b)
	held.pause()
	q = net.send(via, dd, q)
	// B switches p to a direct link to D and then tells the proxy to stop,
	// which via holds.
	eventually(t, "B to tell the proxy to stop", func() bool { return held.heldMessages() > 0 })
	pingPong(t, p, q, "direct")
	require.Equal(t, 1, net.nodes[via].Stats().Proxies, "the proxy on %s", nodeLetter(via))
	return p, q, held
}

// TestNodeCloseWithPortalsMidRoute: closing a node that hosts a proxy of
// a route disconnects that route (both ends see PEER_CLOSED), and closing
// a node that hosts one end makes the other end see PEER_CLOSED; routes
// that do not pass through the closed node keep working.
func TestNodeCloseWithPortalsMidRoute(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *inprocess.Driver) {
		net := newMNNet(t, d, 3)
		const a, b, c, dd = 0, 1, 2, 3
		net.ch(b, c)
		net.ch(b, dd)
		net.ch(c, dd)

		// An end on D, another route with an end on C.
		e1, e2, err := net.nodes[b].OpenPortals()
		require.NoError(t, err)
		e2 = net.send(b, dd, e2)
		f1, f2, err := net.nodes[b].OpenPortals()
		require.NoError(t, err)
		f2 = net.send(b, c, f2)

		// A route whose proxy is on C.
		p, q, held := routeThroughHeldProxy(t, net, c)
		for i := range uint64(5) {
			require.NoError(t, p.Put(seqParcel('p', i, 16), nil, nil))
		}
		(&seqReader{stream: 'p'}).readUntil(t, q, 5)

		require.NoError(t, net.nodes[c].Close())
		waitStatus(t, p, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
		waitStatus(t, q, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
		waitStatus(t, f1, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
		require.Equal(t, ipcz.NotFound, p.Put([]byte("x"), nil, nil))
		require.Equal(t, ipcz.NotFound, q.Put([]byte("x"), nil, nil))
		held.resume()

		// Routes not through C.
		pingPong(t, e1, e2, "B-D")
		pingPong(t, net.ch(b, dd), net.ch(dd, b), "B-D channel")
		pingPong(t, net.ch(a, b), net.ch(b, a), "A-B")
		pingPong(t, net.ch(a, dd), net.ch(dd, a), "A-D")
		waitStatus(t, net.ch(a, c), ipcz.PortalStatusPeerClosed)

		// Now an end: close D.
		for i := range uint64(3) {
			require.NoError(t, e2.Put(seqParcel('e', i, 16), nil, nil))
		}
		(&seqReader{stream: 'e'}).readUntil(t, e1, 3)
		require.NoError(t, net.nodes[dd].Close())
		waitStatus(t, e1, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
		pingPong(t, net.ch(a, b), net.ch(b, a), "A-B after D")
		_ = f2
		require.Zero(t, net.nodes[b].Stats().Proxies)
		require.Equal(t, []ipcz.NodeName{net.broker().Name()}, net.nodes[b].Stats().LinkedNodes)
	})
}

// TestTransportFailureMidRoute: a route p (on B) – q (on D) runs through a
// proxy on the broker when the transport between the broker and D fails.
// The route is disconnected (both ends see PEER_CLOSED, with what had
// arrived still readable), D loses its broker, and routes that do not
// use that transport keep working.
func TestTransportFailureMidRoute(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *inprocess.Driver) {
		net := newMNNet(t, d, 3)
		const a, b, c, dd = 0, 1, 2, 3
		net.ch(b, dd)
		net.ch(c, dd)
		p, q, held := routeThroughHeldProxy(t, net, a)
		for i := range uint64(5) {
			require.NoError(t, q.Put(seqParcel('q', i, 16), nil, nil))
		}
		(&seqReader{stream: 'q'}).readUntil(t, p, 5)
		require.NoError(t, q.Put(seqParcel('q', 5, 16), nil, nil))

		net.gate(dd, a).fail()
		waitStatus(t, q, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
		waitStatus(t, p, ipcz.PortalStatusPeerClosed)
		held.resume()
		// Parcel 5 went directly from D to B; it may or may not count.
		r := &seqReader{stream: 'q', next: 5}
		r.drain(t, p)
		waitStatus(t, p, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
		waitStatus(t, net.ch(a, dd), ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
		waitStatus(t, net.ch(dd, a), ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
		require.NotContains(t, net.nodes[dd].Stats().LinkedNodes, net.broker().Name())

		pingPong(t, net.ch(b, dd), net.ch(dd, b), "B-D")
		pingPong(t, net.ch(c, dd), net.ch(dd, c), "C-D")
		pingPong(t, net.ch(a, b), net.ch(b, a), "A-B")
		pingPong(t, net.ch(a, c), net.ch(c, a), "A-C")
		net.requireNoProxiesEventually()
	})
}

// TestTrapsAcrossNodes: traps on B fire for what happens on C: a new
// parcel (NEW_LOCAL_PARCEL), enough parcels (ABOVE_MIN_LOCAL_PARCELS and
// _BYTES), the peer closing (PEER_CLOSED) and, once drained, DEAD. A trap
// on a portal that is sent to another node fires REMOVED.
func TestTrapsAcrossNodes(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *inprocess.Driver) {
		net := newMNNet(t, d, 2)
		const b, c = 1, 2
		net.ch(b, c)
		p, q, err := net.nodes[b].OpenPortals()
		require.NoError(t, err)
		q = net.send(b, c, q)
		net.requireNoProxiesEventually()

		ev := trapEvents(t, p, ipcz.TrapConditions{Flags: ipcz.TrapNewLocalParcel})
		requireNoTrap(t, ev)
		require.NoError(t, q.Put(seqParcel('q', 0, 10), nil, nil))
		e := waitTrap(t, ev)
		require.Equal(t, ipcz.TrapNewLocalParcel, e.ConditionFlags)
		require.Equal(t, uintptr(42), e.Context)
		require.Equal(t, 1, e.Status.NumLocalParcels)
		require.Equal(t, 10, e.Status.NumLocalBytes)

		ev = trapEvents(t, p, ipcz.TrapConditions{
			Flags:           ipcz.TrapAboveMinLocalParcels | ipcz.TrapAboveMinLocalBytes,
			MinLocalParcels: 2,
			MinLocalBytes:   1000,
		})
		require.NoError(t, q.Put(seqParcel('q', 1, 10), nil, nil))
		requireNoTrap(t, ev)
		require.NoError(t, q.Put(seqParcel('q', 2, 10), nil, nil))
		e = waitTrap(t, ev)
		require.Equal(t, ipcz.TrapAboveMinLocalParcels, e.ConditionFlags)
		require.Equal(t, 3, e.Status.NumLocalParcels)
		require.Equal(t, 30, e.Status.NumLocalBytes)

		ev = trapEvents(t, p, ipcz.TrapConditions{Flags: ipcz.TrapPeerClosed})
		dead := trapEvents(t, p, ipcz.TrapConditions{Flags: ipcz.TrapDead})
		requireNoTrap(t, ev)
		require.NoError(t, q.Close())
		e = waitTrap(t, ev)
		require.Equal(t, ipcz.TrapPeerClosed, e.ConditionFlags)
		require.Equal(t, ipcz.PortalStatusPeerClosed, e.Status.Flags)
		require.Equal(t, 3, e.Status.NumLocalParcels)
		requireNoTrap(t, dead)
		r := &seqReader{stream: 'q'}
		r.readUntil(t, p, 2)
		requireNoTrap(t, dead)
		r.readUntil(t, p, 3)
		e = waitTrap(t, dead)
		require.Equal(t, ipcz.TrapDead, e.ConditionFlags&ipcz.TrapDead)
		require.Equal(t, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead, e.Status.Flags)

		// A trap on a portal sent away is removed.
		x, y, err := net.nodes[c].OpenPortals()
		require.NoError(t, err)
		removed := trapEvents(t, y, ipcz.TrapConditions{Flags: ipcz.TrapNewLocalParcel})
		y = net.send(c, b, y)
		e = waitTrap(t, removed)
		require.Equal(t, ipcz.TrapRemoved, e.ConditionFlags)
		// And a trap on the moved portal fires for puts made on C.
		ev = trapEvents(t, y, ipcz.TrapConditions{Flags: ipcz.TrapNewLocalParcel})
		require.NoError(t, x.Put([]byte("to the moved portal"), nil, nil))
		e = waitTrap(t, ev)
		require.Equal(t, ipcz.TrapNewLocalParcel, e.ConditionFlags)
		require.Equal(t, 1, e.Status.NumLocalParcels)
		ev = trapEvents(t, y, ipcz.TrapConditions{Flags: ipcz.TrapPeerClosed})
		require.NoError(t, x.Close())
		e = waitTrap(t, ev)
		require.Equal(t, ipcz.TrapPeerClosed, e.ConditionFlags)
	})
}
