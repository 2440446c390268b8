package ipcz

import (
	"sync"
	"sync/atomic"
)

// routerIDs numbers routers so that the rare operation that locks two of
// them (MergePortals) can take their locks in a fixed order.
var routerIDs atomic.Uint64

// Router is one router on a route: the state machine behind a portal. A
// terminal router backs a live portal. A router whose portal was merged
// with another becomes a bridge router that forwards parcels between its
// outward link and its bridge. (Remote links add proxies, which forward
// between an outward and an inward link.)
//
// Parcels arriving from the outward link form the inbound sequence; parcels
// put by the portal or arriving over the bridge form the outbound sequence.
// Both are numbered from 0 and released in order.
type Router struct {
	// id is immutable; it orders router locks (lowest first).
	id uint64

	mu sync.Mutex

	// outward is the edge toward the other end of the route. Guarded by mu.
	outward routeEdge
	// inward is non-nil once the router's portal moved to another node and
	// the router became a proxy for it. Guarded by mu.
	inward *routeEdge
	// bridge is non-nil once the router is merged. Guarded by mu.
	bridge *routeEdge
	// inbound and outbound are the two sequences. Guarded by mu.
	inbound  parcelQueue
	outbound parcelQueue
	// traps are the portal's installed traps. Guarded by mu.
	traps trapSet

	// producedBytes counts the data bytes of every outbound parcel
	// numbered so far, and consumedBytes the bytes the portal has got (the
	// parcel counts are the queues' sequence numbers). Both travel with
	// the router if it moves. Guarded by mu.
	producedBytes uint64
	consumedBytes uint64
	// portalClosed: the application closed the portal. Guarded by mu.
	portalClosed bool
	// hasPut and hasGot record whether the portal ever put or got a
	// parcel; MergePortals refuses portals that have. Guarded by mu.
	hasPut, hasGot bool
	// sentOutwardClosure and sentInnerClosure record that the end of a
	// sequence was passed on outward, or inward across the inward or bridge
	// edge. Guarded by mu.
	sentOutwardClosure bool
	sentInnerClosure   bool

	// pendingPut is the buffer of a two-phase put in progress;
	// putAllocating is set while BeginPut allocates it (with mu released)
	// and putCommitting while EndPut sends it. Guarded by mu.
	pendingPut    pendingPut
	hasPendingPut bool
	putAllocating bool
	putCommitting bool
	// inTwoPhaseGet is set between BeginGet and EndGet. Guarded by mu.
	inTwoPhaseGet bool

	// bypassing is set while this proxy holds its outward central link
	// locked for its own bypass, and bypassCommitted once its edges have
	// started to decay. bypassAbandoned stops it from trying again.
	// Guarded by mu.
	bypassing       bool
	bypassCommitted bool
	bypassAbandoned bool

	// owedNotify is a link whose far side asked to hear of our consumption
	// when we published on it, and recheckRemote asks to re-evaluate
	// remote traps against a new link's counts; flush does both. Guarded
	// by mu.
	owedNotify    routerLink
	recheckRemote bool

	// transitHops counts the nodes the router's portal was passed to since
	// an application last took it out of a parcel. Guarded by mu.
	transitHops uint32

	// peerConsumedSeen and peerConsumedBytesSeen are the peer's
	// consumption counts when last read from a link state. Guarded by mu.
	peerConsumedSeen      uint64
	peerConsumedBytesSeen uint64
}

func newRouter() *Router { return &Router{id: routerIDs.Add(1)} }

// newLocalRouterPair returns two terminal routers joined by a central
// local link.
func newLocalRouterPair() (*Router, *Router) {
	a, b := newRouter(), newRouter()
	la, lb := newLocalLinkPair(linkCentral, a, b)
	// Neither end of a new pair is replacing a link.
	la.state().status.Store(stableBit(sideA) | stableBit(sideB))
	a.outward.primary = la
	b.outward.primary = lb
	return a, b
}

// isTerminalLocked reports whether the router backs a portal (rather than
// forwarding for a merged or moved one). Preconditions: mu held.
func (r *Router) isTerminalLocked() bool { return r.bridge == nil && r.inward == nil }

// innerEdgeLocked is the edge inbound parcels are forwarded to by a
// router that is not terminal: its inward edge (a proxy) or its bridge (a
// merged router). Preconditions: mu held.
func (r *Router) innerEdgeLocked() *routeEdge {
	if r.inward != nil {
		return r.inward
	}
	return r.bridge
}

