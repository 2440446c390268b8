package datapipe

import (
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
	node     *ipcz.Node   // immutable
	driver   ipcz.Driver  // immutable; node.Driver()
	opts     Options      // immutable; validated
	portal   *ipcz.Portal // immutable; the control portal
	producer bool         // immutable

	mu sync.Mutex
	// sendsDone is signalled (with mu) when sends drops to 0.
	sendsDone sync.Cond
	// memory is this endpoint's handle to the pipe's region; it travels
	// (boxed) when the endpoint moves. Guarded by mu.
	memory ipcz.DriverHandle
	// mapping maps memory; ring is its first CapacityNumBytes bytes and
	// words point into its header. All three are dropped (zero) when the
	// mapping is released. Guarded by mu.
	mapping ipcz.DriverHandle
	ring    []byte
	words   roleWords
	// pos is our counter: bytes ever committed (producer) or consumed
	// (consumer); the shared copy is only ever stored. Guarded by mu.
	pos uint64
	// peerPos is the peer's counter as last loaded and validated.
	// Guarded by mu.
	peerPos uint64
	// offset is pos modulo CapacityNumBytes. Guarded by mu.
	offset uint32
	// count is the free capacity (producer) or readable bytes (consumer)
	// pos and peerPos make. Guarded by mu.
	count uint32
	// twoPhase is set between Begin and End of a two-phase operation,
	// whose buffer spans twoPhaseMax bytes. Guarded by mu.
	twoPhase    bool
	twoPhaseMax uint32
	// newData (consumer only) is NEW_DATA_READABLE's latch. Guarded by mu.
	newData bool
	// peerClosed is set, permanently, once the portal is dead or the peer
	// wrote or sent something malformed. Guarded by mu.
	peerClosed bool
	// peerFinal is set once peerPos was loaded after peerClosed was set:
	// the peer's counter is never loaded again. Guarded by mu.
	peerFinal bool
	// closed is set by Close and by a completed transit. Guarded by mu.
	closed bool
	// inTransit is set from BeginTransit until the transit completes or is
	// cancelled; the endpoint neither refreshes nor operates meanwhile.
	// Guarded by mu.
	inTransit bool
	// sends counts wake-ups being put after an operation released mu.
	// Guarded by mu.
	sends int
}

// init sets up a new endpoint at pos, with the peer's counter at peerPos
// (validated by the caller).
func (e *endpoint) init(node *ipcz.Node, opts Options, producer bool, portal *ipcz.Portal, memory ipcz.DriverHandle, m mapped, pos, peerPos uint64) {
	e.node = node
	e.driver = node.Driver()
	e.opts = opts
	e.producer = producer
	e.portal = portal
	e.memory = memory
	e.mapping, e.ring, e.words = m.mapping, m.ring, m.words.role(producer)
	e.pos, e.peerPos = pos, peerPos
	e.offset = uint32(pos % uint64(opts.CapacityNumBytes))
	e.setCountLocked()
	e.newData = !producer && e.count > 0
	e.sendsDone.L = &e.mu
}

// setCountLocked derives count from pos and peerPos. Preconditions: mu
// held (or the endpoint not yet shared); the counters are valid.
func (e *endpoint) setCountLocked() {
	if e.producer {
		e.count = e.opts.CapacityNumBytes - uint32(e.pos-e.peerPos)
	} else {
		e.count = uint32(e.peerPos - e.pos)
	}
}

// Portal returns the endpoint's control portal, for observing its state
// changes with traps (watchers); a trap must be followed by WantWake. The
// caller must not get, put, close or send it.
func (e *endpoint) Portal() *ipcz.Portal { return e.portal }

// Options returns the pipe's options.
func (e *endpoint) Options() Options { return e.opts }

// WantWake asks the peer to put a wake-up parcel on the control portal
// the next time it commits (producer) or consumes (consumer) bytes.
// Without it the peer only publishes its counter in shared memory, which
// SignalsState reads but no trap sees. Call it after installing a trap on
// Portal() and before computing signals: then either the signals computed
// reflect the peer's change or the wake-up fires the trap.
func (e *endpoint) WantWake() {
	e.mu.Lock()
	if !e.closed && !e.peerFinal && e.mapping != 0 {
		e.words.wantWake()
	}
	e.mu.Unlock()
}

