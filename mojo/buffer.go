package mojo

import (
	"encoding/binary"
	"sync"

	"github.com/ipcz-go/ipcz-go/ipcz"
)

// sharedBuffer is a shared buffer handle: one driver memory handle.
type sharedBuffer struct {
	size     uint64 // immutable; the buffer's size (the region may be larger)
	readOnly bool   // immutable; mappable only for reading

	// mu guards mem and is held across driver calls on it (the driver
	// never calls back into mojo from memory calls).
	mu sync.Mutex
	// mem is the driver memory handle; 0 once closed, or while boxed for
	// a message. Guarded by mu.
	mem ipcz.DriverHandle
}

func (b *sharedBuffer) close(c *Core) {
	b.mu.Lock()
	mem := b.mem
	b.mem = 0
	b.mu.Unlock()
	if mem != 0 {
		_ = c.driver.Close(mem)
	}
}

func (b *sharedBuffer) beginTransit(c *Core) (outgoing, Result) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mem == 0 {
		return outgoing{}, ResultInvalidArgument
	}
	box, err := c.node.Box(b.mem)
	if err != nil {
		return outgoing{}, ResultInvalidArgument
	}
	b.mem = 0
	fields := make([]byte, 16)
	binary.LittleEndian.PutUint64(fields[0:], b.size)
	if b.readOnly {
		binary.LittleEndian.PutUint32(fields[8:], 1)
	}
	return outgoing{
		kind:    wireSharedBuffer,
		fields:  fields,
		objects: []ipcz.Object{box},
		cancel: func() {
			if mem, err := box.Unbox(0); err == nil {
				b.mu.Lock()
				b.mem = mem
				b.mu.Unlock()
			}
		},
	}, ResultOK
}

// adoptBuffer makes a buffer of size bytes from a memory handle that came
// from elsewhere, checking the region is big enough. It consumes mem and
// returns nil if it does not check out.
func (c *Core) adoptBuffer(mem ipcz.DriverHandle, size uint64, readOnly bool) *sharedBuffer {
	info, err := c.driver.GetSharedMemoryInfo(mem)
	if err != nil || size == 0 || size > MaxSharedBufferBytes || uint64(info.RegionNumBytes) < size {
		_ = c.driver.Close(mem)
		return nil
	}
	if c.readOnly != nil {
		if ro, err := c.readOnly.IsSharedMemoryReadOnly(mem); err == nil && ro {
			readOnly = true
		}
	}
	return &sharedBuffer{size: size, readOnly: readOnly, mem: mem}
}

func (c *Core) buffer(h Handle) (*sharedBuffer, bool) {
	o, _ := c.lookup(h)
	b, ok := o.(*sharedBuffer)
	return b, ok
}

// optionsFlags reads the flags of an 8-byte options struct the 2017 way:
// nil means none; StructSize below 4 is invalid; below 8 the flags
// default to none; flags outside known are Unimplemented.
func optionsFlags(present bool, structSize, flags, known uint32) (uint32, Result) {
	switch {
	case !present:
		return 0, ResultOK
	case structSize < 4:
		return 0, ResultInvalidArgument
	case structSize < 8:
		return 0, ResultOK
	case flags&^known != 0:
		return 0, ResultUnimplemented
	}
	return flags, ResultOK
}

// CreateSharedBuffer creates a shared buffer of numBytes bytes in driver
// shared memory (MojoCreateSharedBuffer). Results: InvalidArgument for 0
// bytes or StructSize below 4; Unimplemented for unknown flags;
// ResourceExhausted above MaxSharedBufferBytes or if the driver cannot
// allocate.
func (c *Core) CreateSharedBuffer(options *CreateSharedBufferOptions, numBytes uint64) (Handle, Result) {
	defer c.exit(c.enter())
	if options != nil {
		if _, r := optionsFlags(true, options.StructSize, uint32(options.Flags), 0); r != ResultOK {
			return HandleInvalid, r
		}
	}
	if numBytes == 0 {
		return HandleInvalid, ResultInvalidArgument
	}
	if numBytes > MaxSharedBufferBytes {
		return HandleInvalid, ResultResourceExhausted
	}
	mem, err := c.driver.AllocateSharedMemory(int(numBytes))
	if err != nil {
		return HandleInvalid, ResultResourceExhausted
	}
	return c.addHandle(&sharedBuffer{size: numBytes, mem: mem})
}

