package ipcz_test

import (
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/stretchr/testify/require"
)

// TestRouteThroughBrokerDirectWithTrafficInFlight extends
// TestRouteThroughBrokerBecomesDirect: B makes a pair (p, q) and sends q to
// the broker A, which sends it on to C, while parcels flow both ways the
// whole time. Every parcel arrives once and in order, the route ends up
// direct (no proxy anywhere, B and C linked), and then the broker carries
// none of its parcels.
func TestRouteThroughBrokerDirectWithTrafficInFlight(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 2)
		const b, c = 1, 2
		const perPhase = 300
		p, q, err := net.nodes[b].OpenPortals()
		require.NoError(t, err)
		toP := &seqReader{stream: 'q'}
		toQ := &seqReader{stream: 'p'}
		var pSent, qSent uint64
		putP := func(n int) {
			for range n {
				require.NoError(t, p.Put(seqParcel('p', pSent, 16), nil, nil))
				pSent++
			}
		}
		putQ := func(n int) {
			for range n {
				require.NoError(t, q.Put(seqParcel('q', qSent, 16), nil, nil))
				qSent++
			}
		}
		putP(perPhase)
		putQ(perPhase)

		require.NoError(t, net.ch(b, 0).Put([]byte("q"), []ipcz.Object{q}, nil))
		putP(perPhase) // while q is on its way to A
		q = recvPortal(t, net.ch(0, b), "q")
		putQ(perPhase)
		toQ.drain(t, q)
		require.NoError(t, net.ch(0, c).Put([]byte("q"), []ipcz.Object{q}, nil))
		putP(perPhase) // while q is on its way to C
		q = recvPortal(t, net.ch(c, 0), "q")
		putQ(perPhase)

		toQ.readUntil(t, q, pSent)
		toP.readUntil(t, p, qSent)
		require.Equal(t, uint64(3*perPhase), pSent)
		require.Equal(t, uint64(3*perPhase), qSent)

		net.requireNoProxiesEventually()
		require.Contains(t, net.nodes[b].Stats().LinkedNodes, net.nodes[c].Name())
		require.Contains(t, net.nodes[c].Stats().LinkedNodes, net.nodes[b].Name())

		before := net.broker().Stats()
		putP(100)
		putQ(100)
		toQ.readUntil(t, q, pSent)
		toP.readUntil(t, p, qSent)
		after := net.broker().Stats()
		require.Equal(t, before.ParcelsSent, after.ParcelsSent, "the broker forwarded parcels")
		require.Equal(t, before.ParcelsReceived, after.ParcelsReceived)

		// Nothing extra ever arrives.
		require.Zero(t, toQ.drain(t, q))
		require.Zero(t, toP.drain(t, p))
	})
}

// TestPortalMovedAmongFourNodes: q is moved 100 times among four nodes
// (the broker A and B, C, D, over their initial portals and direct
// routes) while its peer p on B keeps putting 10,000 parcels (2,000 under
// the race detector). At every stop q reads what has arrived and puts one
// parcel back. Every parcel arrives exactly once and in order in both
// directions, and in the end every proxy is gone on every node.
func TestPortalMovedAmongFourNodes(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 3)
		for i := 1; i <= 3; i++ {
			for j := i + 1; j <= 3; j++ {
				net.ch(i, j)
			}
		}
		const moves = 100
		// Under the race detector, parcels crossing a long chain of
		// proxies (moves outpace bypasses) cost too much; put fewer.
		total := 10000
		if raceOn {
			total = 2000
		}
		p, q, err := net.nodes[1].OpenPortals()
		require.NoError(t, err)

		var wg sync.WaitGroup
		putErr := make(chan error, 1)
		wg.Go(func() {
			for i := range uint64(total) {
				if err := p.Put(seqParcel('p', i, 24), nil, nil); err != nil {
					putErr <- fmt.Errorf("put %d: %w", i, err)
					return
				}
			}
		})

		rng := rand.New(rand.NewSource(1))
		toQ := &seqReader{stream: 'p'}
		toP := &seqReader{stream: 'q'}
		var qSent uint64
		at := 1
		for range moves {
			next := rng.Intn(3)
			if next >= at {
				next++
			}
			q = net.send(at, next, q)
			at = next
			toQ.drain(t, q)
			require.NoError(t, q.Put(seqParcel('q', qSent, 24), nil, nil))
			qSent++
			toP.drain(t, p)
		}
		wg.Wait()
		select {
		case err := <-putErr:
			require.NoError(t, err)
		default:
		}
		toQ.readUntil(t, q, uint64(total))
		toP.readUntil(t, p, qSent)
		require.Equal(t, uint64(moves), qSent)

		net.requireNoProxiesEventually()
		pingPong(t, p, q, "after the moves")
		require.Zero(t, statusOfPortal(t, p).NumLocalParcels)
		require.Zero(t, statusOfPortal(t, q).NumLocalParcels)
	})
}

