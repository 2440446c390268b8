package ipcz

import (
	"sync"
	"sync/atomic"
)

// Node is one ipcz node: typically one per process. Portals, boxes and
// validators belong to a node.
type Node struct {
	driver     Driver       // immutable
	driverNode DriverHandle // immutable; context for the driver
	isBroker   bool         // immutable

	closed atomic.Bool

	mu sync.Mutex
	// name is the node's name: a broker's from creation, another node's
	// from its broker. Guarded by mu.
	name NodeName
	// links holds the established link to each known node. Guarded by mu.
	links map[NodeName]*NodeLink
	// connecting holds links whose handshake is under way. Guarded by mu.
	connecting map[*NodeLink]bool
	// brokerLink is the link to this node's broker (nil for a broker, or
	// before connecting). Guarded by mu.
	brokerLink *NodeLink
	// pendingIntroductions holds, per node name, what waits for a link to
	// that node once a broker introduces us, and how many brokers have
	// yet to answer. Guarded by mu.
	pendingIntroductions map[NodeName]*pendingIntroduction
	// indirectIntroductions counts, per (requester, target), the other
	// brokers a broker asked on a node's behalf that have yet to answer.
	// Guarded by mu.
	indirectIntroductions map[[2]NodeName]int
	// allocationDelegate is the link to the node that allocates shared
	// memory for this one (ConnectNodeToAllocationDelegate). Guarded by mu.
	allocationDelegate *NodeLink
	// referrals holds the initial routers of ConnectNode calls with
	// ConnectNodeShareBroker, by referral id, until the broker answers.
	// Guarded by mu.
	referrals      map[uint64][]*Router
	nextReferralID uint64
	// brokerWaiters run once the link to the broker is up (or never will
	// be: they get nil). Guarded by mu.
	brokerWaiters []func(*NodeLink)

	counters nodeCounters
}

// CreateNode makes a new node that uses driver. driverNode is an opaque
// value for the driver (may be InvalidDriverHandle). With
// CreateNodeAsBroker the node is the broker of its network.
func CreateNode(driver Driver, driverNode DriverHandle, flags CreateNodeFlags) (*Node, error) {
	if driver == nil {
		return nil, InvalidArgument
	}
	n := &Node{
		driver:     driver,
		driverNode: driverNode,
		isBroker:   flags&CreateNodeAsBroker != 0,
		links:      make(map[NodeName]*NodeLink),
		connecting: make(map[*NodeLink]bool),

		pendingIntroductions:  make(map[NodeName]*pendingIntroduction),
		indirectIntroductions: make(map[[2]NodeName]int),
	}
	if n.isBroker {
		name, err := randomNodeName(driver)
		if err != nil {
			return nil, err
		}
		n.name = name
	}
	return n, nil
}

// Name returns the node's name, or the zero name if it has none yet.
func (n *Node) Name() NodeName {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.name
}

// Driver returns the node's driver.
func (n *Node) Driver() Driver { return n.driver }

// IsBroker reports whether the node was created as a broker.
func (n *Node) IsBroker() bool { return n.isBroker }

// Close shuts the node down: every link to another node is dropped, so
// routes through them are disconnected. Portals whose routes stay on this
// node keep working; the node accepts no new calls.
func (n *Node) Close() error {
	if n == nil || !n.closed.CompareAndSwap(false, true) {
		return InvalidArgument
	}
	n.mu.Lock()
	links := make([]*NodeLink, 0, len(n.links)+len(n.connecting))
	for _, l := range n.links {
		links = append(links, l)
	}
	for l := range n.connecting {
		links = append(links, l)
	}
	n.mu.Unlock()
	for _, l := range links {
		l.fail(false)
	}
	return nil
}

// forgetLink removes a failed link from the node's tables. Losing the
// broker fails every introduction still awaited.
func (n *Node) forgetLink(l *NodeLink) {
	n.mu.Lock()
	delete(n.connecting, l)
	if name := l.RemoteName(); name.IsValid() && n.links[name] == l {
		delete(n.links, name)
	}
	var orphaned []func(*NodeLink)
	if n.allocationDelegate == l {
		n.allocationDelegate = nil
	}
	if n.brokerLink == l {
		n.brokerLink = nil
		for name, p := range n.pendingIntroductions {
			orphaned = append(orphaned, p.waiters...)
			delete(n.pendingIntroductions, name)
		}
	}
	var brokerWaiters []func(*NodeLink)
	if l.role == roleNonBrokerToBroker || l.role == roleReferredNonBroker {
		brokerWaiters, n.brokerWaiters = n.brokerWaiters, nil
	}
	n.mu.Unlock()
	for _, f := range orphaned {
		f(nil)
	}
	for _, f := range brokerWaiters {
		f(nil)
	}
}

// withBrokerLink calls f with the link to the broker, once it is up.
func (n *Node) withBrokerLink(f func(*NodeLink)) {
	n.mu.Lock()
	if l := n.brokerLink; l != nil {
		n.mu.Unlock()
		f(l)
		return
	}
	n.brokerWaiters = append(n.brokerWaiters, f)
	n.mu.Unlock()
}

// brokerLinkUp runs what waited for the broker link.
func (n *Node) brokerLinkUp(l *NodeLink) {
	n.mu.Lock()
	waiters := n.brokerWaiters
	n.brokerWaiters = nil
	n.mu.Unlock()
	for _, f := range waiters {
		f(l)
	}
}

// linkTo returns the established link to the named node, if any.
func (n *Node) linkTo(name NodeName) *NodeLink {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.links[name]
}

func (n *Node) objectNode() *Node { return n }

// live reports whether n is a usable node.
func (n *Node) live() bool { return n != nil && !n.closed.Load() }

// OpenPortals makes a new pair of entangled portals on the node.
func (n *Node) OpenPortals() (*Portal, *Portal, error) {
	if !n.live() {
		return nil, nil, InvalidArgument
	}
	a, b := newLocalRouterPair()
	return newPortal(n, a), newPortal(n, b), nil
}

// Box wraps a driver object in a box, which can travel in parcels if the
// driver can serialize the object. The box owns the driver handle.
func (n *Node) Box(handle DriverHandle) (*Box, error) {
	if !n.live() || handle == InvalidDriverHandle {
		return nil, InvalidArgument
	}
	return newBox(n, handle), nil
}
