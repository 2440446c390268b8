package ipcz

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// edgeLinks returns three distinct links for routeEdge tests.
func edgeLinks() (routerLink, routerLink, routerLink) {
	l1, _ := newLocalLinkPair(linkCentral, newRouter(), newRouter())
	l2, _ := newLocalLinkPair(linkCentral, newRouter(), newRouter())
	l3, _ := newLocalLinkPair(linkBridge, newRouter(), newRouter())
	return l1, l2, l3
}

func TestRouteEdgeStable(t *testing.T) {
	var e routeEdge
	require.True(t, e.isStable())
	require.Nil(t, e.linkForParcel(0), "no link yet: wait")
	require.Nil(t, e.tryFinishDecay(100, 100))

	l1, _, _ := edgeLinks()
	e.primary = l1
	require.True(t, e.isStable())
	for _, n := range []SequenceNumber{0, 1, 1 << 40, ^SequenceNumber(0)} {
		require.Equal(t, l1, e.linkForParcel(n))
	}
	require.Nil(t, e.tryFinishDecay(0, 0))
	require.Equal(t, l1, e.primary)
}

func TestRouteEdgeDecayWithoutLengths(t *testing.T) {
	l1, l2, _ := edgeLinks()
	e := routeEdge{primary: l1}
	e.beginDecay(l2)
	require.False(t, e.isStable())
	require.Equal(t, l2, e.primary)
	require.Equal(t, l1, e.decaying)
	// Until the length to the decaying link is known, every parcel may
	// still belong to it and keeps using it (as upstream's
	// ShouldTransmitOnDecayingLink).
	for _, n := range []SequenceNumber{0, 5, 1 << 40} {
		require.Equal(t, l1, e.linkForParcel(n), "n=%d", n)
	}
	require.Nil(t, e.tryFinishDecay(1<<40, 1<<40), "no lengths yet")
}

func TestRouteEdgeDecayWithLengthToDecaying(t *testing.T) {
	l1, l2, _ := edgeLinks()
	e := routeEdge{primary: l1}
	e.beginDecay(l2)
	e.lengthToDecaying, e.hasLengthToDecaying = 5, true
	for n := range SequenceNumber(5) {
		require.Equal(t, l1, e.linkForParcel(n), "n=%d", n)
	}
	for _, n := range []SequenceNumber{5, 6, 1 << 40} {
		require.Equal(t, l2, e.linkForParcel(n), "n=%d", n)
	}
	// A zero length: nothing more goes over the decaying link.
	e2 := routeEdge{primary: l1}
	e2.beginDecay(l2)
	e2.lengthToDecaying, e2.hasLengthToDecaying = 0, true
	require.Equal(t, l2, e2.linkForParcel(0))
}

func TestRouteEdgeDecayToNoLinkYet(t *testing.T) {
	l1, _, _ := edgeLinks()
	e := routeEdge{primary: l1}
	e.beginDecay(nil)
	e.lengthToDecaying, e.hasLengthToDecaying = 2, true
	require.Equal(t, l1, e.linkForParcel(1))
	require.Nil(t, e.linkForParcel(2), "the new link is not there yet: wait")
}

func TestRouteEdgeTryFinishDecay(t *testing.T) {
	cases := []struct {
		name           string
		to, from       *SequenceNumber
		sent, received SequenceNumber
		finish         bool
	}{
		{"no lengths", nil, nil, 100, 100, false},
		{"only length to", seqPtr(3), nil, 100, 100, false},
		{"only length from", nil, seqPtr(4), 100, 100, false},
		{"nothing passed", seqPtr(3), seqPtr(4), 0, 0, false},
		{"only sent passed", seqPtr(3), seqPtr(4), 3, 3, false},
		{"only received passed", seqPtr(3), seqPtr(4), 2, 4, false},
		{"both exactly passed", seqPtr(3), seqPtr(4), 3, 4, true},
		{"both well passed", seqPtr(3), seqPtr(4), 10, 10, true},
		{"zero lengths", seqPtr(0), seqPtr(0), 0, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l1, l2, _ := edgeLinks()
			e := routeEdge{primary: l1}
			e.beginDecay(l2)
			if c.to != nil {
				e.lengthToDecaying, e.hasLengthToDecaying = *c.to, true
			}
			if c.from != nil {
				e.lengthFromDecaying, e.hasLengthFromDecaying = *c.from, true
			}
			got := e.tryFinishDecay(c.sent, c.received)
			if !c.finish {
				require.Nil(t, got)
				require.False(t, e.isStable())
				require.Equal(t, l1, e.decaying)
				return
			}
			require.Equal(t, l1, got)
			require.True(t, e.isStable())
			require.Nil(t, e.decaying)
			require.False(t, e.hasLengthToDecaying)
			require.False(t, e.hasLengthFromDecaying)
			require.Equal(t, l2, e.primary)
			require.Equal(t, l2, e.linkForParcel(0), "everything uses the new primary")
			require.Nil(t, e.tryFinishDecay(c.sent, c.received), "only once")
		})
	}
}

