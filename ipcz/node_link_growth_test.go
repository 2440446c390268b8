package ipcz

import (
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// zeroedBuffer returns n zero bytes starting on an 8-byte boundary, as a
// mapped growth buffer would be.
func zeroedBuffer(n int) []byte {
	words := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), n)
}

// growPool plans and adds one growth buffer of the pool to m, as the side
// that made it, and returns its size.
func growPool(t *testing.T, m *nodeLinkMemory, key poolKey) int {
	t.Helper()
	id, bytes, ok := m.planGrowth(key)
	require.True(t, ok)
	require.True(t, m.addGrowthBuffer(id, key, 0, zeroedBuffer(bytes), true))
	return bytes
}

// TestLinkStatePoolDoubles: each growth of the linkState pool is as large
// as the pool's growth so far (at least one base buffer), so that n links
// need O(log n) growths; data pools keep growing by one base buffer; and
// no pool grows past its cap.
func TestLinkStatePoolDoubles(t *testing.T) {
	a, _ := newTestMemoryPair(t)
	var sizes []int
	for range 5 {
		sizes = append(sizes, growPool(t, a, linkStatePool))
	}
	require.Equal(t, []int{256 << 10, 256 << 10, 512 << 10, 1 << 20, 2 << 20}, sizes)
	require.Equal(t, uint64(5), a.linkStateGrowths.Load())

	require.Equal(t, growthBufferBytes, growPool(t, a, 64))
	require.Equal(t, growthBufferBytes, growPool(t, a, 64))
	require.Equal(t, uint64(5), a.linkStateGrowths.Load())

	// Near the cap, a growth takes only what is left; at it, none.
	a.mu.Lock()
	a.poolBytes[linkStatePool] = maxPoolBytesPerClass - 1<<20
	a.mu.Unlock()
	_, bytes, ok := a.planGrowth(linkStatePool)
	require.True(t, ok)
	require.Equal(t, 1<<20, bytes)
	a.growthFailed(linkStatePool)
	a.mu.Lock()
	a.poolBytes[linkStatePool] = maxPoolBytesPerClass
	a.mu.Unlock()
	_, _, ok = a.planGrowth(linkStatePool)
	require.False(t, ok)
}

// TestLinkStateGrowAhead: an allocation from the last quarter of the
// pool's newest region asks for growth, once per region; allocations
// from older regions never do.
func TestLinkStateGrowAhead(t *testing.T) {
	a, _ := newTestMemoryPair(t)
	// allocateUntilAhead allocates until growAhead, returning how many
	// allocations that took (0 if the pool ran dry first).
	allocateUntilAhead := func() (n int, frags []fragment) {
		for {
			f, st, ahead := a.allocateLinkState()
			if st == nil {
				return 0, frags
			}
			frags = append(frags, f)
			if ahead {
				return len(frags), frags
			}
		}
	}
	const primary = 2048 // linkStates in a primary buffer's pool
	n, frags := allocateUntilAhead()
	require.Equal(t, primary*3/4, n)
	// The rest of the primary region goes without asking again.
	n, rest := allocateUntilAhead()
	require.Zero(t, n)
	frags = append(frags, rest...)
	require.Len(t, frags, primary)

	// A growth buffer's region asks once three quarters into it, even
	// when blocks of the old region come free meanwhile.
	growPool(t, a, linkStatePool)
	blocks := growthBufferBytes/linkStateSize - 1
	for _, f := range frags[:10] {
		a.free(f)
	}
	n, _ = allocateUntilAhead()
	require.Equal(t, 10+(blocks*3+3)/4, n)
	n, _ = allocateUntilAhead()
	require.Zero(t, n)
}

// growthTestDriver is a testDriver whose transport records the types of
// the messages sent on it and whose shared memory is zeroed heap memory;
// allocation fails while failAlloc is set.
type growthTestDriver struct {
	*testDriver
	mu        sync.Mutex
	sent      []msgType            // guarded by mu
	sizes     map[DriverHandle]int // guarded by mu
	failAlloc bool                 // guarded by mu
}

