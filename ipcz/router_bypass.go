package ipcz

// Proxy bypass, the router side. See docs/design.md for the protocol; in
// short, a proxy Y between Z (inward, on another node, where its portal
// went) and X (outward, across the central link) locks the central link
// and has X and Z linked directly. Each of X and Z then decays its old
// link to Y by sequence length, and Y forwards exactly what falls below
// those lengths before it disappears.

// canSendClosure reports whether the end of a sequence may go over l now:
// on a central link the closing side must lock it, which it cannot while
// the other side holds it for a bypass that will replace the link (the
// closure then goes over the replacement).
func canSendClosure(l routerLink) bool {
	if l.linkType() != linkCentral {
		return true
	}
	st := l.state()
	return st == nil || st.tryLockForClosure(l.side())
}

// arrivedLength is one past the last contiguous sequence number that has
// arrived in q (popped or still queued).
func arrivedLength(q *parcelQueue) SequenceNumber { return q.base + uint64(q.available) }

// finishDecayLocked drops decaying links whose traffic is complete and
// returns them for deactivation. A final sequence length, once known,
// bounds a decaying link as well as an explicit length does.
// Preconditions: mu held.
func (r *Router) finishDecayLocked() []routerLink {
	var done []routerLink
	if e := &r.outward; e.decaying != nil {
		boundDecay(e, &r.outbound, &r.inbound)
		if l := e.tryFinishDecay(r.outbound.nextSequenceNumber(), arrivedLength(&r.inbound)); l != nil {
			done = append(done, l)
		}
	}
	if e := r.innerEdgeLocked(); e != nil && e.decaying != nil {
		boundDecay(e, &r.inbound, &r.outbound)
		if l := e.tryFinishDecay(r.inbound.nextSequenceNumber(), arrivedLength(&r.outbound)); l != nil {
			done = append(done, l)
		}
	}
	return done
}

// boundDecay fills in a decaying edge's unknown lengths from the final
// lengths of the sequences that leave by it (out) and arrive over it (in).
func boundDecay(e *routeEdge, out, in *parcelQueue) {
	if !e.hasLengthToDecaying && out.hasFinalLength {
		e.lengthToDecaying, e.hasLengthToDecaying = out.finalLength, true
	}
	if !e.hasLengthFromDecaying && in.hasFinalLength {
		e.lengthFromDecaying, e.hasLengthFromDecaying = in.finalLength, true
	}
}

// markStableLocked marks this side of the outward central link stable when
// none of the router's edges is changing, and returns the link whose far
// side was waiting for that (to be flushed). Preconditions: mu held.
func (r *Router) markStableLocked() routerLink {
	l := r.outward.primary
	if l == nil || l.linkType() != linkCentral || !r.outward.isStable() || r.bypassing {
		return nil
	}
	if inner := r.innerEdgeLocked(); inner != nil && (!inner.isStable() || inner.primary == nil) {
		return nil
	}
	st := l.state()
	if st == nil || !st.markStable(l.side()) {
		return nil
	}
	return l
}

// switchOutwardLocked starts replacing the outward link by next (which
// may be nil while it is not usable yet): the current primary decays, and
// parcels numbered from lengthTo on go to next. The portal's consumption
// counts are published on next's state, whose far side will read them.
// Preconditions: mu held; the outward edge is stable.
func (r *Router) switchOutwardLocked(next routerLink, lengthTo SequenceNumber) {
	r.outward.beginDecay(next)
	r.outward.lengthToDecaying, r.outward.hasLengthToDecaying = lengthTo, true
	if next != nil {
		r.publishOnLocked(next)
	}
}

// setOutwardPrimaryLocked installs the replacement outward link that
// switchOutwardLocked left pending. Preconditions: mu held.
func (r *Router) setOutwardPrimaryLocked(next routerLink) {
	r.outward.primary = next
	r.publishOnLocked(next)
}

// publishOnLocked writes the router's consumption counts into l's state
// and re-arms remote monitoring there if traps need it. What this owes the
// far side (a notification it asked for) and itself (a look at the new
// link's counts for its remote traps) is done by the next flush.
// Preconditions: mu held.
func (r *Router) publishOnLocked(l routerLink) {
	st := l.state()
	if st == nil {
		return
	}
	// A proxy's inbound queue counts what it forwarded, not what the
	// route's end consumed: published, it would make the far side's remote
	// queue look shorter than it is. Its side stays as the state was (zero,
	// for a new one), which can only overstate.
	if r.inward != nil {
		return
	}
	if st.publishConsumed(l.side(), r.inbound.nextSequenceNumber(), r.consumedBytes) {
		r.owedNotify = l
	}
	if r.traps.needsRemoteState() {
		st.monitorPeer(l.side())
		r.recheckRemote = true
	}
}

