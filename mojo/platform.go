package mojo

import (
	"encoding/binary"
	"math"
	"sync"

	"github.com/ipcz-go/ipcz-go/ipcz"
)

// platformHandle is a wrapped platform handle: a driver object owning a
// file descriptor (ipcz.FileDescriptorDriver), or nothing for a wrapped
// invalid handle.
type platformHandle struct {
	mu sync.Mutex
	// typ is PlatformHandleTypeFileDescriptor or PlatformHandleTypeInvalid.
	// Set before the handle is shared; immutable afterwards.
	typ PlatformHandleType
	// h is the driver's fd object; 0 for an invalid handle, once closed,
	// unwrapped, or while boxed for a message. Guarded by mu.
	h ipcz.DriverHandle
}

func (p *platformHandle) take() ipcz.DriverHandle {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.h
	p.h = 0
	return h
}

func (p *platformHandle) close(c *Core) {
	if h := p.take(); h != 0 {
		_ = c.driver.Close(h) // closes the fd
	}
}

func (p *platformHandle) beginTransit(c *Core) (outgoing, Result) {
	fields := make([]byte, 8)
	binary.LittleEndian.PutUint32(fields, uint32(p.typ))
	if p.typ == PlatformHandleTypeInvalid {
		return outgoing{kind: wirePlatformHandle, fields: fields}, ResultOK
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.h == 0 {
		return outgoing{}, ResultInvalidArgument
	}
	box, err := c.node.Box(p.h)
	if err != nil {
		return outgoing{}, ResultInvalidArgument
	}
	p.h = 0
	return outgoing{
		kind:    wirePlatformHandle,
		fields:  fields,
		objects: []ipcz.Object{box},
		cancel: func() {
			if h, err := box.Unbox(0); err == nil {
				p.mu.Lock()
				p.h = h
				p.mu.Unlock()
			}
		},
	}, ResultOK
}

// WrapPlatformHandle wraps a platform handle as a Mojo handle
// (MojoWrapPlatformHandle). On success the Mojo handle owns the file
// descriptor: closing it closes the fd, and sending it sends the fd. On
// failure the caller keeps the fd (except with a full handle table, when
// it is closed, as in 2017). Results: InvalidArgument if ph is nil,
// ph.StructSize is not 16, the type is not a file descriptor or invalid,
// or the driver refuses the fd; Unimplemented if the driver cannot carry
// file descriptors (no ipcz.FileDescriptorDriver).
func (c *Core) WrapPlatformHandle(ph *PlatformHandle) (Handle, Result) {
	defer c.exit(c.enter())
	if ph == nil || ph.StructSize != PlatformHandleStructSize {
		return HandleInvalid, ResultInvalidArgument
	}
	switch ph.Type {
	case PlatformHandleTypeInvalid:
		return c.addHandle(&platformHandle{})
	case PlatformHandleTypeFileDescriptor:
	default:
		return HandleInvalid, ResultInvalidArgument
	}
	if c.fds == nil {
		return HandleInvalid, ResultUnimplemented
	}
	if ph.Value > math.MaxInt32 {
		return HandleInvalid, ResultInvalidArgument
	}
	h, err := c.fds.WrapFileDescriptor(int(ph.Value))
	if err != nil {
		return HandleInvalid, ResultInvalidArgument
	}
	p := &platformHandle{typ: PlatformHandleTypeFileDescriptor, h: h}
	return c.addHandle(p)
}

// UnwrapPlatformHandle takes the platform handle out of a Mojo handle
// (MojoUnwrapPlatformHandle) into ph (Type and Value are set; StructSize
// must be 16 on input); the caller then owns the fd. The Mojo handle is
// consumed whatever happens (a wrong-kind handle is closed). Results:
// InvalidArgument if h is not a live platform handle, or ph is nil or has
// the wrong StructSize (the fd is closed then); Busy if h is attached to a
// message being sent.
func (c *Core) UnwrapPlatformHandle(h Handle, ph *PlatformHandle) Result {
	defer c.exit(c.enter())
	o, r := c.handles.remove(uint32(h))
	if r != ResultOK {
		return r
	}
	p, ok := o.(*platformHandle)
	if !ok {
		o.close(c)
		return ResultInvalidArgument
	}
	if ph == nil || ph.StructSize != PlatformHandleStructSize {
		p.close(c)
		return ResultInvalidArgument
	}
	if p.typ == PlatformHandleTypeInvalid {
		ph.Type = PlatformHandleTypeInvalid
		return ResultOK
	}
	dh := p.take()
	if c.fds == nil || dh == 0 {
		if dh != 0 {
			_ = c.driver.Close(dh)
		}
		return ResultInternal
	}
	fd, err := c.fds.UnwrapFileDescriptor(dh)
	if err != nil {
		_ = c.driver.Close(dh)
		return ResultInternal
	}
	ph.Type = PlatformHandleTypeFileDescriptor
	ph.Value = uint64(fd)
	return ResultOK
}

// WrapPlatformSharedBufferHandle wraps a shared memory file descriptor of
// at least numBytes bytes as a shared buffer handle
// (MojoWrapPlatformSharedBufferHandle; the guide's
// MojoWrapPlatformSharedBuffer). The buffer owns the fd on success.
// Results: InvalidArgument if ph is nil, has the wrong StructSize or a
// type other than a file descriptor or invalid, or numBytes is 0;
// Unknown for an invalid platform handle or an fd the driver cannot use;
// ResourceExhausted above MaxSharedBufferBytes; Unimplemented if the
// driver lacks SharedMemoryFileDescriptorDriver.
func (c *Core) WrapPlatformSharedBufferHandle(ph *PlatformHandle, numBytes uint64, flags PlatformSharedBufferHandleFlags) (Handle, Result) {
	defer c.exit(c.enter())
	if ph == nil || ph.StructSize != PlatformHandleStructSize || numBytes == 0 {
		return HandleInvalid, ResultInvalidArgument
	}
	switch ph.Type {
	case PlatformHandleTypeFileDescriptor:
	case PlatformHandleTypeInvalid:
		return HandleInvalid, ResultUnknown
	default:
		return HandleInvalid, ResultInvalidArgument
	}
	if numBytes > MaxSharedBufferBytes {
		return HandleInvalid, ResultResourceExhausted
	}
	if c.shmFDs == nil {
		return HandleInvalid, ResultUnimplemented
	}
	if ph.Value > math.MaxInt32 {
		return HandleInvalid, ResultInvalidArgument
	}
	readOnly := flags&PlatformSharedBufferHandleFlagReadOnly != 0
	mem, err := c.shmFDs.WrapSharedMemoryFileDescriptor(int(ph.Value), int(numBytes), readOnly)
	if err != nil {
		return HandleInvalid, ResultUnknown
	}
	b := c.adoptBuffer(mem, numBytes, readOnly)
	if b == nil {
		return HandleInvalid, ResultUnknown
	}
	return c.addHandle(b)
}

// UnwrapPlatformSharedBufferHandle takes the shared memory fd out of a
// buffer handle (MojoUnwrapPlatformSharedBufferHandle; the guide's
// MojoUnwrapPlatformSharedBuffer) into ph, and returns the buffer's size
// and whether it is read-only. The handle is consumed whatever happens.
// Mappings stay valid. Results: InvalidArgument if h is not a live buffer,
// or ph is nil or has the wrong StructSize; Busy if h is attached to a
// message being sent; Unimplemented (h is not consumed) if the driver
// lacks SharedMemoryFileDescriptorDriver.
func (c *Core) UnwrapPlatformSharedBufferHandle(h Handle, ph *PlatformHandle) (uint64, PlatformSharedBufferHandleFlags, Result) {
	defer c.exit(c.enter())
	if c.shmFDs == nil {
		return 0, 0, ResultUnimplemented
	}
	o, r := c.handles.remove(uint32(h))
	if r != ResultOK {
		return 0, 0, r
	}
	b, ok := o.(*sharedBuffer)
	if !ok {
		o.close(c)
		return 0, 0, ResultInvalidArgument
	}
	if ph == nil || ph.StructSize != PlatformHandleStructSize {
		b.close(c)
		return 0, 0, ResultInvalidArgument
	}
	b.mu.Lock()
	mem := b.mem
	b.mem = 0
	b.mu.Unlock()
	fd, err := c.shmFDs.UnwrapSharedMemoryFileDescriptor(mem)
	if err != nil {
		_ = c.driver.Close(mem)
		return 0, 0, ResultInternal
	}
	var flags PlatformSharedBufferHandleFlags
	if b.readOnly {
		flags |= PlatformSharedBufferHandleFlagReadOnly
	}
	ph.Type = PlatformHandleTypeFileDescriptor
	ph.Value = uint64(fd)
	return b.size, flags, ResultOK
}
