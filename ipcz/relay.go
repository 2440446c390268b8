package ipcz

import "github.com/ipcz-go/ipcz-go/internal/wire"

// Relaying driver objects through the broker.
//
// A driver may refuse to send an object directly between two nodes
// (Serialize answers PermissionDenied), for instance when neither is
// privileged enough to pass it. Such messages go to the broker instead:
// RelayMessage(destination, inner message, objects). The broker, which can
// reach every node it connected, forwards AcceptRelayedMessage(source,
// inner message, objects) to the destination, which handles the inner
// message as if it had come over its own link to the source.
//
// A parcel is split so that its ordering with the direct link's other
// messages is kept: AcceptParcel goes directly (with placeholders for its
// boxes, and any portals), and only its boxes go through the broker, in
// AcceptParcelDriverObjects(sublink, sequence number). The destination
// joins the two halves, whichever comes first.

// maxPendingRelayedParcels bounds the half-parcels a link holds while
// waiting for their other half.
const maxPendingRelayedParcels = 1 << 12

// parcelKey identifies a parcel on a NodeLink.
type parcelKey struct {
	sublink SublinkID
	seq     SequenceNumber
}

// relayedParcels holds the halves of split parcels received on one link.
// Guarded by NodeLink.mu.
type relayedParcels struct {
	// parcels wait for their boxes; boxes wait for their parcel.
	parcels map[parcelKey]*Parcel
	boxes   map[parcelKey][]DriverHandle
}

// relay sends m to the node at the far end of l through the broker.
func (l *NodeLink) relay(m *outMessage) bool {
	n := l.node
	n.mu.Lock()
	broker := n.brokerLink
	n.mu.Unlock()
	if broker == nil || broker == l {
		closeHandles(l.driver, m.objects)
		return false
	}
	objects := m.objects
	inner, _ := m.finish(nil)
	outer := newOutMessageSized(msgRelayMessage, len(inner)+32)
	encodeNodeName(&outer.params, l.RemoteName())
	outer.params.Blob(inner)
	outer.params.U32(uint32(len(objects)))
	for _, h := range objects {
		outer.addObject(h)
	}
	return broker.transmit(outer)
}

// onRelayMessage: the broker forwards a message between two nodes.
func (l *NodeLink) onRelayMessage(m *inMessage) error {
	d := m.params
	destination := decodeNodeName(d)
	inner := d.Blob(maxParcelDataInline)
	count := d.Count(maxMessageObjects, 4)
	if d.Failed() || !l.node.isBroker {
		return wire.ErrMalformed
	}
	objects := make([]DriverHandle, 0, count)
	for range count {
		h, err := m.claimObject()
		if err != nil {
			closeHandles(l.driver, objects)
			return err
		}
		objects = append(objects, h)
	}
	if err := d.Finish(); err != nil {
		closeHandles(l.driver, objects)
		return err
	}
	to := l.node.linkTo(destination)
	if to == nil || to == l {
		closeHandles(l.driver, objects)
		return nil
	}
	out := newOutMessage(msgAcceptRelayedMessage)
	encodeNodeName(&out.params, l.RemoteName())
	out.params.Blob(inner)
	out.params.U32(uint32(len(objects)))
	for _, h := range objects {
		out.addObject(h)
	}
	to.transmit(out)
	return nil
}

// onAcceptRelayedMessage: our broker delivers a message another node sent
// us through it. It is handled on our link to that node.
func (l *NodeLink) onAcceptRelayedMessage(m *inMessage) error {
	d := m.params
	source := decodeNodeName(d)
	inner := d.Blob(maxParcelDataInline)
	count := d.Count(maxMessageObjects, 4)
	n := l.node
	n.mu.Lock()
	fromBroker := n.brokerLink == l
	n.mu.Unlock()
	if d.Failed() || !fromBroker {
		return wire.ErrMalformed
	}
	objects := make([]inObject, 0, count)
	for range count {
		h, err := m.claimObject()
		if err != nil {
			for _, o := range objects {
				l.driver.Close(o.relayed)
			}
			return err
		}
		objects = append(objects, inObject{relayed: h})
	}
	if err := d.Finish(); err != nil {
		for _, o := range objects {
			l.driver.Close(o.relayed)
		}
		return err
	}
	from := n.linkTo(source)
	if from == nil {
		for _, o := range objects {
			l.driver.Close(o.relayed)
		}
		return nil
	}
	innerMsg, err := decodeFrame(inner, nil)
	if err != nil || len(innerMsg.objects) != 0 {
		for _, o := range objects {
			l.driver.Close(o.relayed)
		}
		from.fail(true)
		return nil
	}
	innerMsg.objects = objects
	innerMsg.driver, innerMsg.transport = from.driver, from.transport
	// The inner message is the source's: if it is bad, that link fails,
	// not the broker's.
	err = from.dispatch(innerMsg)
	innerMsg.closeUnclaimed()
	if err != nil {
		from.fail(true)
	}
	return nil
}