// maybeStartBypass starts removing this router from its route if it is a
// proxy next to the central link with both edges settled, and the link can
// be locked. X local: the new link is built here (bypassLocalPeer).
// X remote: Z is asked to link to X (BypassPeer).
func (r *Router) maybeStartBypass() {
	r.mu.Lock()
	if r.bridge != nil {
		r.mu.Unlock()
		r.maybeBypassBridge()
		return
	}
	if r.inward == nil || r.bypassing || r.bypassAbandoned ||
		r.inbound.hasFinalLength || r.outbound.hasFinalLength {
		r.mu.Unlock()
		return
	}
	in, out := r.inward.primary, r.outward.primary
	if in == nil || out == nil || !r.inward.isStable() || !r.outward.isStable() || out.linkType() != linkCentral {
		r.mu.Unlock()
		return
	}
	toZ, ok := in.(*remoteLink)
	st := out.state()
	if !ok || st == nil {
		r.mu.Unlock()
		return
	}
	if !st.tryLockForBypass(out.side(), toZ.nodeLink.RemoteName()) {
		r.mu.Unlock()
		return
	}
	r.bypassing = true
	x := out.localPeer()
	r.mu.Unlock()

	if x != nil {
		r.bypassLocalPeer(x, out, toZ)
		return
	}
	toX := out.(*remoteLink)
	toZ.nodeLink.sendBypassPeer(toZ.sublink, toX.nodeLink.RemoteName(), toX.sublink)
}

// abandonBypass gives up a bypass that has not changed any edge yet: the
// central link is unlocked and the other side flushed (it may be waiting
// to send its closure).
func (r *Router) abandonBypass() {
	r.mu.Lock()
	if r.bridge != nil {
		r.mu.Unlock()
		r.abandonBridgeBypass()
		return
	}
	if !r.bypassing || r.bypassCommitted {
		r.mu.Unlock()
		return
	}
	r.bypassing = false
	r.bypassAbandoned = true
	out := r.outward.primary
	if out != nil {
		if st := out.state(); st != nil {
			st.unlock(out.side())
		}
	}
	r.mu.Unlock()
	if out != nil {
		out.flushPeer()
	}
	r.flush()
}

// bypassLocalPeer is the bypass of a proxy Y (r) whose outward peer X is on
// this node: Y gives X a new link to Z on Y's node link to Z, tells Z with
// BypassPeerWithLink, and lets its own links decay. X's parcels numbered
// below lengthX still go through Y; Z's length comes back in
// StopProxyingToLocalPeer.
func (r *Router) bypassLocalPeer(x *Router, yToX routerLink, toZ *remoteLink) {
	nl := toZ.nodeLink
	f, st := nl.allocateLinkState()
	id := nl.allocateSublink()
	xToZ, ok := nl.addSublink(id, linkCentral, sideA, x, st, f)
	if !ok {
		r.abandonBypass()
		return
	}
	xSide := yToX.side().opposite()
	x.mu.Lock()
	if l := x.outward.primary; l == nil || l.localPeer() != r || l.side() != xSide || !x.outward.isStable() {
		x.mu.Unlock()
		xToZ.deactivate()
		r.abandonBypass()
		return
	}
	lengthX := x.outbound.currentLength()
	x.switchOutwardLocked(nil, lengthX)
	x.mu.Unlock()

	r.mu.Lock()
	r.bypassCommitted = true
	r.inward.beginDecay(nil)
	r.inward.lengthToDecaying, r.inward.hasLengthToDecaying = lengthX, true
	r.outward.beginDecay(nil)
	r.outward.lengthFromDecaying, r.outward.hasLengthFromDecaying = lengthX, true
	r.mu.Unlock()

	nl.sendBypassPeerWithLink(toZ.sublink, id, f, lengthX)
	nl.announce(xToZ)

	x.mu.Lock()
	x.setOutwardPrimaryLocked(xToZ)
	x.mu.Unlock()
	x.flush()
	r.flush()
}