// TestBothEndsMovedAtOnce: p on B and q on C are sent at the same time in
// opposite directions (p to C, q to B), ten times over, with parcels
// queued both ways before each swap. Everything arrives once and in
// order, and the route settles with no proxy.
func TestBothEndsMovedAtOnce(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 2)
		const b, c = 1, 2
		net.ch(b, c)
		p, q0, err := net.nodes[b].OpenPortals()
		require.NoError(t, err)
		q := net.send(b, c, q0)
		net.requireNoProxiesEventually()

		toP := &seqReader{stream: 'q'}
		toQ := &seqReader{stream: 'p'}
		var pSent, qSent uint64
		pAt, qAt := b, c
		for round := range 10 {
			for range 50 {
				require.NoError(t, p.Put(seqParcel('p', pSent, 16), nil, nil))
				pSent++
				require.NoError(t, q.Put(seqParcel('q', qSent, 16), nil, nil))
				qSent++
			}
			// Both puts happen before either end is received.
			require.NoError(t, net.ch(pAt, qAt).Put([]byte("p"), []ipcz.Object{p}, nil))
			require.NoError(t, net.ch(qAt, pAt).Put([]byte("q"), []ipcz.Object{q}, nil))
			p = recvPortal(t, net.ch(qAt, pAt), "p")
			q = recvPortal(t, net.ch(pAt, qAt), "q")
			pAt, qAt = qAt, pAt
			if round%2 == 0 {
				toQ.drain(t, q)
				toP.drain(t, p)
			}
		}
		toQ.readUntil(t, q, pSent)
		toP.readUntil(t, p, qSent)
		net.requireNoProxiesEventually()
		pingPong(t, p, q, "after the swaps")
	})
}

// TestBothEndsMovedAtOnceToOtherNodes: the two ends of a route between B
// and C are sent at the same moment to D and to the broker A.
func TestBothEndsMovedAtOnceToOtherNodes(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 3)
		const a, b, c, dd = 0, 1, 2, 3
		net.ch(b, c)
		net.ch(b, dd)
		net.ch(c, dd)
		p, q0, err := net.nodes[b].OpenPortals()
		require.NoError(t, err)
		q := net.send(b, c, q0)
		for i := range uint64(100) {
			require.NoError(t, p.Put(seqParcel('p', i, 16), nil, nil))
			require.NoError(t, q.Put(seqParcel('q', i, 16), nil, nil))
		}
		require.NoError(t, net.ch(b, dd).Put([]byte("p"), []ipcz.Object{p}, nil))
		require.NoError(t, net.ch(c, a).Put([]byte("q"), []ipcz.Object{q}, nil))
		p = recvPortal(t, net.ch(dd, b), "p")
		q = recvPortal(t, net.ch(a, c), "q")
		(&seqReader{stream: 'p'}).readUntil(t, q, 100)
		(&seqReader{stream: 'q'}).readUntil(t, p, 100)
		net.requireNoProxiesEventually()
		pingPong(t, p, q, "D-A")
		require.Contains(t, net.nodes[dd].Stats().LinkedNodes, net.broker().Name())
	})
}

