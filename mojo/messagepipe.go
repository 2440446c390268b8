package mojo

import (
	"slices"
	"sync"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/watcher"
)

// messagePipe is a message pipe endpoint: an ipcz portal.
type messagePipe struct {
	portal   *ipcz.Portal      // immutable
	notifier *watcher.Notifier // immutable
	// readMu serializes reads that peek at a message before taking it
	// (two-phase gets); plain reads of handle-less messages do not take
	// it. It is held across the portal's BeginGet/EndGet only.
	readMu sync.Mutex
}

func newMessagePipe(p *ipcz.Portal) *messagePipe {
	return &messagePipe{portal: p, notifier: watcher.NewNotifier(p)}
}

// Notifier implements watcher.Source.
func (m *messagePipe) Notifier() *watcher.Notifier { return m.notifier }

// SignalsState implements watcher.Source: READABLE while a message is
// queued, satisfiable until the portal is dead (peer closed and everything
// it sent read); WRITABLE until the peer is known closed; PEER_CLOSED
// always satisfiable.
func (m *messagePipe) SignalsState() HandleSignalsState {
	st, err := m.portal.QueryStatus()
	if err != nil {
		return HandleSignalsState{}
	}
	var s HandleSignalsState
	if st.NumLocalParcels > 0 {
		s.Satisfied |= HandleSignalReadable
	}
	if st.Flags&ipcz.PortalStatusDead == 0 {
		s.Satisfiable |= HandleSignalReadable
	}
	if st.Flags&ipcz.PortalStatusPeerClosed == 0 {
		s.Satisfied |= HandleSignalWritable
		s.Satisfiable |= HandleSignalWritable
	} else {
		s.Satisfied |= HandleSignalPeerClosed
	}
	s.Satisfiable |= HandleSignalPeerClosed
	return s
}

func (m *messagePipe) close(*Core) {
	m.notifier.Close()
	_ = m.portal.Close()
}

func (m *messagePipe) beginTransit(*Core) (outgoing, Result) {
	return outgoing{kind: wireMessagePipe, objects: []ipcz.Object{m.portal}}, ResultOK
}

// messagePipe returns the pipe behind h.
func (c *Core) messagePipe(h Handle) (*messagePipe, bool) {
	o, _ := c.lookup(h)
	mp, ok := o.(*messagePipe)
	return mp, ok
}

// CreateMessagePipe creates a message pipe (MojoCreateMessagePipe); options
// are ignored, as in 2017. Result: ResourceExhausted if the handle table is
// full.
func (c *Core) CreateMessagePipe(options *CreateMessagePipeOptions) (Handle, Handle, Result) {
	defer c.exit(c.enter())
	a, b, err := c.node.OpenPortals()
	if err != nil {
		return HandleInvalid, HandleInvalid, ResultInternal
	}
	objs := []object{newMessagePipe(a), newMessagePipe(b)}
	hs, ok := c.handles.addAll(objs)
	if !ok {
		for _, o := range objs {
			o.close(c)
		}
		return HandleInvalid, HandleInvalid, ResultResourceExhausted
	}
	return Handle(hs[0]), Handle(hs[1]), ResultOK
}

// WriteMessage writes bytes and handles to a pipe as one message
// (MojoWriteMessage). The handles leave the table only if the write
// succeeds; on any failure the caller keeps all of them. Results:
// InvalidArgument if h is not a message pipe, a handle is not live, is a
// watcher, is h itself or h's peer; ResourceExhausted for more than
// MaxHandlesPerMessage handles (or more than 4096 ipcz objects); Busy if a
// handle is attached to another message being sent, listed twice, or a
// data pipe in a two-phase operation; FailedPrecondition if the peer is
// known to be closed (a write may succeed before the closure is known).
func (c *Core) WriteMessage(h Handle, bytes []byte, handles []Handle, flags WriteMessageFlags) Result {
	// No defer on the hot paths: it costs more than the rest of the
	// bracket.
	counted := c.enter()
	r := c.writeMessage(h, bytes, handles)
	c.exit(counted)
	return r
}

