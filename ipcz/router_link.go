package ipcz

import "sync/atomic"

// linkSide names the two ends of a link. A link's creator decides which end
// is which; the two routers always hold opposite sides.
type linkSide uint8

const (
	sideA linkSide = 0
	sideB linkSide = 1
)

func (s linkSide) opposite() linkSide { return s ^ 1 }

// linkType says what part of a route a link joins.
type linkType uint8

const (
	// linkCentral joins the two halves of a route; a settled route is two
	// terminal routers on one central link.
	linkCentral linkType = iota
	// linkBridge joins two routers merged by MergePortals. Parcels that
	// arrive over a bridge continue outward.
	linkBridge
	// linkPeripheralInward is a proxy's link toward the router its portal
	// moved to; parcels arriving over it continue outward.
	linkPeripheralInward
	// linkPeripheralOutward is that moved router's link back toward the
	// proxy; parcels arriving over it are inbound.
	linkPeripheralOutward
)

// carriesInbound reports whether parcels arriving over a link of this
// type, from the receiver's point of view, are inbound (from the outward
// edge) rather than to be forwarded outward.
func (t linkType) carriesInbound() bool {
	return t == linkCentral || t == linkPeripheralOutward
}

// linkState is the state two routers share about the link between them. It
// is exactly 64 bytes and holds only atomics, so the same layout serves a
// local link (on the heap) and a remote link (in the shared memory of a
// node pair, where the other node may write anything at any time: every
// value read from it is advisory and checked before use).
type linkState struct {
	// refs counts the sides still using a state in shared memory; the side
	// that drops it to zero frees the block.
	refs atomic.Int32
	// status holds the bits that coordinate proxy bypass (stable,
	// waiting, locked, per side).
	status atomic.Uint32
	// monitor has bit (1 << side) set while that side wants to be told when
	// the other side consumes parcels (for remote-queue traps). The
	// consumer clears the bit when it notifies.
	monitor atomic.Uint32
	_       uint32
	// allowedBypassSource names the node allowed to ask the far side to
	// accept a bypass link.
	allowedBypassSource [2]atomic.Uint64
	// queue[side] is what that side has consumed from its inbound queue.
	queue [2]queueState
}

// reset prepares a freshly allocated state: both sides hold it.
func (s *linkState) reset() {
	s.refs.Store(2)
	s.status.Store(0)
	s.monitor.Store(0)
	s.allowedBypassSource[0].Store(0)
	s.allowedBypassSource[1].Store(0)
	for i := range s.queue {
		s.queue[i].consumedParcels.Store(0)
		s.queue[i].consumedBytes.Store(0)
	}
}

// release drops one side's reference and reports whether it was the last.
func (s *linkState) release() bool { return s.refs.Add(-1) == 0 }

// queueState counts what one side of a link has consumed, cumulatively over
// the life of the route end (the counts travel with a router that moves).
type queueState struct {
	consumedParcels atomic.Uint64
	consumedBytes   atomic.Uint64
}

// publishConsumed stores side's consumption counts and reports whether the
// other side asked to hear about it (clearing that request).
func (s *linkState) publishConsumed(side linkSide, parcels, bytes uint64) (notifyPeer bool) {
	s.queue[side].consumedParcels.Store(parcels)
	s.queue[side].consumedBytes.Store(bytes)
	peerBit := uint32(1) << side.opposite()
	for {
		m := s.monitor.Load()
		if m&peerBit == 0 {
			return false
		}
		if s.monitor.CompareAndSwap(m, m&^peerBit) {
			return true
		}
	}
}

// monitorPeer asks the other side to notify side when it next consumes.
func (s *linkState) monitorPeer(side linkSide) {
	s.monitor.Or(uint32(1) << side)
}

// peerConsumed returns what the side opposite to side has consumed.
func (s *linkState) peerConsumed(side linkSide) (parcels, bytes uint64) {
	q := &s.queue[side.opposite()]
	return q.consumedParcels.Load(), q.consumedBytes.Load()
}

// routerLink is how a Router reaches the router at the other end of one of
// its links. A local link calls the other router directly; a remote link
// (on another node) turns each call into a message over the node link.
//
// No method may be called with any router's mutex held: a local link takes
// the other router's mutex, and a remote link calls the driver.
type routerLink interface {
	// linkType is what the link joins.
	linkType() linkType
	// side is the side of the link the holder is on.
	side() linkSide
	// localPeer is the router at the other end if it is on this node.
	localPeer() *Router
	// state is the shared link state, or nil if the link has none (yet).
	state() *linkState
	// acceptParcel hands p to the router at the other end.
	acceptParcel(p *Parcel)
	// acceptRouteClosure tells the other end that no parcel numbered
	// length or above will come over this link.
	acceptRouteClosure(length SequenceNumber)
	// notifyPeerConsumed tells the other end that this side consumed
	// parcels, because it asked (linkState.monitor).
	notifyPeerConsumed()
	// deactivate releases what the link holds on this side once the router
	// no longer uses it.
	deactivate()
	// flushPeer asks the router at the other end to flush: something it
	// was waiting for (stability, a lock) has changed.
	flushPeer()
}