// TestSendPortalToNodeOfItsPeer: p on B is entangled with q on C, and p is
// sent to C over another route (the B–C channel). On C the two ends are
// local peers: parcels in flight both ways still arrive once and in
// order, the proxy on B goes away, and the route collapses to a local
// link on C (C keeps no remote router for it).
func TestSendPortalToNodeOfItsPeer(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 2)
		const b, c = 1, 2
		net.ch(b, c)
		baseline := net.nodes[c].Stats().RemoteRouters
		p, q0, err := net.nodes[b].OpenPortals()
		require.NoError(t, err)
		q := net.send(b, c, q0)
		net.requireNoProxiesEventually()
		require.Equal(t, baseline+1, net.nodes[c].Stats().RemoteRouters)

		for i := range uint64(50) {
			require.NoError(t, p.Put(seqParcel('p', i, 16), nil, nil))
			require.NoError(t, q.Put(seqParcel('q', i, 16), nil, nil))
		}
		p = net.send(b, c, p)
		for i := uint64(50); i < 100; i++ {
			require.NoError(t, p.Put(seqParcel('p', i, 16), nil, nil))
			require.NoError(t, q.Put(seqParcel('q', i, 16), nil, nil))
		}
		(&seqReader{stream: 'p'}).readUntil(t, q, 100)
		(&seqReader{stream: 'q'}).readUntil(t, p, 100)
		net.requireNoProxiesEventually()
		eventually(t, "a local route on C", func() bool {
			return net.nodes[c].Stats().RemoteRouters == baseline
		})
		pingPong(t, p, q, "local")
		// A local pair: a portal cannot be sent through its own peer.
		x, y, err := net.nodes[c].OpenPortals()
		require.NoError(t, err)
		require.Equal(t, ipcz.InvalidArgument, p.Put(nil, []ipcz.Object{q}, nil))
		require.NoError(t, p.Put(nil, []ipcz.Object{x}, nil))
		x = recvPortal(t, q, "")
		pingPong(t, x, y, "sent locally")
	})
}

// TestSendPortalPairToAnotherNode sends both ends of a pair in one parcel
// from the broker to B; on B they are local peers once the proxies go.
func TestSendPortalPairToAnotherNode(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 1)
		baseline := net.nodes[1].Stats().RemoteRouters
		x, y, err := net.broker().OpenPortals()
		require.NoError(t, err)
		require.NoError(t, x.Put(seqParcel('x', 0, 16), nil, nil))
		require.NoError(t, y.Put(seqParcel('y', 0, 16), nil, nil))
		require.NoError(t, net.ch(0, 1).Put([]byte("pair"), []ipcz.Object{x, y}, nil))
		data, objects := waitMessage(t, net.ch(1, 0))
		require.Equal(t, "pair", string(data))
		require.Len(t, objects, 2)
		x, y = objects[0].(*ipcz.Portal), objects[1].(*ipcz.Portal)
		(&seqReader{stream: 'x'}).readUntil(t, y, 1)
		(&seqReader{stream: 'y'}).readUntil(t, x, 1)
		net.requireNoProxiesEventually()
		eventually(t, "a local route on B", func() bool {
			return net.nodes[1].Stats().RemoteRouters == baseline
		})
		pingPong(t, x, y, "pair")
	})
}

