package datapipe

import (
	"encoding/binary"
	"sync"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/mojo/types"
)

// CreateFlags are MojoCreateDataPipeOptionsFlags (none defined).
type CreateFlags uint32

// CreateFlagNone is MOJO_CREATE_DATA_PIPE_OPTIONS_FLAG_NONE.
const CreateFlagNone CreateFlags = 0

// WriteFlags are MojoWriteDataFlags.
type WriteFlags uint32

const (
	WriteFlagNone      WriteFlags = 0
	WriteFlagAllOrNone WriteFlags = 1 << 0
)

// ReadFlags are MojoReadDataFlags.
type ReadFlags uint32

const (
	ReadFlagNone      ReadFlags = 0
	ReadFlagAllOrNone ReadFlags = 1 << 0
	ReadFlagDiscard   ReadFlags = 1 << 1
	ReadFlagQuery     ReadFlags = 1 << 2
	ReadFlagPeek      ReadFlags = 1 << 3
)

const (
	// DefaultCapacity is the capacity of a pipe created without one: 64
	// KiB, rounded down to a multiple of the element size.
	DefaultCapacity = 64 * 1024
	// MaxCapacity is the largest capacity accepted (256 MiB, the 2017
	// configuration's max_data_pipe_capacity_bytes).
	MaxCapacity = 256 * 1024 * 1024
)

// Options are the validated options of a pipe.
type Options struct {
	Flags            CreateFlags
	ElementNumBytes  uint32
	CapacityNumBytes uint32
}

// ValidateOptions checks creation options and fills in defaults: element
// size 0 is invalid, capacity 0 means DefaultCapacity rounded down to a
// multiple of the element size (at least one element), any other capacity
// must be a multiple of the element size and at most MaxCapacity.
// Results: InvalidArgument, Unimplemented for unknown flags,
// ResourceExhausted for a capacity above MaxCapacity.
func ValidateOptions(o Options) (Options, types.Result) {
	if o.Flags != CreateFlagNone {
		return Options{}, types.ResultUnimplemented
	}
	e := o.ElementNumBytes
	if e == 0 {
		return Options{}, types.ResultInvalidArgument
	}
	if o.CapacityNumBytes == 0 {
		c := uint32(DefaultCapacity) - uint32(DefaultCapacity)%e
		if c < e {
			c = e
		}
		if c > MaxCapacity {
			return Options{}, types.ResultResourceExhausted
		}
		o.CapacityNumBytes = c
		return o, types.ResultOK
	}
	if o.CapacityNumBytes%e != 0 {
		return Options{}, types.ResultInvalidArgument
	}
	if o.CapacityNumBytes > MaxCapacity {
		return Options{}, types.ResultResourceExhausted
	}
	return o, types.ResultOK
}

// endpoint is the state both kinds of endpoint share.
type endpoint struct {
	node   *ipcz.Node   // immutable
	driver ipcz.Driver  // immutable; node.Driver()
	opts   Options      // immutable; validated
	portal *ipcz.Portal // immutable; the control portal

	mu sync.Mutex
	// sendsDone is signalled (with mu) when sends drops to 0.
	sendsDone sync.Cond
	// memory is this endpoint's handle to the ring's region; it travels
	// (boxed) when the endpoint moves. Guarded by mu.
	memory ipcz.DriverHandle
	// mapping maps memory; ring is its first CapacityNumBytes bytes.
	// Guarded by mu.
	mapping ipcz.DriverHandle
	ring    []byte
	// offset is the write offset (producer) or read offset (consumer),
	// always < CapacityNumBytes. Guarded by mu.
	offset uint32
	// count is the free capacity (producer) or readable bytes (consumer)
	// this endpoint knows of. Guarded by mu.
	count uint32
	// twoPhase is set between Begin and End of a two-phase operation,
	// whose buffer spans twoPhaseMax bytes. Guarded by mu.
	twoPhase    bool
	twoPhaseMax uint32
	// newData (consumer only) is NEW_DATA_READABLE's latch. Guarded by mu.
	newData bool
	// peerClosed is set, permanently, once the portal is dead or the peer
	// sent something malformed. Guarded by mu.
	peerClosed bool
	// closed is set by Close and by a completed transit. Guarded by mu.
	closed bool
	// inTransit is set from BeginTransit until the transit completes or is
	// cancelled; the endpoint neither drains nor operates meanwhile.
	// Guarded by mu.
	inTransit bool
	// sends counts counts being put after an operation released mu.
	// Guarded by mu.
	sends int
}

func (e *endpoint) init(node *ipcz.Node, opts Options, portal *ipcz.Portal, memory, mapping ipcz.DriverHandle, ring []byte) {
	e.node = node
	e.driver = node.Driver()
	e.opts = opts
	e.portal = portal
	e.memory = memory
	e.mapping = mapping
	e.ring = ring
	e.sendsDone.L = &e.mu
}

// Portal returns the endpoint's control portal, for observing its state
// changes with traps (watchers). The caller must not get, put, close or
// send it.
func (e *endpoint) Portal() *ipcz.Portal { return e.portal }

// Options returns the pipe's options.
func (e *endpoint) Options() Options { return e.opts }

// usableLocked reports whether operations are allowed.
// Preconditions: mu held.
func (e *endpoint) usableLocked() bool { return !e.closed && !e.inTransit }

