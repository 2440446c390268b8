package ipcz

import "github.com/ipcz-go/ipcz-go/internal/wire"

// Introductions. A node that needs a link to a node it has none to (to
// bypass a proxy) asks its broker: RequestIntroduction(name). The broker
// makes a new transport pair with the driver's CreateTransports and a
// primary buffer, and sends AcceptIntroduction(name, side, transport,
// buffer) to both nodes, or RejectIntroduction(name) if it cannot. When
// two nodes ask for each other at once, each receives two introductions in
// the same order and keeps the first.
//
// Across networks: a broker that does not know the node asks every broker
// it is linked to (RequestIndirectIntroduction(requester, target)). One
// that knows the target makes the transport pair between its link to the
// asking broker and its link to the target, introduces the target
// directly, and sends the requester's half back
// (AcceptIndirectIntroduction), which the asking broker forwards as an
// AcceptIntroduction. A broker itself asks its broker peers directly.

// pendingIntroduction is what waits for a link to one node.
type pendingIntroduction struct {
	waiters []func(*NodeLink)
	// outstanding counts the brokers asked that have not answered.
	outstanding int
}

// brokerPeers returns the node's links to other brokers.
func (n *Node) brokerPeersLocked() []*NodeLink {
	var peers []*NodeLink
	for _, l := range n.links {
		l.mu.Lock()
		isBroker := l.remoteIsBroker
		l.mu.Unlock()
		if isBroker {
			peers = append(peers, l)
		}
	}
	return peers
}

// withLinkTo calls f with the link to the named node, asking the broker
// for an introduction first if there is none. f gets nil if no link can
// be had. f runs with no lock held, possibly on another goroutine.
func (n *Node) withLinkTo(name NodeName, f func(*NodeLink)) {
	n.mu.Lock()
	if l := n.links[name]; l != nil {
		n.mu.Unlock()
		f(l)
		return
	}
	var ask []*NodeLink
	if n.brokerLink != nil {
		ask = []*NodeLink{n.brokerLink}
	} else if n.isBroker {
		ask = n.brokerPeersLocked()
	}
	if len(ask) == 0 || !name.IsValid() {
		n.mu.Unlock()
		f(nil)
		return
	}
	p := n.pendingIntroductions[name]
	if p != nil {
		p.waiters = append(p.waiters, f)
		n.mu.Unlock()
		return
	}
	n.pendingIntroductions[name] = &pendingIntroduction{waiters: []func(*NodeLink){f}, outstanding: len(ask)}
	n.mu.Unlock()
	for _, broker := range ask {
		m := newOutMessage(msgRequestIntroduction)
		encodeNodeName(&m.params, name)
		broker.transmit(m)
	}
}

// finishIntroduction runs what waited for a link to name. A failure (nil)
// only counts once every broker asked has failed.
func (n *Node) finishIntroduction(name NodeName, l *NodeLink) {
	n.mu.Lock()
	p := n.pendingIntroductions[name]
	if p == nil {
		n.mu.Unlock()
		return
	}
	if l == nil {
		if p.outstanding--; p.outstanding > 0 {
			n.mu.Unlock()
			return
		}
	}
	delete(n.pendingIntroductions, name)
	n.mu.Unlock()
	for _, f := range p.waiters {
		f(l)
	}
}

// onRequestIntroduction: a node asks us, its broker, for a link to name.
func (l *NodeLink) onRequestIntroduction(m *inMessage) error {
	name := decodeNodeName(m.params)
	if err := m.params.Finish(); err != nil {
		return err
	}
	n := l.node
	if !n.isBroker {
		return wire.ErrMalformed
	}
	// We introduce directly only nodes we broker (or fellow brokers): a
	// node accepts introductions from its own broker alone.
	other := n.linkTo(name)
	if other != nil && other != l && other.isClientOrBrokerPeer() && n.introduce(l, other) {
		return nil
	}
	// A node of ours asks for one we do not broker: ask the other brokers.
	l.mu.Lock()
	requesterIsBroker := l.remoteIsBroker
	l.mu.Unlock()
	if !requesterIsBroker && l.askBrokerPeers(name) {
		return nil
	}
	l.sendRejectIntroduction(name)
	return nil
}

func (l *NodeLink) sendRejectIntroduction(name NodeName) {
	reject := newOutMessage(msgRejectIntroduction)
	encodeNodeName(&reject.params, name)
	l.transmit(reject)
}

