package ipcz

import "github.com/ipcz-go/ipcz-go/internal/wire"

// Referrals: connecting two non-brokers of which one (the referrer,
// ConnectNodeShareBroker) lends its broker to the other (the referred
// node, ConnectNodeInheritBroker).
//
//	referrer → broker   ReferNonBroker(id, portals, transport)
//	referred → broker   ConnectToReferredBroker(version, portals), over
//	                    that transport, which now ends at the broker
//	broker → referred   ConnectToReferredNonBroker(name, broker, referrer,
//	                    version, referrer's portals, buffer, transport
//	                    and buffer for the referrer link)
//	broker → referrer   ReferralAccepted(id, version, portals, name,
//	                    transport, buffer), or ReferralRejected(id)
//
// The initial portals of the two ConnectNode calls are bound to the new
// link between referrer and referred; the referred node's link to the
// broker carries none.

// pendingReferral is what a broker remembers about a referred node until
// its handshake completes.
type pendingReferral struct {
	referrer        *NodeLink
	id              uint64
	referrerPortals int
}

// takeReferral removes and returns the link's pending referral, if any.
func (l *NodeLink) takeReferral() *pendingReferral {
	l.mu.Lock()
	defer l.mu.Unlock()
	ref := l.referral
	l.referral = nil
	return ref
}

// referNonBroker is ConnectNode with ConnectNodeShareBroker: the transport
// goes to our broker, and the portals wait for its answer.
func (n *Node) referNonBroker(transport DriverHandle, numInitialPortals int) ([]*Portal, error) {
	routers := make([]*Router, numInitialPortals)
	portals := make([]*Portal, numInitialPortals)
	for i := range routers {
		routers[i] = newRouter()
		portals[i] = newPortal(n, routers[i])
	}
	n.mu.Lock()
	if n.referrals == nil {
		n.referrals = make(map[uint64][]*Router)
	}
	id := n.nextReferralID
	n.nextReferralID++
	n.referrals[id] = routers
	n.mu.Unlock()
	n.withBrokerLink(func(broker *NodeLink) {
		if broker == nil {
			n.driver.Close(transport)
			n.finishReferral(id)
			return
		}
		m := newOutMessage(msgReferNonBroker)
		m.params.U64(id)
		m.params.U32(uint32(numInitialPortals))
		m.addObject(transport)
		if !broker.transmit(m) {
			n.finishReferral(id)
		}
	})
	return portals, nil
}

// finishReferral removes a referral's routers; they are disconnected
// unless the caller binds them.
func (n *Node) takeReferralRouters(id uint64) ([]*Router, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	routers, ok := n.referrals[id]
	delete(n.referrals, id)
	return routers, ok
}

func (n *Node) finishReferral(id uint64) {
	routers, _ := n.takeReferralRouters(id)
	for _, r := range routers {
		r.acceptDisconnectFromOutward()
	}
}

// onReferNonBroker: a node we broker hands us a transport to a node it
// refers to us.
func (l *NodeLink) onReferNonBroker(m *inMessage) error {
	d := m.params
	id, portals := d.U64(), d.U32()
	transport, err := m.claimObject()
	if err != nil {
		return err
	}
	n := l.node
	if d.Finish() != nil || !n.isBroker || portals == 0 || portals > maxInitialPortals {
		l.driver.Close(transport)
		return wire.ErrMalformed
	}
	referred := newNodeLink(n, transport)
	referred.role = roleBrokerForReferral
	referred.referral = &pendingReferral{referrer: l, id: id, referrerPortals: int(portals)}
	n.mu.Lock()
	n.connecting[referred] = true
	n.mu.Unlock()
	if err := l.driver.ActivateTransport(transport, referred.onTransportActivity); err != nil {
		n.mu.Lock()
		delete(n.connecting, referred)
		n.mu.Unlock()
		l.driver.Close(transport)
		l.sendReferralRejected(id)
	}
	return nil
}

func (l *NodeLink) sendReferralRejected(id uint64) {
	m := newOutMessage(msgReferralRejected)
	m.params.U64(id)
	l.transmit(m)
}

// onConnectToReferredBroker: the referred node greets us, its new broker.
func (l *NodeLink) onConnectToReferredBroker(m *inMessage) error {
	d := m.params
	version, portals := d.U32(), d.U32()
	if err := d.Finish(); err != nil || version < protocolVersion || portals == 0 || portals > maxInitialPortals {
		return wire.ErrMalformed
	}
	ref := l.takeReferral()
	if ref == nil {
		return wire.ErrMalformed
	}
	drv := l.driver
	reject := func() error {
		ref.referrer.sendReferralRejected(ref.id)
		return wire.ErrMalformed
	}
	name, err := randomNodeName(drv)
	if err != nil {
		return reject()
	}
	offered, brokerMem, err := offerPrimaryBuffer(drv)
	if err != nil {
		return reject()
	}
	memory, err := newNodeLinkMemory(drv, sideA, offered.mapping, offered.bytes)
	if err != nil {
		drv.Close(brokerMem)
		drv.Close(offered.mapping)
		return reject()
	}
	h, ok := newLinkHalves(drv, l.transport, ref.referrer.transport)
	if !ok {
		drv.Close(brokerMem)
		return reject()
	}
	toReferred, toReferrer, linkMem, linkMemDup := h.transport0, h.transport1, h.memory0, h.memory1
	brokerName, referrerName := l.node.Name(), ref.referrer.RemoteName()

	reply := newOutMessage(msgConnectToReferredNonBroker)
	encodeNodeName(&reply.params, name)
	encodeNodeName(&reply.params, brokerName)
	encodeNodeName(&reply.params, referrerName)
	reply.params.U32(protocolVersion)
	reply.params.U32(uint32(ref.referrerPortals))
	reply.addObject(brokerMem)
	reply.addObject(toReferred)
	reply.addObject(linkMem)
	l.transmit(reply)
	if err := l.completeHandshake(brokerName, name, sideA, false, 0, memory); err != nil {
		return err
	}

	accepted := newOutMessage(msgReferralAccepted)
	accepted.params.U64(ref.id)
	accepted.params.U32(protocolVersion)
	accepted.params.U32(portals)
	encodeNodeName(&accepted.params, name)
	accepted.addObject(toReferrer)
	accepted.addObject(linkMemDup)
	ref.referrer.transmit(accepted)
	return nil
}

