package ipcz

import "github.com/ipcz-go/ipcz-go/internal/wire"

// How a parcel's bytes travel in AcceptParcel.
const (
	parcelDataInline uint8 = 0 // a blob in the message
	parcelDataShared uint8 = 1 // a fragment of the node pair's memory
)

// How each attached object travels in AcceptParcel.
const (
	parcelObjectPortal     uint8 = 0 // a routerDescriptor
	parcelObjectBox        uint8 = 1 // a driver object index
	parcelObjectRelayedBox uint8 = 2 // a box sent through the broker
)

// maxTransitHops bounds how often a portal may be passed on between
// nodes inside parcels without an application taking it out.
const maxTransitHops = 256

// pendingProxy is a router that becomes a proxy once the parcel carrying
// its portal has been sent.
type pendingProxy struct {
	router *Router
	link   *remoteLink
}

// sendParcel sends p to the router on sublink: AcceptParcel(sublink,
// sequence number, data, objects). A portal in the parcel turns its router
// into a proxy linked to the router the receiver builds from the
// descriptor; a box's driver object is serialized by the driver.
func (l *NodeLink) sendParcel(sublink SublinkID, p *Parcel) {
	data := p.remainingData()
	var shared *nodeLinkMemory
	var f fragment
	if p.placedIn(l) {
		// Put wrote the bytes into this link's memory already: the block
		// changes hands as it is.
		shared, f = p.shared, p.fragment
		p.shared, p.data, p.consumed, p.placedFor = nil, nil, 0, nil
	} else {
		shared, f = l.placeInSharedMemory(data)
	}
	inlineBytes := len(data)
	if shared != nil {
		inlineBytes = 0
	}
	m := newOutMessageSized(msgAcceptParcel, 64+inlineBytes+64*len(p.remainingObjects()))
	m.params.U64(sublink)
	m.params.U64(p.seq)
	if shared != nil {
		defer shared.release()
		m.params.U8(parcelDataShared)
		encodeFragment(&m.params, f)
	} else {
		m.params.U8(parcelDataInline)
		m.params.Blob(data)
	}
	// The bytes were copied out; a parcel that came through another link's
	// shared memory lets go of it now.
	p.releaseData()
	// A portal closed while in transit (see maxTransitHops) goes no
	// further.
	objects := make([]Object, 0, len(p.remainingObjects()))
	for _, o := range p.remainingObjects() {
		if port, ok := o.(*Portal); ok && port.liveRouter() == nil {
			continue
		}
		objects = append(objects, o)
	}
	m.params.U32(uint32(len(objects)))
	// If the driver cannot pass some box directly, all the parcel's boxes
	// go through the broker and the parcel carries placeholders.
	var relayedBoxes []DriverHandle
	relayBoxes := false
	for _, o := range objects {
		if b, ok := o.(*Box); ok && needsRelay(l.driver, DriverHandle(b.handle.Load()), l.transport) {
			relayBoxes = true
			break
		}
	}
	var proxies []pendingProxy
	for _, o := range objects {
		switch o := o.(type) {
		case *Portal:
			r := o.router.Swap(nil)
			if r == nil {
				// Closed since the check above: it travels as a portal whose
				// route has ended.
				r = newRouter()
				r.acceptClosureFromOutward(0)
			}
			id := l.allocateSublink()
			stFragment, st := l.allocateLinkState()
			link, ok := l.addSublink(id, linkPeripheralInward, sideA, r, st, stFragment)
			desc := r.beginTransfer(id)
			desc.linkState = stFragment
			if !ok {
				link = nil
			}
			proxies = append(proxies, pendingProxy{r, link})
			m.params.U8(parcelObjectPortal)
			encodeRouterDescriptor(&m.params, &desc)
		case *Box:
			if relayBoxes {
				m.params.U8(parcelObjectRelayedBox)
				relayedBoxes = append(relayedBoxes, o.take())
				continue
			}
			m.params.U8(parcelObjectBox)
			m.addObject(o.take())
		}
	}
	sent := l.transmit(m)
	if len(relayedBoxes) > 0 {
		half := newOutMessage(msgAcceptParcelDriverObjects)
		half.params.U64(sublink)
		half.params.U64(p.seq)
		half.params.U32(uint32(len(relayedBoxes)))
		half.objects = nil
		for _, h := range relayedBoxes {
			half.addObject(h)
		}
		if !sent || !l.relay(half) {
			sent = false
		}
	}
	switch {
	case sent && shared != nil:
		l.node.counters.parcelsSent.Add(1)
		l.node.counters.parcelBytesShared.Add(uint64(f.size))
	case sent:
		l.node.counters.parcelsSent.Add(1)
		l.node.counters.parcelBytesInline.Add(uint64(len(data)))
	case shared != nil:
		shared.free(f)
	}
	for _, px := range proxies {
		if sent && px.link != nil {
			l.announce(px.link)
			px.router.beginProxying(px.link)
			continue
		}
		if px.link != nil {
			px.link.deactivate()
		}
		px.router.acceptDisconnectFromInward()
	}
}