// localPeerLocked returns the router at the other end of the central link
// if it is on this node. Preconditions: mu held.
func (r *Router) localPeerLocked() *Router {
	if r.outward.primary == nil {
		return nil
	}
	return r.outward.primary.localPeer()
}

// statusLocked computes the portal status. Preconditions: mu held.
func (r *Router) statusLocked() PortalStatus {
	s := PortalStatus{
		NumLocalParcels: r.inbound.available,
		NumLocalBytes:   r.inbound.availableBytes,
	}
	if r.inbound.hasFinalLength {
		s.Flags |= PortalStatusPeerClosed
		if r.inbound.isSequenceFullyConsumed() {
			s.Flags |= PortalStatusDead
		}
	}
	// While a replacement link is pending, the decaying one's counts stand
	// (they can only overstate the remote queue, never understate it).
	l := r.outward.primary
	if l == nil {
		l = r.outward.decaying
	}
	// A link without shared state (yet) says nothing: then only what the
	// peer was last seen to have consumed counts as gone.
	parcels, bytes := r.peerConsumedSeen, r.peerConsumedBytesSeen
	if l != nil {
		if st := l.state(); st != nil {
			parcels, bytes = st.peerConsumed(l.side())
			r.peerConsumedSeen, r.peerConsumedBytesSeen = parcels, bytes
		}
	}
	if l != nil || parcels != 0 || bytes != 0 {
		s.NumRemoteParcels = saturatingCount(r.outbound.currentLength(), parcels)
		s.NumRemoteBytes = saturatingCount(r.producedBytes, bytes)
	}
	return s
}

// saturatingCount is produced-consumed, clamped to [0, MaxInt]: the
// consumed count may come from another node and cannot be trusted.
func saturatingCount(produced, consumed uint64) int {
	if consumed >= produced {
		return 0
	}
	d := produced - consumed
	if d > uint64(^uint(0)>>1) {
		return int(^uint(0) >> 1)
	}
	return int(d)
}

// queryStatus returns the portal status.
func (r *Router) queryStatus() (PortalStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.portalClosed {
		return PortalStatus{}, InvalidArgument
	}
	return r.statusLocked(), nil
}

// checkLimitsLocked reports whether a parcel of n bytes fits the limits.
// Preconditions: mu held.
func (r *Router) fitsLimitsLocked(limits *PutLimits, n int) bool {
	if limits == nil {
		return true
	}
	s := r.statusLocked()
	return s.NumRemoteParcels < limits.MaxQueuedParcels &&
		n <= limits.MaxQueuedBytes && s.NumRemoteBytes <= limits.MaxQueuedBytes-n
}

// outboundCapacityLocked returns how many bytes a parcel may carry under
// limits, or -1 if no parcel fits at all. Preconditions: mu held.
func (r *Router) outboundCapacityLocked(limits *PutLimits) int {
	s := r.statusLocked()
	if s.NumRemoteParcels >= limits.MaxQueuedParcels || s.NumRemoteBytes > limits.MaxQueuedBytes {
		return -1
	}
	return limits.MaxQueuedBytes - s.NumRemoteBytes
}

// sendOutboundParcel numbers p and sends it outward, subject to limits.
// It fails with AlreadyExists during a two-phase put (unless p is that
// put's parcel), NotFound if the peer is known closed, and
// ResourceExhausted if the limits would be exceeded.
func (r *Router) sendOutboundParcel(p *Parcel, limits *PutLimits, fromEndPut bool) error {
	r.mu.Lock()
	if r.portalClosed {
		r.mu.Unlock()
		return InvalidArgument
	}
	if r.hasPendingPut && !fromEndPut {
		r.mu.Unlock()
		return AlreadyExists
	}
	if r.inbound.hasFinalLength {
		r.mu.Unlock()
		return NotFound
	}
	if !r.fitsLimitsLocked(limits, len(p.data)) {
		r.mu.Unlock()
		return ResourceExhausted
	}
	r.hasPut = true
	r.producedBytes += uint64(len(p.data))
	// The fast path: nothing is waiting to go out before p and the link is
	// settled, so p goes straight to the link without being queued.
	if link := r.outward.primary; link != nil && r.outbound.isEmpty() && r.outward.isStable() {
		p.seq = r.outbound.skip()
		r.mu.Unlock()
		link.acceptParcel(p)
		return nil
	}
	p.seq = r.outbound.currentLength()
	r.outbound.push(p.seq, p)
	r.mu.Unlock()
	r.flush()
	return nil
}