func TestRouteEdgeSecondDecayStartsWithoutLengths(t *testing.T) {
	l1, l2, l3 := edgeLinks()
	e := routeEdge{primary: l1}
	e.beginDecay(l2)
	e.lengthToDecaying, e.hasLengthToDecaying = 1, true
	e.lengthFromDecaying, e.hasLengthFromDecaying = 1, true
	require.Equal(t, l1, e.tryFinishDecay(1, 1))
	e.beginDecay(l3)
	require.Equal(t, l2, e.decaying)
	require.Equal(t, l3, e.primary)
	require.False(t, e.hasLengthToDecaying)
	require.False(t, e.hasLengthFromDecaying)
	require.Nil(t, e.tryFinishDecay(100, 100))
}

func seqPtr(n SequenceNumber) *SequenceNumber { return &n }

// ---------------------------------------------------------------------------
// Local links and their shared state.
// ---------------------------------------------------------------------------

func TestLinkStateLayout(t *testing.T) {
	require.EqualValues(t, 64, unsafe.Sizeof(linkState{}), "one cache line, same layout in shared memory")
	require.Zero(t, unsafe.Offsetof(linkState{}.queue)%8, "64-bit atomics are aligned")
}

func TestLinkStateConsumptionAndMonitoring(t *testing.T) {
	var s linkState
	p, b := s.peerConsumed(sideA)
	require.Zero(t, p)
	require.Zero(t, b)
	// Nobody monitors: publishing notifies nobody.
	require.False(t, s.publishConsumed(sideB, 1, 10))
	p, b = s.peerConsumed(sideA)
	require.Equal(t, uint64(1), p)
	require.Equal(t, uint64(10), b)
	p, b = s.peerConsumed(sideB)
	require.Zero(t, p, "each side sees the other's counts")
	require.Zero(t, b)

	// A monitors B: B's next publish asks to notify A, once.
	s.monitorPeer(sideA)
	require.False(t, s.publishConsumed(sideA, 5, 5), "A's own publish does not notify A")
	require.True(t, s.publishConsumed(sideB, 2, 20))
	require.False(t, s.publishConsumed(sideB, 3, 30), "the request was cleared")
	p, b = s.peerConsumed(sideA)
	require.Equal(t, uint64(3), p)
	require.Equal(t, uint64(30), b)

	// Both sides monitor each other independently.
	s.monitorPeer(sideA)
	s.monitorPeer(sideB)
	require.True(t, s.publishConsumed(sideA, 6, 6))
	require.False(t, s.publishConsumed(sideA, 7, 7))
	require.True(t, s.publishConsumed(sideB, 4, 40))
}

func TestLocalLinkPair(t *testing.T) {
	r1, r2 := newRouter(), newRouter()
	require.NotEqual(t, r1.id, r2.id)
	la, lb := newLocalLinkPair(linkBridge, r1, r2)
	require.Equal(t, sideA, la.side())
	require.Equal(t, sideB, lb.side())
	require.Equal(t, sideB, sideA.opposite())
	require.Equal(t, sideA, sideB.opposite())
	require.Same(t, r2, la.localPeer())
	require.Same(t, r1, lb.localPeer())
	require.Equal(t, linkBridge, la.linkType())
	require.Same(t, la.state(), lb.state(), "one shared state")

	a, b := newLocalRouterPair()
	require.Equal(t, linkCentral, a.outward.primary.linkType())
	require.Same(t, b, a.outward.primary.localPeer())
	require.Same(t, a, b.outward.primary.localPeer())
	require.NotEqual(t, a.outward.primary.side(), b.outward.primary.side())
}
