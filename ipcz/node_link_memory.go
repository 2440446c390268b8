package ipcz

import (
	"sync"
	"sync/atomic"

	"github.com/ipcz-go/ipcz-go/internal/blockalloc"
	"github.com/ipcz-go/ipcz-go/internal/wire"
)

// Node-pair shared memory.
//
// Each NodeLink shares a pool of memory with the node at its other end: a
// primary buffer (id 0) handed over in the handshake, and growth buffers
// that either side adds later (AddBlockBuffer). Buffer ids after 0 are
// allocated by parity, as sublinks are, so neither side can make the other
// reuse an id. The primary buffer holds:
//
//	offset 0     64 bytes   header (reserved)
//	offset 64    64 × 64    the linkStates of the initial portals
//	offset 4160  …          block regions, one per size class (blockalloc)
//
// Blocks hold linkStates of new links (64 bytes) and parcel data. Both
// nodes allocate and free blocks concurrently through lock-free free lists
// in the memory itself. The other node may write anything anywhere at any
// time, so every fragment it names is bounds-checked, block contents are
// never trusted, and a corrupt allocator only makes allocation fail (the
// data then goes inline in the message).

const (
	linkStateSize          = 64
	primaryHeaderSize      = 64
	primaryLinkStatesStart = primaryHeaderSize
	primaryBlocksStart     = primaryLinkStatesStart + maxInitialPortals*linkStateSize
	// blockHeaderSize is kept free at the start of every data block: the
	// allocator's free list lives in a free block's first word, which a
	// stale allocator on either side may still read after the block was
	// handed out, so data never overlaps it.
	blockHeaderSize = 8
	// maxFragmentSize is the largest parcel that travels through shared
	// memory; larger ones go inline.
	maxFragmentSize = 256 << 10
	// growthBufferBytes is the size of a growth buffer for small blocks;
	// large blocks get at least minGrowthBlocks each.
	growthBufferBytes = 256 << 10
	minGrowthBlocks   = 16
	// maxPoolBytesPerClass caps the memory one size class may grow to.
	maxPoolBytesPerClass = 64 << 20
)

// poolKey names one pool of blocks: a data size class (its block size), or
// the pool of linkStates, which is kept apart so that a flood of small
// parcels can never leave new links without shared state.
type poolKey int32

const linkStatePool poolKey = -1

// blockSize is the size of the pool's blocks.
func (k poolKey) blockSize() int {
	if k == linkStatePool {
		return linkStateSize
	}
	return int(k)
}

// valid reports whether k names a pool.
func (k poolKey) valid() bool { return k == linkStatePool || classFor(int(k)) == int(k) }

// blockClasses are the pools, with how many blocks of each the primary
// buffer holds.
var blockClasses = []struct {
	key           poolKey
	primaryBlocks int
}{
	{linkStatePool, 2048},
	{64, 1024}, {256, 256}, {1024, 128}, {4096 + 64, 64}, {16384 + 64, 32}, {65536 + 64, 16}, {262144 + 64, 4},
}

// dataClasses are the block sizes of the data pools, smallest first. The
// larger ones hold a power of two of data after the block header (with
// the header rounded up to a cache line), since applications favour such
// sizes: a 64 KiB parcel would otherwise take a 256 KiB block.
var dataClasses = []int{64, 256, 1024, 4096 + 64, 16384 + 64, 65536 + 64, 262144 + 64}

// primaryBufferSize is the size of a primary buffer.
var primaryBufferSize = func() int {
	off := primaryBlocksStart
	for _, c := range blockClasses {
		off += (c.primaryBlocks + 1) * c.key.blockSize()
	}
	return off
}()

// fragment names a block of a node pair's shared memory by the block's
// offset, and the size of the data in it (which starts blockHeaderSize
// bytes in, except for linkStates, which use the whole 64-byte block and
// hold only atomics). On the wire it is {u64 buffer, u32 offset, u32
// size}; the zero fragment means none.
type fragment struct {
	buffer uint64
	offset uint32
	size   uint32
}