func (d *growthTestDriver) Transmit(t DriverHandle, data []byte, handles []DriverHandle) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sent = append(d.sent, msgType(data[1]))
	return nil
}

func (d *growthTestDriver) Serialize(h, transport DriverHandle, data []byte, handles []DriverHandle) (int, int, error) {
	return 0, 0, nil // travels as nothing: the test has no other side
}

func (d *growthTestDriver) AllocateSharedMemory(n int) (DriverHandle, error) {
	d.mu.Lock()
	fail := d.failAlloc
	d.mu.Unlock()
	if fail {
		return InvalidDriverHandle, ResourceExhausted
	}
	h := d.newObject()
	d.mu.Lock()
	d.sizes[h] = n
	d.mu.Unlock()
	return h, nil
}

func (d *growthTestDriver) MapSharedMemory(m DriverHandle) (DriverHandle, []byte, error) {
	d.mu.Lock()
	n := d.sizes[m]
	d.mu.Unlock()
	return d.newObject(), zeroedBuffer(n), nil
}

// count returns how many messages of type typ were sent.
func (d *growthTestDriver) count(typ msgType) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, t := range d.sent {
		if t == typ {
			n++
		}
	}
	return n
}

// TestStatelessLinksGetStatesAfterGrowth: links announced while the
// state pool is empty and cannot grow are listed; once states come free
// and the pool grows, each listed link gets one (those the pool could not
// serve at first stay listed for the growth), except a link retired
// meanwhile.
func TestStatelessLinksGetStatesAfterGrowth(t *testing.T) {
	d := &growthTestDriver{testDriver: newTestDriver(), sizes: map[DriverHandle]int{}, failAlloc: true}
	node, err := CreateNode(d, 0, 0)
	require.NoError(t, err)
	memory, _ := newTestMemoryPair(t)
	l := newNodeLink(node, d.newObject())
	l.mu.Lock()
	l.establishLocked(NodeName{Low: 1}, NodeName{Low: 2}, sideA, true, memory)
	l.mu.Unlock()

	// Empty the pool.
	var held []fragment
	for {
		f, st, _ := memory.allocateLinkState()
		if st == nil {
			break
		}
		held = append(held, f)
	}

	const n = 6
	links := make([]*remoteLink, n)
	for i := range links {
		f, st := l.allocateLinkState()
		require.Nil(t, st)
		rl, ok := l.addSublink(l.allocateSublink(), linkCentral, sideA, newRouter(), st, f)
		require.True(t, ok)
		l.announce(rl)
		require.Nil(t, rl.state())
		links[i] = rl
	}
	l.mu.Lock()
	require.Len(t, l.stateless, n)
	l.mu.Unlock()
	require.Zero(t, d.count(msgSetLinkState))
	require.Zero(t, d.count(msgAddBlockBuffer))

	// One link is retired; two states come free; allocation works again.
	links[1].deactivate()
	memory.free(held[0])
	memory.free(held[1])
	d.mu.Lock()
	d.failAlloc = false
	d.mu.Unlock()
	l.provideMissingLinkStates(memory)

	require.Nil(t, links[1].state())
	for i, rl := range links {
		if i != 1 {
			require.NotNil(t, rl.state(), "link %d", i)
		}
	}
	l.mu.Lock()
	require.Empty(t, l.stateless)
	// The growth buffer joined the pool when sent; its answer is due.
	require.Len(t, l.sentGrowth, 1)
	var id uint64
	for id = range l.sentGrowth {
	}
	l.mu.Unlock()
	require.Equal(t, n-1, d.count(msgSetLinkState))
	require.Equal(t, 1, d.count(msgAddBlockBuffer))

	// The other side's answer to the growth is expected once, and only
	// for a buffer we sent.
	ack := func(id uint64) error {
		m := newOutMessage(msgBlockBufferAdded)
		m.params.U64(id)
		data, _ := m.finish(nil)
		in, err := decodeFrame(data, nil)
		require.NoError(t, err)
		return l.onBlockBufferAdded(in)
	}
	require.NoError(t, ack(id))
	require.Error(t, ack(id))
}
