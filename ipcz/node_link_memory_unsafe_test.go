package ipcz

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestLinkStateIs64Bytes(t *testing.T) {
	require.Equal(t, uintptr(linkStateSize), unsafe.Sizeof(linkState{}))
}

// newTestMemoryPair makes two nodeLinkMemory views of one primary buffer,
// as the two sides of a link have.
func newTestMemoryPair(t *testing.T) (a, b *nodeLinkMemory) {
	words := make([]uint64, (primaryBufferSize+7)/8)
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), primaryBufferSize)
	a, err := newNodeLinkMemory(newTestDriver(), sideA, 0, buf)
	require.NoError(t, err)
	b, err = newNodeLinkMemory(newTestDriver(), sideB, 0, buf)
	require.NoError(t, err)
	return a, b
}

func TestNodeLinkMemoryFragments(t *testing.T) {
	a, b := newTestMemoryPair(t)
	f, mem := a.allocate(100)
	require.False(t, f.isNull())
	require.Equal(t, uint32(100), f.size)
	copy(mem, "shared bytes")
	got, ok := b.resolve(f)
	require.True(t, ok)
	require.Equal(t, "shared bytes", string(got[:12]))
	b.free(f)

	// Fragments that do not name exactly one block inside a buffer.
	bad := []fragment{
		{},                                     // null
		{buffer: 7, offset: f.offset, size: 8}, // unknown buffer
		{buffer: 0, offset: 0, size: 8},        // header, not a block
		{buffer: 0, offset: f.offset + 1, size: 8},
		{buffer: 0, offset: f.offset, size: 257},                // larger than the block
		{buffer: 0, offset: uint32(primaryBufferSize), size: 8}, // past the end
		{buffer: 0, offset: ^uint32(0), size: ^uint32(0)},
	}
	for _, f := range bad {
		_, ok := b.resolve(f)
		require.False(t, ok, "%+v", f)
		b.free(f) // must not panic
	}
	require.Equal(t, 0, classFor(dataClasses[len(dataClasses)-1]+1))
	f, _ = a.allocate(maxFragmentSize + 1)
	require.True(t, f.isNull())
}

func TestNodeLinkMemoryLinkStates(t *testing.T) {
	a, b := newTestMemoryPair(t)
	f, st, _ := a.allocateLinkState()
	require.NotNil(t, st)
	require.Equal(t, int32(2), st.refs.Load())
	peer := b.adoptLinkState(f)
	require.Same(t, st, peer)
	st.publishConsumed(sideA, 3, 30)
	parcels, bytes := peer.peerConsumed(sideB)
	require.Equal(t, uint64(3), parcels)
	require.Equal(t, uint64(30), bytes)
	require.False(t, st.release())
	require.True(t, peer.release())
	require.Nil(t, b.adoptLinkState(fragment{buffer: 0, offset: f.offset, size: 63}))
	require.Same(t, a.initialLinkState(3), b.initialLinkState(3))
}

func TestNodeLinkMemoryExhaustionFallsBack(t *testing.T) {
	a, _ := newTestMemoryPair(t)
	n := 0
	for {
		f, _ := a.allocate(maxFragmentSize)
		if f.isNull() {
			break
		}
		n++
	}
	require.Equal(t, 4, n)
}
