package ipcz

import (
	"sync"

	"github.com/ipcz-go/ipcz-go/internal/wire"
)

// nodeLinkPhase is where a NodeLink is in its life.
type nodeLinkPhase int

const (
	// phaseConnecting: the transport is active and the handshake of
	// ConnectNode is under way; only handshake messages are accepted.
	phaseConnecting nodeLinkPhase = iota
	// phaseEstablished: both names are known and routes may use the link.
	phaseEstablished
	// phaseFailed: the link is gone; its routes were disconnected.
	phaseFailed
)

// connectRole is what a connecting NodeLink expects from the handshake.
type connectRole int

const (
	roleBrokerToNonBroker connectRole = iota // we are the broker
	roleNonBrokerToBroker                    // we connect to our broker
	roleBrokerToBroker                       // two brokers merge networks
	roleReferrer                             // we lend our broker (no link of our own)
	roleReferredNonBroker                    // we inherit the broker of the node we connect to
	roleBrokerForReferral                    // we are the broker a node was referred to
)

// NodeLink connects this node to one other node over one driver transport
// and multiplexes routes over it by sublink.
//
// Trust model: the other node may send anything. Every message is decoded
// with bounds checks, every sublink and sequence number is validated, and
// any violation fails the link: the driver is told
// (ReportBadTransportActivity), the transport is deactivated, and the
// routes through this link are disconnected. Other links are unaffected.
type NodeLink struct {
	node      *Node        // immutable
	driver    Driver       // immutable
	transport DriverHandle // immutable

	mu sync.Mutex
	// phase, the names and side are set by the handshake. Guarded by mu.
	phase          nodeLinkPhase
	localName      NodeName
	remoteName     NodeName
	side           linkSide
	remoteIsBroker bool
	// remoteIsClient says we are the broker of the node at the far end.
	remoteIsClient bool
	// role and initialRouters drive the handshake, and delegateAllocation
	// says the far end will allocate our shared memory. Guarded by mu.
	role               connectRole
	delegateAllocation bool
	// referral says who referred the node at the far end of a
	// roleBrokerForReferral link. Guarded by mu.
	referral       *pendingReferral
	initialRouters []*Router
	// sublinks maps each sublink to the link of the router using it on
	// this node. Guarded by mu.
	sublinks map[SublinkID]*remoteLink
	// nextSublink is the next id this side allocates. Guarded by mu.
	nextSublink SublinkID
	// deactivating is set once DeactivateTransport was requested. Guarded
	// by mu.
	deactivating bool
	// memory is the node pair's shared memory, set by the handshake.
	// Guarded by mu (immutable once set).
	memory *nodeLinkMemory
	// relayed holds halves of parcels split for relaying. Guarded by mu.
	relayed relayedParcels
	// memoryRequests are our outstanding RequestMemory calls to the far
	// end, by id. Guarded by mu.
	memoryRequests    map[uint64]func(DriverHandle)
	nextMemoryRequest uint64
	// pendingGrowth holds growth buffers sent and not yet acknowledged.
	// Guarded by mu.
	pendingGrowth map[uint64]*pendingGrowthBuffer
	// sentGrowth holds the ids of growth buffers that joined the pool
	// when they were sent, whose BlockBufferAdded is still to come.
	// Guarded by mu.
	sentGrowth map[uint64]bool
	// stateless lists links this side made and announced without shared
	// state, to be given one once the state pool has grown; entries may
	// have been served or retired since. Guarded by mu.
	stateless []*remoteLink
	// localMemory is a primary buffer this side offered in the handshake,
	// kept until the handshake decides whose buffer the link uses.
	// Guarded by mu.
	localMemory *offeredBuffer
}

// offeredBuffer is a primary buffer this side made and mapped.
type offeredBuffer struct {
	mapping DriverHandle
	bytes   []byte
}

func newNodeLink(n *Node, transport DriverHandle) *NodeLink {
	return &NodeLink{
		node:      n,
		driver:    n.driver,
		transport: transport,
		sublinks:  make(map[SublinkID]*remoteLink),
	}
}

// RemoteName is the name of the node at the other end (zero while
// connecting).
func (l *NodeLink) RemoteName() NodeName {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.remoteName
}

// establishLocked records the outcome of a handshake and sets up the
// sublink space. Preconditions: mu held.
func (l *NodeLink) establishLocked(local, remote NodeName, side linkSide, remoteIsBroker bool, memory *nodeLinkMemory) {
	l.phase = phaseEstablished
	l.memory = memory
	l.localName, l.remoteName = local, remote
	l.side, l.remoteIsBroker = side, remoteIsBroker
	l.nextSublink = firstAllocatedSublink + SublinkID(side)
}

