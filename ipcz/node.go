package ipcz

import "sync/atomic"

// Node is one ipcz node: typically one per process. Portals, boxes and
// validators belong to a node.
type Node struct {
	driver     Driver       // immutable
	driverNode DriverHandle // immutable; context for the driver
	isBroker   bool         // immutable

	closed atomic.Bool
}

// CreateNode makes a new node that uses driver. driverNode is an opaque
// value for the driver (may be InvalidDriverHandle). With
// CreateNodeAsBroker the node is the broker of its network.
func CreateNode(driver Driver, driverNode DriverHandle, flags CreateNodeFlags) (*Node, error) {
	if driver == nil {
		return nil, InvalidArgument
	}
	return &Node{driver: driver, driverNode: driverNode, isBroker: flags&CreateNodeAsBroker != 0}, nil
}

// Driver returns the node's driver.
func (n *Node) Driver() Driver { return n.driver }

// IsBroker reports whether the node was created as a broker.
func (n *Node) IsBroker() bool { return n.isBroker }

// Close shuts the node down. Portals already open on it keep working
// between themselves; the node accepts no new calls.
func (n *Node) Close() error {
	if n == nil || !n.closed.CompareAndSwap(false, true) {
		return InvalidArgument
	}
	return nil
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