// usableLocked reports whether operations are allowed.
// Preconditions: mu held.
func (e *endpoint) usableLocked() bool { return !e.closed && !e.inTransit }

// refreshLocked takes in what the peer did: it drains the portal (wake-ups,
// and news of the peer's closure), then loads and validates the peer's
// counter. The load that follows the peer's closure is the last one: an
// honest peer stored its final counter before closing, and a closed peer
// is not heard again. Preconditions: mu held.
func (e *endpoint) refreshLocked() {
	if e.peerFinal || e.closed || e.inTransit {
		return
	}
	e.drainLocked()
	v := e.words.loadPeer()
	switch {
	case !validPeer(e.producer, v, e.peerPos, e.pos, e.opts):
		e.peerClosed = true
	case v != e.peerPos:
		e.peerPos = v
		e.setCountLocked()
		if !e.producer {
			e.newData = true
		}
	}
	if e.peerClosed {
		e.peerFinal = true
	}
}

// drainLocked takes every wake-up queued on the portal. Preconditions: mu
// held; not in transit.
func (e *endpoint) drainLocked() {
	for !e.peerClosed {
		n, numObjects, err := e.portal.Get(0, nil, nil)
		switch err {
		case nil:
			if n != 0 || numObjects != 0 {
				e.peerClosed = true
			}
		case ipcz.Unavailable, ipcz.InvalidArgument, ipcz.AlreadyExists:
			return
		default: // NotFound: the peer is closed; ResourceExhausted: a parcel that is not a wake-up
			e.peerClosed = true
		}
	}
}

// publishLocked moves pos by n bytes, stores it for the peer and reports
// whether the peer asked to be woken; if so the caller must sendWake after
// unlocking (sends is incremented here). Preconditions: mu held; usable.
func (e *endpoint) publishLocked(n uint32) (wake bool) {
	e.pos += uint64(n)
	e.offset = uint32((uint64(e.offset) + uint64(n)) % uint64(e.opts.CapacityNumBytes))
	e.count -= n
	if e.words.publish(e.pos) && !e.peerFinal {
		e.sends++
		return true
	}
	return false
}

// readyLocked is the check every read and write call begins with:
// InvalidArgument if closed or in transit, Busy during a two-phase
// operation, else OK. Preconditions: mu held.
func (e *endpoint) readyLocked() types.Result {
	switch {
	case !e.usableLocked():
		return types.ResultInvalidArgument
	case e.twoPhase:
		return types.ResultBusy
	}
	return types.ResultOK
}

// publishUnlock is publishLocked(n) followed by unlocking mu and sending
// the wake-up the peer asked for, if it did. Preconditions: mu held;
// usable.
func (e *endpoint) publishUnlock(n uint32) {
	wake := e.publishLocked(n)
	e.mu.Unlock()
	if wake {
		e.sendWake()
	}
}

// beginTwoPhaseLocked starts a two-phase operation and returns its span:
// the count bytes at offset, up to the end of the ring. Preconditions: mu
// held; usable; not in a two-phase operation; count > 0.
func (e *endpoint) beginTwoPhaseLocked() []byte {
	span := min(e.count, e.opts.CapacityNumBytes-e.offset)
	e.twoPhase = true
	e.twoPhaseMax = span
	return e.ring[e.offset : e.offset+span : e.offset+span]
}

// endTwoPhaseUnlock ends the two-phase operation, publishes the first n
// bytes of its span and unlocks mu. If n exceeds the span or is not a
// whole number of elements it publishes nothing and returns
// InvalidArgument. Preconditions: mu held; usable; in a two-phase
// operation.
func (e *endpoint) endTwoPhaseUnlock(n uint32) types.Result {
	e.twoPhase = false
	if n > e.twoPhaseMax || n%e.opts.ElementNumBytes != 0 {
		e.mu.Unlock()
		return types.ResultInvalidArgument
	}
	if n == 0 {
		e.mu.Unlock()
		return types.ResultOK
	}
	e.publishUnlock(n)
	return types.ResultOK
}

