package ipcz

// getResult is what a get took from the head parcel.
type getResult struct {
	numBytes   int
	numObjects int
	source     parcelSource
}

// emptyQueueErrorLocked is the error for a get on an empty queue: NotFound
// once nothing can ever arrive again, Unavailable otherwise.
// Preconditions: mu held.
func (r *Router) emptyQueueErrorLocked() error {
	if r.inbound.isSequenceFullyConsumed() {
		return NotFound
	}
	return Unavailable
}

// get copies the head parcel into data and objects. Without partial, it
// fails with ResourceExhausted (and the sizes needed) if the parcel does
// not fit; with partial, it takes what fits and leaves the rest queued.
func (r *Router) get(partial bool, data []byte, objects []Object) (getResult, error) {
	var d trapDispatcher
	r.mu.Lock()
	if r.portalClosed {
		r.mu.Unlock()
		return getResult{}, InvalidArgument
	}
	if r.inTwoPhaseGet {
		r.mu.Unlock()
		return getResult{}, AlreadyExists
	}
	p := r.inbound.peek()
	if p == nil {
		err := r.emptyQueueErrorLocked()
		r.mu.Unlock()
		return getResult{}, err
	}
	needBytes, needObjects := p.remainingBytes(), len(p.remainingObjects())
	if !partial && (needBytes > len(data) || needObjects > len(objects)) {
		r.mu.Unlock()
		return getResult{numBytes: needBytes, numObjects: needObjects}, ResourceExhausted
	}
	res := getResult{
		numBytes:   copy(data, p.remainingData()),
		numObjects: copy(objects, p.remainingObjects()),
		source:     p.source,
	}
	notify := r.consumeHeadLocked(p, res.numBytes, res.numObjects, &d)
	r.mu.Unlock()
	d.dispatch()
	if notify != nil {
		notify.notifyPeerConsumed()
	}
	return res, nil
}

// takeWhole pops the whole head parcel and returns its unread bytes and
// objects without copying (for Go callers that want the message as a
// value).
func (r *Router) takeWhole() ([]byte, []Object, error) {
	var d trapDispatcher
	r.mu.Lock()
	if r.portalClosed {
		r.mu.Unlock()
		return nil, nil, InvalidArgument
	}
	if r.inTwoPhaseGet {
		r.mu.Unlock()
		return nil, nil, AlreadyExists
	}
	p := r.inbound.peek()
	if p == nil {
		err := r.emptyQueueErrorLocked()
		r.mu.Unlock()
		return nil, nil, err
	}
	data, objects := p.remainingData(), p.remainingObjects()
	if p.shared != nil {
		// The caller keeps the bytes; shared memory is only lent.
		data = append([]byte(nil), data...)
	}
	notify := r.consumeHeadLocked(p, len(data), len(objects), &d)
	r.mu.Unlock()
	d.dispatch()
	if notify != nil {
		notify.notifyPeerConsumed()
	}
	return data[:len(data):len(data)], objects[:len(objects):len(objects)], nil
}

// consumeHeadLocked takes numBytes and numObjects from the head parcel p,
// popping it once nothing is left, and returns the link to notify.
// Preconditions: mu held; p is the head; the counts are within p.
func (r *Router) consumeHeadLocked(p *Parcel, numBytes, numObjects int, d *trapDispatcher) routerLink {
	p.consumed += numBytes
	p.objectsTaken += numObjects
	r.inbound.consumedFromHead(numBytes)
	r.consumedBytes += uint64(numBytes)
	if p.remainingBytes() == 0 && len(p.remainingObjects()) == 0 {
		r.inbound.pop()
		p.releaseData()
	}
	return r.afterConsumeLocked(d)
}

// beginGet starts a two-phase get of the head parcel, returning a view of
// its unread bytes and the number of its objects. The view stays valid
// until endGet.
func (r *Router) beginGet(acceptData, acceptObjects bool) ([]byte, int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.portalClosed {
		return nil, 0, InvalidArgument
	}
	if r.inTwoPhaseGet {
		return nil, 0, AlreadyExists
	}
	p := r.inbound.peek()
	if p == nil {
		return nil, 0, r.emptyQueueErrorLocked()
	}
	if (p.remainingBytes() > 0 && !acceptData) || (len(p.remainingObjects()) > 0 && !acceptObjects) {
		return nil, 0, ResourceExhausted
	}
	r.inTwoPhaseGet = true
	return p.remainingData(), len(p.remainingObjects()), nil
}

// endGet finishes the two-phase get: numBytes are consumed and numObjects
// objects are taken. With abort, nothing is consumed.
func (r *Router) endGet(numBytes, numObjects int, abort bool) ([]Object, parcelSource, error) {
	var d trapDispatcher
	r.mu.Lock()
	if r.portalClosed {
		r.mu.Unlock()
		return nil, nil, InvalidArgument
	}
	if !r.inTwoPhaseGet {
		r.mu.Unlock()
		return nil, nil, FailedPrecondition
	}
	if abort {
		r.inTwoPhaseGet = false
		r.mu.Unlock()
		return nil, nil, nil
	}
	p := r.inbound.peek()
	if numBytes < 0 || numObjects < 0 || numBytes > p.remainingBytes() || numObjects > len(p.remainingObjects()) {
		r.mu.Unlock()
		return nil, nil, OutOfRange
	}
	var objects []Object
	if numObjects > 0 {
		objects = append(objects, p.remainingObjects()[:numObjects]...)
	}
	source := p.source
	r.inTwoPhaseGet = false
	notify := r.consumeHeadLocked(p, numBytes, numObjects, &d)
	r.mu.Unlock()
	d.dispatch()
	if notify != nil {
		notify.notifyPeerConsumed()
	}
	return objects, source, nil
}

