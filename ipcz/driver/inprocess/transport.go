package inprocess

import (
	"sync"

	"github.com/ipcz-go/ipcz-go/ipcz"
)

// endpointState is where an endpoint is in its life cycle. States only move
// forward: idle → active → deactivating → deactivated.
type endpointState uint8

const (
	stateIdle         endpointState = iota // not yet activated
	stateActive                            // delivering to its handler
	stateDeactivating                      // final DEACTIVATED call queued
	stateDeactivated                       // final call made; handler dropped
)

// event is one handler call waiting to be made: a message (flags zero), an
// error notice or the final deactivation notice.
type event struct {
	flags   ipcz.TransportActivityFlags
	data    []byte
	handles []ipcz.DriverHandle
}

// fifo is a queue of events.
type fifo struct {
	items []event
	head  int // items[:head] have been popped and zeroed
}

func (q *fifo) push(ev event) { q.items = append(q.items, ev) }

func (q *fifo) pop() (event, bool) {
	if q.head == len(q.items) {
		return event{}, false
	}
	ev := q.items[q.head]
	q.items[q.head] = event{}
	q.head++
	switch {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head >= 1024 && 2*q.head >= len(q.items):
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return ev, true
}

// takeAll empties the queue and returns the handles its events carried.
func (q *fifo) takeAll() []ipcz.DriverHandle {
	var hs []ipcz.DriverHandle
	for _, ev := range q.items[q.head:] {
		hs = append(hs, ev.handles...)
	}
	clear(q.items)
	q.items, q.head = q.items[:0], 0
	return hs
}

// takeMessages removes the message events from the queue, keeping the
// notices, and returns the handles the messages carried.
func (q *fifo) takeMessages() []ipcz.DriverHandle {
	var hs []ipcz.DriverHandle
	kept := q.items[:0]
	for _, ev := range q.items[q.head:] {
		if ev.flags == 0 {
			hs = append(hs, ev.handles...)
		} else {
			kept = append(kept, ev)
		}
	}
	clear(q.items[len(kept):])
	q.items, q.head = kept, 0
	return hs
}

// endpoint is one end of a transport pair.
type endpoint struct {
	d          *Driver   // immutable
	selfBroker bool      // immutable: this end's node is a broker
	peerBroker bool      // immutable: the peer end's node is a broker
	peer       *endpoint // immutable once newPair returns

	mu struct {
		sync.Mutex
		// state is the life-cycle state. Guarded by mu.
		state endpointState
		// closed is set when the endpoint's handle (or the serialized
		// object holding it) is closed. Guarded by mu.
		closed bool
		// broken is set when the handler rejected a message; later
		// messages are dropped. Guarded by mu.
		broken bool
		// errorQueued is set once a TransportActivityError call has been
		// queued; there is never a second. Guarded by mu.
		errorQueued bool
		// handler is the activity handler, from activation until the
		// final call is dequeued. Guarded by mu.
		handler ipcz.ActivityHandler
		// queue holds the handler calls still to be made. Guarded by mu.
		queue fifo
		// draining is set while some goroutine is emptying queue in Sync
		// mode. Guarded by mu.
		draining bool
	}
	// cond wakes the delivery goroutine in the async modes. Its L is
	// &mu.Mutex.
	cond sync.Cond
}

func (*endpoint) kind() kind { return kindTransport }

// newPair makes two entangled endpoints for nodes with the given broker
// status.
func newPair(d *Driver, aBroker, bBroker bool) (*endpoint, *endpoint) {
	a := &endpoint{d: d, selfBroker: aBroker, peerBroker: bBroker}
	b := &endpoint{d: d, selfBroker: bBroker, peerBroker: aBroker}
	a.peer, b.peer = b, a
	a.cond.L = &a.mu.Mutex
	b.cond.L = &b.mu.Mutex
	return a, b
}

// insertPair puts a and b in the table.
func (d *Driver) insertPair(a, b *endpoint) (ipcz.DriverHandle, ipcz.DriverHandle) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mu.InsertLocked(a), d.mu.InsertLocked(b)
}

// NewTransportPair returns two new, entangled, idle transport endpoints,
// typically given to two nodes' ConnectNode. aIsBroker and bIsBroker say
// whether the node that will own each end is a broker; only the
// AsyncForcedBrokering mode uses them.
func (d *Driver) NewTransportPair(aIsBroker, bIsBroker bool) (a, b ipcz.DriverHandle) {
	return d.insertPair(newPair(d, aIsBroker, bIsBroker))
}