// stopProxying ends a proxy's part in a bypass: it forwards inward what X
// sent below lengthX and outward what Z sent below lengthZ, then its links
// are gone.
func (r *Router) stopProxying(lengthX, lengthZ SequenceNumber) bool {
	r.mu.Lock()
	if r.bridge != nil {
		r.mu.Unlock()
		return r.bridgeLengthsFromFar(lengthX, lengthZ)
	}
	if !r.bypassing || r.bypassCommitted || r.inward == nil {
		r.mu.Unlock()
		return false
	}
	r.bypassCommitted = true
	r.inward.beginDecay(nil)
	r.inward.lengthToDecaying, r.inward.hasLengthToDecaying = lengthX, true
	r.inward.lengthFromDecaying, r.inward.hasLengthFromDecaying = lengthZ, true
	r.outward.beginDecay(nil)
	r.outward.lengthToDecaying, r.outward.hasLengthToDecaying = lengthZ, true
	r.outward.lengthFromDecaying, r.outward.hasLengthFromDecaying = lengthX, true
	r.mu.Unlock()
	r.flush()
	return true
}

// stopProxyingToLocalPeer completes bypassLocalPeer with Z's length.
func (r *Router) stopProxyingToLocalPeer(lengthZ SequenceNumber) bool {
	r.mu.Lock()
	if r.bridge != nil {
		// The pair's near router: its outer router Z sent nothing past
		// lengthZ; the far side's lengths were set when the bypass began.
		p := r.bridgePartnerLocked()
		r.mu.Unlock()
		if p == nil {
			return false
		}
		p.mu.Lock()
		lengthX := p.outward.lengthFromDecaying
		known := p.outward.hasLengthFromDecaying
		p.mu.Unlock()
		return known && r.bridgeLengthsFromFar(lengthZ, lengthX)
	}
	if !r.bypassing || !r.bypassCommitted || r.inward == nil || r.outward.decaying == nil {
		r.mu.Unlock()
		return false
	}
	x := r.outward.decaying.localPeer()
	r.inward.lengthFromDecaying, r.inward.hasLengthFromDecaying = lengthZ, true
	r.outward.lengthToDecaying, r.outward.hasLengthToDecaying = lengthZ, true
	r.mu.Unlock()
	if x != nil {
		x.mu.Lock()
		if x.outward.decaying != nil && x.outward.decaying.localPeer() == r {
			x.outward.lengthFromDecaying, x.outward.hasLengthFromDecaying = lengthZ, true
		}
		x.mu.Unlock()
		x.flush()
	}
	r.flush()
	return true
}

// proxyWillStop gives Z the length below which X's parcels still come
// through the proxy.
func (r *Router) proxyWillStop(lengthX SequenceNumber) {
	r.mu.Lock()
	if r.outward.decaying != nil && !r.outward.hasLengthFromDecaying {
		r.outward.lengthFromDecaying, r.outward.hasLengthFromDecaying = lengthX, true
	}
	r.mu.Unlock()
	r.flush()
}

// prepareBypassFrom checks that the router can replace its outward link
// old (to the proxy) and, if so, starts decaying it: parcels from the
// returned length on wait for the new link. ok is false if the router's
// route is ending or its outward link has changed.
func (r *Router) prepareBypassFrom(old routerLink) (length SequenceNumber, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.outward.primary != old || !r.outward.isStable() || r.portalClosed ||
		r.inbound.hasFinalLength || r.outbound.hasFinalLength {
		return 0, false
	}
	length = r.outbound.currentLength()
	r.switchOutwardLocked(nil, length)
	return length, true
}

// linkStateAttached runs when a link of the router gets its shared state
// late: consumption counts go onto it, and the flush marks stability and
// may start a bypass that needed the state.
func (r *Router) linkStateAttached(l routerLink) {
	r.mu.Lock()
	if r.outward.primary == l {
		r.publishOnLocked(l)
	}
	r.mu.Unlock()
	r.flush()
}