// sendWake puts a wake-up (an empty parcel) on the portal. Preconditions:
// mu not held; publishLocked returned true.
func (e *endpoint) sendWake() {
	// NotFound (peer closed) and InvalidArgument (closed meanwhile) leave
	// nobody to wake.
	_ = e.portal.Put(nil, nil, nil)
	e.mu.Lock()
	e.sends--
	if e.sends == 0 && e.inTransit {
		e.sendsDone.Broadcast() // BeginTransit is waiting
	}
	e.mu.Unlock()
}

// close closes the endpoint: its portal (the peer sees PEER_CLOSED), mapping
// and memory handle.
func (e *endpoint) close() types.Result {
	e.mu.Lock()
	if e.closed || e.inTransit {
		e.mu.Unlock()
		return types.ResultInvalidArgument
	}
	e.closed = true
	e.twoPhase = false
	memory, mapping := e.memory, e.mapping
	e.memory = 0
	e.dropMappingLocked()
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

// dropMappingLocked forgets the mapping, the ring and the words; the
// caller closes the mapping after unlocking. Preconditions: mu held.
func (e *endpoint) dropMappingLocked() {
	e.mapping, e.ring, e.words = 0, nil, roleWords{}
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

// Create makes a data pipe on node with validated options (see
// ValidateOptions): it allocates the region (the ring and the shared
// words) in driver shared memory, maps it once per endpoint and opens the
// control portals. Results: ResourceExhausted if the memory cannot be had,
// InvalidArgument for a dead node.
func Create(node *ipcz.Node, opts Options) (*Producer, *Consumer, types.Result) {
	d := node.Driver()
	mem0, err := d.AllocateSharedMemory(regionSize(opts.CapacityNumBytes))
	if err != nil {
		return nil, nil, types.ResultResourceExhausted
	}
	mem1, err := d.DuplicateSharedMemory(mem0)
	if err != nil {
		_ = d.Close(mem0)
		return nil, nil, types.ResultResourceExhausted
	}
	m0, r := mapRegion(d, mem0, opts.CapacityNumBytes)
	if r != types.ResultOK {
		_ = d.Close(mem0)
		_ = d.Close(mem1)
		return nil, nil, r
	}
	m1, r := mapRegion(d, mem1, opts.CapacityNumBytes)
	if r != types.ResultOK {
		_ = d.Close(m0.mapping)
		_ = d.Close(mem0)
		_ = d.Close(mem1)
		return nil, nil, r
	}
	a, b, err := node.OpenPortals()
	if err != nil {
		for _, h := range []ipcz.DriverHandle{m0.mapping, m1.mapping, mem0, mem1} {
			_ = d.Close(h)
		}
		return nil, nil, types.ResultInvalidArgument
	}
	// The region is new: both counters are 0 and nobody waits.
	p := &Producer{}
	p.init(node, opts, true, a, mem0, m0, 0, 0)
	c := &Consumer{}
	c.init(node, opts, false, b, mem1, m1, 0, 0)
	return p, c, types.ResultOK
}

// mapped is a mapping of a pipe's region.
type mapped struct {
	mapping ipcz.DriverHandle
	ring    []byte
	words   sharedWords
}

// mapRegion maps mem and checks it holds the region of a pipe of capacity
// bytes.
func mapRegion(d ipcz.Driver, mem ipcz.DriverHandle, capacity uint32) (mapped, types.Result) {
	mapping, bytes, err := d.MapSharedMemory(mem)
	if err != nil {
		return mapped{}, types.ResultResourceExhausted
	}
	if len(bytes) < regionSize(capacity) {
		_ = d.Close(mapping)
		return mapped{}, types.ResultInvalidArgument
	}
	words, ok := wordsAt(bytes[headerOffset(capacity):regionSize(capacity)])
	if !ok {
		_ = d.Close(mapping)
		return mapped{}, types.ResultInvalidArgument
	}
	ring := bytes[:capacity:capacity]
	populate(ring)
	return mapped{mapping: mapping, ring: ring, words: words}, types.ResultOK
}