// askBrokerPeers asks the other brokers to introduce the node at the far
// end of l to target. It reports whether any was asked.
func (l *NodeLink) askBrokerPeers(target NodeName) bool {
	n := l.node
	requester := l.RemoteName()
	key := [2]NodeName{requester, target}
	n.mu.Lock()
	peers := n.brokerPeersLocked()
	if len(peers) == 0 || n.indirectIntroductions[key] > 0 {
		n.mu.Unlock()
		return len(peers) > 0
	}
	n.indirectIntroductions[key] = len(peers)
	n.mu.Unlock()
	for _, p := range peers {
		m := newOutMessage(msgRequestIndirectIntroduction)
		encodeNodeName(&m.params, requester)
		encodeNodeName(&m.params, target)
		p.transmit(m)
	}
	return true
}

// onRequestIndirectIntroduction: another broker asks us to introduce one
// of its nodes (requester) to one of ours (target).
func (l *NodeLink) onRequestIndirectIntroduction(m *inMessage) error {
	d := m.params
	requester, target := decodeNodeName(d), decodeNodeName(d)
	if err := d.Finish(); err != nil {
		return err
	}
	n := l.node
	l.mu.Lock()
	fromBroker := l.remoteIsBroker
	l.mu.Unlock()
	if !n.isBroker || !fromBroker {
		return wire.ErrMalformed
	}
	other := n.linkTo(target)
	if other == nil || other == l || !other.isClientOrBrokerPeer() || !n.introduceIndirectly(l, requester, other) {
		reject := newOutMessage(msgRejectIndirectIntroduction)
		encodeNodeName(&reject.params, requester)
		encodeNodeName(&reject.params, target)
		l.transmit(reject)
	}
	return nil
}

// introduceIndirectly links target (one of ours) with requester (a node
// of the broker at the far end of peer).
func (n *Node) introduceIndirectly(peer *NodeLink, requester NodeName, target *NodeLink) bool {
	h, ok := newLinkHalves(n.driver, peer.transport, target.transport)
	if !ok {
		return false
	}
	tp, tt, memP, memT := h.transport0, h.transport1, h.memory0, h.memory1
	target.sendAcceptIntroduction(requester, sideB, tt, memT)

	back := newOutMessage(msgAcceptIndirectIntroduction)
	encodeNodeName(&back.params, requester)
	encodeNodeName(&back.params, target.RemoteName())
	back.params.U32(protocolVersion)
	back.addObject(tp)
	back.addObject(memP)
	peer.transmit(back)
	return true
}

// onAcceptIndirectIntroduction: another broker introduced one of our
// nodes to one of its own; we pass the introduction on.
func (l *NodeLink) onAcceptIndirectIntroduction(m *inMessage) error {
	d := m.params
	requester, target := decodeNodeName(d), decodeNodeName(d)
	version := d.U32()
	transport, err := m.claimObject()
	if err != nil {
		return err
	}
	mem, err := m.claimObject()
	if err != nil {
		l.driver.Close(transport)
		return err
	}
	n := l.node
	l.mu.Lock()
	fromBroker := l.remoteIsBroker
	l.mu.Unlock()
	n.mu.Lock()
	key := [2]NodeName{requester, target}
	asked := n.indirectIntroductions[key] > 0
	delete(n.indirectIntroductions, key)
	to := n.links[requester]
	n.mu.Unlock()
	if d.Finish() != nil || !fromBroker || !asked || version < protocolVersion {
		l.driver.Close(transport)
		l.driver.Close(mem)
		return wire.ErrMalformed
	}
	if to == nil {
		l.driver.Close(transport)
		l.driver.Close(mem)
		return nil
	}
	to.sendAcceptIntroduction(target, sideA, transport, mem)
	return nil
}

// onRejectIndirectIntroduction: another broker cannot introduce; once all
// asked have refused, our node is told.
func (l *NodeLink) onRejectIndirectIntroduction(m *inMessage) error {
	d := m.params
	requester, target := decodeNodeName(d), decodeNodeName(d)
	if err := d.Finish(); err != nil {
		return err
	}
	n := l.node
	key := [2]NodeName{requester, target}
	n.mu.Lock()
	left, asked := n.indirectIntroductions[key]
	if asked {
		if left <= 1 {
			delete(n.indirectIntroductions, key)
		} else {
			n.indirectIntroductions[key] = left - 1
		}
	}
	to := n.links[requester]
	n.mu.Unlock()
	if asked && left <= 1 && to != nil {
		to.sendRejectIntroduction(target)
	}
	return nil
}