// maybeBypassBridge removes a merged pair of bridge routers (r and its
// partner) from their route, so that the routers beyond them, A (r's
// outward peer) and D (the partner's), end directly linked. The lower-id
// router of the pair does it once both central links are locked. The
// pair then acts as one proxy, and the cases are those of a proxy bypass:
// A and D both on this node get a local link; one of them here gets a
// remote link to the other (BypassPeerWithLink, answered by
// StopProxyingToLocalPeer); both elsewhere are linked by A
// (BypassPeer to A, AcceptBypassLink to D, StopProxying to the pair).
func (r *Router) maybeBypassBridge() {
	r.mu.Lock()
	if r.bypassing || r.bypassAbandoned || r.bridge == nil || r.bridge.primary == nil ||
		r.inbound.hasFinalLength || r.outbound.hasFinalLength ||
		!r.bridge.isStable() || !r.outward.isStable() {
		r.mu.Unlock()
		return
	}
	partner := r.bridge.primary.localPeer()
	toA := r.outward.primary
	r.mu.Unlock()
	if partner == nil || partner.id < r.id || toA == nil || toA.linkType() != linkCentral {
		return
	}
	partner.mu.Lock()
	toD := partner.outward.primary
	ok := partner.bridge != nil && partner.bridge.isStable() && partner.outward.isStable() &&
		!partner.bypassing && !partner.inbound.hasFinalLength && !partner.outbound.hasFinalLength
	partner.mu.Unlock()
	if !ok || toD == nil || toD.linkType() != linkCentral {
		return
	}
	stA, stD := toA.state(), toD.state()
	if stA == nil || stD == nil {
		return
	}
	// D accepts a bypass link only from the node r names here: A's.
	var sourceForD NodeName
	if rl, remote := toA.(*remoteLink); remote {
		sourceForD = rl.nodeLink.RemoteName()
	}
	if !stA.tryLockForBypass(toA.side(), NodeName{}) {
		return
	}
	if !stD.tryLockForBypass(toD.side(), sourceForD) {
		stA.unlock(toA.side())
		return
	}
	a, d := toA.localPeer(), toD.localPeer()
	switch {
	case a != nil && d != nil:
		r.bypassBridgeLocally(partner, toA, toD)
	case a == nil && d == nil:
		r.mu.Lock()
		partner.mu.Lock()
		r.bypassing, partner.bypassing = true, true
		partner.mu.Unlock()
		r.mu.Unlock()
		toAr, toDr := toA.(*remoteLink), toD.(*remoteLink)
		toAr.nodeLink.sendBypassPeer(toAr.sublink, toDr.nodeLink.RemoteName(), toDr.sublink)
	case a == nil:
		bypassBridgeToRemote(r, partner, toA.(*remoteLink), toD)
	default:
		bypassBridgeToRemote(partner, r, toD.(*remoteLink), toA)
	}
}

// bypassBridgeLocally is the bypass of a merged pair whose outer routers
// are both on this node: they get a local link.
func (r *Router) bypassBridgeLocally(partner *Router, toA, toD routerLink) {
	a, d := toA.localPeer(), toD.localPeer()
	routers := []*Router{a, r, partner, d}
	sortRoutersByID(routers)
	for _, x := range routers {
		x.mu.Lock()
	}
	unlockAll := func() {
		for i := len(routers) - 1; i >= 0; i-- {
			routers[i].mu.Unlock()
		}
	}
	if a == d || r.outward.primary != toA || partner.outward.primary != toD ||
		!a.outward.isStable() || !d.outward.isStable() ||
		a.outward.primary == nil || a.outward.primary.localPeer() != r ||
		d.outward.primary == nil || d.outward.primary.localPeer() != partner {
		unlockAll()
		toA.state().unlock(toA.side())
		toD.state().unlock(toD.side())
		return
	}
	lengthA, lengthD := a.outbound.currentLength(), d.outbound.currentLength()
	forA, forD := newLocalLinkPair(linkCentral, a, d)
	a.switchOutwardLocked(forA, lengthA)
	a.outward.lengthFromDecaying, a.outward.hasLengthFromDecaying = lengthD, true
	d.switchOutwardLocked(forD, lengthD)
	d.outward.lengthFromDecaying, d.outward.hasLengthFromDecaying = lengthA, true
	r.bypassing, partner.bypassing = true, true
	r.decayBridgeLocked(lengthA, lengthD, true)
	partner.decayBridgeLocked(lengthD, lengthA, true)
	unlockAll()
	for _, x := range routers {
		x.flush()
	}
}

// decayBridgeLocked starts (or completes) the decay of a bridge router's
// two edges: its outer router sent nothing past lengthNear over the old
// link, and the far outer router nothing past lengthFar (which may not be
// known yet: hasFar). Preconditions: mu held.
func (b *Router) decayBridgeLocked(lengthNear, lengthFar SequenceNumber, hasFar bool) {
	b.bypassCommitted = true
	if b.outward.decaying == nil {
		b.outward.beginDecay(nil)
		b.bridge.beginDecay(nil)
	}
	b.outward.lengthFromDecaying, b.outward.hasLengthFromDecaying = lengthNear, true
	b.bridge.lengthToDecaying, b.bridge.hasLengthToDecaying = lengthNear, true
	if hasFar {
		b.outward.lengthToDecaying, b.outward.hasLengthToDecaying = lengthFar, true
		b.bridge.lengthFromDecaying, b.bridge.hasLengthFromDecaying = lengthFar, true
	}
}