func (c *Core) writeMessage(h Handle, bytes []byte, handles []Handle) Result {
	mp, ok := c.messagePipe(h)
	if !ok {
		return ResultInvalidArgument
	}
	if len(bytes) > maxMessageBytes {
		return ResultResourceExhausted
	}
	if len(handles) == 0 {
		return putResult(mp.portal.Put(bytes, nil, nil))
	}
	if len(handles) > MaxHandlesPerMessage {
		return ResultResourceExhausted
	}
	if slices.Contains(handles, h) {
		return ResultInvalidArgument
	}
	entries, r := c.handles.beginTransit(handles)
	if r != ResultOK {
		return r
	}
	outs, r := c.beginTransitAll(entries)
	if r != ResultOK {
		c.handles.cancelTransit(entries)
		return r
	}
	hs := headerSize(outs)
	data := make([]byte, hs+len(bytes))
	copy(data[hs:], bytes)
	if r := c.put(mp.portal, data, outs); r != ResultOK {
		for _, o := range outs {
			if o.cancel != nil {
				o.cancel()
			}
		}
		c.handles.cancelTransit(entries)
		return r
	}
	c.handles.completeTransit(entries)
	leaveTable(outs)
	for _, o := range outs {
		if o.complete != nil {
			o.complete()
		}
	}
	return ResultOK
}

// peeked is the head message of a pipe during a two-phase get; it belongs
// to the reading call, which holds messagePipe.readMu.
type peeked struct {
	data       []byte // the whole parcel
	numObjects int
	ins        []incoming // nil without handles
	payload    []byte
	numHandles int
}

// beginRead peeks at the head message, discarding (and rejecting)
// messages with a malformed header. Preconditions: mp.readMu held.
func (c *Core) beginRead(mp *messagePipe) (peeked, Result) {
	for {
		data, numObjects, err := mp.portal.BeginGet(true, true)
		if err != nil {
			return peeked{}, getResult(err)
		}
		if numObjects == 0 {
			return peeked{data: data, payload: data}, ResultOK
		}
		// The objects are only handed out by EndGet; their kinds are
		// checked then (bindObjects).
		ins, payload, ok := decodeHeader(data, numObjects)
		if ok {
			return peeked{data: data, numObjects: numObjects, ins: ins, payload: payload, numHandles: len(ins)}, ResultOK
		}
		objs, v, err := mp.portal.EndGetValidated(len(data), numObjects, 0)
		closeObjects(objs)
		if v != nil {
			_ = v.Reject(0)
			_ = v.Close()
		}
		if err != nil {
			return peeked{}, getResult(err)
		}
	}
}

// endRead takes the peeked message and rebuilds its handles.
// Preconditions: mp.readMu held; the caller copied what it needs of the
// payload.
func (c *Core) endRead(mp *messagePipe, pk peeked) ([]Handle, *ipcz.Validator, Result) {
	objs, v, err := mp.portal.EndGetValidated(len(pk.data), pk.numObjects, 0)
	if err != nil {
		return nil, nil, getResult(err)
	}
	if pk.numObjects == 0 {
		return nil, v, ResultOK
	}
	ins := pk.ins
	if !bindObjects(ins, objs) {
		// The layout was checked; only the objects' kinds can be wrong.
		// Like a handle that cannot be rebuilt, each becomes invalid.
		closeObjects(objs)
		if v != nil {
			_ = v.Reject(0)
		}
		return make([]Handle, pk.numHandles), v, ResultOK
	}
	used := 0
	for _, in := range ins {
		used += in.count
	}
	if used == 0 {
		closeObjects(objs) // the placeholder
	}
	hs, r := c.adopt(ins)
	if r != ResultOK {
		if v != nil {
			_ = v.Close()
		}
		return nil, nil, r
	}
	return hs, v, ResultOK
}

// discardRead takes the peeked message and closes everything in it.
func discardRead(mp *messagePipe, pk peeked) {
	objs, v, _ := mp.portal.EndGetValidated(len(pk.data), pk.numObjects, 0)
	closeObjects(objs)
	if v != nil {
		_ = v.Close()
	}
}

// ReadMessage reads the next message into bytes and handles
// (MojoReadMessage); their lengths are the capacities. It returns the
// message's size and number of handles. Results: ShouldWait if no message
// is queued; FailedPrecondition if none ever will be (the peer closed);
// ResourceExhausted if the message does not fit, with the sizes it needs
// (the message stays queued, or is dropped with ReadMessageFlagMayDiscard);
// InvalidArgument if h is not a message pipe.
func (c *Core) ReadMessage(h Handle, bytes []byte, handles []Handle, flags ReadMessageFlags) (numBytes, numHandles uint32, r Result) {
	counted := c.enter()
	numBytes, numHandles, r = c.readMessage(h, bytes, handles, flags)
	c.exit(counted)
	return numBytes, numHandles, r
}

