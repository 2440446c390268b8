package ipcz

import "github.com/ipcz-go/ipcz-go/internal/wire"

// Growing a node pair's memory, and allocation delegation.
//
// When a pool of a link's memory is full, the side that needs a block
// makes a growth buffer and sends it with AddBlockBuffer(id, pool,
// memory); the other side answers BlockBufferAdded(id). The other side
// must know a buffer before any message names it. When the driver passes
// the memory itself, the transport's ordering guarantees that, and the
// buffer joins our pool as soon as it is sent; when the memory goes
// through the broker, it joins only once BlockBufferAdded comes. (Waiting
// for the answer always would make growth as slow as the other side's
// backlog, which for many links in flight is most of their set-up.)
// Meanwhile parcels go inline, and new links go without shared
// state: once the state pool has grown, the side that made each such link
// gives it a state with SetLinkState(sublink, state). To keep such links
// rare when many are made, the state pool grows before it runs dry (when
// its newest buffer is three quarters used) and doubles each time.
//
// A node connected with ConnectNodeToAllocationDelegate never allocates
// shared memory itself: it asks the node it connected to with
// RequestMemory(id, size), which answers ProvideMemory(id, memory).
// Growth is then asynchronous; parcels go inline meanwhile.

// allocateLinkState allocates a linkState in the link's memory, growing
// the pool if it is exhausted or running low. It returns a null fragment
// and nil if none can be had now; the new link then works without shared
// state (and cannot be bypassed).
func (l *NodeLink) allocateLinkState() (fragment, *linkState) {
	memory := l.acquireMemory()
	if memory == nil {
		return fragment{}, nil
	}
	defer memory.release()
	f, st, growAhead := memory.allocateLinkState()
	if st == nil || growAhead {
		l.growMemory(memory, linkStatePool)
	}
	if st == nil {
		f, st, _ = memory.allocateLinkState()
	}
	return f, st
}

// maxRequestedMemory caps what a RequestMemory may ask for.
const maxRequestedMemory = 64 << 20

// growMemory adds a growth buffer to one of the link's pools, at once or
// (when allocation is delegated) later.
func (l *NodeLink) growMemory(memory *nodeLinkMemory, key poolKey) {
	id, bytes, ok := memory.planGrowth(key)
	if !ok {
		return
	}
	n := l.node
	n.mu.Lock()
	delegate := n.allocationDelegate
	n.mu.Unlock()
	if delegate != nil {
		delegate.requestMemory(bytes, func(mem DriverHandle) {
			if mem == InvalidDriverHandle {
				memory.growthFailed(key)
				return
			}
			l.shareGrowthBuffer(memory, id, key, mem)
		})
		return
	}
	mem, err := l.driver.AllocateSharedMemory(bytes)
	if err != nil {
		memory.growthFailed(key)
		return
	}
	l.shareGrowthBuffer(memory, id, key, mem)
}

// shareGrowthBuffer maps a new buffer, sends it to the other side, and
// adds it to the pool.
func (l *NodeLink) shareGrowthBuffer(memory *nodeLinkMemory, id uint64, key poolKey, mem DriverHandle) {
	mapping, bytes, err := l.driver.MapSharedMemory(mem)
	if err != nil {
		l.driver.Close(mem)
		memory.growthFailed(key)
		return
	}
	l.mu.Lock()
	if l.phase == phaseFailed {
		l.mu.Unlock()
		l.driver.Close(mem)
		l.driver.Close(mapping)
		return
	}
	direct := !needsRelay(l.driver, mem, l.transport)
	if direct {
		if l.sentGrowth == nil {
			l.sentGrowth = make(map[uint64]bool)
		}
		l.sentGrowth[id] = true
	} else {
		if l.pendingGrowth == nil {
			l.pendingGrowth = make(map[uint64]*pendingGrowthBuffer)
		}
		l.pendingGrowth[id] = &pendingGrowthBuffer{key: key, mapping: mapping, bytes: bytes}
	}
	l.mu.Unlock()
	m := newOutMessage(msgAddBlockBuffer)
	m.params.U64(id)
	m.params.U32(uint32(key))
	m.addObject(mem)
	sent := l.transmit(m)
	if !direct {
		return
	}
	// Only now, with AddBlockBuffer ahead of any message that could name
	// the buffer, may the pool hand out its blocks.
	if !sent || !memory.acquire() {
		l.mu.Lock()
		delete(l.sentGrowth, id)
		l.mu.Unlock()
		l.driver.Close(mapping)
		memory.growthFailed(key)
		return
	}
	defer memory.release()
	if !memory.addGrowthBuffer(id, key, mapping, bytes, true) {
		l.driver.Close(mapping)
		return
	}
	if key == linkStatePool {
		l.provideMissingLinkStates(memory)
	}
}

