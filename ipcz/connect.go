package ipcz

import "github.com/ipcz-go/ipcz-go/internal/wire"

// ConnectNode connects the node to another over transport (a driver
// transport whose other end the application gives to the other node) and
// returns numInitialPortals portals entangled with the other node's
// initial portals. The portals may be used at once; parcels wait until the
// connection is up. If the other node asks for fewer portals, the surplus
// ones behave as if their peer closed; if the connection fails, all do.
//
// Flags: ConnectNodeToBroker when the other node is our broker (or, when
// both are brokers, to join two networks); ConnectNodeShareBroker and
// ConnectNodeInheritBroker for two non-brokers of which one lends its
// broker to the other; ConnectNodeToAllocationDelegate to have the other
// node allocate our shared memory.
//
// Errors: InvalidArgument for a dead node, a zero transport, no portals,
// or flags that do not fit the node; OutOfRange for more initial portals
// than supported (64); Unknown if the transport cannot be activated.
func (n *Node) ConnectNode(transport DriverHandle, numInitialPortals int, flags ConnectNodeFlags) ([]*Portal, error) {
	if !n.live() || transport == InvalidDriverHandle || numInitialPortals <= 0 {
		return nil, InvalidArgument
	}
	if numInitialPortals > maxInitialPortals {
		return nil, OutOfRange
	}
	role, err := n.connectRole(flags)
	if err != nil {
		return nil, err
	}
	if role == roleReferrer {
		return n.referNonBroker(transport, numInitialPortals)
	}

	l := newNodeLink(n, transport)
	l.role = role
	l.delegateAllocation = flags&ConnectNodeToAllocationDelegate != 0
	routers := make([]*Router, numInitialPortals)
	portals := make([]*Portal, numInitialPortals)
	for i := range routers {
		routers[i] = newRouter()
		portals[i] = newPortal(n, routers[i])
	}
	l.initialRouters = routers

	// A broker offers its buffer before activation: the other broker's
	// greeting may be delivered while the transport activates.
	var offeredMem DriverHandle
	if role == roleBrokerToBroker {
		offered, mem, err := offerPrimaryBuffer(n.driver)
		if err != nil {
			return nil, Unknown
		}
		l.localMemory, offeredMem = offered, mem
	}

	n.mu.Lock()
	n.connecting[l] = true
	localName := n.name
	n.mu.Unlock()

	if err := n.driver.ActivateTransport(transport, l.onTransportActivity); err != nil {
		if offeredMem != InvalidDriverHandle {
			n.driver.Close(offeredMem)
			n.driver.Close(l.localMemory.mapping)
		}
		n.mu.Lock()
		delete(n.connecting, l)
		n.mu.Unlock()
		return nil, Unknown
	}
	switch role {
	case roleNonBrokerToBroker:
		m := newOutMessage(msgConnectFromNonBroker)
		m.params.U32(protocolVersion)
		m.params.U32(uint32(numInitialPortals))
		l.transmit(m)
	case roleReferredNonBroker:
		m := newOutMessage(msgConnectToReferredBroker)
		m.params.U32(protocolVersion)
		m.params.U32(uint32(numInitialPortals))
		l.transmit(m)
	case roleBrokerToBroker:
		m := newOutMessage(msgConnectBrokerToBroker)
		encodeNodeName(&m.params, localName)
		m.params.U32(protocolVersion)
		m.params.U32(uint32(numInitialPortals))
		m.addObject(offeredMem)
		l.transmit(m)
	}
	return portals, nil
}

// offerPrimaryBuffer allocates and maps a primary buffer for a new link,
// returning the mapping to keep and the memory handle to send.
func offerPrimaryBuffer(d Driver) (*offeredBuffer, DriverHandle, error) {
	mem, err := d.AllocateSharedMemory(primaryBufferSize)
	if err != nil {
		return nil, InvalidDriverHandle, err
	}
	mapping, bytes, err := d.MapSharedMemory(mem)
	if err != nil || len(bytes) < primaryBufferSize {
		d.Close(mem)
		if err == nil {
			d.Close(mapping)
			err = Internal
		}
		return nil, InvalidDriverHandle, err
	}
	return &offeredBuffer{mapping: mapping, bytes: bytes}, mem, nil
}

