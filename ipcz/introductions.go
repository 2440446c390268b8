package ipcz

import "github.com/ipcz-go/ipcz-go/internal/wire"

// Introductions. A node that needs a link to a node it has none to (to
// bypass a proxy) asks its broker: RequestIntroduction(name). The broker
// makes a new transport pair with the driver's CreateTransports and a
// primary buffer, and sends AcceptIntroduction(name, side, transport,
// buffer) to both nodes, or RejectIntroduction(name) if it does not know
// the node. When two nodes ask for each other at once, each receives two
// introductions in the same order and keeps the first.

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
	broker := n.brokerLink
	if broker == nil || !name.IsValid() {
		n.mu.Unlock()
		f(nil)
		return
	}
	first := len(n.pendingIntroductions[name]) == 0
	n.pendingIntroductions[name] = append(n.pendingIntroductions[name], f)
	n.mu.Unlock()
	if first {
		m := newOutMessage(msgRequestIntroduction)
		encodeNodeName(&m.params, name)
		broker.transmit(m)
	}
}

// finishIntroduction runs what waited for a link to name.
func (n *Node) finishIntroduction(name NodeName, l *NodeLink) {
	n.mu.Lock()
	waiters := n.pendingIntroductions[name]
	delete(n.pendingIntroductions, name)
	n.mu.Unlock()
	for _, f := range waiters {
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
	other := n.linkTo(name)
	if other == nil || other == l || !n.introduce(l, other) {
		reject := newOutMessage(msgRejectIntroduction)
		encodeNodeName(&reject.params, name)
		l.transmit(reject)
	}
	return nil
}

// introduce links the nodes at the far ends of a and b.
func (n *Node) introduce(a, b *NodeLink) bool {
	d := n.driver
	ta, tb, err := d.CreateTransports(a.transport, b.transport)
	if err != nil {
		return false
	}
	memA, err := d.AllocateSharedMemory(primaryBufferSize)
	if err != nil {
		d.Close(ta)
		d.Close(tb)
		return false
	}
	memB, err := d.DuplicateSharedMemory(memA)
	if err != nil {
		d.Close(ta)
		d.Close(tb)
		d.Close(memA)
		return false
	}
	send := func(to *NodeLink, name NodeName, side linkSide, t, mem DriverHandle) {
		m := newOutMessage(msgAcceptIntroduction)
		encodeNodeName(&m.params, name)
		m.params.U8(uint8(side))
		m.params.U32(protocolVersion)
		m.addObject(t)
		m.addObject(mem)
		to.transmit(m)
	}
	send(a, b.RemoteName(), sideA, ta, memA)
	send(b, a.RemoteName(), sideB, tb, memB)
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
	n.mu.Lock()
	fromBroker := n.brokerLink == l
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