// allocateSublink returns a fresh sublink id of this side's parity.
func (l *NodeLink) allocateSublink() SublinkID {
	l.mu.Lock()
	defer l.mu.Unlock()
	id := l.nextSublink
	l.nextSublink += 2
	return id
}

// isLocallyAllocatedLocked reports whether this side allocated id.
// Preconditions: mu held.
func (l *NodeLink) isLocallyAllocatedLocked(id SublinkID) bool {
	return id >= firstAllocatedSublink && (id-firstAllocatedSublink)&1 == uint64(l.side)
}

// isRemotelyAllocated reports whether id is one the other side may have
// allocated. Preconditions: mu held.
func (l *NodeLink) isRemotelyAllocatedLocked(id SublinkID) bool {
	return id >= firstAllocatedSublink && (id-firstAllocatedSublink)&1 == uint64(l.side.opposite())
}

// addSublink binds a router to a sublink, with the link's shared state
// (st, allocated in the node pair's memory at f; or st only, for an
// initial portal's fixed slot; or neither). It fails if the id is in use
// or the link has failed.
func (l *NodeLink) addSublink(id SublinkID, typ linkType, side linkSide, r *Router, st *linkState, f fragment) (*remoteLink, bool) {
	rl := &remoteLink{nodeLink: l, sublink: id, typ: typ, s: side, router: r}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.phase == phaseFailed {
		return nil, false
	}
	if _, used := l.sublinks[id]; used {
		return nil, false
	}
	if st != nil && (l.memory == nil || !rl.attachState(st, f, l.memory)) {
		return nil, false
	}
	// Links of the other side's making exist there already.
	rl.announced.Store(!l.isLocallyAllocatedLocked(id))
	l.sublinks[id] = rl
	return rl, true
}

// removeSublink unbinds a sublink if it is still bound to rl.
func (l *NodeLink) removeSublink(id SublinkID, rl *remoteLink) {
	l.mu.Lock()
	if l.sublinks[id] == rl {
		delete(l.sublinks, id)
	}
	l.mu.Unlock()
}

func (l *NodeLink) lookupSublink(id SublinkID) *remoteLink {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sublinks[id]
}

// reportBadActivity implements parcelSource: the application rejected a
// parcel that came over this link.
func (l *NodeLink) reportBadActivity(context uintptr) error {
	return l.driver.ReportBadTransportActivity(l.transport, context)
}

// transmit serializes m's driver objects and sends it, through the broker
// if the driver cannot pass an object directly. Objects that cannot be
// sent are closed. It reports whether the message went out; a transport
// that refuses it fails the link.
func (l *NodeLink) transmit(m *outMessage) bool {
	for _, h := range m.objects {
		if needsRelay(l.driver, h, l.transport) {
			return l.relay(m)
		}
	}
	objects := make([]serializedObject, 0, len(m.objects))
	for i, h := range m.objects {
		s, err := serializeObject(l.driver, h, l.transport)
		if err != nil {
			for _, rest := range m.objects[i:] {
				l.driver.Close(rest)
			}
			for _, o := range objects {
				closeHandles(l.driver, o.handles)
			}
			return false
		}
		objects = append(objects, s)
	}
	data, handles := m.finish(objects)
	if err := l.driver.Transmit(l.transport, data, handles); err != nil {
		closeHandles(l.driver, handles)
		l.fail(false)
		return false
	}
	return true
}

func closeHandles(d Driver, hs []DriverHandle) {
	for _, h := range hs {
		d.Close(h)
	}
}

// onTransportActivity is the transport's ActivityHandler.
func (l *NodeLink) onTransportActivity(data []byte, handles []DriverHandle, flags TransportActivityFlags) error {
	if flags&TransportActivityDeactivated != 0 {
		l.driver.Close(l.transport)
		return nil
	}
	if flags&TransportActivityError != 0 {
		closeHandles(l.driver, handles)
		l.fail(false)
		return nil
	}
	l.mu.Lock()
	phase := l.phase
	l.mu.Unlock()
	if phase == phaseFailed {
		closeHandles(l.driver, handles)
		return nil
	}
	m, err := decodeFrame(data, handles)
	if err != nil {
		closeHandles(l.driver, handles)
		l.fail(true)
		return err
	}
	m.driver, m.transport = l.driver, l.transport
	if phase == phaseConnecting {
		err = l.handleHandshake(m)
	} else {
		err = l.dispatch(m)
	}
	m.closeUnclaimed()
	if err != nil {
		l.fail(true)
		return err
	}
	return nil
}