// pendingPut is the buffer of a two-phase put. When the portal's route
// leaves through another node, the buffer is a block of that node link's
// shared memory, so the bytes the application writes need no copy on
// their way out.
type pendingPut struct {
	buf []byte
	// memory, if not nil, holds buf in the block fragment names, with a
	// reference that release (or the parcel the block goes out in) drops.
	memory   *nodeLinkMemory
	fragment fragment
	// link is the node link memory belongs to.
	link *NodeLink
}

// release frees the buffer's shared block, if any.
func (pp *pendingPut) release() {
	if pp.memory != nil {
		pp.memory.free(pp.fragment)
		pp.memory.release()
		pp.memory = nil
	}
}

// beginPut starts a two-phase put of up to n bytes, subject to limits.
// With allowPartial the buffer may be smaller than n when the limits
// leave less room.
func (r *Router) beginPut(n int, allowPartial bool, limits *PutLimits) ([]byte, error) {
	r.mu.Lock()
	if err := r.beginPutLocked(&n, allowPartial, limits); err != nil {
		r.mu.Unlock()
		return nil, err
	}
	link, _ := r.outward.primary.(*remoteLink)
	r.hasPendingPut, r.putAllocating = true, true
	r.mu.Unlock()

	// The block is allocated without mu, which allocation's growth
	// messages must not be sent under; the put is held meanwhile.
	var pp pendingPut
	if link != nil {
		pp.memory, pp.fragment, pp.buf = link.nodeLink.allocateParcelData(n)
		pp.link = link.nodeLink
	}
	if pp.memory == nil {
		pp.buf = make([]byte, n)
	}

	r.mu.Lock()
	r.putAllocating = false
	if r.portalClosed {
		r.mu.Unlock()
		pp.release()
		return nil, InvalidArgument
	}
	r.pendingPut = pp
	r.mu.Unlock()
	return pp.buf, nil
}

// beginPutLocked checks that a two-phase put of *n bytes may start, and
// lowers *n to what limits allow if allowPartial. Preconditions: mu held.
func (r *Router) beginPutLocked(n *int, allowPartial bool, limits *PutLimits) error {
	if r.portalClosed {
		return InvalidArgument
	}
	if r.hasPendingPut {
		return AlreadyExists
	}
	if limits != nil {
		capacity := r.outboundCapacityLocked(limits)
		if capacity < 0 {
			return ResourceExhausted
		}
		if capacity < *n {
			if !allowPartial || capacity == 0 {
				return ResourceExhausted
			}
			*n = capacity
		}
	}
	if r.inbound.hasFinalLength {
		return NotFound
	}
	return nil
}

// takePendingPut returns a parcel holding the first numBytes of the
// pending two-phase put buffer, for committing, and whether the parcel
// took the buffer's shared block (so that a successful commit must not
// free it). The put stays pending (for a retry) if the size is wrong, and
// until finishPendingPut.
func (r *Router) takePendingPut(numBytes int) (parcel *Parcel, handedOver bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.portalClosed {
		return nil, false, InvalidArgument
	}
	if !r.hasPendingPut || r.putAllocating || r.putCommitting {
		return nil, false, FailedPrecondition
	}
	pp := &r.pendingPut
	if numBytes < 0 || numBytes > len(pp.buf) {
		return nil, false, InvalidArgument
	}
	r.putCommitting = true
	data := pp.buf[:numBytes:numBytes]
	switch {
	case pp.memory == nil:
		return &Parcel{data: data}, false, nil
	case numBytes < minSharedParcelData:
		// Too small to travel through shared memory: the block is freed
		// once the copy is committed.
		return newParcelCopy(data), false, nil
	default:
		f := pp.fragment
		f.size = uint32(numBytes)
		return &Parcel{data: data, shared: pp.memory, fragment: f, placedFor: pp.link}, true, nil
	}
}

// finishPendingPut ends a commit started by takePendingPut: on success the
// put is over; on failure it stays pending, unless the portal was closed
// meanwhile. handedOver is what takePendingPut said.
func (r *Router) finishPendingPut(committed, handedOver bool) {
	var done pendingPut
	r.mu.Lock()
	r.putCommitting = false
	if committed || r.portalClosed {
		done = r.pendingPut
		r.pendingPut, r.hasPendingPut = pendingPut{}, false
	}
	r.mu.Unlock()
	if committed && handedOver {
		return // the block went out with the parcel
	}
	done.release()
}

// abortPut cancels the pending two-phase put.
func (r *Router) abortPut() error {
	r.mu.Lock()
	if r.portalClosed {
		r.mu.Unlock()
		return InvalidArgument
	}
	if !r.hasPendingPut || r.putAllocating || r.putCommitting {
		r.mu.Unlock()
		return FailedPrecondition
	}
	pp := r.pendingPut
	r.pendingPut, r.hasPendingPut = pendingPut{}, false
	r.mu.Unlock()
	pp.release()
	return nil
}

// resetTransitHops records that an application took these objects out of
// a parcel: their portals start counting hops afresh.
func resetTransitHops(objects []Object) {
	for _, o := range objects {
		if p, ok := o.(*Portal); ok {
			if r := p.liveRouter(); r != nil {
				r.mu.Lock()
				r.transitHops = 0
				r.mu.Unlock()
			}
		}
	}
}