// adoptPrimaryBuffer maps a primary buffer the other node sent.
func adoptPrimaryBuffer(d Driver, mem DriverHandle, side linkSide) (*nodeLinkMemory, error) {
	mapping, bytes, err := d.MapSharedMemory(mem)
	d.Close(mem)
	if err != nil {
		return nil, err
	}
	m, err := newNodeLinkMemory(d, side, mapping, bytes)
	if err != nil {
		d.Close(mapping)
		return nil, err
	}
	return m, nil
}

// connectRole decides the handshake from the flags and what the node is.
func (n *Node) connectRole(flags ConnectNodeFlags) (connectRole, error) {
	const known = ConnectNodeToBroker | ConnectNodeInheritBroker | ConnectNodeShareBroker |
		ConnectNodeToAllocationDelegate
	if flags&^known != 0 {
		return 0, InvalidArgument
	}
	toBroker := flags&ConnectNodeToBroker != 0
	inherit := flags&ConnectNodeInheritBroker != 0
	share := flags&ConnectNodeShareBroker != 0
	if (toBroker && (inherit || share)) || (inherit && share) {
		return 0, InvalidArgument
	}
	n.mu.Lock()
	hasBroker := n.brokerLink != nil
	for l := range n.connecting {
		if l.role == roleNonBrokerToBroker || l.role == roleReferredNonBroker {
			// A broker is on its way; it counts.
			hasBroker = true
		}
	}
	n.mu.Unlock()
	switch {
	case n.isBroker && toBroker:
		if flags&ConnectNodeToAllocationDelegate != 0 {
			return 0, InvalidArgument
		}
		return roleBrokerToBroker, nil
	case n.isBroker && !inherit && !share:
		if flags&ConnectNodeToAllocationDelegate != 0 {
			return 0, InvalidArgument
		}
		return roleBrokerToNonBroker, nil
	case !n.isBroker && toBroker && !hasBroker:
		return roleNonBrokerToBroker, nil
	case !n.isBroker && share && hasBroker:
		if flags&ConnectNodeToAllocationDelegate != 0 {
			return 0, InvalidArgument
		}
		return roleReferrer, nil
	case !n.isBroker && inherit && !hasBroker:
		return roleReferredNonBroker, nil
	}
	return 0, InvalidArgument
}

func encodeNodeName(e *wire.Encoder, name NodeName) {
	e.U64(name.High)
	e.U64(name.Low)
}

func decodeNodeName(d *wire.Decoder) NodeName {
	return NodeName{High: d.U64(), Low: d.U64()}
}

