package ipcz

// trapUpdateReason says what changed in a portal's state. Edge-triggered
// conditions fire only for their own reason.
type trapUpdateReason int

const (
	reasonStatusChanged  trapUpdateReason = iota // a level condition may now hold
	reasonNewLocalParcel                         // the number of available parcels grew
	reasonRemoteConsumed                         // the peer consumed at least one parcel
)

// levelConditions are the conditions that hold as long as some state does;
// installing a trap fails if one of them already holds.
const levelConditions = TrapPeerClosed | TrapDead | TrapAboveMinLocalParcels |
	TrapAboveMinLocalBytes | TrapBelowMaxRemoteParcels | TrapBelowMaxRemoteBytes

// remoteConditions need the peer to tell us when it consumes parcels.
const remoteConditions = TrapBelowMaxRemoteParcels | TrapBelowMaxRemoteBytes |
	TrapConsumedRemoteParcel

// trap is one installed trap.
type trap struct {
	conditions TrapConditions
	handler    TrapHandler
	context    uintptr
	// peerConsumed is the peer's consumption count when the trap was
	// installed (for CONSUMED_REMOTE_PARCEL).
	peerConsumed uint64
}

// satisfiedLevelConditions returns which of c's level conditions hold for s.
func (c *TrapConditions) satisfiedLevelConditions(s *PortalStatus) TrapConditionFlags {
	var f TrapConditionFlags
	if c.Flags&TrapPeerClosed != 0 && s.Flags&PortalStatusPeerClosed != 0 {
		f |= TrapPeerClosed
	}
	if c.Flags&TrapDead != 0 && s.Flags&PortalStatusDead != 0 {
		f |= TrapDead
	}
	if c.Flags&TrapAboveMinLocalParcels != 0 && s.NumLocalParcels > c.MinLocalParcels {
		f |= TrapAboveMinLocalParcels
	}
	if c.Flags&TrapAboveMinLocalBytes != 0 && s.NumLocalBytes > c.MinLocalBytes {
		f |= TrapAboveMinLocalBytes
	}
	if c.Flags&TrapBelowMaxRemoteParcels != 0 && s.NumRemoteParcels < c.MaxRemoteParcels {
		f |= TrapBelowMaxRemoteParcels
	}
	if c.Flags&TrapBelowMaxRemoteBytes != 0 && s.NumRemoteBytes < c.MaxRemoteBytes {
		f |= TrapBelowMaxRemoteBytes
	}
	return f
}

// trapSet holds the traps installed on one router. Its Router's mutex
// guards it.
type trapSet struct {
	traps []*trap
}

// isEmpty reports whether no trap is installed.
func (s *trapSet) isEmpty() bool { return len(s.traps) == 0 }

// needsRemoteState reports whether any trap watches the peer's queue.
func (s *trapSet) needsRemoteState() bool {
	for _, t := range s.traps {
		if t.conditions.Flags&remoteConditions != 0 {
			return true
		}
	}
	return false
}

// add installs t.
func (s *trapSet) add(t *trap) { s.traps = append(s.traps, t) }

// update removes every trap whose conditions now hold and queues its event
// in d. peerConsumed is the peer's consumption count, compared with each
// trap's own baseline when reason is reasonRemoteConsumed.
func (s *trapSet) update(status *PortalStatus, reason trapUpdateReason, peerConsumed uint64, d *trapDispatcher) {
	kept := s.traps[:0]
	for _, t := range s.traps {
		flags := t.conditions.satisfiedLevelConditions(status)
		if reason == reasonNewLocalParcel && t.conditions.Flags&TrapNewLocalParcel != 0 {
			flags |= TrapNewLocalParcel
		}
		if reason == reasonRemoteConsumed && t.conditions.Flags&TrapConsumedRemoteParcel != 0 &&
			peerConsumed != t.peerConsumed {
			flags |= TrapConsumedRemoteParcel
		}
		if flags == 0 {
			kept = append(kept, t)
			continue
		}
		d.add(t, flags, status)
	}
	clear(s.traps[len(kept):])
	s.traps = kept
}

// take removes and returns every trap, without events.
func (s *trapSet) take() []*trap {
	traps := s.traps
	s.traps = nil
	return traps
}

// removeAll removes every trap, queueing a REMOVED event for each.
func (s *trapSet) removeAll(status *PortalStatus, d *trapDispatcher) {
	for _, t := range s.traps {
		d.add(t, TrapRemoved, status)
	}
	clear(s.traps)
	s.traps = s.traps[:0]
}

// trapDispatcher collects trap events while a router's lock is held, to run
// their handlers once no ipcz lock is held. The zero value is ready to use.
type trapDispatcher struct {
	events []pendingTrapEvent
}

type pendingTrapEvent struct {
	handler TrapHandler
	event   TrapEvent
}

func (d *trapDispatcher) add(t *trap, flags TrapConditionFlags, status *PortalStatus) {
	d.events = append(d.events, pendingTrapEvent{
		handler: t.handler,
		event:   TrapEvent{Context: t.context, ConditionFlags: flags, Status: *status},
	})
}

// dispatch runs the queued handlers in the order their events occurred.
// Preconditions: no ipcz lock is held.
func (d *trapDispatcher) dispatch() {
	for i := range d.events {
		e := &d.events[i]
		e.handler(&e.event)
	}
	d.events = nil
}