// acceptInboundParcel takes a parcel that arrived over the outward link.
// It reports false if the parcel's number is impossible (already seen,
// beyond the final length, or absurdly far ahead): a protocol violation
// when the parcel came from another node.
func (r *Router) acceptInboundParcel(p *Parcel) bool {
	var d trapDispatcher
	r.mu.Lock()
	if r.portalClosed {
		r.mu.Unlock()
		p.discard()
		return true
	}
	before := r.inbound.available
	if !r.inbound.push(p.seq, p) {
		r.mu.Unlock()
		p.discard()
		return false
	}
	if !r.isTerminalLocked() {
		r.mu.Unlock()
		r.flush()
		return true
	}
	if r.inbound.available != before && !r.traps.isEmpty() {
		status := r.statusLocked()
		r.traps.update(&status, reasonNewLocalParcel, 0, &d)
	}
	// An arrival may complete a decaying link's traffic.
	decaying := r.outward.decaying != nil
	r.mu.Unlock()
	d.dispatch()
	if decaying {
		r.flush()
	}
	return true
}

// acceptOutboundParcel takes a parcel that arrived over the inward link or
// the bridge, to be forwarded outward under the same number.
func (r *Router) acceptOutboundParcel(p *Parcel) bool {
	r.mu.Lock()
	ok := r.outbound.push(p.seq, p)
	r.mu.Unlock()
	if !ok {
		p.discard()
		return false
	}
	r.flush()
	return true
}

// acceptClosureFromOutward learns that the inbound sequence ends at
// length: the other end of the route closed.
func (r *Router) acceptClosureFromOutward(length SequenceNumber) bool {
	var d trapDispatcher
	r.mu.Lock()
	if !r.inbound.setFinalLength(length) {
		r.mu.Unlock()
		return false
	}
	if r.isTerminalLocked() && !r.portalClosed {
		status := r.statusLocked()
		r.traps.update(&status, reasonStatusChanged, 0, &d)
	}
	r.mu.Unlock()
	d.dispatch()
	r.flush()
	return true
}

// acceptClosureFromInward learns that the outbound sequence, fed across
// the inward link or the bridge, ends at length.
func (r *Router) acceptClosureFromInward(length SequenceNumber) bool {
	r.mu.Lock()
	ok := r.outbound.setFinalLength(length)
	// A proxy whose inward peer closed before acting on a bypass request
	// will never act on it: give the lock back.
	abandon := ok && r.bypassing && !r.bypassCommitted
	r.mu.Unlock()
	if abandon {
		r.abandonBypass()
	}
	if ok {
		r.flush()
	}
	return ok
}

// pendingSend is a parcel that flush hands to a link after unlocking.
type pendingSend struct {
	link routerLink
	p    *Parcel
}

// flush moves whatever can move: outbound parcels to the outward link,
// inbound parcels across the bridge of a merged router, and the end of
// each sequence once everything before it has gone.
func (r *Router) flush() {
	var sends []pendingSend
	var outwardClosure, innerClosure routerLink
	var outwardLength, innerLength SequenceNumber

	r.mu.Lock()
	for r.outbound.hasNext() {
		link := r.outward.linkForParcel(r.outbound.nextSequenceNumber())
		if link == nil {
			break
		}
		sends = append(sends, pendingSend{link, r.outbound.pop()})
	}
	if inner := r.innerEdgeLocked(); inner != nil {
		for r.inbound.hasNext() {
			link := inner.linkForParcel(r.inbound.nextSequenceNumber())
			if link == nil {
				break
			}
			sends = append(sends, pendingSend{link, r.inbound.pop()})
		}
		if !r.sentInnerClosure && r.inbound.isSequenceFullyConsumed() {
			if l := inner.closureLink(); l != nil {
				r.sentInnerClosure = true
				innerClosure, innerLength = l, r.inbound.finalLength
			}
		}
	}
	if !r.sentOutwardClosure && r.outbound.isSequenceFullyConsumed() {
		if l := r.outward.closureLink(); l != nil && canSendClosure(l) {
			r.sentOutwardClosure = true
			outwardClosure, outwardLength = l, r.outbound.finalLength
		}
	}
	retired := r.finishDecayLocked()
	retired = append(retired, r.retireLinksLocked()...)
	flushPeer := r.markStableLocked()
	owedNotify, recheck := r.owedNotify, r.recheckRemote
	r.owedNotify, r.recheckRemote = nil, false
	r.mu.Unlock()

	for _, s := range sends {
		s.link.acceptParcel(s.p)
	}
	if outwardClosure != nil {
		outwardClosure.acceptRouteClosure(outwardLength)
	}
	if innerClosure != nil {
		innerClosure.acceptRouteClosure(innerLength)
	}
	for _, l := range retired {
		l.deactivate()
	}
	if flushPeer != nil {
		flushPeer.flushPeer()
	}
	if owedNotify != nil {
		owedNotify.notifyPeerConsumed()
	}
	if recheck {
		r.onPeerConsumed()
	}
	r.maybeStartBypass()
}

