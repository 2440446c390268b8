package ipcz_test

import (
	"sync"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/stretchr/testify/require"
)

// remoteRoute returns the two ends of a route between two nodes: the
// broker's initial portal to B and B's, or (direct) a route between B
// and C that was moved and bypassed into a direct link.
func remoteRoute(t *testing.T, net *mnNet, direct bool) (p, q *ipcz.Portal) {
	t.Helper()
	if !direct {
		return net.ch(0, 1), net.ch(1, 0)
	}
	net.ch(1, 2)
	p, q, err := net.nodes[1].OpenPortals()
	require.NoError(t, err)
	q = net.send(1, 2, q)
	net.requireNoProxiesEventually()
	return p, q
}

// forEachRemoteRoute runs f for both kinds of remoteRoute.
func forEachRemoteRoute(t *testing.T, f func(t *testing.T, net *mnNet, p, q *ipcz.Portal)) {
	for _, direct := range []bool{false, true} {
		name := "initial portals"
		if direct {
			name = "moved and bypassed"
		}
		t.Run(name, func(t *testing.T) {
			forEachDriver(t, func(t *testing.T, d *mnDriver) {
				net := newMNNet(t, d, 2)
				p, q := remoteRoute(t, net, direct)
				f(t, net, p, q)
			})
		})
	}
}

// TestPutLimitsAgainstRemotePeer: the remote counts of a portal whose peer
// is on another node are what that node has not consumed yet, and a put
// with limits fails with ResourceExhausted until the other node gets.
func TestPutLimitsAgainstRemotePeer(t *testing.T) {
	forEachRemoteRoute(t, func(t *testing.T, net *mnNet, p, q *ipcz.Portal) {
		limits := &ipcz.PutLimits{MaxQueuedParcels: 3, MaxQueuedBytes: 1000}
		for i := range uint64(3) {
			require.NoError(t, p.Put(seqParcel('p', i, 10), nil, limits))
		}
		s := statusOfPortal(t, p)
		require.Equal(t, 3, s.NumRemoteParcels)
		require.Equal(t, 30, s.NumRemoteBytes)
		require.Equal(t, ipcz.ResourceExhausted, p.Put(seqParcel('p', 3, 10), nil, limits))
		waitLocalParcels(t, q, 3)
		// Still exhausted: nothing was consumed.
		require.Equal(t, ipcz.ResourceExhausted, p.Put(seqParcel('p', 3, 10), nil, limits))
		require.Equal(t, 3, statusOfPortal(t, p).NumRemoteParcels)

		r := &seqReader{stream: 'p'}
		r.readN(t, q, 1)
		eventually(t, "the remote count to drop", func() bool {
			return statusOfPortal(t, p).NumRemoteParcels == 2
		})
		require.Equal(t, 20, statusOfPortal(t, p).NumRemoteBytes)
		require.NoError(t, p.Put(seqParcel('p', 3, 10), nil, limits))
		require.Equal(t, ipcz.ResourceExhausted, p.Put(seqParcel('p', 4, 10), nil, limits))

		// A byte limit.
		bytes := &ipcz.PutLimits{MaxQueuedParcels: 100, MaxQueuedBytes: 45}
		require.NoError(t, p.Put(seqParcel('p', 4, 15), nil, bytes))
		require.Equal(t, 45, statusOfPortal(t, p).NumRemoteBytes)
		require.Equal(t, ipcz.ResourceExhausted, p.Put(seqParcel('p', 5, 9), nil, bytes))
		_, err := p.BeginPut(9, 0, bytes)
		require.Equal(t, ipcz.ResourceExhausted, err)
		r.readN(t, q, 2)
		eventually(t, "the remote bytes to drop", func() bool {
			return statusOfPortal(t, p).NumRemoteBytes == 25
		})
		require.Equal(t, 2, statusOfPortal(t, p).NumRemoteParcels)
		buf, err := p.BeginPut(30, ipcz.BeginPutAllowPartial, bytes)
		require.NoError(t, err)
		require.Len(t, buf, 20)
		copy(buf, seqParcel('p', 5, 20))
		require.NoError(t, p.EndPut(20, nil, 0))
		require.Equal(t, 45, statusOfPortal(t, p).NumRemoteBytes)

		r.readUntil(t, q, 6)
		eventually(t, "an empty remote queue", func() bool {
			s := statusOfPortal(t, p)
			return s.NumRemoteParcels == 0 && s.NumRemoteBytes == 0
		})
		// The other direction too.
		require.NoError(t, q.Put(seqParcel('q', 0, 9), nil, &ipcz.PutLimits{MaxQueuedParcels: 1, MaxQueuedBytes: 9}))
		require.Equal(t, ipcz.ResourceExhausted, q.Put(seqParcel('q', 1, 9), nil, &ipcz.PutLimits{MaxQueuedParcels: 2, MaxQueuedBytes: 9}))
		require.Equal(t, ipcz.PortalStatus{NumRemoteParcels: 1, NumRemoteBytes: 9}, statusOfPortal(t, q))
	})
}