func encodeRouterDescriptor(e *wire.Encoder, d *routerDescriptor) {
	e.U64(d.newSublink)
	encodeFragment(e, d.linkState)
	e.U32(d.hops)
	e.U64(d.nextOutgoing)
	e.U64(d.producedBytes)
	e.U64(d.nextIncoming)
	e.U64(d.consumedBytes)
	e.Bool(d.peerClosed)
	e.U64(d.closedPeerLength)
}

func decodeRouterDescriptor(d *wire.Decoder) routerDescriptor {
	return routerDescriptor{
		newSublink:       d.U64(),
		linkState:        decodeFragment(d),
		hops:             d.U32(),
		nextOutgoing:     d.U64(),
		producedBytes:    d.U64(),
		nextIncoming:     d.U64(),
		consumedBytes:    d.U64(),
		peerClosed:       d.Bool(),
		closedPeerLength: d.U64(),
	}
}

// onAcceptParcel receives a parcel for one of our routers.
func (l *NodeLink) onAcceptParcel(m *inMessage) error {
	d := m.params
	sublink, seq := d.U64(), d.U64()
	p := &Parcel{seq: seq, source: l}
	switch d.U8() {
	case parcelDataInline:
		if data := d.Blob(maxParcelDataInline); len(data) > 0 {
			// The transport lends its buffer only for this call.
			p.data = append([]byte(nil), data...)
		}
	case parcelDataShared:
		f := decodeFragment(d)
		if d.Failed() {
			return wire.ErrMalformed
		}
		memory := l.acquireMemory()
		if memory == nil {
			return wire.ErrMalformed
		}
		// The parcel keeps this reference until its data is released.
		data, ok := memory.resolve(f)
		if !ok {
			memory.release()
			return wire.ErrMalformed
		}
		// The bytes stay in shared memory until consumed: the other node
		// may still write them, so they are only ever copied out, never
		// interpreted.
		p.data, p.shared, p.fragment = data, memory, f
	default:
		return wire.ErrMalformed
	}
	n := d.Count(MaxObjectsPerParcel, 1)
	if d.Failed() {
		p.discard()
		return wire.ErrMalformed
	}
	if n > 0 {
		p.objects = make([]Object, 0, n)
	}
	for range n {
		o, err := l.decodeParcelObject(m)
		if err != nil {
			p.discard()
			return err
		}
		p.objects = append(p.objects, o)
	}
	if err := d.Finish(); err != nil {
		p.discard()
		return err
	}
	l.node.counters.parcelsReceived.Add(1)
	for _, o := range p.objects {
		if o == nil {
			ready, err := l.awaitRelayedBoxes(parcelKey{sublink, seq}, p)
			if err != nil {
				p.discard()
				return err
			}
			if !ready {
				return nil
			}
			break
		}
	}
	return l.deliverParcel(sublink, p)
}

// deliverParcel hands a complete parcel to the router on sublink.
func (l *NodeLink) deliverParcel(sublink SublinkID, p *Parcel) error {
	target := l.lookupSublink(sublink)
	if target == nil {
		// The route ended here already; whatever the parcel carried ends too.
		p.discard()
		return nil
	}
	var ok bool
	if target.typ.carriesInbound() {
		ok = target.router.acceptInboundParcel(p)
	} else {
		ok = target.router.acceptOutboundParcel(p)
	}
	if !ok {
		return wire.ErrMalformed
	}
	return nil
}

