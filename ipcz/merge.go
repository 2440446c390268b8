package ipcz

// mergeRouters turns two terminal routers into a bridge: each forwards what
// arrives from its peer across the bridge to the other, which sends it on.
// Because neither router has put or got anything, both sequences start at
// 0 on both sides of the bridge, so parcels keep their numbers end to end.
// claim is called with both routers locked, to take the portal handles.
func mergeRouters(r1, r2 *Router, claim func() bool) error {
	// Two ends of one route (joined through earlier merges) would close the
	// route into a loop that nothing can reach.
	if r1.reachesOnThisNode(r2) {
		return InvalidArgument
	}
	var d trapDispatcher
	unlock := lockRouterPair(r1, r2)
	err := checkMergeLocked(r1, r2)
	if err == nil && !claim() {
		err = InvalidArgument
	}
	if err != nil {
		unlock()
		return err
	}
	l1, l2 := newLocalLinkPair(linkBridge, r1, r2)
	r1.bridge = &routeEdge{primary: l1}
	r2.bridge = &routeEdge{primary: l2}
	for _, r := range []*Router{r1, r2} {
		status := r.statusLocked()
		r.traps.removeAll(&status, &d)
	}
	unlock()
	d.dispatch()
	// Each bridge router watches its outward peer's consumption and passes
	// it across the bridge, so the merged route's ends see each other's.
	r1.onPeerConsumed()
	r2.onPeerConsumed()
	r1.flush()
	r2.flush()
	return nil
}

// reachesOnThisNode reports whether target is the other end of r's route,
// following local links and the bridges of merged routers on this node.
// It takes one router lock at a time.
func (r *Router) reachesOnThisNode(target *Router) bool {
	cur := r
	for range maxLocalRouteWalk {
		cur.mu.Lock()
		var peer *Router
		if l := cur.outward.primary; l != nil {
			peer = l.localPeer()
		}
		cur.mu.Unlock()
		if peer == nil {
			return false
		}
		if peer == target {
			return true
		}
		peer.mu.Lock()
		var across *Router
		if peer.bridge != nil && peer.bridge.primary != nil {
			across = peer.bridge.primary.localPeer()
		}
		peer.mu.Unlock()
		if across == nil {
			return false
		}
		if across == target {
			return true
		}
		cur = across
	}
	return false
}

// maxLocalRouteWalk bounds reachesOnThisNode.
const maxLocalRouteWalk = 1 << 16

// checkMergeLocked checks the preconditions of MergePortals.
// Preconditions: both routers' mutexes held.
func checkMergeLocked(r1, r2 *Router) error {
	for _, r := range []*Router{r1, r2} {
		if r.portalClosed || !r.isTerminalLocked() {
			return InvalidArgument
		}
	}
	if r1.localPeerLocked() == r2 {
		return InvalidArgument
	}
	for _, r := range []*Router{r1, r2} {
		if r.hasPut || r.hasGot || r.hasPendingPut || r.inTwoPhaseGet ||
			r.outbound.currentLength() != 0 || r.inbound.nextSequenceNumber() != 0 {
			return FailedPrecondition
		}
	}
	return nil
}