// onAcceptParcelDriverObjects receives the relayed boxes of a split parcel.
func (l *NodeLink) onAcceptParcelDriverObjects(m *inMessage) error {
	d := m.params
	key := parcelKey{sublink: d.U64(), seq: d.U64()}
	count := d.Count(MaxObjectsPerParcel, 4)
	if d.Failed() {
		return wire.ErrMalformed
	}
	boxes := make([]DriverHandle, 0, count)
	for range count {
		h, err := m.claimObject()
		if err != nil {
			closeHandles(l.driver, boxes)
			return err
		}
		boxes = append(boxes, h)
	}
	if err := d.Finish(); err != nil {
		closeHandles(l.driver, boxes)
		return err
	}
	l.mu.Lock()
	p := l.relayed.parcels[key]
	if p == nil {
		if _, dup := l.relayed.boxes[key]; dup || len(l.relayed.boxes) >= maxPendingRelayedParcels {
			l.mu.Unlock()
			closeHandles(l.driver, boxes)
			return wire.ErrMalformed
		}
		if l.relayed.boxes == nil {
			l.relayed.boxes = make(map[parcelKey][]DriverHandle)
		}
		l.relayed.boxes[key] = boxes
		l.mu.Unlock()
		return nil
	}
	delete(l.relayed.parcels, key)
	l.mu.Unlock()
	if !l.fillRelayedBoxes(p, boxes) {
		closeHandles(l.driver, boxes)
		p.discard()
		return wire.ErrMalformed
	}
	return l.deliverParcel(key.sublink, p)
}

// fillRelayedBoxes puts relayed boxes into a parcel's placeholders (nil
// objects), which must be exactly as many.
func (l *NodeLink) fillRelayedBoxes(p *Parcel, boxes []DriverHandle) bool {
	holes := 0
	for _, o := range p.objects {
		if o == nil {
			holes++
		}
	}
	if holes != len(boxes) {
		return false
	}
	i := 0
	for j, o := range p.objects {
		if o == nil {
			p.objects[j] = newBox(l.node, boxes[i])
			i++
		}
	}
	return true
}

// awaitRelayedBoxes holds a parcel whose boxes come through the broker, or
// completes it if they already came. It reports whether the parcel is
// ready to deliver.
func (l *NodeLink) awaitRelayedBoxes(key parcelKey, p *Parcel) (ready bool, err error) {
	l.mu.Lock()
	boxes, ok := l.relayed.boxes[key]
	if !ok {
		if _, dup := l.relayed.parcels[key]; dup || len(l.relayed.parcels) >= maxPendingRelayedParcels {
			l.mu.Unlock()
			return false, wire.ErrMalformed
		}
		if l.relayed.parcels == nil {
			l.relayed.parcels = make(map[parcelKey]*Parcel)
		}
		l.relayed.parcels[key] = p
		l.mu.Unlock()
		return false, nil
	}
	delete(l.relayed.boxes, key)
	l.mu.Unlock()
	if !l.fillRelayedBoxes(p, boxes) {
		closeHandles(l.driver, boxes)
		return false, wire.ErrMalformed
	}
	return true, nil
}

// dropRelayed discards the halves still held when the link fails.
func (l *NodeLink) dropRelayedLocked() (parcels []*Parcel, boxes []DriverHandle) {
	for _, p := range l.relayed.parcels {
		parcels = append(parcels, p)
	}
	for _, b := range l.relayed.boxes {
		boxes = append(boxes, b...)
	}
	l.relayed = relayedParcels{}
	return parcels, boxes
}