// handleHandshake handles the one message a connecting link expects.
func (l *NodeLink) handleHandshake(m *inMessage) error {
	l.mu.Lock()
	role := l.role
	l.mu.Unlock()
	d := m.params
	switch {
	case role == roleBrokerToNonBroker && m.typ == msgConnectFromNonBroker:
		version, numPortals := d.U32(), d.U32()
		if err := d.Finish(); err != nil || version < protocolVersion {
			return wire.ErrMalformed
		}
		name, err := randomNodeName(l.driver)
		if err != nil {
			return err
		}
		offered, mem, err := offerPrimaryBuffer(l.driver)
		if err != nil {
			return err
		}
		memory, err := newNodeLinkMemory(l.driver, sideA, offered.mapping, offered.bytes)
		if err != nil {
			l.driver.Close(mem)
			l.driver.Close(offered.mapping)
			return err
		}
		brokerName := l.node.Name()
		reply := newOutMessage(msgConnectFromBroker)
		encodeNodeName(&reply.params, brokerName)
		encodeNodeName(&reply.params, name)
		reply.params.U32(protocolVersion)
		reply.params.U32(uint32(len(l.initialRouters)))
		reply.addObject(mem)
		l.transmit(reply)
		return l.completeHandshake(brokerName, name, sideA, false, int(numPortals), memory)

	case role == roleNonBrokerToBroker && m.typ == msgConnectFromBroker:
		brokerName, myName := decodeNodeName(d), decodeNodeName(d)
		version, numPortals := d.U32(), d.U32()
		mem, err := m.claimObject()
		if err != nil {
			return err
		}
		if err := d.Finish(); err != nil || version < protocolVersion ||
			!brokerName.IsValid() || !myName.IsValid() || brokerName == myName {
			l.driver.Close(mem)
			return wire.ErrMalformed
		}
		memory, err := adoptPrimaryBuffer(l.driver, mem, sideB)
		if err != nil {
			return err
		}
		n := l.node
		n.mu.Lock()
		if n.name.IsValid() || n.brokerLink != nil {
			n.mu.Unlock()
			return wire.ErrMalformed
		}
		n.name = myName
		n.brokerLink = l
		n.mu.Unlock()
		if err := l.completeHandshake(myName, brokerName, sideB, true, int(numPortals), memory); err != nil {
			return err
		}
		n.brokerLinkUp(l)
		return nil

	case role == roleBrokerForReferral && m.typ == msgConnectToReferredBroker:
		return l.onConnectToReferredBroker(m)

	case role == roleReferredNonBroker && m.typ == msgConnectToReferredNonBroker:
		return l.onConnectToReferredNonBroker(m)

	case role == roleBrokerToBroker && m.typ == msgConnectBrokerToBroker:
		remote := decodeNodeName(d)
		version, numPortals := d.U32(), d.U32()
		mem, err := m.claimObject()
		if err != nil {
			return err
		}
		local := l.node.Name()
		if err := d.Finish(); err != nil || version < protocolVersion ||
			!remote.IsValid() || remote == local {
			l.driver.Close(mem)
			return wire.ErrMalformed
		}
		// The link uses the buffer of the side with the lower name (side A).
		l.mu.Lock()
		offered := l.localMemory
		l.localMemory = nil
		l.mu.Unlock()
		if offered == nil {
			l.driver.Close(mem)
			return wire.ErrMalformed
		}
		var memory *nodeLinkMemory
		side := sideB
		if local.less(remote) {
			side = sideA
			l.driver.Close(mem)
			memory, err = newNodeLinkMemory(l.driver, side, offered.mapping, offered.bytes)
			if err != nil {
				l.driver.Close(offered.mapping)
				return err
			}
		} else {
			l.driver.Close(offered.mapping)
			if memory, err = adoptPrimaryBuffer(l.driver, mem, side); err != nil {
				return err
			}
		}
		return l.completeHandshake(local, remote, side, true, int(numPortals), memory)
	}
	return wire.ErrMalformed
}

// completeHandshake establishes the link, registers it with the node, and
// binds the initial portals to it.
func (l *NodeLink) completeHandshake(local, remote NodeName, side linkSide, remoteIsBroker bool, remotePortals int, memory *nodeLinkMemory) error {
	routers, err := l.establish(local, remote, side, remoteIsBroker, memory)
	if err != nil {
		return err
	}
	for _, r := range l.bindInitialPortals(routers, remotePortals) {
		r.flush()
	}
	return nil
}

// establish registers an established link with the node and returns the
// initial routers that waited for it (nil if the link failed meanwhile).
func (l *NodeLink) establish(local, remote NodeName, side linkSide, remoteIsBroker bool, memory *nodeLinkMemory) ([]*Router, error) {
	n := l.node
	n.mu.Lock()
	if _, dup := n.links[remote]; dup {
		n.mu.Unlock()
		return nil, wire.ErrMalformed
	}
	delete(n.connecting, l)
	n.links[remote] = l
	if l.delegateAllocation {
		n.allocationDelegate = l
	}
	n.mu.Unlock()

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.phase == phaseFailed {
		return nil, nil
	}
	l.establishLocked(local, remote, side, remoteIsBroker, memory)
	l.remoteIsClient = l.role == roleBrokerToNonBroker || l.role == roleBrokerForReferral
	routers := l.initialRouters
	l.initialRouters = nil
	return routers, nil
}

// bindInitialPortals gives the first min(ours, theirs) initial routers
// central links on sublinks 0..; the rest see their peer closed. It
// returns the bound routers, which the caller flushes (once the transport
// is active) to send what was put meanwhile.
func (l *NodeLink) bindInitialPortals(routers []*Router, remotePortals int) []*Router {
	l.mu.Lock()
	side, memory := l.side, l.memory
	l.mu.Unlock()
	var bound []*Router
	for i, r := range routers {
		if i >= remotePortals {
			r.acceptClosureFromOutward(0)
			continue
		}
		var st *linkState
		if memory != nil {
			st = memory.initialLinkState(i)
		}
		link, ok := l.addSublink(SublinkID(i), linkCentral, side, r, st, fragment{})
		if !ok {
			r.acceptDisconnectFromOutward()
			continue
		}
		r.mu.Lock()
		r.outward.primary = link
		r.mu.Unlock()
		bound = append(bound, r)
	}
	return bound
}
