package ipcz

import "github.com/ipcz-go/ipcz-go/internal/wire"

// The bypass messages. Y is the proxy being removed, X its outward peer
// (across the central link), Z its inward peer (where its portal went).
//
//	BypassPeer(sublink, X's node, X's sublink)       Y → Z
//	AcceptBypassLink(Y's node, X's sublink, new sublink, state, lengthZ)
//	                                                 Z → X
//	StopProxying(sublink, lengthX, lengthZ)          X → Y (or Z → Y when
//	                                                 X and Z share a node)
//	ProxyWillStop(sublink, lengthX)                  X → Z
//	BypassPeerWithLink(sublink, new sublink, state, lengthX)
//	                                                 Y → Z (X is on Y's node)
//	StopProxyingToLocalPeer(sublink, lengthZ)        Z → Y
//	BypassAbandoned(sublink)                         Z → Y
//	FlushRouter(sublink)                             either way

// sublinkMessage decodes a message's leading sublink and looks it up. A
// nil link with a nil error means the route already ended here: the
// message is stale and ignored.
func (l *NodeLink) sublinkTarget(d *wire.Decoder) *remoteLink {
	return l.lookupSublink(d.U64())
}

func (l *NodeLink) onFlushRouter(m *inMessage) error {
	target := l.sublinkTarget(m.params)
	if err := m.params.Finish(); err != nil {
		return err
	}
	if target != nil {
		target.router.flush()
	}
	return nil
}

func (l *NodeLink) sendBypassPeer(sublink SublinkID, xNode NodeName, xSublink SublinkID) {
	m := newOutMessage(msgBypassPeer)
	m.params.U64(sublink)
	encodeNodeName(&m.params, xNode)
	m.params.U64(xSublink)
	l.transmit(m)
}

// onBypassPeer: Z is asked by its outward peer Y to link to X directly.
func (l *NodeLink) onBypassPeer(m *inMessage) error {
	d := m.params
	target := l.sublinkTarget(d)
	xNode := decodeNodeName(d)
	xSublink := d.U64()
	if err := d.Finish(); err != nil {
		return err
	}
	if target == nil {
		return nil
	}
	if !target.typ.carriesInbound() {
		return wire.ErrMalformed
	}
	if xNode == l.node.Name() {
		return l.bypassToPeerOnThisNode(target, xSublink)
	}
	l.node.withLinkTo(xNode, func(toX *NodeLink) {
		if toX == nil {
			l.sendBypassAbandoned(target.sublink)
			return
		}
		bypassToRemotePeer(target, toX, xSublink)
	})
	return nil
}

// bypassToRemotePeer is Z's part when X is on a third node: a new central
// link on Z's link to X's node replaces Z's link to Y.
func bypassToRemotePeer(toY *remoteLink, toX *NodeLink, xSublink SublinkID) {
	z := toY.router
	f, st := toX.allocateLinkState()
	id := toX.allocateSublink()
	zToX, ok := toX.addSublink(id, linkCentral, sideA, z, st, f)
	if !ok {
		toY.nodeLink.sendBypassAbandoned(toY.sublink)
		return
	}
	lengthZ, ok := z.prepareBypassFrom(toY)
	if !ok {
		zToX.deactivate()
		toY.nodeLink.sendBypassAbandoned(toY.sublink)
		return
	}
	msg := newOutMessage(msgAcceptBypassLink)
	encodeNodeName(&msg.params, toY.nodeLink.RemoteName())
	msg.params.U64(xSublink)
	msg.params.U64(id)
	encodeFragment(&msg.params, f)
	msg.params.U64(lengthZ)
	toX.transmit(msg)
	toX.announce(zToX)

	z.mu.Lock()
	z.setOutwardPrimaryLocked(zToX)
	z.mu.Unlock()
	z.flush()
}

