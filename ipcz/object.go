package ipcz

// Object is anything an ipcz handle can name: a *Node, *Portal, *Box or
// *Validator. Portals and boxes may travel in parcels.
type Object interface {
	// Close releases the object. Closing a portal closes its end of the
	// route; closing a node shuts it down; closing a box closes the boxed
	// driver object; closing a validator frees it. It returns
	// InvalidArgument if the object was already closed or moved.
	Close() error

	// objectNode is the node the object belongs to (nil for none).
	objectNode() *Node
}