// introduce links the nodes at the far ends of a and b.
func (n *Node) introduce(a, b *NodeLink) bool {
	h, ok := newLinkHalves(n.driver, a.transport, b.transport)
	if !ok {
		return false
	}
	ta, tb, memA, memB := h.transport0, h.transport1, h.memory0, h.memory1
	a.sendAcceptIntroduction(b.RemoteName(), sideA, ta, memA)
	b.sendAcceptIntroduction(a.RemoteName(), sideB, tb, memB)
	return true
}

// onAcceptIntroduction: our broker links us to another node.
func (l *NodeLink) onAcceptIntroduction(m *inMessage) error {
	d := m.params
	name := decodeNodeName(d)
	side := linkSide(d.U8())
	version := d.U32()
	transport, err := m.claimObject()
	if err != nil {
		return err
	}
	mem, err := m.claimObject()
	if err != nil {
		l.driver.Close(transport)
		return err
	}
	n := l.node
	l.mu.Lock()
	fromBrokerPeer := l.remoteIsBroker
	l.mu.Unlock()
	n.mu.Lock()
	fromBroker := n.brokerLink == l || fromBrokerPeer
	local := n.name
	_, known := n.links[name]
	n.mu.Unlock()
	if d.Finish() != nil || !fromBroker || side > sideB || version < protocolVersion ||
		!name.IsValid() || name == local {
		l.driver.Close(transport)
		l.driver.Close(mem)
		return wire.ErrMalformed
	}
	if known {
		// A crossing introduction: we already have the first one.
		l.driver.Close(transport)
		l.driver.Close(mem)
		return nil
	}
	memory, err := adoptPrimaryBuffer(l.driver, mem, side)
	if err != nil {
		l.driver.Close(transport)
		n.finishIntroduction(name, nil)
		return nil
	}
	link := newNodeLink(n, transport)
	link.establishLocked(local, name, side, false, memory)
	n.mu.Lock()
	n.links[name] = link
	n.mu.Unlock()
	if err := l.driver.ActivateTransport(transport, link.onTransportActivity); err != nil {
		link.fail(false)
		n.finishIntroduction(name, nil)
		return nil
	}
	n.finishIntroduction(name, link)
	return nil
}

// onRejectIntroduction: the broker cannot link us to name.
func (l *NodeLink) onRejectIntroduction(m *inMessage) error {
	name := decodeNodeName(m.params)
	if err := m.params.Finish(); err != nil {
		return err
	}
	l.node.finishIntroduction(name, nil)
	return nil
}

// isClientOrBrokerPeer reports whether we are the broker of the node at
// the far end, or it is a broker itself.
func (l *NodeLink) isClientOrBrokerPeer() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.remoteIsClient || l.remoteIsBroker
}

// linkHalves are what a broker makes to link two nodes: a transport pair
// (the first end to be sent over transport0, the second over transport1)
// and two handles to one new primary buffer.
type linkHalves struct {
	transport0, transport1 DriverHandle
	memory0, memory1       DriverHandle
}

// newLinkHalves makes the halves of a link between the nodes at the far
// ends of transport0 and transport1; ok is false if the driver cannot.
func newLinkHalves(d Driver, transport0, transport1 DriverHandle) (h linkHalves, ok bool) {
	var err error
	if h.transport0, h.transport1, err = d.CreateTransports(transport0, transport1); err != nil {
		return linkHalves{}, false
	}
	if h.memory0, err = d.AllocateSharedMemory(primaryBufferSize); err != nil {
		closeHandles(d, []DriverHandle{h.transport0, h.transport1})
		return linkHalves{}, false
	}
	if h.memory1, err = d.DuplicateSharedMemory(h.memory0); err != nil {
		closeHandles(d, []DriverHandle{h.transport0, h.transport1, h.memory0})
		return linkHalves{}, false
	}
	return h, true
}

// sendAcceptIntroduction introduces the node at the far end of l to the
// named node: l's node takes side of their new link over transport, with
// memory as its primary buffer.
func (l *NodeLink) sendAcceptIntroduction(name NodeName, side linkSide, transport, memory DriverHandle) {
	m := newOutMessage(msgAcceptIntroduction)
	encodeNodeName(&m.params, name)
	m.params.U8(uint8(side))
	m.params.U32(protocolVersion)
	m.addObject(transport)
	m.addObject(memory)
	l.transmit(m)
}