// drainLocked applies every count queued on the portal; producer says how
// to apply them. Preconditions: mu held; not in transit.
func (e *endpoint) drainLocked(producer bool) {
	if e.peerClosed || e.closed || e.inTransit {
		return
	}
	var buf [4]byte
	for {
		n, numObjects, err := e.portal.Get(0, buf[:], nil)
		switch err {
		case nil:
		case ipcz.Unavailable, ipcz.InvalidArgument, ipcz.AlreadyExists:
			return
		case ipcz.NotFound:
			e.peerClosed = true
			return
		default: // ResourceExhausted: a parcel that is not a count
			e.peerClosed = true
			return
		}
		if n != 4 || numObjects != 0 {
			e.peerClosed = true
			return
		}
		c := binary.LittleEndian.Uint32(buf[:])
		if c%e.opts.ElementNumBytes != 0 || uint64(e.count)+uint64(c) > uint64(e.opts.CapacityNumBytes) {
			e.peerClosed = true
			return
		}
		e.count += c
		if !producer && c > 0 {
			e.newData = true
		}
	}
}

// sendCount puts a count on the portal. Preconditions: mu not held; the
// caller incremented sends under mu.
func (e *endpoint) sendCount(n uint32) {
	var buf [4]byte
	binary.LittleEndian.PutUint32(buf[:], n)
	// NotFound (peer closed) and InvalidArgument (closed meanwhile) leave
	// nobody to tell.
	_ = e.portal.Put(buf[:], nil, nil)
	e.mu.Lock()
	e.sends--
	if e.sends == 0 && e.inTransit {
		e.sendsDone.Broadcast() // BeginTransit is waiting
	}
	e.mu.Unlock()
}

// close closes the endpoint: its portal (the peer sees PEER_CLOSED once it
// has applied every count sent), mapping and memory handle.
func (e *endpoint) close() types.Result {
	e.mu.Lock()
	if e.closed || e.inTransit {
		e.mu.Unlock()
		return types.ResultInvalidArgument
	}
	e.closed = true
	e.twoPhase = false
	memory, mapping := e.memory, e.mapping
	e.memory, e.mapping, e.ring = 0, 0, nil
	e.mu.Unlock()
	_ = e.portal.Close()
	if mapping != 0 {
		_ = e.driver.Close(mapping)
	}
	if memory != 0 {
		_ = e.driver.Close(memory)
	}
	return types.ResultOK
}

// copyIn writes src into the ring at offset, wrapping around.
func (e *endpoint) copyIn(offset uint32, src []byte) {
	n := copy(e.ring[offset:], src)
	copy(e.ring, src[n:])
}

// copyOut reads len(dst) bytes from the ring at offset, wrapping around.
func (e *endpoint) copyOut(dst []byte, offset uint32) {
	n := copy(dst, e.ring[offset:])
	copy(dst[n:], e.ring)
}

// advance moves offset by n, wrapping around.
func (e *endpoint) advance(n uint32) {
	e.offset = uint32((uint64(e.offset) + uint64(n)) % uint64(e.opts.CapacityNumBytes))
}

// Create makes a data pipe on node with validated options (see
// ValidateOptions): it allocates the ring in driver shared memory, maps it
// once per endpoint and opens the control portals. Results:
// ResourceExhausted if the memory cannot be had, InvalidArgument for a dead
// node.
func Create(node *ipcz.Node, opts Options) (*Producer, *Consumer, types.Result) {
	d := node.Driver()
	size := int(opts.CapacityNumBytes)
	mem0, err := d.AllocateSharedMemory(size)
	if err != nil {
		return nil, nil, types.ResultResourceExhausted
	}
	mem1, err := d.DuplicateSharedMemory(mem0)
	if err != nil {
		_ = d.Close(mem0)
		return nil, nil, types.ResultResourceExhausted
	}
	map0, ring0, r := mapRing(d, mem0, size)
	if r != types.ResultOK {
		_ = d.Close(mem0)
		_ = d.Close(mem1)
		return nil, nil, r
	}
	map1, ring1, r := mapRing(d, mem1, size)
	if r != types.ResultOK {
		_ = d.Close(map0)
		_ = d.Close(mem0)
		_ = d.Close(mem1)
		return nil, nil, r
	}
	a, b, err := node.OpenPortals()
	if err != nil {
		for _, h := range []ipcz.DriverHandle{map0, map1, mem0, mem1} {
			_ = d.Close(h)
		}
		return nil, nil, types.ResultInvalidArgument
	}
	p := &Producer{}
	p.init(node, opts, a, mem0, map0, ring0)
	p.count = opts.CapacityNumBytes
	c := &Consumer{}
	c.init(node, opts, b, mem1, map1, ring1)
	return p, c, types.ResultOK
}

// mapRing maps mem and checks it holds size bytes.
func mapRing(d ipcz.Driver, mem ipcz.DriverHandle, size int) (ipcz.DriverHandle, []byte, types.Result) {
	mapping, bytes, err := d.MapSharedMemory(mem)
	if err != nil {
		return 0, nil, types.ResultResourceExhausted
	}
	if len(bytes) < size {
		_ = d.Close(mapping)
		return 0, nil, types.ResultInvalidArgument
	}
	return mapping, bytes[:size:size], types.ResultOK
}
