package ipcz

import "sync/atomic"

// Portal is one end of a route. Whatever is put into a portal comes out of
// its peer, in order.
//
// A Portal is a thin handle on a terminal Router. When the portal is
// closed, sent in a parcel or merged, the handle goes dead (its calls
// return InvalidArgument) and the router carries on as the route requires.
type Portal struct {
	node *Node // immutable
	// router backs the portal; nil once the handle is dead. Atomic, so the
	// hot paths take no portal lock.
	router atomic.Pointer[Router]
}

func newPortal(n *Node, r *Router) *Portal {
	p := &Portal{node: n}
	p.router.Store(r)
	return p
}

func (p *Portal) objectNode() *Node {
	if p == nil {
		return nil
	}
	return p.node
}

// liveRouter returns the router of a live portal, or nil.
func (p *Portal) liveRouter() *Router {
	if p == nil {
		return nil
	}
	return p.router.Load()
}

// Close closes the portal. Its peer sees PEER_CLOSED at once and DEAD once
// it has retrieved every parcel this portal sent. Traps still installed
// fire with REMOVED.
func (p *Portal) Close() error {
	if p == nil {
		return InvalidArgument
	}
	r := p.router.Swap(nil)
	if r == nil {
		return InvalidArgument
	}
	r.closePortal()
	return nil
}

// QueryStatus returns the portal's status.
func (p *Portal) QueryStatus() (PortalStatus, error) {
	r := p.liveRouter()
	if r == nil {
		return PortalStatus{}, InvalidArgument
	}
	return r.queryStatus()
}

// Put sends data and objects (portals and boxes) to the peer as one parcel.
// On success the objects belong to ipcz and their handles go dead; on
// failure they stay the caller's. Errors: InvalidArgument for a dead
// portal or an object that cannot be sent (dead, of the wrong kind, of
// another node, listed twice, this portal or its peer on this node, or in
// a two-phase operation); AlreadyExists during a two-phase put; NotFound
// once the peer is known closed; ResourceExhausted if limits would be
// exceeded or objects holds more than MaxObjectsPerParcel.
func (p *Portal) Put(data []byte, objects []Object, limits *PutLimits) error {
	r := p.liveRouter()
	if r == nil {
		return InvalidArgument
	}
	parcel := r.newOutboundParcel(data)
	err := p.sendParcel(r, parcel, objects, limits, false)
	if err != nil {
		parcel.releaseData()
	}
	return err
}

// MaxObjectsPerParcel is the most portals and boxes one parcel may carry;
// a put with more fails with ResourceExhausted.
const MaxObjectsPerParcel = 1 << 12

// sendParcel sends parcel with objects attached.
func (p *Portal) sendParcel(r *Router, parcel *Parcel, objects []Object, limits *PutLimits, fromEndPut bool) error {
	if len(objects) > MaxObjectsPerParcel {
		return ResourceExhausted
	}
	if len(objects) == 0 {
		return r.sendOutboundParcel(parcel, limits, fromEndPut)
	}
	transit, err := detachForTransit(p.node, r, objects)
	if err != nil {
		return err
	}
	parcel.objects = transit.objects
	if err := r.sendOutboundParcel(parcel, limits, fromEndPut); err != nil {
		transit.restore()
		return err
	}
	transit.commit()
	return nil
}

// BeginPut starts a two-phase put: it returns a buffer of numBytes for the
// caller to fill and commit with EndPut. With BeginPutAllowPartial the
// buffer may be smaller when limits leave less room. When the portal's
// route leaves through another node, the buffer is that node pair's
// shared memory, so the bytes written into it are not copied again: it
// must not be used after EndPut or once the portal is closed. Errors:
// AlreadyExists while another two-phase put is in progress;
// ResourceExhausted if limits would be exceeded; NotFound once the peer
// is known closed.
func (p *Portal) BeginPut(numBytes int, flags BeginPutFlags, limits *PutLimits) ([]byte, error) {
	r := p.liveRouter()
	if r == nil || numBytes < 0 {
		return nil, InvalidArgument
	}
	return r.beginPut(numBytes, flags&BeginPutAllowPartial != 0, limits)
}

// EndPut commits the first numBytesProduced bytes of the BeginPut buffer,
// with objects, as one parcel; or, with EndPutAbort, cancels the put.
// Errors: FailedPrecondition if no two-phase put is in progress;
// InvalidArgument if numBytesProduced exceeds the buffer or an object
// cannot be sent; NotFound once the peer is known closed. On any error but
// FailedPrecondition the put stays in progress.
func (p *Portal) EndPut(numBytesProduced int, objects []Object, flags EndPutFlags) error {
	r := p.liveRouter()
	if r == nil {
		return InvalidArgument
	}
	if flags&EndPutAbort != 0 {
		return r.abortPut()
	}
	parcel, handedOver, err := r.takePendingPut(numBytesProduced)
	if err != nil {
		return err
	}
	err = p.sendParcel(r, parcel, objects, nil, true)
	r.finishPendingPut(err == nil, handedOver)
	return err
}