// localLinkPair is the state shared by the two sides of a local link.
type localLinkPair struct {
	typ   linkType     // immutable
	state linkState    // atomics
	ends  [2]*Router   // immutable
	sides [2]localLink // immutable; sides[s] is the link held by ends[s]
}

// localLink is one side's view of a link between two routers on one node.
type localLink struct {
	pair *localLinkPair
	s    linkSide
}

// newLocalLinkPair joins a and b with a link of type typ; a holds side A.
func newLocalLinkPair(typ linkType, a, b *Router) (forA, forB *localLink) {
	p := &localLinkPair{typ: typ, ends: [2]*Router{a, b}}
	p.sides[sideA] = localLink{pair: p, s: sideA}
	p.sides[sideB] = localLink{pair: p, s: sideB}
	return &p.sides[sideA], &p.sides[sideB]
}

func (l *localLink) linkType() linkType  { return l.pair.typ }
func (l *localLink) side() linkSide      { return l.s }
func (l *localLink) localPeer() *Router  { return l.pair.ends[l.s.opposite()] }
func (l *localLink) state() *linkState   { return &l.pair.state }
func (l *localLink) notifyPeerConsumed() { l.localPeer().onPeerConsumed() }

// deactivate does nothing: a local link holds no resource beyond memory.
func (l *localLink) deactivate() {}

func (l *localLink) flushPeer() { l.localPeer().flush() }

func (l *localLink) acceptParcel(p *Parcel) {
	peer := l.localPeer()
	if l.pair.typ.carriesInbound() {
		peer.acceptInboundParcel(p)
	} else {
		peer.acceptOutboundParcel(p)
	}
}

func (l *localLink) acceptRouteClosure(length SequenceNumber) {
	peer := l.localPeer()
	if l.pair.typ.carriesInbound() {
		peer.acceptClosureFromOutward(length)
	} else {
		peer.acceptClosureFromInward(length)
	}
}

// The bits of linkState.status. Each side marks itself stable when it is
// not replacing any of its links; a side may lock the link (to bypass a
// proxy, or to send its closure) only when no one holds it, and for a
// bypass only when both sides are stable. A side that finds the other
// unstable sets its waiting bit, and the other side, on becoming stable,
// clears it and flushes the waiter so it tries again. All changes are
// compare-and-swaps on the one word, so no wake-up is lost.
func stableBit(s linkSide) uint32  { return 1 << s }
func waitingBit(s linkSide) uint32 { return 4 << s }
func lockedBit(s linkSide) uint32  { return 16 << s }

// closedBit marks a lock taken for closure: it keeps bypasses out but not
// the other side's own closure.
func closedBit(s linkSide) uint32 { return 64 << s }

const lockedBits = 16 | 32

// markStable sets side's stable bit and reports whether the other side
// was waiting for it (clearing that bit).
func (s *linkState) markStable(side linkSide) (otherWaiting bool) {
	for {
		old := s.status.Load()
		next := old | stableBit(side)
		otherWaiting = old&waitingBit(side.opposite()) != 0
		next &^= waitingBit(side.opposite())
		if old == next {
			return false
		}
		if s.status.CompareAndSwap(old, next) {
			return otherWaiting
		}
	}
}

// tryLockForBypass locks the link for side's bypass if both sides are
// stable and no one holds it, then records the node allowed to ask the
// other side for a bypass link. Only the lock's winner writes that name; a
// message sent after locking carries the ordering to the reader. If the
// other side is not stable yet, side is marked waiting.
func (s *linkState) tryLockForBypass(side linkSide, source NodeName) bool {
	for {
		old := s.status.Load()
		if old&lockedBits != 0 {
			return false
		}
		both := stableBit(sideA) | stableBit(sideB)
		if old&both != both {
			if old&waitingBit(side) != 0 || s.status.CompareAndSwap(old, old|waitingBit(side)) {
				return false
			}
			continue
		}
		if s.status.CompareAndSwap(old, old|lockedBit(side)) {
			s.allowedBypassSource[0].Store(source.High)
			s.allowedBypassSource[1].Store(source.Low)
			return true
		}
	}
}

// tryLockForClosure locks the link so side can send its closure, unless
// the other side holds it for a bypass (which will replace the link).
func (s *linkState) tryLockForClosure(side linkSide) bool {
	other := side.opposite()
	for {
		old := s.status.Load()
		if old&lockedBit(other) != 0 && old&closedBit(other) == 0 {
			return false
		}
		mine := lockedBit(side) | closedBit(side)
		if old&mine == mine || s.status.CompareAndSwap(old, old|mine) {
			return true
		}
	}
}

// unlock releases side's lock.
func (s *linkState) unlock(side linkSide) {
	s.status.And(^lockedBit(side))
}

// isLockedForBypassBy reports whether side holds the lock and names source
// as the node allowed to ask for the bypass link.
func (s *linkState) isLockedForBypassBy(side linkSide, source NodeName) bool {
	return s.status.Load()&lockedBit(side) != 0 &&
		s.allowedBypassSource[0].Load() == source.High &&
		s.allowedBypassSource[1].Load() == source.Low
}