// retireLinksLocked detaches the links of a router that is done with its
// route and returns them for deactivation: a closed portal's router once
// its closure went out, and a forwarding router once both directions have
// ended. Preconditions: mu held.
func (r *Router) retireLinksLocked() []routerLink {
	var done bool
	if r.isTerminalLocked() {
		done = r.portalClosed && r.sentOutwardClosure
	} else {
		done = r.sentOutwardClosure && r.sentInnerClosure
	}
	if !done {
		return nil
	}
	var links []routerLink
	take := func(e *routeEdge) {
		if e == nil {
			return
		}
		for _, l := range []routerLink{e.primary, e.decaying} {
			if l != nil {
				links = append(links, l)
			}
		}
		e.primary, e.decaying = nil, nil
	}
	take(&r.outward)
	take(r.innerEdgeLocked())
	return links
}

// closePortal closes the route end: traps are removed, unread parcels are
// discarded, and the end of the outbound sequence goes to the peer.
func (r *Router) closePortal() {
	var d trapDispatcher
	r.mu.Lock()
	r.portalClosed = true
	// A put being allocated or committed is let go by the call doing it.
	var abandoned pendingPut
	if r.hasPendingPut && !r.putAllocating && !r.putCommitting {
		abandoned = r.pendingPut
	}
	if !r.putAllocating && !r.putCommitting {
		r.pendingPut = pendingPut{}
	}
	r.hasPendingPut, r.inTwoPhaseGet = false, false
	status := r.statusLocked()
	r.traps.removeAll(&status, &d)
	r.outbound.setFinalLength(r.outbound.currentLength())
	dropped := r.inbound.drain()
	r.mu.Unlock()
	abandoned.release()
	d.dispatch()
	discardParcels(dropped)
	r.flush()
}

// afterConsumeLocked updates counts, traps and the link state after the
// portal consumed parcels or bytes, and returns the link whose peer must
// be told. Preconditions: mu held.
func (r *Router) afterConsumeLocked(d *trapDispatcher) routerLink {
	r.hasGot = true
	if !r.traps.isEmpty() {
		status := r.statusLocked()
		r.traps.update(&status, reasonStatusChanged, 0, d)
	}
	if l := r.outward.primary; l != nil {
		if st := l.state(); st != nil && st.publishConsumed(l.side(), r.inbound.nextSequenceNumber(), r.consumedBytes) {
			return l
		}
	}
	return nil
}

// onPeerConsumed runs when the peer, at our request, tells us it consumed
// parcels: remote-queue traps may now fire. A bridge router passes the
// news across the bridge, where it becomes the consumption of the merged
// route's far end as seen by its other end.
func (r *Router) onPeerConsumed() {
	var d trapDispatcher
	r.mu.Lock()
	l := r.outward.primary
	var st *linkState
	if l != nil {
		st = l.state()
	}
	if st == nil || r.portalClosed || r.inward != nil {
		r.mu.Unlock()
		return
	}
	if r.bridge != nil {
		st.monitorPeer(l.side())
		parcels, bytes := st.peerConsumed(l.side())
		partner := r.bridge.primary
		r.mu.Unlock()
		if partner != nil {
			partner.localPeer().relayConsumed(parcels, bytes)
		}
		return
	}
	// Ask again before looking, so that a consumption after the look is
	// not missed; a spare notification is harmless.
	if r.traps.needsRemoteState() {
		st.monitorPeer(l.side())
	}
	parcels, _ := st.peerConsumed(l.side())
	status := r.statusLocked()
	r.traps.update(&status, reasonRemoteConsumed, parcels, &d)
	r.mu.Unlock()
	d.dispatch()
}