// Get copies the next parcel into data and objects and reports how much of
// each it filled. Without GetPartial a parcel that does not fit is left in
// place and ResourceExhausted is returned with the sizes it needs; with
// GetPartial whatever fits is taken and the rest stays at the head of the
// queue. Errors: Unavailable if no parcel is queued; NotFound if none
// will ever come again (the peer closed); AlreadyExists during a
// two-phase get.
func (p *Portal) Get(flags GetFlags, data []byte, objects []Object) (numBytes, numObjects int, err error) {
	r := p.liveRouter()
	if r == nil {
		return 0, 0, InvalidArgument
	}
	res, err := r.get(flags&GetPartial != 0, data, objects)
	if err == nil {
		resetTransitHops(objects[:res.numObjects])
	}
	return res.numBytes, res.numObjects, err
}

// GetValidated is Get that also returns a Validator for the parcel.
func (p *Portal) GetValidated(flags GetFlags, data []byte, objects []Object) (numBytes, numObjects int, v *Validator, err error) {
	r := p.liveRouter()
	if r == nil {
		return 0, 0, nil, InvalidArgument
	}
	res, err := r.get(flags&GetPartial != 0, data, objects)
	if err != nil {
		return res.numBytes, res.numObjects, nil, err
	}
	resetTransitHops(objects[:res.numObjects])
	return res.numBytes, res.numObjects, &Validator{node: p.node, source: res.source}, nil
}

// GetMessage takes the whole next parcel without copying: the returned
// slices belong to the caller. Errors are those of Get.
func (p *Portal) GetMessage() ([]byte, []Object, error) {
	r := p.liveRouter()
	if r == nil {
		return nil, nil, InvalidArgument
	}
	data, objects, err := r.takeWhole()
	resetTransitHops(objects)
	return data, objects, err
}

// BeginGet starts a two-phase get of the next parcel: it returns a view of
// the parcel's unread bytes and the number of its objects, valid until
// EndGet. acceptData and acceptObjects say whether the caller can take
// bytes and objects at all (a null pointer in C); if the parcel has some
// the caller cannot take, ResourceExhausted. Other errors are those of
// Get.
func (p *Portal) BeginGet(acceptData, acceptObjects bool) (data []byte, numObjects int, err error) {
	r := p.liveRouter()
	if r == nil {
		return nil, 0, InvalidArgument
	}
	return r.beginGet(acceptData, acceptObjects)
}

// EndGet finishes a two-phase get, consuming numBytesConsumed bytes and
// taking numObjects objects; whatever is left of the parcel stays at the
// head of the queue. With EndGetAbort nothing is consumed. Errors:
// FailedPrecondition if no two-phase get is in progress; OutOfRange if
// more bytes or objects are asked for than the parcel holds.
func (p *Portal) EndGet(numBytesConsumed, numObjects int, flags EndGetFlags) ([]Object, error) {
	objects, _, err := p.endGet(numBytesConsumed, numObjects, flags)
	return objects, err
}

// EndGetValidated is EndGet that also returns a Validator for the parcel
// (nil when aborting).
func (p *Portal) EndGetValidated(numBytesConsumed, numObjects int, flags EndGetFlags) ([]Object, *Validator, error) {
	objects, source, err := p.endGet(numBytesConsumed, numObjects, flags)
	if err != nil || flags&EndGetAbort != 0 {
		return objects, nil, err
	}
	return objects, &Validator{node: p.node, source: source}, nil
}

func (p *Portal) endGet(numBytes, numObjects int, flags EndGetFlags) ([]Object, parcelSource, error) {
	r := p.liveRouter()
	if r == nil {
		return nil, nil, InvalidArgument
	}
	objects, source, err := r.endGet(numBytes, numObjects, flags&EndGetAbort != 0)
	resetTransitHops(objects)
	return objects, source, err
}

// Trap installs a trap that calls handler once, with context, when any of
// the conditions holds (or with TrapRemoved when the portal is closed or
// sent). The trap is removed just before its handler runs. If a level
// condition already holds the trap is not installed: FailedPrecondition,
// with the conditions that hold and the current status.
func (p *Portal) Trap(conditions *TrapConditions, handler TrapHandler, context uintptr) (TrapConditionFlags, PortalStatus, error) {
	r := p.liveRouter()
	if r == nil || conditions == nil || handler == nil {
		return 0, PortalStatus{}, InvalidArgument
	}
	return r.installTrap(&trap{conditions: *conditions, handler: handler, context: context})
}

// MergePortals joins the routes of two portals: the peer of first becomes
// entangled with the peer of second, and both handles go dead. Parcels
// already queued or in flight carry on to their new destination. Errors:
// InvalidArgument if the portals are the same, are each other's peer, or
// belong to different nodes; FailedPrecondition if either has put or got
// a parcel (or is in a two-phase operation).
func MergePortals(first, second *Portal) error {
	r1, r2 := first.liveRouter(), second.liveRouter()
	if r1 == nil || r2 == nil || r1 == r2 || first.node != second.node {
		return InvalidArgument
	}
	if err := mergeRouters(r1, r2, func() bool {
		// Claim both handles; if either was closed meanwhile, give up.
		if !first.router.CompareAndSwap(r1, nil) {
			return false
		}
		if !second.router.CompareAndSwap(r2, nil) {
			first.router.Store(r1)
			return false
		}
		return true
	}); err != nil {
		return err
	}
	return nil
}
