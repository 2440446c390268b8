package mojo

import (
	"encoding/binary"

	"github.com/ipcz-go/ipcz-go/datapipe"
	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/watcher"
)

// maxMessageBytes is the largest payload (the 2017 configuration's
// max_message_num_bytes); more gives ResourceExhausted.
const maxMessageBytes = 256 * 1024 * 1024

// message is a message object (a MojoMessageHandle).
//
// Its buffer is Go heap memory allocated 8-byte aligned. Go never moves
// heap objects, so the payload's address is stable until the message is
// freed or written and the buffer becomes garbage; the C layer pins it
// while C code holds the pointer from GetMessageBuffer.
type message struct {
	// buf holds headerSize bytes of room for the wire header, then the
	// payload. Immutable (its bytes belong to the application).
	buf []byte
	// headerSize is the room reserved for the header of outs. Immutable.
	headerSize int
	// outs are the attached handles, already taken out of the handle table
	// and ready to travel. Immutable.
	outs []outgoing
	// validator names the parcel a received message came from (for
	// NotifyBadMessage); nil for an allocated message. Immutable.
	validator *ipcz.Validator
}

func (m *message) payload() []byte { return m.buf[m.headerSize:] }

// destroy releases a message that will not be sent: attached handles are
// closed.
func (m *message) destroy(c *Core) {
	for _, o := range m.outs {
		if o.cancel != nil {
			o.cancel()
		}
		o.obj.close(c)
	}
	if m.validator != nil {
		_ = m.validator.Close()
	}
}

// beginTransitAll turns the objects of entries into their message parts.
// On failure every part already made is cancelled.
func (c *Core) beginTransitAll(entries []*entry[object]) ([]outgoing, Result) {
	outs := make([]outgoing, 0, len(entries))
	numObjects := 0
	for _, e := range entries {
		t, ok := e.v.(transferable)
		r := ResultInvalidArgument // watchers never travel
		var out outgoing
		if ok {
			out, r = t.beginTransit(c)
			numObjects += len(out.objects)
			if r == ResultOK && numObjects > maxObjectsPerMessage {
				if out.cancel != nil {
					out.cancel()
				}
				r = ResultResourceExhausted
			}
		}
		if r != ResultOK {
			for _, o := range outs {
				if o.cancel != nil {
					o.cancel()
				}
			}
			return nil, r
		}
		out.obj = t
		outs = append(outs, out)
	}
	return outs, ResultOK
}

// leaveTable finishes taking attached handles out of the table: their
// watches are cancelled, as when a handle is closed.
func leaveTable(outs []outgoing) {
	for _, o := range outs {
		if s, ok := o.obj.(watcher.Source); ok {
			s.Notifier().Close()
		}
	}
}

// putResult maps a Portal.Put error to a Result.
func putResult(err error) Result {
	switch err {
	case nil:
		return ResultOK
	case ipcz.NotFound:
		return ResultFailedPrecondition
	case ipcz.InvalidArgument:
		return ResultInvalidArgument
	case ipcz.ResourceExhausted:
		return ResultResourceExhausted
	}
	return ResultInternal
}

// getResult maps a Portal.Get or BeginGet error to a Result.
func getResult(err error) Result {
	switch err {
	case nil:
		return ResultOK
	case ipcz.Unavailable:
		return ResultShouldWait
	case ipcz.NotFound:
		return ResultFailedPrecondition
	case ipcz.InvalidArgument:
		return ResultInvalidArgument
	}
	return ResultInternal
}

// put sends data (whose first headerSize(outs) bytes are room for the
// header) with the attached handles through p. It does not complete or
// cancel outs.
func (c *Core) put(p *ipcz.Portal, data []byte, outs []outgoing) Result {
	if len(outs) == 0 {
		return putResult(p.Put(data, nil, nil))
	}
	encodeHeader(data[:headerSize(outs)], outs)
	objects := objectsOf(outs)
	var placeholder *ipcz.Portal
	if len(objects) == 0 {
		a, b, err := c.node.OpenPortals()
		if err != nil {
			return ResultInternal
		}
		_ = b.Close()
		placeholder = a
		objects = []ipcz.Object{a}
	}
	r := putResult(p.Put(data, objects, nil))
	if r != ResultOK && placeholder != nil {
		_ = placeholder.Close()
	}
	return r
}