func (f fragment) isNull() bool { return f.size == 0 }

func encodeFragment(e *wire.Encoder, f fragment) {
	e.U64(f.buffer)
	e.U32(f.offset)
	e.U32(f.size)
}

func decodeFragment(d *wire.Decoder) fragment {
	return fragment{buffer: d.U64(), offset: d.U32(), size: d.U32()}
}

// memBuffer is one mapped buffer of the pool.
type memBuffer struct {
	id      uint64       // immutable
	mapping DriverHandle // immutable
	bytes   []byte       // immutable; the mapped memory
	regions []*blockRegion
}

// blockRegion is a run of blocks of one size inside a buffer.
type blockRegion struct {
	buf   *memBuffer            // immutable
	start int                   // immutable; offset of the region in the buffer
	end   int                   // immutable
	alloc *blockalloc.Allocator // immutable
	// grewAhead is set once an allocation deep into this region, the
	// newest of its pool, asked for the pool to grow. Atomic.
	grewAhead atomic.Bool
}

// nodeLinkMemory is the shared memory of one NodeLink.
type nodeLinkMemory struct {
	driver Driver   // immutable
	side   linkSide // immutable

	mu sync.Mutex
	// buffers by id, and regions by pool. Guarded by mu.
	buffers map[uint64]*memBuffer
	classes map[poolKey][]*blockRegion
	// poolBytes counts the growth memory per pool. Guarded by mu.
	poolBytes map[poolKey]int
	// nextBufferID is the next growth buffer id this side allocates.
	// Guarded by mu.
	nextBufferID uint64
	// growing marks pools with a growth buffer being made. Guarded by mu.
	growing map[poolKey]bool
	// closed is set once the buffers are unmapped. Guarded by mu.
	closed bool
	// linkStateGrowths counts the buffers added to the linkState pool, so
	// that a link left without state can tell whether the pool grew while
	// it was listing itself (see NodeLink.announce). Atomic.
	linkStateGrowths atomic.Uint64

	// refs counts the users of the memory: the NodeLink while it lives,
	// each remote link whose state is in it, each parcel whose bytes are,
	// and anyone briefly using it (acquire). The buffers are unmapped when
	// it drops to zero. Atomic.
	refs atomic.Int64
}