// pendingGrowthBuffer is a growth buffer sent to the other side and not
// yet acknowledged.
type pendingGrowthBuffer struct {
	key     poolKey
	mapping DriverHandle
	bytes   []byte
}

// onBlockBufferAdded: the other side has mapped a growth buffer we sent;
// it joins our pool now, unless it did when it was sent.
func (l *NodeLink) onBlockBufferAdded(m *inMessage) error {
	id := m.params.U64()
	if err := m.params.Finish(); err != nil {
		return err
	}
	l.mu.Lock()
	if l.sentGrowth[id] {
		// Already in the pool (see shareGrowthBuffer).
		delete(l.sentGrowth, id)
		l.mu.Unlock()
		return nil
	}
	pending := l.pendingGrowth[id]
	delete(l.pendingGrowth, id)
	l.mu.Unlock()
	if pending == nil {
		return wire.ErrMalformed
	}
	memory := l.acquireMemory()
	if memory == nil {
		l.driver.Close(pending.mapping)
		return nil
	}
	defer memory.release()
	if !memory.addGrowthBuffer(id, pending.key, pending.mapping, pending.bytes, true) {
		l.driver.Close(pending.mapping)
		return nil
	}
	if pending.key == linkStatePool {
		l.provideMissingLinkStates(memory)
	}
	return nil
}

// announce records that the message making a link's far end has been
// sent. A link made without state gets one now if the pool has room, or
// is listed to get one once the pool has grown (see onBlockBufferAdded).
func (l *NodeLink) announce(rl *remoteLink) {
	rl.announced.Store(true)
	if rl.state() != nil {
		return
	}
	memory := l.acquireMemory()
	if memory == nil {
		return
	}
	defer memory.release()
	growths := memory.linkStateGrowths.Load()
	if l.giveLinkState(memory, rl) {
		return
	}
	l.mu.Lock()
	if l.phase == phaseFailed {
		l.mu.Unlock()
		return
	}
	l.stateless = append(l.stateless, rl)
	l.mu.Unlock()
	if memory.linkStateGrowths.Load() != growths {
		// The pool grew after giveLinkState found it empty, perhaps
		// before rl was listed: the growth's round of states may have
		// missed it.
		l.provideMissingLinkStates(memory)
		return
	}
	l.growMemory(memory, linkStatePool)
}

// giveLinkState allocates a state for a link this side made and sends it
// to the other side. It reports false if the pool is empty.
func (l *NodeLink) giveLinkState(memory *nodeLinkMemory, rl *remoteLink) bool {
	f, st, growAhead := memory.allocateLinkState()
	if st == nil {
		return false
	}
	if growAhead {
		l.growMemory(memory, linkStatePool)
	}
	if !rl.attachState(st, f, memory) {
		memory.free(f)
		return true
	}
	m := newOutMessage(msgSetLinkState)
	m.params.U64(rl.sublink)
	encodeFragment(&m.params, f)
	l.transmit(m)
	rl.router.linkStateAttached(rl)
	return true
}

// provideMissingLinkStates gives the listed links (made and announced
// by this side without shared state) a state each, as far as the pool
// allows; those left over stay listed for the next growth. It costs one
// step per listed link, not one per sublink.
func (l *NodeLink) provideMissingLinkStates(memory *nodeLinkMemory) {
	for {
		growths := memory.linkStateGrowths.Load()
		l.mu.Lock()
		missing := l.stateless
		l.stateless = nil
		l.mu.Unlock()
		left := l.giveLinkStates(memory, missing)
		if len(left) == 0 {
			return
		}
		l.mu.Lock()
		if l.phase == phaseFailed {
			l.mu.Unlock()
			return
		}
		l.stateless = append(l.stateless, left...)
		l.mu.Unlock()
		if memory.linkStateGrowths.Load() == growths {
			l.growMemory(memory, linkStatePool)
			return
		}
		// The pool grew meanwhile, perhaps too early for that growth to
		// see the links left over: try again.
	}
}

// giveLinkStates gives each link of links that still needs one a state,
// and returns those left when the pool ran dry.
func (l *NodeLink) giveLinkStates(memory *nodeLinkMemory, links []*remoteLink) []*remoteLink {
	for i, rl := range links {
		if rl.state() != nil || rl.released.Load() {
			continue // served meanwhile, or retired
		}
		if !l.giveLinkState(memory, rl) {
			return links[i:]
		}
	}
	return nil
}