// TestRemoteTrapsFedByPeerGets: CONSUMED_REMOTE_PARCEL,
// BELOW_MAX_REMOTE_PARCELS and BELOW_MAX_REMOTE_BYTES traps on one node
// fire when, and only when, the other node's gets bring the remote queue
// low enough.
func TestRemoteTrapsFedByPeerGets(t *testing.T) {
	forEachRemoteRoute(t, func(t *testing.T, net *mnNet, p, q *ipcz.Portal) {
		for i := range uint64(4) {
			require.NoError(t, p.Put(seqParcel('p', i, 10), nil, nil))
		}
		waitLocalParcels(t, q, 4)

		consumed := trapEvents(t, p, ipcz.TrapConditions{Flags: ipcz.TrapConsumedRemoteParcel})
		belowParcels := trapEvents(t, p, ipcz.TrapConditions{Flags: ipcz.TrapBelowMaxRemoteParcels, MaxRemoteParcels: 3})
		belowBytes := trapEvents(t, p, ipcz.TrapConditions{Flags: ipcz.TrapBelowMaxRemoteBytes, MaxRemoteBytes: 20})
		requireNoTrap(t, consumed)

		r := &seqReader{stream: 'p'}
		r.readN(t, q, 1)
		e := waitTrap(t, consumed)
		require.Equal(t, ipcz.TrapConsumedRemoteParcel, e.ConditionFlags)
		require.Equal(t, 3, e.Status.NumRemoteParcels)
		require.Equal(t, 30, e.Status.NumRemoteBytes)
		requireNoTrap(t, belowParcels)

		r.readN(t, q, 1)
		e = waitTrap(t, belowParcels)
		require.Equal(t, ipcz.TrapBelowMaxRemoteParcels, e.ConditionFlags)
		require.Equal(t, 2, e.Status.NumRemoteParcels)
		require.Equal(t, 20, e.Status.NumRemoteBytes)
		requireNoTrap(t, belowBytes)

		r.readN(t, q, 1)
		e = waitTrap(t, belowBytes)
		require.Equal(t, ipcz.TrapBelowMaxRemoteBytes, e.ConditionFlags)
		require.Equal(t, 1, e.Status.NumRemoteParcels)
		require.Equal(t, 10, e.Status.NumRemoteBytes)

		// Level conditions that already hold refuse the trap.
		c := ipcz.TrapConditions{Flags: ipcz.TrapBelowMaxRemoteParcels, MaxRemoteParcels: 2}
		flags, status, err := p.Trap(&c, func(*ipcz.TrapEvent) {}, 0)
		require.Equal(t, ipcz.FailedPrecondition, err)
		require.Equal(t, ipcz.TrapBelowMaxRemoteParcels, flags)
		require.Equal(t, 1, status.NumRemoteParcels)

		// A partial get of the last parcel consumes bytes but no parcel.
		consumed = trapEvents(t, p, ipcz.TrapConditions{Flags: ipcz.TrapConsumedRemoteParcel})
		belowBytes = trapEvents(t, p, ipcz.TrapConditions{Flags: ipcz.TrapBelowMaxRemoteBytes, MaxRemoteBytes: 8})
		buf := make([]byte, 4)
		n, _, err := q.Get(ipcz.GetPartial, buf, nil)
		require.NoError(t, err)
		require.Equal(t, 4, n)
		e = waitTrap(t, belowBytes)
		require.Equal(t, ipcz.TrapBelowMaxRemoteBytes, e.ConditionFlags)
		require.Equal(t, 1, e.Status.NumRemoteParcels)
		require.Equal(t, 6, e.Status.NumRemoteBytes)
		requireNoTrap(t, consumed)
		n, _, err = q.Get(ipcz.GetPartial, buf, nil)
		require.NoError(t, err)
		require.Equal(t, 4, n)
		requireNoTrap(t, consumed)
		n, _, err = q.Get(ipcz.GetPartial, buf, nil)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		e = waitTrap(t, consumed)
		require.Equal(t, ipcz.TrapConsumedRemoteParcel, e.ConditionFlags)
		require.Equal(t, ipcz.PortalStatus{}, e.Status)
	})
}