// dispatch handles a message on an established link.
func (l *NodeLink) dispatch(m *inMessage) error {
	switch m.typ {
	case msgAcceptParcel:
		return l.onAcceptParcel(m)
	case msgRouteClosed:
		return l.onRouteClosed(m)
	case msgPeerConsumed:
		return l.onPeerConsumed(m)
	case msgFlushRouter:
		return l.onFlushRouter(m)
	case msgBypassPeer:
		return l.onBypassPeer(m)
	case msgAcceptBypassLink:
		return l.onAcceptBypassLink(m)
	case msgStopProxying:
		return l.onStopProxying(m)
	case msgProxyWillStop:
		return l.onProxyWillStop(m)
	case msgBypassPeerWithLink:
		return l.onBypassPeerWithLink(m)
	case msgStopProxyingToLocalPeer:
		return l.onStopProxyingToLocalPeer(m)
	case msgBypassAbandoned:
		return l.onBypassAbandoned(m)
	case msgAcceptParcelDriverObjects:
		return l.onAcceptParcelDriverObjects(m)
	case msgRelayMessage:
		return l.onRelayMessage(m)
	case msgAcceptRelayedMessage:
		return l.onAcceptRelayedMessage(m)
	case msgReferNonBroker:
		return l.onReferNonBroker(m)
	case msgReferralAccepted:
		return l.onReferralAccepted(m)
	case msgReferralRejected:
		return l.onReferralRejected(m)
	case msgAddBlockBuffer:
		return l.onAddBlockBuffer(m)
	case msgBlockBufferAdded:
		return l.onBlockBufferAdded(m)
	case msgSetLinkState:
		return l.onSetLinkState(m)
	case msgRequestMemory:
		return l.onRequestMemory(m)
	case msgProvideMemory:
		return l.onProvideMemory(m)
	case msgRequestIntroduction:
		return l.onRequestIntroduction(m)
	case msgAcceptIntroduction:
		return l.onAcceptIntroduction(m)
	case msgRejectIntroduction:
		return l.onRejectIntroduction(m)
	case msgRequestIndirectIntroduction:
		return l.onRequestIndirectIntroduction(m)
	case msgAcceptIndirectIntroduction:
		return l.onAcceptIndirectIntroduction(m)
	case msgRejectIndirectIntroduction:
		return l.onRejectIndirectIntroduction(m)
	}
	return wire.ErrMalformed
}

// fail tears the link down: the transport is deactivated, the node forgets
// the link, and every route through it is disconnected. bad says whether
// the other node misbehaved, in which case the driver is told.
func (l *NodeLink) fail(bad bool) {
	l.mu.Lock()
	if l.phase == phaseFailed {
		l.mu.Unlock()
		return
	}
	l.phase = phaseFailed
	sublinks := l.sublinks
	l.sublinks = make(map[SublinkID]*remoteLink)
	initial := l.initialRouters
	l.initialRouters = nil
	deactivate := !l.deactivating
	l.deactivating = true
	memory, offered := l.memory, l.localMemory
	l.localMemory = nil
	halfParcels, halfBoxes := l.dropRelayedLocked()
	memoryWaiters := l.failMemoryRequestsLocked()
	growth := l.pendingGrowth
	l.pendingGrowth = nil
	l.sentGrowth = nil
	l.stateless = nil
	l.mu.Unlock()
	for _, g := range growth {
		l.driver.Close(g.mapping)
	}
	for _, f := range memoryWaiters {
		f(InvalidDriverHandle)
	}
	discardParcels(halfParcels)
	closeHandles(l.driver, halfBoxes)

	if bad {
		l.driver.ReportBadTransportActivity(l.transport, 0)
	}
	if ref := l.takeReferral(); ref != nil {
		ref.referrer.sendReferralRejected(ref.id)
	}
	l.node.forgetLink(l)
	for _, r := range initial {
		r.acceptDisconnectFromOutward()
	}
	for _, rl := range sublinks {
		if rl.typ.carriesInbound() {
			rl.router.acceptDisconnectFromOutward()
		} else {
			rl.router.acceptDisconnectFromInward()
		}
	}
	if deactivate {
		l.driver.DeactivateTransport(l.transport)
	}
	if offered != nil {
		l.driver.Close(offered.mapping)
	}
	// The sublinks' links are released here (their routers no longer use
	// them); the memory is unmapped once the last parcel or link using it
	// lets go.
	for _, rl := range sublinks {
		rl.release()
	}
	if memory != nil {
		memory.release()
	}
}

// acquireMemory returns the link's shared memory with a reference the
// caller must release, or nil (before the handshake, or once unmapped).
func (l *NodeLink) acquireMemory() *nodeLinkMemory {
	l.mu.Lock()
	m := l.memory
	l.mu.Unlock()
	if m == nil || !m.acquire() {
		return nil
	}
	return m
}
