package ipcz

// transit holds the objects of a parcel being put, detached from their
// application handles: on success they belong to the parcel; on failure
// restore gives the handles back.
type transit struct {
	// objects are the fresh objects the parcel carries.
	objects []Object
	// sources are the caller's objects, in the same order, with what was
	// taken from each.
	sources []transitSource
}

type transitSource struct {
	portal *Portal
	router *Router
	traps  []*trap // the portal's traps, taken with its handle
	box    *Box
	handle DriverHandle
}

// maxPairwiseDuplicateCheck is the most objects detachForTransit checks
// for duplicates pairwise.
const maxPairwiseDuplicateCheck = 16

// detachForTransit checks that every object may be sent through the
// portal whose router is from, then takes each away from its handle.
func detachForTransit(n *Node, from *Router, objects []Object) (*transit, error) {
	from.mu.Lock()
	localPeer := from.localPeerLocked()
	from.mu.Unlock()

	t := &transit{
		objects: make([]Object, 0, len(objects)),
		sources: make([]transitSource, 0, len(objects)),
	}
	// Duplicates are found by pairwise comparison for a few objects and
	// with a set for many (a parcel may carry thousands).
	var seen map[Object]struct{}
	if len(objects) > maxPairwiseDuplicateCheck {
		seen = make(map[Object]struct{}, len(objects))
	}
	for i, o := range objects {
		if o == nil || o.objectNode() != n {
			return nil, InvalidArgument
		}
		if seen != nil {
			if _, dup := seen[o]; dup {
				return nil, InvalidArgument
			}
			seen[o] = struct{}{}
		} else {
			for _, earlier := range objects[:i] {
				if earlier == o {
					return nil, InvalidArgument
				}
			}
		}
		switch o := o.(type) {
		case *Portal:
			r := o.liveRouter()
			if r == nil || r == from || r == localPeer || !r.transferable() || from.reachesOnThisNode(r) {
				return nil, InvalidArgument
			}
			t.sources = append(t.sources, transitSource{portal: o, router: r})
		case *Box:
			if o.handle.Load() == 0 {
				return nil, InvalidArgument
			}
			t.sources = append(t.sources, transitSource{box: o})
		default:
			return nil, InvalidArgument
		}
	}
	for i := range t.sources {
		s := &t.sources[i]
		ok := false
		if s.portal != nil {
			ok = s.portal.router.CompareAndSwap(s.router, nil)
			if ok {
				s.traps = s.router.takeTraps()
			}
			t.objects = append(t.objects, newPortal(n, s.router))
		} else {
			s.handle = s.box.take()
			ok = s.handle != InvalidDriverHandle
			t.objects = append(t.objects, newBox(n, s.handle))
		}
		if !ok {
			// Closed by another goroutine meanwhile.
			t.sources = t.sources[:i]
			t.restore()
			return nil, InvalidArgument
		}
	}
	return t, nil
}

// restore gives every object back to its handle.
func (t *transit) restore() {
	for _, s := range t.sources {
		if s.portal != nil {
			s.portal.router.Store(s.router)
			s.router.restoreTraps(s.traps)
		} else {
			s.box.handle.Store(uintptr(s.handle))
		}
	}
}

// commit finishes a successful put: the traps of the portals sent fire
// REMOVED, because their handles are gone.
func (t *transit) commit() {
	for _, s := range t.sources {
		if s.router != nil {
			s.router.fireRemoved(s.traps)
		}
	}
}

// transferable reports whether the router's portal may be sent: not while
// a two-phase operation is in progress on it.
func (r *Router) transferable() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.hasPendingPut && !r.inTwoPhaseGet && !r.portalClosed
}
