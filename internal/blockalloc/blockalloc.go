package blockalloc

import (
	"errors"
	"fmt"
)

// Errors returned by this package.
var (
	// ErrInvalidRegion is returned by New for an unusable region or block
	// size.
	ErrInvalidRegion = errors.New("blockalloc: invalid region or block size")
	// ErrExhausted is returned by Alloc when no block is free.
	ErrExhausted = errors.New("blockalloc: no free block")
	// ErrCorrupt is returned when the shared state holds a value no
	// correct allocator could have written.
	ErrCorrupt = errors.New("blockalloc: region is corrupt")
	// ErrContended is returned when an operation failed to update the
	// shared state maxAttempts times in a row: the state is changing
	// faster than any legitimate peer would change it.
	ErrContended = errors.New("blockalloc: shared state keeps changing")
	// ErrInvalidOffset is returned by Free for an offset that is not that
	// of a block this allocator can hand out.
	ErrInvalidOffset = errors.New("blockalloc: invalid block offset")
	// ErrDoubleFree is returned by Free for a block that is already the
	// first free block. (Other double frees cannot be detected without a
	// list walk and corrupt the list the same way a hostile peer could.)
	ErrDoubleFree = errors.New("blockalloc: block is already free")
)

const (
	// headerSize is the size of block 0's head word; the smallest block.
	headerSize = 8
	// maxBlocks bounds the number of blocks so that indices and relative
	// next values fit in 32 bits with room to spare.
	maxBlocks = 1 << 30
	// maxAttempts bounds every compare-and-swap retry loop. Each failed
	// attempt means someone else's operation succeeded meanwhile, so
	// legitimate contention never comes close; only a peer rewriting the
	// head continuously does.
	maxAttempts = 1 << 16
)

// testHookBeforeCAS, if set, runs between reading the shared state and
// the compare-and-swap that publishes a change, so that tests can widen
// that window (by yielding) and provoke the interleavings, ABA among them,
// that the tag defends against. Set only by tests, before any goroutine
// uses an allocator.
var testHookBeforeCAS func()

// Allocator hands out the blocks of one region. It holds no mutable state
// of its own: everything shared lives in the region.
type Allocator struct {
	// mem gives access to the region's words; immutable after New.
	mem words
	// blockSize is the block size in bytes; immutable after New.
	blockSize int
	// n is the number of blocks that can be handed out (1 to n); the
	// region holds n+1 blocks. Immutable after New.
	n int
}

// New returns an Allocator for region with blocks of blockSize bytes. The
// region must start on an 8-byte boundary (any page-aligned mapping does),
// blockSize must be a positive multiple of 8, and the region must hold at
// least two blocks (block 0 is the allocator's own). Bytes past the last
// whole block are not used. New does not touch the region: call Init on
// the creating side, or rely on a zeroed region being fully free.
//
// The region must stay valid (mapped) for as long as the Allocator is
// used.
func New(region []byte, blockSize int) (*Allocator, error) {
	if blockSize < headerSize || blockSize%8 != 0 {
		return nil, fmt.Errorf("%w: block size %d is not a positive multiple of 8", ErrInvalidRegion, blockSize)
	}
	total := len(region) / blockSize
	if total < 2 {
		return nil, fmt.Errorf("%w: %d bytes hold fewer than 2 blocks of %d", ErrInvalidRegion, len(region), blockSize)
	}
	if total > maxBlocks {
		return nil, fmt.Errorf("%w: %d blocks, more than %d", ErrInvalidRegion, total, maxBlocks)
	}
	if !aligned8(region) {
		return nil, fmt.Errorf("%w: region does not start on an 8-byte boundary", ErrInvalidRegion)
	}
	return &Allocator{mem: newWords(region[:total*blockSize]), blockSize: blockSize, n: total - 1}, nil
}

// BlockSize returns the size of each block in bytes.
func (a *Allocator) BlockSize() int { return a.blockSize }

// NumBlocks returns how many blocks the allocator can hand out (the
// region's whole blocks minus block 0).
func (a *Allocator) NumBlocks() int { return a.n }

// Init makes every block free, in address order, by zeroing the head and
// the header of every block (see the package documentation for why zero
// means that). It must be called before the region is shared; it is not
// safe to call while any allocator uses the region.
func (a *Allocator) Init() {
	a.mem.store64(0, 0)
	for b := 1; b <= a.n; b++ {
		a.mem.store32(b*a.blockSize, 0)
	}
}