// bypassBridgeToRemote is the bypass of a merged pair where the outer
// router X of far is on this node and the outer router Z of near (reached
// by toZ) is not: X gets a link to Z on near's node link, as in
// bypassLocalPeer.
func bypassBridgeToRemote(near, far *Router, toZ *remoteLink, toX routerLink) {
	x := toX.localPeer()
	nl := toZ.nodeLink
	f, st := nl.allocateLinkState()
	id := nl.allocateSublink()
	xToZ, ok := nl.addSublink(id, linkCentral, sideA, x, st, f)
	if !ok {
		near.abandonBridgeBypass()
		return
	}
	x.mu.Lock()
	if l := x.outward.primary; l == nil || l.localPeer() != far || !x.outward.isStable() {
		x.mu.Unlock()
		xToZ.deactivate()
		near.abandonBridgeBypass()
		return
	}
	lengthX := x.outbound.currentLength()
	x.switchOutwardLocked(nil, lengthX)
	x.mu.Unlock()

	unlock := lockRouterPair(near, far)
	near.bypassing, far.bypassing = true, true
	far.decayBridgeLocked(lengthX, 0, false)
	near.bypassCommitted = true
	near.outward.beginDecay(nil)
	near.bridge.beginDecay(nil)
	near.outward.lengthToDecaying, near.outward.hasLengthToDecaying = lengthX, true
	near.bridge.lengthFromDecaying, near.bridge.hasLengthFromDecaying = lengthX, true
	unlock()

	nl.sendBypassPeerWithLink(toZ.sublink, id, f, lengthX)
	nl.announce(xToZ)
	x.mu.Lock()
	x.setOutwardPrimaryLocked(xToZ)
	x.mu.Unlock()
	x.flush()
	near.flush()
	far.flush()
}

// bridgeLengthsFromFar completes a bridge bypass: the far side's outer
// router (for r, the router beyond its outward link) sent nothing past
// lengthOuter over the old link, and the other outer router nothing past
// lengthOther. r is the bridge router the news arrived at.
func (r *Router) bridgeLengthsFromFar(lengthOuter, lengthOther SequenceNumber) bool {
	r.mu.Lock()
	partner := r.bridgePartnerLocked()
	if !r.bypassing || partner == nil {
		r.mu.Unlock()
		return false
	}
	r.mu.Unlock()
	unlock := lockRouterPair(r, partner)
	r.decayBridgeLocked(lengthOuter, lengthOther, true)
	partner.decayBridgeLocked(lengthOther, lengthOuter, true)
	var x *Router
	if partner.outward.decaying != nil {
		x = partner.outward.decaying.localPeer()
	}
	unlock()
	if x != nil {
		x.mu.Lock()
		if x.outward.decaying != nil && x.outward.decaying.localPeer() == partner {
			x.outward.lengthFromDecaying, x.outward.hasLengthFromDecaying = lengthOuter, true
		}
		x.mu.Unlock()
		x.flush()
	}
	r.flush()
	partner.flush()
	return true
}

// abandonBridgeBypass gives up a bridge bypass that changed no edge yet:
// both central links are unlocked and their far sides flushed.
func (r *Router) abandonBridgeBypass() {
	r.mu.Lock()
	if r.bridge == nil || r.bridge.primary == nil || r.bypassCommitted {
		r.mu.Unlock()
		return
	}
	partner := r.bridge.primary.localPeer()
	r.mu.Unlock()
	var links []routerLink
	for _, b := range []*Router{r, partner} {
		b.mu.Lock()
		b.bypassing, b.bypassAbandoned = false, true
		if l := b.outward.primary; l != nil {
			if st := l.state(); st != nil {
				st.unlock(l.side())
			}
			links = append(links, l)
		}
		b.mu.Unlock()
	}
	for _, l := range links {
		l.flushPeer()
	}
}

// sortRoutersByID orders routers for locking several at once.
func sortRoutersByID(rs []*Router) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].id < rs[j-1].id; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// bridgePartnerLocked returns the router across a merged router's bridge
// (over its primary or, during a bypass, its decaying link), or nil.
// Preconditions: mu held.
func (r *Router) bridgePartnerLocked() *Router {
	if r.bridge == nil {
		return nil
	}
	if l := r.bridge.primary; l != nil {
		return l.localPeer()
	}
	if l := r.bridge.decaying; l != nil {
		return l.localPeer()
	}
	return nil
}

// lockRouterPair locks two routers, lowest id first (the lock order), and
// returns the function that unlocks them.
func lockRouterPair(a, b *Router) (unlock func()) {
	lo, hi := a, b
	if hi.id < lo.id {
		lo, hi = hi, lo
	}
	lo.mu.Lock()
	hi.mu.Lock()
	return func() {
		hi.mu.Unlock()
		lo.mu.Unlock()
	}
}
