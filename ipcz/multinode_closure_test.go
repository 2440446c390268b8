package ipcz_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/ipcz-go/ipcz-go/internal/leakcheck"
	"github.com/ipcz-go/ipcz-go/ipcz"
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
// directions; once the surviving end closes too, no proxy or router of
// the route is left on any node.
func TestCloseThroughProxyChain(t *testing.T) {
	for _, closer := range []string{"stay-put end", "moved end"} {
		t.Run(closer, func(t *testing.T) {
			forEachDriver(t, func(t *testing.T, d *mnDriver) {
				net := newMNNet(t, d, 3)
				const a, b, c, dd = 0, 1, 2, 3
				net.ch(b, c)
				net.ch(c, dd)
				baseline := net.remoteRouters()
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
				// The surviving end closes too; then nothing of the route
				// may be left anywhere.
				if closer == "stay-put end" {
					require.NoError(t, q.Close())
				} else {
					require.NoError(t, p.Close())
				}
				net.requireNoProxiesEventually()
				net.requireRemoteRoutersEventually(baseline)
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
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
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

// routeThroughProxy makes a route p (on B) – q (on D) whose parcels from
// B to D still pass through a proxy on node via: q goes B→via→D while B
// holds back everything D sends it (the returned gate), so B never learns
// of the direct link D offers and keeps sending through the proxy. What q
// sends after the switch waits in B's gate.
func routeThroughProxy(t *testing.T, net *mnNet, via int) (p, q *ipcz.Portal, held *gate) {
	t.Helper()
	const b, dd = 1, 3
	p, q, err := net.nodes[b].OpenPortals()
	require.NoError(t, err)
	q = net.send(b, via, q)
	eventually(t, "the proxy on B bypassed", func() bool { return net.nodes[b].Stats().Proxies == 0 })
	held = net.gate(b, dd)
	held.pause()
	q = net.send(via, dd, q)
	for i := range uint64(3) {
		require.NoError(t, p.Put(seqParcel('p', i, 16), nil, nil))
	}
	(&seqReader{stream: 'p'}).readN(t, q, 3)
	require.Equal(t, 1, net.nodes[via].Stats().Proxies, "the proxy on %s", nodeLetter(via))
	return p, q, held
}

// routeWithLeftoverProxy makes a route p (on B) – q (on D) that runs
// directly between B and D although the proxy it used on node via is
// still there: via holds back what B sends it (the returned gate), so the
// proxy never hears that its bypass is complete.
func routeWithLeftoverProxy(t *testing.T, net *mnNet, via int) (p, q *ipcz.Portal, held *gate) {
	t.Helper()
	const b, dd = 1, 3
	p, q, err := net.nodes[b].OpenPortals()
	require.NoError(t, err)
	q = net.send(b, via, q)
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

// newMeshNet is a broker and B, C, D with direct routes between B, C
// and D.
func newMeshNet(t *testing.T, d *mnDriver) *mnNet {
	net := newMNNet(t, d, 3)
	net.ch(1, 2)
	net.ch(1, 3)
	net.ch(2, 3)
	return net
}

// requireMeshWorks checks the routes between every two of the listed
// nodes of a newMeshNet (0 is the broker).
func requireMeshWorks(t *testing.T, net *mnNet, nodes ...int) {
	t.Helper()
	for i, x := range nodes {
		for _, y := range nodes[i+1:] {
			pingPong(t, net.ch(x, y), net.ch(y, x), nodeLetter(x)+"-"+nodeLetter(y))
		}
	}
}

// TestNodeCloseWithPortalsMidRoute: closing a node that hosts an end of a
// route, or a proxy a route still passes through, makes the other end(s)
// see PEER_CLOSED (and DEAD once drained); closing a node that hosts only
// a leftover proxy of a route that has bypassed it leaves the route
// alone. Routes that do not pass through the closed node keep working.
func TestNodeCloseWithPortalsMidRoute(t *testing.T) {
	const a, b, c, dd = 0, 1, 2, 3
	t.Run("end", func(t *testing.T) {
		forEachDriver(t, func(t *testing.T, d *mnDriver) {
			net := newMeshNet(t, d)
			p, q, err := net.nodes[b].OpenPortals()
			require.NoError(t, err)
			q = net.send(b, dd, q)
			for i := range uint64(3) {
				require.NoError(t, q.Put(seqParcel('q', i, 16), nil, nil))
			}
			waitLocalParcels(t, p, 3)
			require.NoError(t, net.nodes[dd].Close())
			requirePeerClosedAfter(t, p, 'q', 3)
			waitStatus(t, net.ch(b, dd), ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
			requireMeshWorks(t, net, a, b, c)
			eventually(t, "B to forget D", func() bool { return len(net.nodes[b].Stats().LinkedNodes) == 2 })
		})
	})
	t.Run("proxy in use", func(t *testing.T) {
		forEachDriver(t, func(t *testing.T, d *mnDriver) {
			net := newMeshNet(t, d)
			p, q, held := routeThroughProxy(t, net, c)
			require.NoError(t, net.nodes[c].Close())
			waitStatus(t, p, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
			waitStatus(t, q, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
			require.Equal(t, ipcz.NotFound, p.Put([]byte("x"), nil, nil))
			require.Equal(t, ipcz.NotFound, q.Put([]byte("x"), nil, nil))
			held.resume()
			requireMeshWorks(t, net, a, b, dd)
			require.NoError(t, p.Close())
			require.NoError(t, q.Close())
			net.requireNoProxiesEventually()
		})
	})
	t.Run("leftover proxy", func(t *testing.T) {
		forEachDriver(t, func(t *testing.T, d *mnDriver) {
			net := newMeshNet(t, d)
			p, q, _ := routeWithLeftoverProxy(t, net, c)
			require.NoError(t, net.nodes[c].Close())
			requireMeshWorks(t, net, a, b, dd)
			pingPong(t, p, q, "after C closed")
			require.Zero(t, statusOfPortal(t, p).Flags)
			require.Zero(t, statusOfPortal(t, q).Flags)
		})
	})
}

// TestTransportFailureMidRoute: the transport between the broker and D
// fails (D's driver reports an error) while a route from B to D still
// passes through a proxy on the broker. The route is disconnected (both
// ends see PEER_CLOSED), D loses its broker, and the routes that do not
// use that transport keep working. A route whose leftover proxy is on the
// broker is not affected.
func TestTransportFailureMidRoute(t *testing.T) {
	const a, b, c, dd = 0, 1, 2, 3
	t.Run("proxy in use", func(t *testing.T) {
		forEachDriver(t, func(t *testing.T, d *mnDriver) {
			net := newMeshNet(t, d)
			p, q, held := routeThroughProxy(t, net, a)
			net.gate(dd, a).fail()
			waitStatus(t, p, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
			waitStatus(t, q, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
			waitStatus(t, net.ch(a, dd), ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
			waitStatus(t, net.ch(dd, a), ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
			require.NotContains(t, net.nodes[dd].Stats().LinkedNodes, net.broker().Name())
			held.resume()
			requireMeshWorks(t, net, a, b, c)
			requireMeshWorks(t, net, b, c, dd)
			require.NoError(t, p.Close())
			require.NoError(t, q.Close())
			net.requireNoProxiesEventually()
		})
	})
	t.Run("leftover proxy", func(t *testing.T) {
		forEachDriver(t, func(t *testing.T, d *mnDriver) {
			net := newMeshNet(t, d)
			p, q, _ := routeWithLeftoverProxy(t, net, a)
			net.gate(dd, a).fail()
			waitStatus(t, net.ch(dd, a), ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
			pingPong(t, p, q, "after the failure")
			require.Zero(t, statusOfPortal(t, p).Flags)
			require.Zero(t, statusOfPortal(t, q).Flags)
			requireMeshWorks(t, net, b, c, dd)
		})
	})
}

// TestTrapsAcrossNodes: traps on B fire for what happens on C: a new
// parcel (NEW_LOCAL_PARCEL), enough parcels (ABOVE_MIN_LOCAL_PARCELS and
// _BYTES), the peer closing (PEER_CLOSED) and, once drained, DEAD. A trap
// on a portal that is sent to another node fires REMOVED.
func TestTrapsAcrossNodes(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
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
		r.readN(t, p, 2)
		requireNoTrap(t, dead)
		r.readN(t, p, 1)
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

// TestClosedRoutesReleaseRouters: once both ends of a route that spans
// two nodes are closed (one after the other in either order, or both at
// once), no router is left for it on either node.
func TestClosedRoutesReleaseRouters(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 2)
		const a, b, c = 0, 1, 2
		net.ch(b, c)
		baseline := net.remoteRouters()
		routes := func(far int) (ps, qs []*ipcz.Portal) {
			for range 3 {
				p, q, err := net.nodes[b].OpenPortals()
				require.NoError(t, err)
				q = net.send(b, far, q)
				pingPong(t, p, q, "route")
				ps, qs = append(ps, p), append(qs, q)
			}
			return ps, qs
		}
		for _, far := range []int{a, c} {
			ps, qs := routes(far)
			// p first, then q once it has seen p go.
			require.NoError(t, ps[0].Close())
			waitStatus(t, qs[0], ipcz.PortalStatusDead)
			require.NoError(t, qs[0].Close())
			// q first.
			require.NoError(t, qs[1].Close())
			waitStatus(t, ps[1], ipcz.PortalStatusDead)
			require.NoError(t, ps[1].Close())
			// Both at once.
			require.NoError(t, ps[2].Close())
			require.NoError(t, qs[2].Close())
		}
		net.requireRemoteRoutersEventually(baseline)
	})
}

// TestNodeCloseReleasesEverything: a broker and a client exchange
// parcels (some through shared memory) and a moved portal, then both
// nodes close: every driver object (transports, memory, mappings) is
// released, every delivery goroutine ends and (multiprocess) every
// descriptor the nodes opened is closed.
func TestNodeCloseReleasesEverything(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		goroutines := runtime.NumGoroutine()
		fds := d.openFDs(t)
		broker, client, bp, cp := newBrokerAndClient(t, d, 1)
		for i := range uint64(100) {
			require.NoError(t, cp[0].Put(seqParcel('c', i, 1000), nil, nil))
		}
		(&seqReader{stream: 'c'}).readUntil(t, bp[0], 100)
		p, q, err := client.OpenPortals()
		require.NoError(t, err)
		require.NoError(t, cp[0].Put(nil, []ipcz.Object{q}, nil))
		_, objects := waitMessage(t, bp[0])
		q = objects[0].(*ipcz.Portal)
		pingPong(t, p, q, "moved")
		require.NoError(t, client.Close())
		require.NoError(t, broker.Close())
		waitGoroutines(t, goroutines)
		eventuallyf(t, func() bool {
			return d.liveTotal() == 0 && d.runningGoroutines() == 0 && len(d.leakedFDs(t, fds)) == 0
		}, func() string {
			return fmt.Sprintf("driver objects left: %+v, %d driver goroutines, descriptors:\n%s",
				d.liveObjects(), d.runningGoroutines(), leakcheck.DescribeFDs(d.leakedFDs(t, fds)))
		})
	})
}