// CreateTransports makes a new entangled pair of idle endpoints connecting
// the node at the far end of transport0 (which gets the first) and the node
// at the far end of transport1 (which gets the second); their broker status
// is inherited from those far ends.
//
// Errors: InvalidArgument if transport0 or transport1 is not a transport
// endpoint.
func (d *Driver) CreateTransports(transport0, transport1 ipcz.DriverHandle) (ipcz.DriverHandle, ipcz.DriverHandle, error) {
	e0, ok0 := d.mu.Lookup(transport0).(*endpoint)
	e1, ok1 := d.mu.Lookup(transport1).(*endpoint)
	if !ok0 || !ok1 {
		return 0, 0, ipcz.InvalidArgument
	}
	h0, h1 := d.insertPair(newPair(d, e0.peerBroker, e1.peerBroker))
	return h0, h1, nil
}

// lookupEndpoint returns the open endpoint named by h, or nil.
func (d *Driver) lookupEndpoint(h ipcz.DriverHandle) *endpoint {
	e, _ := d.mu.Lookup(h).(*endpoint)
	return e
}

// ActivateTransport starts delivering the endpoint's traffic to handler,
// beginning with anything transmitted to it while it was idle. In Sync mode
// that backlog is delivered before ActivateTransport returns; in the async
// modes the endpoint's goroutine starts here.
//
// Errors: InvalidArgument if transport is not a transport endpoint or
// handler is nil; FailedPrecondition if it was already activated.
func (d *Driver) ActivateTransport(transport ipcz.DriverHandle, handler ipcz.ActivityHandler) error {
	e := d.lookupEndpoint(transport)
	if e == nil || handler == nil {
		return ipcz.InvalidArgument
	}
	e.mu.Lock()
	switch {
	case e.mu.closed:
		e.mu.Unlock()
		return ipcz.InvalidArgument
	case e.mu.state != stateIdle:
		e.mu.Unlock()
		return ipcz.FailedPrecondition
	}
	e.mu.state = stateActive
	e.mu.handler = handler
	if d.async() {
		d.goroutines.Add(1)
		go e.run()
	}
	e.mu.Unlock()
	e.kick()
	return nil
}

// DeactivateTransport begins deactivation: messages queued for the endpoint
// and not yet delivered are dropped, and the handler gets its final call
// with TransportActivityDeactivated (in Sync mode before DeactivateTransport
// returns unless a delivery is in progress, in which case that delivery
// makes it). Deactivating again has no effect.
//
// Errors: InvalidArgument if transport is not a transport endpoint;
// FailedPrecondition if it was never activated.
func (d *Driver) DeactivateTransport(transport ipcz.DriverHandle) error {
	e := d.lookupEndpoint(transport)
	if e == nil {
		return ipcz.InvalidArgument
	}
	e.mu.Lock()
	switch {
	case e.mu.closed:
		e.mu.Unlock()
		return ipcz.InvalidArgument
	case e.mu.state == stateIdle:
		e.mu.Unlock()
		return ipcz.FailedPrecondition
	case e.mu.state != stateActive:
		e.mu.Unlock()
		return nil
	}
	dropped := e.beginDeactivationLocked()
	e.mu.Unlock()
	d.closeHandles(dropped)
	e.kick()
	return nil
}

// Transmit copies data and handles into a message for the peer endpoint.
// In Sync mode the peer's handler is called before Transmit returns unless
// the peer is idle or a delivery to it is already in progress; see the
// package documentation.
//
// Errors: InvalidArgument if transport is not a transport endpoint, or if
// a handle is not a serialized object or appears twice; FailedPrecondition
// if the endpoint is being or has been deactivated; Unavailable if the peer
// endpoint is closed (the sender then gets its TransportActivityError call,
// unless it already had it).
func (d *Driver) Transmit(transport ipcz.DriverHandle, data []byte, handles []ipcz.DriverHandle) error {
	e := d.lookupEndpoint(transport)
	if e == nil || !d.transmissible(handles) {
		return ipcz.InvalidArgument
	}
	e.mu.Lock()
	closed, state := e.mu.closed, e.mu.state
	e.mu.Unlock()
	switch {
	case closed:
		return ipcz.InvalidArgument
	case state >= stateDeactivating:
		return ipcz.FailedPrecondition
	}
	ev := event{}
	if len(data) > 0 {
		ev.data = append([]byte(nil), data...)
	}
	if len(handles) > 0 {
		ev.handles = append([]ipcz.DriverHandle(nil), handles...)
	}
	if err := e.peer.accept(ev); err != nil {
		e.raiseError()
		return err
	}
	return nil
}

