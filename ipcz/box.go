package ipcz

import "sync/atomic"

// Box holds a driver object so that it can travel through portals.
type Box struct {
	node *Node // immutable
	// handle is the boxed object, or 0 once the box was closed, unboxed or
	// sent. Atomic.
	handle atomic.Uintptr
}

func newBox(n *Node, h DriverHandle) *Box {
	b := &Box{node: n}
	b.handle.Store(uintptr(h))
	return b
}

func (b *Box) objectNode() *Node {
	if b == nil {
		return nil
	}
	return b.node
}

// take removes the driver handle from the box, or returns 0 if it is empty.
func (b *Box) take() DriverHandle {
	if b == nil {
		return InvalidDriverHandle
	}
	return DriverHandle(b.handle.Swap(0))
}

// Close closes the box and the driver object in it.
func (b *Box) Close() error {
	h := b.take()
	if h == InvalidDriverHandle {
		return InvalidArgument
	}
	b.node.driver.Close(h)
	return nil
}

// Unbox returns the boxed driver object. Without UnboxPeek the box is
// consumed and the caller owns the object; with it, the box keeps it.
func (b *Box) Unbox(flags UnboxFlags) (DriverHandle, error) {
	if b == nil {
		return InvalidDriverHandle, InvalidArgument
	}
	var h DriverHandle
	if flags&UnboxPeek != 0 {
		h = DriverHandle(b.handle.Load())
	} else {
		h = b.take()
	}
	if h == InvalidDriverHandle {
		return InvalidDriverHandle, InvalidArgument
	}
	return h, nil
}
