package ipcz

import "sync/atomic"

// SublinkID names one route's link within a NodeLink. Initial portals use
// 0..n-1; after that side A allocates even ids and side B odd ones, so the
// two nodes never collide.
type SublinkID = uint64

// remoteLink is a routerLink to a router on another node: each call becomes
// a message on the NodeLink, addressed to the sublink.
type remoteLink struct {
	nodeLink *NodeLink // immutable
	sublink  SublinkID // immutable
	typ      linkType  // immutable
	s        linkSide  // immutable
	router   *Router   // immutable: the router on this node holding the link
	// shared is the link's state in the node pair's memory, or nil while
	// it has none (a link made while the state pool was empty gets one
	// later, once). Atomic.
	shared atomic.Pointer[sharedLinkState]
	// released is set once the link's hold on its sublink and memory has
	// been let go: by the router retiring it, or by its NodeLink failing.
	released atomic.Bool
	// announced is set once the message that makes this link's far end
	// has been sent; only then may a late state be sent for it
	// (SetLinkState must not overtake that message).
	announced atomic.Bool
}

// sharedLinkState is a link's state and what holds it in place.
type sharedLinkState struct {
	st *linkState
	// fragment is where st was allocated as a block (null for the fixed
	// slots of initial portals).
	fragment fragment
	// memory is referenced for as long as the link holds st.
	memory *nodeLinkMemory
}

func (l *remoteLink) linkType() linkType { return l.typ }
func (l *remoteLink) side() linkSide     { return l.s }
func (l *remoteLink) localPeer() *Router { return nil }
func (l *remoteLink) state() *linkState {
	if s := l.shared.Load(); s != nil {
		return s.st
	}
	return nil
}

func (l *remoteLink) acceptParcel(p *Parcel) { l.nodeLink.sendParcel(l.sublink, p) }

func (l *remoteLink) acceptRouteClosure(length SequenceNumber) {
	m := newOutMessage(msgRouteClosed)
	m.params.U64(l.sublink)
	m.params.U64(length)
	l.nodeLink.transmit(m)
}

func (l *remoteLink) notifyPeerConsumed() {
	m := newOutMessage(msgPeerConsumed)
	m.params.U64(l.sublink)
	l.nodeLink.transmit(m)
}

func (l *remoteLink) flushPeer() {
	m := newOutMessage(msgFlushRouter)
	m.params.U64(l.sublink)
	l.nodeLink.transmit(m)
}

func (l *remoteLink) deactivate() {
	l.nodeLink.removeSublink(l.sublink, l)
	l.release()
}

// release lets go of the link's state and memory, once.
func (l *remoteLink) release() {
	if !l.released.CompareAndSwap(false, true) {
		return
	}
	l.dropState(l.shared.Swap(nil))
}

func (l *remoteLink) dropState(s *sharedLinkState) {
	if s == nil {
		return
	}
	if !s.fragment.isNull() && s.st.release() {
		s.memory.free(s.fragment)
	}
	s.memory.release()
}

// attachState gives a link made without state its state, taking a memory
// reference. It fails if the link has a state, was released, or the
// memory is gone.
func (l *remoteLink) attachState(st *linkState, f fragment, memory *nodeLinkMemory) bool {
	if st == nil || l.released.Load() || !memory.acquire() {
		return false
	}
	s := &sharedLinkState{st: st, fragment: f, memory: memory}
	if !l.shared.CompareAndSwap(nil, s) {
		memory.release()
		return false
	}
	if l.released.Load() {
		// Released meanwhile: undo, unless release already took it.
		l.dropState(l.shared.Swap(nil))
	}
	return true
}

// routerDescriptor is what travels in a parcel in place of a portal: enough
// for the receiving node to build a router that continues the route where
// the sender's left off, linked back to it on newSublink.
type routerDescriptor struct {
	newSublink SublinkID
	linkState  fragment
	// hops counts how often the portal was passed on to another node since
	// an application last took it out of a parcel.
	hops             uint32
	nextOutgoing     SequenceNumber
	producedBytes    uint64
	nextIncoming     SequenceNumber
	consumedBytes    uint64
	peerClosed       bool
	closedPeerLength SequenceNumber
}

// beginTransfer turns the router, whose portal is being sent to another
// node, into a proxy with no inward link yet (so it holds what would go
// inward), and describes it for the receiver.
func (r *Router) beginTransfer(sublink SublinkID) routerDescriptor {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inward = &routeEdge{}
	return routerDescriptor{
		newSublink:       sublink,
		hops:             r.transitHops + 1,
		nextOutgoing:     r.outbound.currentLength(),
		producedBytes:    r.producedBytes,
		nextIncoming:     r.inbound.nextSequenceNumber(),
		consumedBytes:    r.consumedBytes,
		peerClosed:       r.inbound.hasFinalLength,
		closedPeerLength: r.inbound.finalLength,
	}
}

// beginProxying gives the proxy its inward link, once the message that
// creates the router at the other end has been sent.
func (r *Router) beginProxying(l routerLink) {
	r.mu.Lock()
	r.inward.primary = l
	r.mu.Unlock()
	r.flush()
}

// newRouterFromDescriptor builds the router for a portal that arrived from
// another node. The descriptor was validated by the decoder.
func newRouterFromDescriptor(d *routerDescriptor) *Router {
	r := newRouter()
	r.outbound.base = d.nextOutgoing
	r.inbound.base = d.nextIncoming
	r.producedBytes = d.producedBytes
	r.consumedBytes = d.consumedBytes
	r.hasPut = d.nextOutgoing > 0
	r.hasGot = d.nextIncoming > 0 || d.consumedBytes > 0
	r.transitHops = d.hops
	if d.peerClosed {
		r.inbound.setFinalLength(d.closedPeerLength)
	}
	return r
}