// relayConsumed publishes, on a bridge router's outward link, what the far
// end of the merged route has consumed.
func (r *Router) relayConsumed(parcels, bytes uint64) {
	r.mu.Lock()
	l := r.outward.primary
	notify := false
	if l != nil {
		if st := l.state(); st != nil {
			notify = st.publishConsumed(l.side(), parcels, bytes)
		}
	}
	r.mu.Unlock()
	if notify {
		l.notifyPeerConsumed()
	}
}

// takeTraps removes the router's traps without firing them: its portal's
// handle was just given away, and they belong to the old owner.
func (r *Router) takeTraps() []*trap {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.traps.take()
}

// restoreTraps reinstalls traps taken by takeTraps when the handle comes
// back; a level condition that became true meanwhile fires at once.
func (r *Router) restoreTraps(traps []*trap) {
	if len(traps) == 0 {
		return
	}
	var d trapDispatcher
	r.mu.Lock()
	r.traps.traps = append(r.traps.traps, traps...)
	status := r.statusLocked()
	r.traps.update(&status, reasonStatusChanged, 0, &d)
	r.mu.Unlock()
	d.dispatch()
}

// removedEvents fires REMOVED for traps taken from the router.
func (r *Router) fireRemoved(traps []*trap) {
	if len(traps) == 0 {
		return
	}
	var d trapDispatcher
	r.mu.Lock()
	status := r.statusLocked()
	r.mu.Unlock()
	for _, t := range traps {
		d.add(t, TrapRemoved, &status)
	}
	d.dispatch()
}

// installTrap installs a trap unless one of its level conditions already
// holds, in which case it returns FailedPrecondition with the satisfied
// conditions and the status.
func (r *Router) installTrap(t *trap) (TrapConditionFlags, PortalStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.portalClosed {
		return 0, PortalStatus{}, InvalidArgument
	}
	if t.conditions.Flags&remoteConditions != 0 {
		if l := r.outward.primary; l != nil {
			if st := l.state(); st != nil {
				st.monitorPeer(l.side())
				t.peerConsumed, _ = st.peerConsumed(l.side())
			}
		}
	}
	status := r.statusLocked()
	if satisfied := t.conditions.satisfiedLevelConditions(&status); satisfied != 0 {
		return satisfied, status, FailedPrecondition
	}
	r.traps.add(t)
	return 0, PortalStatus{}, nil
}

// setOutwardLink installs the router's first outward link (an initial
// portal of ConnectNode, once the connection is up) and sends whatever was
// put meanwhile.
func (r *Router) setOutwardLink(l routerLink) {
	r.mu.Lock()
	r.outward.primary = l
	r.mu.Unlock()
	r.flush()
}

// acceptDisconnectFromOutward handles the loss of the outward link (its
// node link failed): nothing more will come from it, so the inbound
// sequence ends with what has arrived contiguously, and nothing more can
// go out over it.
func (r *Router) acceptDisconnectFromOutward() {
	var d trapDispatcher
	r.mu.Lock()
	r.outward.primary, r.outward.decaying = nil, nil
	r.sentOutwardClosure = true
	dropped := r.inbound.forceTerminate()
	dropped = append(dropped, r.outbound.drain()...)
	if r.isTerminalLocked() && !r.portalClosed {
		status := r.statusLocked()
		r.traps.update(&status, reasonStatusChanged, 0, &d)
	}
	r.mu.Unlock()
	d.dispatch()
	discardParcels(dropped)
	r.flush()
}

// acceptDisconnectFromInward handles the loss of a proxy's inward link:
// the moved portal is gone, so the outbound sequence ends with what has
// arrived contiguously, which still goes out.
func (r *Router) acceptDisconnectFromInward() {
	r.mu.Lock()
	if inner := r.innerEdgeLocked(); inner != nil {
		inner.primary, inner.decaying = nil, nil
	}
	r.sentInnerClosure = true
	dropped := r.outbound.forceTerminate()
	dropped = append(dropped, r.inbound.drain()...)
	r.mu.Unlock()
	discardParcels(dropped)
	r.flush()
}