// bypassToPeerOnThisNode is Z's part when X is on Z's own node: X and Z
// get a local link, and Z tells Y to stop.
func (l *NodeLink) bypassToPeerOnThisNode(toY *remoteLink, xSublink SublinkID) error {
	xToY := l.lookupSublink(xSublink)
	if xToY == nil {
		l.sendBypassAbandoned(toY.sublink)
		return nil
	}
	if st := xToY.state(); !xToY.typ.carriesInbound() || xToY.typ != linkCentral || st == nil ||
		!st.isLockedForBypassBy(xToY.s.opposite(), l.node.Name()) {
		return wire.ErrMalformed
	}
	x, z := xToY.router, toY.router
	if x == z {
		return wire.ErrMalformed
	}
	unlock := lockRouterPair(x, z)
	okX := x.outward.primary == xToY && x.outward.isStable() && !x.outbound.hasFinalLength
	okZ := z.outward.primary == toY && z.outward.isStable() && !z.portalClosed &&
		!z.inbound.hasFinalLength && !z.outbound.hasFinalLength
	if !okX || !okZ {
		unlock()
		l.sendBypassAbandoned(toY.sublink)
		return nil
	}
	lengthX, lengthZ := x.outbound.currentLength(), z.outbound.currentLength()
	forX, forZ := newLocalLinkPair(linkCentral, x, z)
	x.switchOutwardLocked(forX, lengthX)
	x.outward.lengthFromDecaying, x.outward.hasLengthFromDecaying = lengthZ, true
	z.switchOutwardLocked(forZ, lengthZ)
	z.outward.lengthFromDecaying, z.outward.hasLengthFromDecaying = lengthX, true
	unlock()

	l.sendStopProxying(xSublink, lengthX, lengthZ)
	x.flush()
	z.flush()
	return nil
}

// onAcceptBypassLink: X is offered a direct link by Z, on Y's say-so.
func (l *NodeLink) onAcceptBypassLink(m *inMessage) error {
	d := m.params
	yNode := decodeNodeName(d)
	xSublink, newSublink := d.U64(), d.U64()
	f := decodeFragment(d)
	lengthZ := d.U64()
	if err := d.Finish(); err != nil {
		return err
	}
	toY := l.node.linkTo(yNode)
	if toY == nil {
		return nil
	}
	xToY := toY.lookupSublink(xSublink)
	if xToY == nil {
		return nil
	}
	// Only the node Y named when it locked the link may ask.
	if st := xToY.state(); !xToY.typ.carriesInbound() || xToY.typ != linkCentral || st == nil ||
		!st.isLockedForBypassBy(xToY.s.opposite(), l.RemoteName()) {
		return wire.ErrMalformed
	}
	x := xToY.router
	lengthX, switched, err := l.takeOfferedLink(x, xToY, newSublink, f, lengthZ)
	if err != nil || !switched {
		return err
	}

	toY.sendStopProxying(xSublink, lengthX, lengthZ)
	msg := newOutMessage(msgProxyWillStop)
	msg.params.U64(newSublink)
	msg.params.U64(lengthX)
	l.transmit(msg)
	x.flush()
	return nil
}

func (l *NodeLink) sendStopProxying(sublink SublinkID, lengthX, lengthZ SequenceNumber) {
	m := newOutMessage(msgStopProxying)
	m.params.U64(sublink)
	m.params.U64(lengthX)
	m.params.U64(lengthZ)
	l.transmit(m)
}

// onStopProxying: Y learns the lengths at which its forwarding ends.
func (l *NodeLink) onStopProxying(m *inMessage) error {
	d := m.params
	target := l.sublinkTarget(d)
	lengthX, lengthZ := d.U64(), d.U64()
	if err := d.Finish(); err != nil {
		return err
	}
	if target == nil {
		return nil
	}
	if !target.typ.carriesInbound() || !target.router.stopProxying(lengthX, lengthZ) {
		return wire.ErrMalformed
	}
	return nil
}