// onSetLinkState: the other side gives a link it made its shared state.
func (l *NodeLink) onSetLinkState(m *inMessage) error {
	d := m.params
	id := d.U64()
	f := decodeFragment(d)
	if err := d.Finish(); err != nil {
		return err
	}
	l.mu.Lock()
	rl := l.sublinks[id]
	ours := l.isLocallyAllocatedLocked(id)
	l.mu.Unlock()
	if ours || f.isNull() {
		return wire.ErrMalformed
	}
	if rl == nil {
		return nil
	}
	memory := l.acquireMemory()
	if memory == nil {
		return nil
	}
	defer memory.release()
	st := memory.adoptLinkState(f)
	if st == nil || !rl.attachState(st, f, memory) {
		return wire.ErrMalformed
	}
	rl.router.linkStateAttached(rl)
	return nil
}

// onAddBlockBuffer: the other side added a growth buffer to our pool.
func (l *NodeLink) onAddBlockBuffer(m *inMessage) error {
	d := m.params
	id, key := d.U64(), poolKey(int32(d.U32()))
	mem, err := m.claimObject()
	if err != nil {
		return err
	}
	memory := l.acquireMemory()
	if d.Finish() != nil || memory == nil {
		l.driver.Close(mem)
		if memory != nil {
			memory.release()
		}
		return wire.ErrMalformed
	}
	defer memory.release()
	mapping, bytes, err := l.driver.MapSharedMemory(mem)
	l.driver.Close(mem)
	if err != nil {
		return err
	}
	if !memory.addGrowthBuffer(id, key, mapping, bytes, false) {
		l.driver.Close(mapping)
		return wire.ErrMalformed
	}
	ack := newOutMessage(msgBlockBufferAdded)
	ack.params.U64(id)
	l.transmit(ack)
	return nil
}

// requestMemory asks the node at the far end (our allocation delegate)
// for size bytes of shared memory; done gets the memory, or
// InvalidDriverHandle if none came.
func (l *NodeLink) requestMemory(size int, done func(DriverHandle)) {
	l.mu.Lock()
	if l.phase == phaseFailed {
		l.mu.Unlock()
		done(InvalidDriverHandle)
		return
	}
	id := l.nextMemoryRequest
	l.nextMemoryRequest++
	if l.memoryRequests == nil {
		l.memoryRequests = make(map[uint64]func(DriverHandle))
	}
	l.memoryRequests[id] = done
	l.mu.Unlock()
	m := newOutMessage(msgRequestMemory)
	m.params.U64(id)
	m.params.U32(uint32(size))
	l.transmit(m)
}

// onRequestMemory: a node that delegates allocation to us asks for memory.
func (l *NodeLink) onRequestMemory(m *inMessage) error {
	d := m.params
	id, size := d.U64(), d.U32()
	if err := d.Finish(); err != nil {
		return err
	}
	if size == 0 || size > maxRequestedMemory {
		return wire.ErrMalformed
	}
	reply := newOutMessage(msgProvideMemory)
	reply.params.U64(id)
	mem, err := l.driver.AllocateSharedMemory(int(size))
	reply.params.Bool(err == nil)
	if err == nil {
		reply.addObject(mem)
	}
	l.transmit(reply)
	return nil
}

// onProvideMemory: our delegate answers a RequestMemory.
func (l *NodeLink) onProvideMemory(m *inMessage) error {
	d := m.params
	id := d.U64()
	ok := d.Bool()
	mem := InvalidDriverHandle
	if ok {
		var err error
		if mem, err = m.claimObject(); err != nil {
			return err
		}
	}
	l.mu.Lock()
	done := l.memoryRequests[id]
	delete(l.memoryRequests, id)
	l.mu.Unlock()
	if d.Finish() != nil || done == nil {
		if mem != InvalidDriverHandle {
			l.driver.Close(mem)
		}
		return wire.ErrMalformed
	}
	done(mem)
	return nil
}

// failMemoryRequestsLocked takes the callbacks of outstanding requests,
// for a failing link to call with InvalidDriverHandle.
// Preconditions: mu held.
func (l *NodeLink) failMemoryRequestsLocked() []func(DriverHandle) {
	var fs []func(DriverHandle)
	for _, f := range l.memoryRequests {
		fs = append(fs, f)
	}
	l.memoryRequests = nil
	return fs
}

// adoptLinkState resolves a linkState the other side allocated (a null
// fragment means none). ok is false for a fragment that names no valid
// state block.
func (l *NodeLink) adoptLinkState(f fragment) (*linkState, bool) {
	if f.isNull() {
		return nil, true
	}
	memory := l.acquireMemory()
	if memory == nil {
		return nil, false
	}
	defer memory.release()
	st := memory.adoptLinkState(f)
	return st, st != nil
}