// end is the index that terminates the free list.
func (a *Allocator) end() uint64 { return uint64(a.n) + 1 }

// first decodes the first free block's index from a head word; it is in
// [1, 2^32] and must still be checked against end.
func first(head uint64) uint64 { return uint64(uint32(head)) + 1 }

// makeHead encodes a head word pointing at block idx (1 <= idx <= end),
// with the tag following that of old.
func makeHead(old uint64, idx uint64) uint64 {
	tag := old>>32 + 1
	return tag<<32 | (idx - 1)
}

// next reads the next field of free block b (1 <= b <= n) and returns the
// index it designates, or ok == false if that is outside [1, end]. The
// value may be stale or written by the peer; it is never used unchecked.
func (a *Allocator) next(b uint64) (next uint64, ok bool) {
	rel := int32(a.mem.load32(int(b) * a.blockSize))
	nx := int64(b) + 1 + int64(rel)
	if nx < 1 || uint64(nx) > a.end() {
		return 0, false
	}
	return uint64(nx), true
}

// Alloc takes a block off the free list and returns its offset in the
// region: a multiple of BlockSize in [BlockSize, NumBlocks*BlockSize].
// It returns ErrExhausted if no block is free, ErrCorrupt if the shared
// state is invalid, or ErrContended if it kept changing.
func (a *Allocator) Alloc() (offset int, err error) {
	end := a.end()
	for range maxAttempts {
		h := a.mem.load64(0)
		b := first(h)
		if b == end {
			return 0, ErrExhausted
		}
		if b > end {
			return 0, fmt.Errorf("%w: head names block %d of %d", ErrCorrupt, b, a.n)
		}
		nx, ok := a.next(b)
		if !ok {
			// Either b was allocated after we read the head and its
			// owner has since overwritten its header (then the head has
			// moved on and we retry), or the list really is broken.
			if a.mem.load64(0) == h {
				return 0, fmt.Errorf("%w: free block %d has an invalid next field", ErrCorrupt, b)
			}
			continue
		}
		if testHookBeforeCAS != nil {
			testHookBeforeCAS()
		}
		if a.mem.cas64(0, h, makeHead(h, nx)) {
			return int(b) * a.blockSize, nil
		}
	}
	return 0, ErrContended
}

// Free puts the block at offset back on the free list. The offset must be
// one Alloc can return (a multiple of BlockSize in [BlockSize,
// NumBlocks*BlockSize]), else ErrInvalidOffset. Freeing the block that is
// already first on the list returns ErrDoubleFree; other double frees are
// not detected. Free also returns ErrCorrupt or ErrContended like Alloc.
func (a *Allocator) Free(offset int) error {
	if offset <= 0 || offset%a.blockSize != 0 || offset/a.blockSize > a.n {
		return fmt.Errorf("%w: %d", ErrInvalidOffset, offset)
	}
	b := uint64(offset / a.blockSize)
	end := a.end()
	for range maxAttempts {
		h := a.mem.load64(0)
		f := first(h)
		if f > end {
			return fmt.Errorf("%w: head names block %d of %d", ErrCorrupt, f, a.n)
		}
		if f == b {
			return fmt.Errorf("%w: offset %d", ErrDoubleFree, offset)
		}
		// next - b - 1, in [-n, n]: fits in 32 bits.
		a.mem.store32(offset, uint32(int32(int64(f)-int64(b)-1)))
		if testHookBeforeCAS != nil {
			testHookBeforeCAS()
		}
		if a.mem.cas64(0, h, makeHead(h, b)) {
			return nil
		}
	}
	return ErrContended
}

// CountFree walks the free list and returns its length. It is meant for
// tests and diagnostics on a quiescent region: while other allocators run,
// the result is only a snapshot and may report ErrCorrupt spuriously. It
// stops after NumBlocks+1 steps, reporting a cycle as ErrCorrupt.
func (a *Allocator) CountFree() (int, error) {
	end := a.end()
	b := first(a.mem.load64(0))
	for count := 0; ; count++ {
		if b == end {
			return count, nil
		}
		if b > end {
			return 0, fmt.Errorf("%w: list names block %d of %d", ErrCorrupt, b, a.n)
		}
		if count == a.n {
			return 0, fmt.Errorf("%w: free list is longer than %d blocks (a cycle)", ErrCorrupt, a.n)
		}
		nx, ok := a.next(b)
		if !ok {
			return 0, fmt.Errorf("%w: free block %d has an invalid next field", ErrCorrupt, b)
		}
		b = nx
	}
}