func (l *NodeLink) onProxyWillStop(m *inMessage) error {
	d := m.params
	target := l.sublinkTarget(d)
	lengthX := d.U64()
	if err := d.Finish(); err != nil {
		return err
	}
	if target != nil {
		target.router.proxyWillStop(lengthX)
	}
	return nil
}

func (l *NodeLink) sendBypassPeerWithLink(sublink, newSublink SublinkID, f fragment, lengthX SequenceNumber) {
	m := newOutMessage(msgBypassPeerWithLink)
	m.params.U64(sublink)
	m.params.U64(newSublink)
	encodeFragment(&m.params, f)
	m.params.U64(lengthX)
	l.transmit(m)
}

// onBypassPeerWithLink: Z is handed a ready link to X by Y, X being on
// Y's node (this link's far end).
func (l *NodeLink) onBypassPeerWithLink(m *inMessage) error {
	d := m.params
	toY := l.sublinkTarget(d)
	newSublink := d.U64()
	f := decodeFragment(d)
	lengthX := d.U64()
	if err := d.Finish(); err != nil {
		return err
	}
	if toY == nil {
		return nil
	}
	if !toY.typ.carriesInbound() {
		return wire.ErrMalformed
	}
	// If Z's route is changing or gone, Y learns lengthZ from Z's closure.
	z := toY.router
	lengthZ, switched, err := l.takeOfferedLink(z, toY, newSublink, f, lengthX)
	if err != nil || !switched {
		return err
	}

	reply := newOutMessage(msgStopProxyingToLocalPeer)
	reply.params.U64(toY.sublink)
	reply.params.U64(lengthZ)
	l.transmit(reply)
	z.flush()
	return nil
}

func (l *NodeLink) onStopProxyingToLocalPeer(m *inMessage) error {
	d := m.params
	target := l.sublinkTarget(d)
	lengthZ := d.U64()
	if err := d.Finish(); err != nil {
		return err
	}
	if target == nil {
		return nil
	}
	// A proxy hears it on its inward link; a merged pair on the outward
	// link of its near router.
	if !target.router.stopProxyingToLocalPeer(lengthZ) {
		return wire.ErrMalformed
	}
	return nil
}

func (l *NodeLink) sendBypassAbandoned(sublink SublinkID) {
	m := newOutMessage(msgBypassAbandoned)
	m.params.U64(sublink)
	l.transmit(m)
}

func (l *NodeLink) onBypassAbandoned(m *inMessage) error {
	target := l.sublinkTarget(m.params)
	if err := m.params.Finish(); err != nil {
		return err
	}
	if target != nil {
		target.router.abandonBypass()
	}
	return nil
}

// takeOfferedLink makes the central link the other node offers (on
// newSublink, with its state at f) router r's outward link in place of
// old, which decays: r sends over old nothing numbered from the returned
// length on, and expects over it nothing from lengthFrom on. switched is
// false, with no error, if r's outward link changed meanwhile (the offer
// is then dropped); an offer that breaks the rules is an error.
func (l *NodeLink) takeOfferedLink(r *Router, old routerLink, newSublink SublinkID, f fragment, lengthFrom SequenceNumber) (length SequenceNumber, switched bool, err error) {
	l.mu.Lock()
	allowed := l.isRemotelyAllocatedLocked(newSublink)
	l.mu.Unlock()
	if !allowed {
		return 0, false, wire.ErrMalformed
	}
	st, ok := l.adoptLinkState(f)
	if !ok {
		return 0, false, wire.ErrMalformed
	}
	link, ok := l.addSublink(newSublink, linkCentral, sideB, r, st, f)
	if !ok {
		return 0, false, wire.ErrMalformed
	}
	r.mu.Lock()
	if r.outward.primary != old || !r.outward.isStable() {
		r.mu.Unlock()
		link.deactivate()
		return 0, false, nil
	}
	length = r.outbound.currentLength()
	r.switchOutwardLocked(link, length)
	r.outward.lengthFromDecaying, r.outward.hasLengthFromDecaying = lengthFrom, true
	r.mu.Unlock()
	return length, true, nil
}