// adopt rebuilds the handles of a received message and adds them to the
// table. A handle that cannot be rebuilt becomes HandleInvalid (its objects
// are closed), as in 2017. Result: ResourceExhausted if the table is full
// (everything is closed then).
func (c *Core) adopt(ins []incoming) ([]Handle, Result) {
	objs := make([]object, len(ins))
	for i, in := range ins {
		objs[i] = c.rebuild(in)
	}
	var present []object
	for _, o := range objs {
		if o != nil {
			present = append(present, o)
		}
	}
	hs, ok := c.handles.addAll(present)
	if !ok {
		for _, o := range present {
			o.close(c)
		}
		return nil, ResultResourceExhausted
	}
	out := make([]Handle, len(objs))
	j := 0
	for i, o := range objs {
		if o != nil {
			out[i] = Handle(hs[j])
			j++
		}
	}
	return out, ResultOK
}

// rebuild turns one received descriptor into an object, or nil (closing
// its objects) if it does not check out.
func (c *Core) rebuild(in incoming) object {
	switch in.kind {
	case wireMessagePipe:
		p := in.objects[0].(*ipcz.Portal)
		return newMessagePipe(p)
	case wireDataPipeProducer, wireDataPipeConsumer:
		box, portal := in.objects[0].(*ipcz.Box), in.objects[1].(*ipcz.Portal)
		p, cons, r := datapipe.Deserialize(c.node, in.fields, box, portal)
		switch {
		case r != ResultOK:
			return nil
		case in.kind == wireDataPipeProducer && p != nil:
			return newDataPipeProducer(p)
		case in.kind == wireDataPipeConsumer && cons != nil:
			return newDataPipeConsumer(cons)
		}
		if p != nil {
			_ = p.Close()
		}
		if cons != nil {
			_ = cons.Close()
		}
		return nil
	case wireSharedBuffer:
		box := in.objects[0].(*ipcz.Box)
		size := binary.LittleEndian.Uint64(in.fields[0:])
		flags := binary.LittleEndian.Uint32(in.fields[8:])
		mem, err := box.Unbox(0)
		if err != nil {
			_ = box.Close()
			return nil
		}
		b := c.adoptBuffer(mem, size, flags&1 != 0)
		if b == nil {
			return nil
		}
		return b
	case wirePlatformHandle:
		typ := PlatformHandleType(binary.LittleEndian.Uint32(in.fields))
		if typ == PlatformHandleTypeInvalid {
			return &platformHandle{}
		}
		box := in.objects[0].(*ipcz.Box)
		h, err := box.Unbox(0)
		if err != nil {
			_ = box.Close()
			return nil
		}
		ph := &platformHandle{}
		ph.typ, ph.h = PlatformHandleTypeFileDescriptor, h
		return ph
	}
	closeObjects(in.objects)
	return nil
}