// onConnectToReferredNonBroker: the broker accepts us (the referred node)
// and gives us a link to the referrer.
func (l *NodeLink) onConnectToReferredNonBroker(m *inMessage) error {
	d := m.params
	myName, brokerName, referrerName := decodeNodeName(d), decodeNodeName(d), decodeNodeName(d)
	version, referrerPortals := d.U32(), d.U32()
	var objects [3]DriverHandle
	for i := range objects {
		h, err := m.claimObject()
		if err != nil {
			closeHandles(l.driver, objects[:i])
			return err
		}
		objects[i] = h
	}
	brokerMem, toReferrer, linkMem := objects[0], objects[1], objects[2]
	names := []NodeName{myName, brokerName, referrerName}
	distinct := myName != brokerName && myName != referrerName && brokerName != referrerName
	valid := distinct && version >= protocolVersion && referrerPortals > 0
	for _, name := range names {
		valid = valid && name.IsValid()
	}
	if d.Finish() != nil || !valid {
		closeHandles(l.driver, objects[:])
		return wire.ErrMalformed
	}
	brokerMemory, err := adoptPrimaryBuffer(l.driver, brokerMem, sideB)
	if err != nil {
		l.driver.Close(toReferrer)
		l.driver.Close(linkMem)
		return err
	}
	n := l.node
	n.mu.Lock()
	if n.name.IsValid() || n.brokerLink != nil {
		n.mu.Unlock()
		l.driver.Close(toReferrer)
		l.driver.Close(linkMem)
		return wire.ErrMalformed
	}
	n.name = myName
	n.brokerLink = l
	n.mu.Unlock()
	routers, err := l.establish(myName, brokerName, sideB, true, brokerMemory)
	if err != nil {
		l.driver.Close(toReferrer)
		l.driver.Close(linkMem)
		return err
	}
	n.brokerLinkUp(l)
	n.linkForReferral(toReferrer, linkMem, myName, referrerName, sideB, routers, int(referrerPortals))
	return nil
}

// linkForReferral makes the link between referrer and referred from the
// transport and buffer the broker gave, and binds the initial routers.
func (n *Node) linkForReferral(transport, mem DriverHandle, local, remote NodeName, side linkSide, routers []*Router, remotePortals int) {
	memory, err := adoptPrimaryBuffer(n.driver, mem, side)
	if err != nil {
		n.driver.Close(transport)
		for _, r := range routers {
			r.acceptDisconnectFromOutward()
		}
		return
	}
	link := newNodeLink(n, transport)
	link.initialRouters = routers
	if _, err := link.establish(local, remote, side, false, memory); err != nil {
		n.driver.Close(transport)
		for _, r := range routers {
			r.acceptDisconnectFromOutward()
		}
		return
	}
	// Bind before activating: the other side may already have sent parcels
	// for these portals, and they are delivered during activation.
	bound := link.bindInitialPortals(routers, remotePortals)
	if err := n.driver.ActivateTransport(transport, link.onTransportActivity); err != nil {
		link.fail(false)
		return
	}
	for _, r := range bound {
		r.flush()
	}
}

// onReferralAccepted: our broker accepted the node we referred and gives
// us a link to it.
func (l *NodeLink) onReferralAccepted(m *inMessage) error {
	d := m.params
	id := d.U64()
	version, portals := d.U32(), d.U32()
	name := decodeNodeName(d)
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
	n.mu.Unlock()
	routers, ok := n.takeReferralRouters(id)
	if d.Finish() != nil || !fromBroker || !ok || version < protocolVersion || !name.IsValid() || name == local {
		l.driver.Close(transport)
		l.driver.Close(mem)
		for _, r := range routers {
			r.acceptDisconnectFromOutward()
		}
		return wire.ErrMalformed
	}
	n.linkForReferral(transport, mem, local, name, sideA, routers, int(portals))
	return nil
}

// onReferralRejected: the referral failed.
func (l *NodeLink) onReferralRejected(m *inMessage) error {
	id := m.params.U64()
	if err := m.params.Finish(); err != nil {
		return err
	}
	l.node.finishReferral(id)
	return nil
}