// TestRemoteTrapsAfterPeerMoved: p puts 3 parcels, its peer moves from B
// to C through the broker, and C gets them: p's BELOW_MAX_REMOTE_PARCELS
// trap installed before the move fires, and the remote counts come back
// to zero once the route is direct.
func TestRemoteTrapsAfterPeerMoved(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 2)
		const a, b, c = 0, 1, 2
		p, q, err := net.nodes[b].OpenPortals()
		require.NoError(t, err)
		for i := range uint64(3) {
			require.NoError(t, p.Put(seqParcel('p', i, 10), nil, nil))
		}
		below := trapEvents(t, p, ipcz.TrapConditions{Flags: ipcz.TrapBelowMaxRemoteParcels, MaxRemoteParcels: 1})
		q = net.send(b, a, q)
		q = net.send(a, c, q)
		(&seqReader{stream: 'p'}).readUntil(t, q, 3)
		e := waitTrap(t, below)
		require.Equal(t, ipcz.TrapBelowMaxRemoteParcels, e.ConditionFlags)
		net.requireNoProxiesEventually()
		eventually(t, "an empty remote queue", func() bool {
			return statusOfPortal(t, p) == ipcz.PortalStatus{}
		})
		limits := &ipcz.PutLimits{MaxQueuedParcels: 2, MaxQueuedBytes: 100}
		require.NoError(t, p.Put(seqParcel('p', 3, 10), nil, limits))
		require.NoError(t, p.Put(seqParcel('p', 4, 10), nil, limits))
		require.Equal(t, ipcz.ResourceExhausted, p.Put(seqParcel('p', 5, 10), nil, limits))
	})
}

// TestPutLimitsHoldWhilePeerMoves: while q is moved around four nodes and
// never reads, p keeps putting with a limit of 5 queued parcels. Exactly
// 5 puts succeed: a route change never makes the remote queue look
// shorter than it is.
func TestPutLimitsHoldWhilePeerMoves(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 3)
		for i := 1; i <= 3; i++ {
			for j := i + 1; j <= 3; j++ {
				net.ch(i, j)
			}
		}
		p, q, err := net.nodes[1].OpenPortals()
		require.NoError(t, err)
		limits := &ipcz.PutLimits{MaxQueuedParcels: 5, MaxQueuedBytes: 1 << 20}
		var accepted uint64
		tryPuts := func() {
			for range 10 {
				err := p.Put(seqParcel('p', accepted, 10), nil, limits)
				if err == nil {
					accepted++
					continue
				}
				require.Equal(t, ipcz.ResourceExhausted, err)
			}
		}
		at := 1
		for i := range 30 {
			next := []int{0, 2, 3, 1}[i%4]
			q = net.send(at, next, q)
			at = next
			tryPuts()
		}
		net.requireNoProxiesEventually()
		tryPuts()
		require.Equal(t, uint64(5), accepted)
		waitLocalParcels(t, q, 5)
		(&seqReader{stream: 'p'}).readN(t, q, 5)
	})
}

// msgBypassPeerWithLink is the node message (its type is the second byte
// of every frame) with which a proxy hands its inward peer a new link to
// the proxy's outward peer on the proxy's own node.
const msgBypassPeerWithLink = 34

// TestRemoteCountsWhileLinkIsReplaced: p on B has 3 parcels queued for
// q, the limit. q moves to C, and B holds the proxy's bypass at the moment
// p's outward link is being replaced (the proxy is sending C the new
// link). Meanwhile p's remote counts must not drop and a put with limits
// must still fail.
func TestRemoteCountsWhileLinkIsReplaced(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 2)
		const b, c = 1, 2
		net.ch(b, c)
		p, q, err := net.nodes[b].OpenPortals()
		require.NoError(t, err)
		limits := &ipcz.PutLimits{MaxQueuedParcels: 3, MaxQueuedBytes: 1000}
		for i := range uint64(3) {
			require.NoError(t, p.Put(seqParcel('p', i, 10), nil, limits))
		}

		entered, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		net.drv[b].setTransmitHook(func(_ ipcz.DriverHandle, data []byte) {
			if len(data) > 1 && data[1] == msgBypassPeerWithLink {
				once.Do(func() {
					close(entered)
					<-release
				})
			}
		})
		defer net.drv[b].setTransmitHook(nil)
		sent := make(chan error, 1)
		go func() { sent <- net.ch(b, c).Put([]byte("q"), []ipcz.Object{q}, nil) }()
		select {
		case <-entered:
		case <-time.After(5 * time.Second):
			close(release)
			t.Fatal("the proxy on B never offered C a bypass link")
		}
		s := statusOfPortal(t, p)
		putErr := p.Put(seqParcel('p', 3, 10), nil, limits)
		close(release)
		require.NoError(t, <-sent)
		require.Equal(t, 3, s.NumRemoteParcels, "remote parcels while the link is replaced")
		require.Equal(t, 30, s.NumRemoteBytes)
		require.Equal(t, ipcz.ResourceExhausted, putErr)

		q = recvPortal(t, net.ch(c, b), "q")
		(&seqReader{stream: 'p'}).readN(t, q, 3)
		eventually(t, "an empty remote queue", func() bool {
			return statusOfPortal(t, p).NumRemoteParcels == 0
		})
	})
}