// AllocMessage allocates a message object with a payload of numBytes
// zeroed bytes and the given handles attached (MojoAllocMessage). The
// handles leave the table only on success; from then on they belong to the
// message (their watches are cancelled). Results: ResourceExhausted for more
// than MaxHandlesPerMessage handles, a payload above 256 MiB, or handles
// needing more than 4096 ipcz objects; InvalidArgument if a handle is not
// live or is a watcher; Busy if a handle is attached to another message
// being sent, listed twice, or a data pipe in a two-phase operation.
func (c *Core) AllocMessage(numBytes uint32, handles []Handle, flags AllocMessageFlags) (MessageHandle, Result) {
	defer c.exit(c.enter())
	if len(handles) > MaxHandlesPerMessage || numBytes > maxMessageBytes {
		return MessageHandleInvalid, ResultResourceExhausted
	}
	var outs []outgoing
	if len(handles) > 0 {
		entries, r := c.handles.beginTransit(handles)
		if r != ResultOK {
			return MessageHandleInvalid, r
		}
		outs, r = c.beginTransitAll(entries)
		if r != ResultOK {
			c.handles.cancelTransit(entries)
			return MessageHandleInvalid, r
		}
		c.handles.completeTransit(entries)
		leaveTable(outs)
	}
	hs := headerSize(outs)
	m := &message{buf: alignedBytes(hs + int(numBytes)), headerSize: hs, outs: outs}
	mh, ok := c.messages.add(m)
	if !ok {
		m.destroy(c)
		return MessageHandleInvalid, ResultResourceExhausted
	}
	return MessageHandle(mh), ResultOK
}

// FreeMessage destroys a message object and closes the handles attached
// to it (MojoFreeMessage). Result: InvalidArgument if msg names no message.
func (c *Core) FreeMessage(msg MessageHandle) Result {
	defer c.exit(c.enter())
	if uint64(msg) > 0xFFFFFFFF {
		return ResultInvalidArgument
	}
	m, r := c.messages.remove(uint32(msg))
	if r != ResultOK {
		return ResultInvalidArgument
	}
	m.destroy(c)
	return ResultOK
}

// GetMessageBuffer returns the payload of a message object
// (MojoGetMessageBuffer): exactly its size, starting 8-byte aligned, at an
// address that stays put while the message lives. Result: InvalidArgument
// if msg names no message.
func (c *Core) GetMessageBuffer(msg MessageHandle) ([]byte, Result) {
	if uint64(msg) > 0xFFFFFFFF {
		return nil, ResultInvalidArgument
	}
	m, ok := c.messages.lookup(uint32(msg))
	if !ok {
		return nil, ResultInvalidArgument
	}
	return m.payload(), ResultOK
}

// WriteMessageNew writes a message object to a pipe (MojoWriteMessageNew).
// The message is consumed whether or not the write succeeds; on failure
// its attached handles are closed. Results: InvalidArgument if msg names no
// message, h is not a message pipe, or an attached pipe is h's peer;
// FailedPrecondition if the peer is known to be closed.
func (c *Core) WriteMessageNew(h Handle, msg MessageHandle, flags WriteMessageFlags) Result {
	defer c.exit(c.enter())
	if uint64(msg) > 0xFFFFFFFF {
		return ResultInvalidArgument
	}
	m, r := c.messages.remove(uint32(msg))
	if r != ResultOK {
		return ResultInvalidArgument
	}
	o, _ := c.lookup(h)
	mp, ok := o.(*messagePipe)
	if !ok {
		m.destroy(c)
		return ResultInvalidArgument
	}
	if r := c.put(mp.portal, m.buf, m.outs); r != ResultOK {
		m.destroy(c)
		return r
	}
	for _, out := range m.outs {
		if out.complete != nil {
			out.complete()
		}
	}
	if m.validator != nil {
		_ = m.validator.Close()
	}
	return ResultOK
}

// NotifyBadMessage reports a received message as bad (MojoNotifyBadMessage):
// if it came from another node, ipcz rejects its parcel, which reports the
// node's transport to the driver (ipcz.Validator.Reject); the error text
// goes to the embedder's handler (SetBadMessageHandler). Result:
// InvalidArgument if msg names no message.
func (c *Core) NotifyBadMessage(msg MessageHandle, err string) Result {
	if uint64(msg) > 0xFFFFFFFF {
		return ResultInvalidArgument
	}
	m, ok := c.messages.lookup(uint32(msg))
	if !ok {
		return ResultInvalidArgument
	}
	if m.validator != nil {
		// FailedPrecondition (a message from this node) leaves nobody to
		// tell but the embedder.
		_ = m.validator.Reject(0)
	}
	if fn := c.badMessage.Load(); fn != nil {
		(*fn)(err)
	}
	return ResultOK
}