func (c *Core) readMessage(h Handle, bytes []byte, handles []Handle, flags ReadMessageFlags) (numBytes, numHandles uint32, r Result) {
	mp, ok := c.messagePipe(h)
	if !ok {
		return 0, 0, ResultInvalidArgument
	}
	// Fast path: a message without handles goes straight into bytes.
	n, no, err := mp.portal.Get(0, bytes, nil)
	switch err {
	case nil:
		return uint32(n), 0, ResultOK
	case ipcz.ResourceExhausted:
		if no == 0 && flags&ReadMessageFlagMayDiscard == 0 {
			return uint32(n), 0, ResultResourceExhausted
		}
	case ipcz.AlreadyExists:
		// A peeking reader is at work; queue behind it.
	default:
		return 0, 0, getResult(err)
	}
	mp.readMu.Lock()
	defer mp.readMu.Unlock()
	pk, r := c.beginRead(mp)
	if r != ResultOK {
		return 0, 0, r
	}
	numBytes, numHandles = uint32(len(pk.payload)), uint32(pk.numHandles)
	if len(pk.payload) > len(bytes) || pk.numHandles > len(handles) {
		if flags&ReadMessageFlagMayDiscard != 0 {
			discardRead(mp, pk)
		} else {
			_, _ = mp.portal.EndGet(0, 0, ipcz.EndGetAbort)
		}
		return numBytes, numHandles, ResultResourceExhausted
	}
	copy(bytes, pk.payload)
	hs, v, r := c.endRead(mp, pk)
	if v != nil {
		_ = v.Close()
	}
	if r != ResultOK {
		return 0, 0, r
	}
	copy(handles, hs)
	return numBytes, numHandles, ResultOK
}

// ReadMessageNew reads the next message as a message object
// (MojoReadMessageNew), putting its handles in handles (whose length is
// the capacity). It returns the message, its payload size and its number
// of handles; the payload size is not checked against anything. Results
// as ReadMessage, with ResourceExhausted only for too many handles.
func (c *Core) ReadMessageNew(h Handle, handles []Handle, flags ReadMessageFlags) (msg MessageHandle, numBytes, numHandles uint32, r Result) {
	defer c.exit(c.enter())
	mp, ok := c.messagePipe(h)
	if !ok {
		return MessageHandleInvalid, 0, 0, ResultInvalidArgument
	}
	mp.readMu.Lock()
	defer mp.readMu.Unlock()
	pk, r := c.beginRead(mp)
	if r != ResultOK {
		return MessageHandleInvalid, 0, 0, r
	}
	numBytes, numHandles = uint32(len(pk.payload)), uint32(pk.numHandles)
	if pk.numHandles > len(handles) {
		if flags&ReadMessageFlagMayDiscard != 0 {
			discardRead(mp, pk)
		} else {
			_, _ = mp.portal.EndGet(0, 0, ipcz.EndGetAbort)
		}
		return MessageHandleInvalid, numBytes, numHandles, ResultResourceExhausted
	}
	buf := alignedBytes(len(pk.payload))
	copy(buf, pk.payload)
	hs, v, r := c.endRead(mp, pk)
	if r != ResultOK {
		return MessageHandleInvalid, 0, 0, r
	}
	m := &message{buf: buf, validator: v}
	mh, ok := c.messages.add(m)
	if !ok {
		m.destroy(c)
		for _, h := range hs {
			if o, r := c.handles.remove(uint32(h)); r == ResultOK {
				o.close(c)
			}
		}
		return MessageHandleInvalid, 0, 0, ResultResourceExhausted
	}
	copy(handles, hs)
	return MessageHandle(mh), numBytes, numHandles, ResultOK
}

// FuseMessagePipes joins two pipes (MojoFuseMessagePipes): the peer of h0
// becomes the peer of h1's peer. Both handles are consumed whatever
// happens. Results: InvalidArgument if either is not a live message pipe
// (both are closed); FailedPrecondition if ipcz cannot merge them (either
// was written to or read from, or they are each other's peer; both are
// closed).
func (c *Core) FuseMessagePipes(h0, h1 Handle) Result {
	defer c.exit(c.enter())
	o0, r0 := c.handles.remove(uint32(h0))
	o1, r1 := c.handles.remove(uint32(h1))
	mp0, ok0 := o0.(*messagePipe)
	mp1, ok1 := o1.(*messagePipe)
	if r0 != ResultOK || r1 != ResultOK || !ok0 || !ok1 {
		if o0 != nil {
			o0.close(c)
		}
		if o1 != nil {
			o1.close(c)
		}
		return ResultInvalidArgument
	}
	mp0.notifier.Close()
	mp1.notifier.Close()
	if err := ipcz.MergePortals(mp0.portal, mp1.portal); err != nil {
		_ = mp0.portal.Close()
		_ = mp1.portal.Close()
		return ResultFailedPrecondition
	}
	return ResultOK
}