// msgBypassPeer is the node message with which a proxy asks its inward
// peer to link directly to the proxy's outward peer on a third node.
const msgBypassPeer = 30

// holdBypassPeer makes node i hold its first BypassPeer message until
// release is closed; entered is closed when it is held.
func holdBypassPeer(net *mnNet, i int) (entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	net.drv[i].setTransmitHook(func(_ ipcz.DriverHandle, data []byte) {
		if len(data) > 1 && data[1] == msgBypassPeer {
			once.Do(func() {
				close(entered)
				<-release
			})
		}
	})
	net.t.Cleanup(func() {
		net.drv[i].setTransmitHook(nil)
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return entered, release
}

// waitClosed waits for c to be closed.
func waitClosed(t *testing.T, c chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestRemoteCountsWhenProxyTakesBypassLink: p on B has 5 parcels queued
// for q on A, the limit. q moves on to C and then to D before the proxy on
// A has been bypassed, so the router on C is itself a proxy (it forwarded
// the 5 parcels to D) when it takes the direct link to p. That proxy must
// not publish what it forwarded as consumed: p's remote queue still holds
// 5 parcels and a put with limits fails.
func TestRemoteCountsWhenProxyTakesBypassLink(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 3)
		const a, b, c, dd = 0, 1, 2, 3
		net.ch(b, c)
		net.ch(c, dd)
		p, q, err := net.nodes[b].OpenPortals()
		require.NoError(t, err)
		q = net.send(b, a, q)
		net.requireNoProxiesEventually()
		limits := &ipcz.PutLimits{MaxQueuedParcels: 5, MaxQueuedBytes: 1000}
		for i := range uint64(5) {
			require.NoError(t, p.Put(seqParcel('p', i, 10), nil, limits))
		}
		waitLocalParcels(t, q, 5)

		// The held messages block whoever sends them (in Sync mode, the
		// put that moves q), so the move is made on another goroutine.
		enteredA, releaseA := holdBypassPeer(net, a)
		sent := make(chan error, 1)
		moving, toC := q, net.ch(a, c)
		go func() { sent <- toC.Put([]byte("q"), []ipcz.Object{moving}, nil) }()
		q = recvPortal(t, net.ch(c, a), "q")
		waitClosed(t, enteredA, "the proxy on A to ask C for a bypass")
		waitLocalParcels(t, q, 5)
		q = net.send(c, dd, q)
		waitLocalParcels(t, q, 5)
		// C is a proxy now. Once it has taken the link to p it asks D to
		// bypass it in turn, which C holds: p's link to C is then in use.
		enteredC, releaseC := holdBypassPeer(net, c)
		close(releaseA)
		waitClosed(t, enteredC, "the proxy on C to ask D for a bypass")
		require.Equal(t, ipcz.PortalStatus{NumRemoteParcels: 5, NumRemoteBytes: 50}, statusOfPortal(t, p))
		require.Equal(t, ipcz.ResourceExhausted, p.Put(seqParcel('p', 5, 10), nil, limits))
		close(releaseC)
		require.NoError(t, <-sent)

		net.requireNoProxiesEventually()
		require.Equal(t, ipcz.ResourceExhausted, p.Put(seqParcel('p', 5, 10), nil, limits))
		(&seqReader{stream: 'p'}).readN(t, q, 5)
		eventually(t, "an empty remote queue", func() bool {
			return statusOfPortal(t, p) == ipcz.PortalStatus{}
		})
	})
}
