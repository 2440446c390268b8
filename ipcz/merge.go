package ipcz

// mergeRouters turns two terminal routers into a bridge: each forwards what
// arrives from its peer across the bridge to the other, which sends it on.
// Because neither router has put or got anything, both sequences start at
// 0 on both sides of the bridge, so parcels keep their numbers end to end.
// claim is called with both routers locked, to take the portal handles.
func mergeRouters(r1, r2 *Router, claim func() bool) error {
	var d trapDispatcher
	lo, hi := r1, r2
	if hi.id < lo.id {
		lo, hi = hi, lo
	}
	lo.mu.Lock()
	hi.mu.Lock()
	err := checkMergeLocked(r1, r2)
	if err == nil && !claim() {
		err = InvalidArgument
	}
	if err != nil {
		hi.mu.Unlock()
		lo.mu.Unlock()
		return err
	}
	l1, l2 := newLocalLinkPair(linkBridge, r1, r2)
	r1.bridge = &routeEdge{primary: l1}
	r2.bridge = &routeEdge{primary: l2}
	for _, r := range []*Router{r1, r2} {
		status := r.statusLocked()
		r.traps.removeAll(&status, &d)
	}
	hi.mu.Unlock()
	lo.mu.Unlock()
	d.dispatch()
	r1.flush()
	r2.flush()
	return nil
}

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