// acquire takes a reference if the memory is still mapped.
func (m *nodeLinkMemory) acquire() bool {
	for {
		n := m.refs.Load()
		if n <= 0 {
			return false
		}
		if m.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference, unmapping the memory with the last one.
func (m *nodeLinkMemory) release() {
	if m.refs.Add(-1) == 0 {
		m.close()
	}
}

// newNodeLinkMemory adopts a mapped primary buffer. The side that created
// the buffer has already zeroed it (driver memory is zeroed), which is
// all the block regions need.
func newNodeLinkMemory(d Driver, side linkSide, mapping DriverHandle, primary []byte) (*nodeLinkMemory, error) {
	if len(primary) < primaryBufferSize {
		return nil, wire.ErrMalformed
	}
	m := &nodeLinkMemory{
		driver:       d,
		side:         side,
		buffers:      make(map[uint64]*memBuffer),
		classes:      make(map[poolKey][]*blockRegion),
		poolBytes:    make(map[poolKey]int),
		nextBufferID: 2 + uint64(side),
		growing:      make(map[poolKey]bool),
	}
	m.refs.Store(1)
	buf := &memBuffer{id: 0, mapping: mapping, bytes: primary}
	off := primaryBlocksStart
	for _, c := range blockClasses {
		size := (c.primaryBlocks + 1) * c.key.blockSize()
		if err := m.addRegionLocked(buf, off, off+size, c.key); err != nil {
			return nil, err
		}
		off += size
	}
	m.buffers[0] = buf
	return m, nil
}

func (m *nodeLinkMemory) addRegionLocked(buf *memBuffer, start, end int, key poolKey) error {
	a, err := blockalloc.New(buf.bytes[start:end], key.blockSize())
	if err != nil {
		return err
	}
	r := &blockRegion{buf: buf, start: start, end: end, alloc: a}
	buf.regions = append(buf.regions, r)
	m.classes[key] = append(m.classes[key], r)
	return nil
}

// close unmaps every buffer; only release calls it.
func (m *nodeLinkMemory) close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	buffers := m.buffers
	m.buffers, m.classes = nil, nil
	m.mu.Unlock()
	for _, b := range buffers {
		m.driver.Close(b.mapping)
	}
}

// initialLinkState returns the linkState of initial portal i.
func (m *nodeLinkMemory) initialLinkState(i int) *linkState {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	return linkStateAt(m.buffers[0].bytes, primaryLinkStatesStart+i*linkStateSize)
}

// classFor returns the smallest data block size that holds n bytes, or 0.
func classFor(n int) int {
	for _, size := range dataClasses {
		if n <= size {
			return size
		}
	}
	return 0
}

// allocate returns a fragment for n bytes of data and the memory for
// them, or a null fragment if none is free (the caller then does
// without).
func (m *nodeLinkMemory) allocate(n int) (fragment, []byte) {
	size := classFor(n + blockHeaderSize)
	if size == 0 || n <= 0 || n > maxFragmentSize {
		return fragment{}, nil
	}
	f, block := m.allocateBlock(poolKey(size))
	if f.isNull() {
		return f, nil
	}
	f.size = uint32(n)
	return f, block[blockHeaderSize : blockHeaderSize+n : blockHeaderSize+n]
}

// allocateBlock returns a whole block of the pool.
func (m *nodeLinkMemory) allocateBlock(key poolKey) (fragment, []byte) {
	f, b, _ := m.allocateBlockAhead(key)
	return f, b
}

// allocateBlockAhead is allocateBlock that also reports, once per region,
// when the block came from the last quarter of the pool's newest region:
// the pool should grow now, so that the growth (a round trip to the
// other side) is done before the pool runs dry. A zeroed region hands out
// its blocks in address order, so the block's place says how far a new
// region is used; a reused block may say too much, which costs at most
// one early growth per region.
func (m *nodeLinkMemory) allocateBlockAhead(key poolKey) (f fragment, block []byte, growAhead bool) {
	size := key.blockSize()
	m.mu.Lock()
	regions := m.classes[key]
	m.mu.Unlock()
	for i, r := range regions {
		off, err := r.alloc.Alloc()
		if err != nil {
			continue
		}
		at := r.start + off
		f := fragment{buffer: r.buf.id, offset: uint32(at), size: uint32(size)}
		n := r.alloc.NumBlocks()
		growAhead = i == len(regions)-1 && off/size*4 >= n*3 && r.grewAhead.CompareAndSwap(false, true)
		return f, r.buf.bytes[at : at+size : at+size], growAhead
	}
	return fragment{}, nil, false
}

// resolve returns the data a fragment from the other node names, after
// checking that it lies wholly inside one block of a known buffer.
func (m *nodeLinkMemory) resolve(f fragment) ([]byte, bool) {
	block, ok := m.resolveBlock(fragment{buffer: f.buffer, offset: f.offset, size: f.size + blockHeaderSize})
	if !ok || f.size == 0 || f.size > maxFragmentSize {
		return nil, false
	}
	return block[blockHeaderSize:], true
}

// resolveBlock returns the start of the block a fragment names, f.size
// bytes long.
func (m *nodeLinkMemory) resolveBlock(f fragment) ([]byte, bool) {
	if f.isNull() {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.buffers[f.buffer]
	if b == nil {
		return nil, false
	}
	r := b.regionAt(int(f.offset))
	if r == nil {
		return nil, false
	}
	size := r.alloc.BlockSize()
	start := int(f.offset)
	if (start-r.start)%size != 0 || start == r.start || int(f.size) > size || start+int(f.size) > r.end {
		return nil, false
	}
	return b.bytes[start : start+int(f.size) : start+int(f.size)], true
}

// free returns a fragment's block to its region. Bad fragments are
// ignored: they can only come from a confused or hostile peer.
func (m *nodeLinkMemory) free(f fragment) {
	m.mu.Lock()
	b := m.buffers[f.buffer]
	var r *blockRegion
	if b != nil {
		r = b.regionAt(int(f.offset))
	}
	m.mu.Unlock()
	if r != nil {
		r.alloc.Free(int(f.offset) - r.start)
	}
}

// regionAt returns the block region containing offset, if any.
func (b *memBuffer) regionAt(offset int) *blockRegion {
	for _, r := range b.regions {
		if offset >= r.start && offset < r.end {
			return r
		}
	}
	return nil
}

// allocateLinkState returns a fresh linkState in shared memory with both
// sides holding a reference, and its fragment. growAhead says the pool
// is running low and should grow (see allocateBlockAhead).
func (m *nodeLinkMemory) allocateLinkState() (f fragment, st *linkState, growAhead bool) {
	f, b, growAhead := m.allocateBlockAhead(linkStatePool)
	if f.isNull() {
		return f, nil, false
	}
	st = linkStateAt(b, 0)
	st.reset()
	return f, st, growAhead
}

// adoptLinkState returns the linkState a fragment from the other node
// names, if the fragment is exactly one 64-byte block.
func (m *nodeLinkMemory) adoptLinkState(f fragment) *linkState {
	if f.size != linkStateSize {
		return nil
	}
	b, ok := m.resolveBlock(f)
	if !ok {
		return nil
	}
	return linkStateAt(b, 0)
}

// planGrowth says what buffer to add to a pool, or ok=false if the pool
// may not grow (at its cap, or already growing).
func (m *nodeLinkMemory) planGrowth(key poolKey) (id uint64, bytes int, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.growing[key] {
		return 0, 0, false
	}
	bytes = max(growthBufferBytes, key.blockSize()*(minGrowthBlocks+1))
	if key == linkStatePool {
		// The linkState pool doubles (up to its cap), so that many links
		// need only a few growth round trips.
		bytes = max(bytes, min(m.poolBytes[key], maxPoolBytesPerClass-m.poolBytes[key]))
	}
	if m.poolBytes[key]+bytes > maxPoolBytesPerClass {
		return 0, 0, false
	}
	m.growing[key] = true
	id = m.nextBufferID
	m.nextBufferID += 2
	return id, bytes, true
}

// addGrowthBuffer registers a mapped growth buffer for a pool. local says
// whether this side made it (and planned it).
func (m *nodeLinkMemory) addGrowthBuffer(id uint64, key poolKey, mapping DriverHandle, bytes []byte, local bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if local {
		delete(m.growing, key)
	}
	if m.closed || m.buffers[id] != nil || !key.valid() || len(bytes) < 2*key.blockSize() {
		return false
	}
	if !local && (id < 2 || id&1 != uint64(m.side.opposite())) {
		return false
	}
	if m.poolBytes[key]+len(bytes) > 2*maxPoolBytesPerClass {
		return false
	}
	buf := &memBuffer{id: id, mapping: mapping, bytes: bytes}
	if m.addRegionLocked(buf, 0, len(bytes), key) != nil {
		return false
	}
	m.buffers[id] = buf
	m.poolBytes[key] += len(bytes)
	if key == linkStatePool {
		m.linkStateGrowths.Add(1)
	}
	return true
}

// growthFailed clears the growing mark after a failed growth attempt.
func (m *nodeLinkMemory) growthFailed(key poolKey) {
	m.mu.Lock()
	delete(m.growing, key)
	m.mu.Unlock()
}