// decodeParcelObject decodes one attached object: a portal (building its
// router, linked back over the sublink its descriptor names) or a box.
func (l *NodeLink) decodeParcelObject(m *inMessage) (Object, error) {
	d := m.params
	switch d.U8() {
	case parcelObjectPortal:
		desc := decodeRouterDescriptor(d)
		if d.Failed() || (desc.peerClosed && desc.closedPeerLength < desc.nextIncoming) {
			return nil, wire.ErrMalformed
		}
		l.mu.Lock()
		allowed := l.isRemotelyAllocatedLocked(desc.newSublink)
		l.mu.Unlock()
		if !allowed {
			return nil, wire.ErrMalformed
		}
		st, ok := l.adoptLinkState(desc.linkState)
		if !ok {
			return nil, wire.ErrMalformed
		}
		r := newRouterFromDescriptor(&desc)
		link, ok := l.addSublink(desc.newSublink, linkPeripheralOutward, sideB, r, st, desc.linkState)
		if !ok {
			return nil, wire.ErrMalformed
		}
		r.outward.primary = link
		p := newPortal(l.node, r)
		if desc.hops > maxTransitHops {
			// A portal that keeps being passed on without ever being taken
			// out is chasing itself (sent through its own route): close it,
			// which ends the route and the chase.
			p.Close()
		}
		return p, nil
	case parcelObjectBox:
		h, err := m.claimObject()
		if err != nil {
			return nil, wire.ErrMalformed
		}
		return newBox(l.node, h), nil
	case parcelObjectRelayedBox:
		return nil, nil
	}
	return nil, wire.ErrMalformed
}

// onRouteClosed: the far side of a sublink will send nothing numbered at
// or above length.
func (l *NodeLink) onRouteClosed(m *inMessage) error {
	sublink, length := m.params.U64(), m.params.U64()
	if err := m.params.Finish(); err != nil {
		return err
	}
	target := l.lookupSublink(sublink)
	if target == nil {
		return nil
	}
	var ok bool
	if target.typ.carriesInbound() {
		ok = target.router.acceptClosureFromOutward(length)
	} else {
		ok = target.router.acceptClosureFromInward(length)
	}
	if !ok {
		return wire.ErrMalformed
	}
	return nil
}

// onPeerConsumed: the far side consumed parcels and we asked to know.
func (l *NodeLink) onPeerConsumed(m *inMessage) error {
	sublink := m.params.U64()
	if err := m.params.Finish(); err != nil {
		return err
	}
	if target := l.lookupSublink(sublink); target != nil {
		target.router.onPeerConsumed()
	}
	return nil
}

// minSharedParcelData is the smallest parcel whose data goes through
// shared memory; smaller ones cost less inline in their message.
const minSharedParcelData = 129

// placeInSharedMemory copies data into a block of the node pair's memory,
// growing the pool if it is full, and returns the memory with a reference
// the caller releases. It returns nil if the data must go inline (small,
// too large, no memory, or none to be had now).
func (l *NodeLink) placeInSharedMemory(data []byte) (*nodeLinkMemory, fragment) {
	memory, f, block := l.allocateParcelData(len(data))
	if memory != nil {
		copy(block, data)
	}
	return memory, f
}

// allocateParcelData returns a block of the link's shared memory for n
// bytes of parcel data, with a reference to the memory that the caller
// releases; or nil if n is not a size that goes through shared memory or
// none is free.
func (l *NodeLink) allocateParcelData(n int) (*nodeLinkMemory, fragment, []byte) {
	if n < minSharedParcelData || n > maxFragmentSize {
		return nil, fragment{}, nil
	}
	memory := l.acquireMemory()
	if memory == nil {
		return nil, fragment{}, nil
	}
	f, block := memory.allocate(n)
	if f.isNull() {
		l.growMemory(memory, poolKey(classFor(n+blockHeaderSize)))
		if f, block = memory.allocate(n); f.isNull() {
			memory.release()
			return nil, fragment{}, nil
		}
	}
	return memory, f, block
}
