package ipcz

// routeEdge is one direction of a router's connections (outward, or the
// bridge of a merged router): the link parcels travel over. While a link is
// being replaced, the old one decays: parcels numbered below
// lengthToDecaying still go over it and those below lengthFromDecaying may
// still come from it, and only then is it dropped. Sequence lengths are the
// only thing that decides when a link may go, so no parcel is lost or
// duplicated during a switch.
//
// A routeEdge is guarded by its Router's mutex.
type routeEdge struct {
	primary  routerLink
	decaying routerLink

	lengthToDecaying      SequenceNumber
	hasLengthToDecaying   bool
	lengthFromDecaying    SequenceNumber
	hasLengthFromDecaying bool
}

// isStable reports whether the edge has no decaying link.
func (e *routeEdge) isStable() bool { return e.decaying == nil }

// linkForParcel returns the link a parcel numbered n must leave by, or nil
// if it must wait (no link yet, or the decaying link's final length is not
// known and n may still belong to it).
func (e *routeEdge) linkForParcel(n SequenceNumber) routerLink {
	if e.decaying != nil {
		if !e.hasLengthToDecaying || n < e.lengthToDecaying {
			return e.decaying
		}
	}
	return e.primary
}

// beginDecay makes the primary link the decaying one and installs next as
// the new primary. The lengths are set later, when known.
func (e *routeEdge) beginDecay(next routerLink) {
	e.decaying = e.primary
	e.primary = next
	e.hasLengthToDecaying, e.hasLengthFromDecaying = false, false
}

// closureLink is the link the end of the sequence goes out on: the
// primary link, or the decaying one while there is no primary yet.
func (e *routeEdge) closureLink() routerLink {
	if e.primary != nil {
		return e.primary
	}
	return e.decaying
}

// tryFinishDecay drops the decaying link once every parcel that must leave
// by it has left (sent is the next outbound number to send) and every
// parcel that may come from it has come (received is the next inbound
// number expected). It returns the dropped link, or nil.
func (e *routeEdge) tryFinishDecay(sent, received SequenceNumber) routerLink {
	if e.decaying == nil || !e.hasLengthToDecaying || !e.hasLengthFromDecaying {
		return nil
	}
	if sent < e.lengthToDecaying || received < e.lengthFromDecaying {
		return nil
	}
	l := e.decaying
	e.decaying = nil
	e.hasLengthToDecaying, e.hasLengthFromDecaying = false, false
	return l
}