// DuplicateBufferHandle makes another handle to the same buffer
// (MojoDuplicateBufferHandle); with
// DuplicateBufferHandleOptionsFlagReadOnly the new handle can only be
// mapped for reading, enforced by the driver (by the kernel under the
// multiprocess driver). A duplicate of a read-only handle is read-only.
// Results: InvalidArgument if h is not a buffer or StructSize is below 4;
// Unimplemented for unknown flags; FailedPrecondition if a read-only
// duplicate cannot be made (the driver lacks
// ipcz.ReadOnlySharedMemoryDriver or refuses).
func (c *Core) DuplicateBufferHandle(h Handle, options *DuplicateBufferHandleOptions) (Handle, Result) {
	defer c.exit(c.enter())
	var flags uint32
	if options != nil {
		var r Result
		flags, r = optionsFlags(true, options.StructSize, uint32(options.Flags), uint32(DuplicateBufferHandleOptionsFlagReadOnly))
		if r != ResultOK {
			return HandleInvalid, r
		}
	}
	b, ok := c.buffer(h)
	if !ok {
		return HandleInvalid, ResultInvalidArgument
	}
	b.mu.Lock()
	if b.mem == 0 {
		b.mu.Unlock()
		return HandleInvalid, ResultInvalidArgument
	}
	var nb *sharedBuffer
	if flags&uint32(DuplicateBufferHandleOptionsFlagReadOnly) != 0 && !b.readOnly {
		if c.readOnly == nil {
			b.mu.Unlock()
			return HandleInvalid, ResultFailedPrecondition
		}
		mem, err := c.readOnly.DuplicateSharedMemoryReadOnly(b.mem)
		if err != nil {
			b.mu.Unlock()
			return HandleInvalid, ResultFailedPrecondition
		}
		nb = &sharedBuffer{size: b.size, readOnly: true, mem: mem}
	} else {
		mem, err := c.driver.DuplicateSharedMemory(b.mem)
		if err != nil {
			b.mu.Unlock()
			return HandleInvalid, ResultResourceExhausted
		}
		nb = &sharedBuffer{size: b.size, readOnly: b.readOnly, mem: mem}
	}
	b.mu.Unlock()
	return c.addHandle(nb)
}

// mappingTable finds the driver mapping behind an address MapBuffer
// returned. Several mappings may share an address (a driver may hand out
// the same memory twice); they are interchangeable.
type mappingTable struct {
	mu sync.Mutex
	// m maps the address of a mapped view's first byte to the driver
	// mappings returned there. Guarded by mu.
	m map[uintptr][]ipcz.DriverHandle
}

func (t *mappingTable) add(addr uintptr, mapping ipcz.DriverHandle) {
	t.mu.Lock()
	t.m[addr] = append(t.m[addr], mapping)
	t.mu.Unlock()
}

func (t *mappingTable) take(addr uintptr) (ipcz.DriverHandle, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ms := t.m[addr]
	if len(ms) == 0 {
		return 0, false
	}
	mapping := ms[len(ms)-1]
	if len(ms) == 1 {
		delete(t.m, addr)
	} else {
		t.m[addr] = ms[:len(ms)-1]
	}
	return mapping, true
}

// MapBuffer maps numBytes bytes of a buffer starting at offset (MojoMapBuffer)
// and returns them: the slice starts exactly at offset. The mapping lives
// until UnmapBuffer, whatever happens to the handle. Results:
// InvalidArgument if h is not a buffer, numBytes is 0 or the range leaves
// the buffer; ResourceExhausted if the driver cannot map.
func (c *Core) MapBuffer(h Handle, offset, numBytes uint64, flags MapBufferFlags) ([]byte, Result) {
	defer c.exit(c.enter())
	b, ok := c.buffer(h)
	if !ok || numBytes == 0 || offset > b.size || numBytes > b.size-offset {
		return nil, ResultInvalidArgument
	}
	b.mu.Lock()
	if b.mem == 0 {
		b.mu.Unlock()
		return nil, ResultInvalidArgument
	}
	mapping, bytes, err := c.driver.MapSharedMemory(b.mem)
	b.mu.Unlock()
	if err != nil {
		return nil, ResultResourceExhausted
	}
	if uint64(len(bytes)) < b.size {
		_ = c.driver.Close(mapping)
		return nil, ResultInternal
	}
	view := bytes[offset : offset+numBytes : offset+numBytes]
	c.mappings.add(addressOf(view), mapping)
	return view, ResultOK
}

// UnmapBuffer unmaps memory returned by MapBuffer (MojoUnmapBuffer). buffer
// must start at the first byte MapBuffer returned (its length does not
// matter). Result: InvalidArgument if no mapping starts there.
func (c *Core) UnmapBuffer(buffer []byte) Result {
	if len(buffer) == 0 {
		return ResultInvalidArgument
	}
	mapping, ok := c.mappings.take(addressOf(buffer))
	if !ok {
		return ResultInvalidArgument
	}
	_ = c.driver.Close(mapping)
	return ResultOK
}