// transmissible reports whether hs are distinct live serialized objects.
func (d *Driver) transmissible(hs []ipcz.DriverHandle) bool {
	if len(hs) == 0 {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, h := range hs {
		if _, ok := d.mu.LookupLocked(h).(*serialized); !ok {
			return false
		}
		for _, prev := range hs[:i] {
			if prev == h {
				return false
			}
		}
	}
	return true
}

// accept queues a message for e. A message for an endpoint that is
// deactivating, deactivated or broken is accepted and dropped.
//
// Errors: Unavailable if e is closed.
func (e *endpoint) accept(ev event) error {
	e.mu.Lock()
	if e.mu.closed {
		e.mu.Unlock()
		return ipcz.Unavailable
	}
	if e.mu.broken || e.mu.state >= stateDeactivating {
		e.mu.Unlock()
		e.d.closeHandles(ev.handles)
		return nil
	}
	e.pushLocked(ev)
	e.mu.Unlock()
	e.kick()
	return nil
}

// raiseError queues e's one TransportActivityError call, unless it has
// been queued before or e is closed or being deactivated.
func (e *endpoint) raiseError() {
	e.mu.Lock()
	if e.mu.closed || e.mu.errorQueued || e.mu.state >= stateDeactivating {
		e.mu.Unlock()
		return
	}
	e.mu.errorQueued = true
	e.pushLocked(event{flags: ipcz.TransportActivityError})
	e.mu.Unlock()
	e.kick()
}

// beginDeactivationLocked moves an active endpoint to deactivating: it
// empties the queue, queues the final call and returns the handles of the
// dropped messages for the caller to close once e.mu is released.
func (e *endpoint) beginDeactivationLocked() []ipcz.DriverHandle {
	dropped := e.mu.queue.takeAll()
	e.mu.state = stateDeactivating
	e.pushLocked(event{flags: ipcz.TransportActivityDeactivated})
	return dropped
}

// close is called when the endpoint's handle is closed: it begins
// deactivation if needed and tells the peer.
func (e *endpoint) close() {
	e.mu.Lock()
	e.mu.closed = true
	var dropped []ipcz.DriverHandle
	switch e.mu.state {
	case stateIdle:
		dropped = e.mu.queue.takeAll()
	case stateActive:
		dropped = e.beginDeactivationLocked()
	}
	e.mu.Unlock()
	e.d.closeHandles(dropped)
	e.kick()
	e.peer.raiseError()
}

// pushLocked queues ev and wakes the delivery goroutine, if any.
func (e *endpoint) pushLocked(ev event) {
	e.mu.queue.push(ev)
	if e.d.async() {
		e.cond.Signal()
	}
}

// kick delivers queued events in Sync mode; in the async modes the
// endpoint's goroutine does it. Called with no lock held.
func (e *endpoint) kick() {
	if !e.d.async() {
		e.drain()
	}
}

// nextLocked pops the next event and returns it with the handler to give
// it to. The final event also moves the endpoint to deactivated.
func (e *endpoint) nextLocked() (event, ipcz.ActivityHandler, bool) {
	ev, ok := e.mu.queue.pop()
	if !ok {
		return event{}, nil, false
	}
	h := e.mu.handler
	if ev.flags&ipcz.TransportActivityDeactivated != 0 {
		e.mu.state = stateDeactivated
		e.mu.handler = nil
	}
	return ev, h, true
}

// drain is Sync mode's delivery loop: unless the queue is already being
// drained or the endpoint is not active, it delivers queued events until
// the queue is empty, without holding e.mu during handler calls.
func (e *endpoint) drain() {
	e.mu.Lock()
	if e.mu.draining || (e.mu.state != stateActive && e.mu.state != stateDeactivating) {
		e.mu.Unlock()
		return
	}
	e.mu.draining = true
	for {
		ev, h, ok := e.nextLocked()
		if !ok {
			e.mu.draining = false
			e.mu.Unlock()
			return
		}
		e.mu.Unlock()
		e.deliver(h, ev)
		e.mu.Lock()
	}
}

// run is the delivery goroutine of the async modes. It exits after making
// the final call.
func (e *endpoint) run() {
	defer e.d.goroutines.Add(-1)
	e.mu.Lock()
	for {
		ev, h, ok := e.nextLocked()
		if !ok {
			e.cond.Wait()
			continue
		}
		e.mu.Unlock()
		e.deliver(h, ev)
		if ev.flags&ipcz.TransportActivityDeactivated != 0 {
			return
		}
		e.mu.Lock()
	}
}

// deliver makes one handler call, with no lock held, and handles a
// rejected message.
func (e *endpoint) deliver(h ipcz.ActivityHandler, ev event) {
	err := h(ev.data, ev.handles, ev.flags)
	if err == nil || ev.flags != 0 {
		return
	}
	e.mu.Lock()
	var dropped []ipcz.DriverHandle
	raise := false
	if e.mu.state == stateActive && !e.mu.broken {
		e.mu.broken = true
		dropped = e.mu.queue.takeMessages()
		if !e.mu.errorQueued {
			e.mu.errorQueued = true
			e.pushLocked(event{flags: ipcz.TransportActivityError})
			raise = true
		}
	}
	e.mu.Unlock()
	// Whatever ipcz did not consume from the rejected message is ours.
	e.d.closeHandles(ev.handles)
	e.d.closeHandles(dropped)
	if raise {
		e.kick() // a no-op when called from drain, which is still draining
	}
}