// TestSendPortalThroughItsOwnRoute: p on B and q on C are entangled; q
// goes to the broker A and on to B while the route cannot settle yet (B
// holds back what C sends it, so p's old link to C cannot finish
// decaying), so p and q are both on B with the route still running
// through a proxy on A. Putting p into q is then accepted (ipcz cannot
// see the cycle) and sends p along its own route. Whatever ipcz does with
// such a route, it must not spin: the nodes go quiet (the count of
// parcels received stops growing) and the route ends.
func TestSendPortalThroughItsOwnRoute(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 2)
		const a, b, c = 0, 1, 2
		net.ch(b, c)
		p, q0, err := net.nodes[b].OpenPortals()
		require.NoError(t, err)
		q := net.send(b, c, q0)
		net.requireNoProxiesEventually()

		net.gate(b, c).pause()
		require.NoError(t, q.Put([]byte("held"), nil, nil))
		q = net.send(c, a, q)
		q = net.send(a, b, q)
		require.NoError(t, q.Put([]byte("self"), []ipcz.Object{p}, nil))
		_, err = p.QueryStatus()
		require.Equal(t, ipcz.InvalidArgument, err, "p was sent")

		quiet := func() bool {
			var before, after uint64
			for _, n := range net.nodes {
				before += n.Stats().ParcelsReceived
			}
			time.Sleep(50 * time.Millisecond)
			for _, n := range net.nodes {
				after += n.Stats().ParcelsReceived
			}
			return after == before
		}
		eventually(t, "the nodes to go quiet", quiet)
		net.gate(b, c).resume()
		eventually(t, "the nodes to go quiet", quiet)
		require.NoError(t, q.Close())
		pingPong(t, net.ch(b, c), net.ch(c, b), "B-C still works")
	})
}

// TestMergedPortalsWithPeersOnTwoOtherNodes: on node M (the broker, or
// the non-broker D) portals b and c are merged, b's peer being on B and
// c's on C. B and C can then talk, in order, both ways, including parcels
// put before the merge.
func TestMergedPortalsWithPeersOnTwoOtherNodes(t *testing.T) {
	for _, m := range []int{0, 3} {
		t.Run("on "+nodeLetter(m), func(t *testing.T) {
			forEachDriver(t, func(t *testing.T, d *mnDriver) {
				net := newMNNet(t, d, 3)
				const b, c = 1, 2
				if m != 0 {
					net.ch(m, b)
					net.ch(m, c)
				}
				bLocal, bRemote, err := net.nodes[m].OpenPortals()
				require.NoError(t, err)
				cLocal, cRemote, err := net.nodes[m].OpenPortals()
				require.NoError(t, err)
				bRemote = net.send(m, b, bRemote)
				cRemote = net.send(m, c, cRemote)
				for i := range uint64(20) {
					require.NoError(t, bRemote.Put(seqParcel('b', i, 16), nil, nil))
					require.NoError(t, cRemote.Put(seqParcel('c', i, 16), nil, nil))
				}
				require.NoError(t, ipcz.MergePortals(bLocal, cLocal))
				for i := uint64(20); i < 500; i++ {
					require.NoError(t, bRemote.Put(seqParcel('b', i, 16), nil, nil))
					require.NoError(t, cRemote.Put(seqParcel('c', i, 16), nil, nil))
				}
				(&seqReader{stream: 'b'}).readUntil(t, cRemote, 500)
				(&seqReader{stream: 'c'}).readUntil(t, bRemote, 500)
				pingPong(t, bRemote, cRemote, "merged")

				require.NoError(t, bRemote.Close())
				s := waitStatus(t, cRemote, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
				require.Zero(t, s.NumLocalParcels)
			})
		})
	}
}

// TestMergedRouteAcrossNodesIsBypassed: once b and c are merged on the
// broker, the bridge is bypassed and B and C end up linked directly, with
// nothing left on the broker for the route.
func TestMergedRouteAcrossNodesIsBypassed(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 2)
		const b, c = 1, 2
		baseline := net.broker().Stats().RemoteRouters
		bLocal, bRemote, err := net.broker().OpenPortals()
		require.NoError(t, err)
		cLocal, cRemote, err := net.broker().OpenPortals()
		require.NoError(t, err)
		bRemote = net.send(0, b, bRemote)
		cRemote = net.send(0, c, cRemote)
		require.NoError(t, ipcz.MergePortals(bLocal, cLocal))
		pingPong(t, bRemote, cRemote, "merged")
		eventually(t, "the bridge bypassed", func() bool {
			return net.broker().Stats().RemoteRouters == baseline
		})
		require.Contains(t, net.nodes[b].Stats().LinkedNodes, net.nodes[c].Name())
		before := net.broker().Stats().ParcelsReceived
		pingPong(t, bRemote, cRemote, "direct")
		require.Equal(t, before, net.broker().Stats().ParcelsReceived)
	})
}
