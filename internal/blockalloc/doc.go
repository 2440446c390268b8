// Package blockalloc is a lock-free allocator of fixed-size blocks inside a
// byte region that two processes share, written for a region the other
// process may corrupt at any moment.
//
// # Contract
//
// An [Allocator] divides a region into blocks of BlockSize bytes. Block 0
// holds the allocator's state and is never handed out; blocks 1 to
// NumBlocks are. [Allocator.Alloc] returns the byte offset of a free block
// within the region, and [Allocator.Free] returns a block to the free
// list. Any number of Allocators, in any number of processes, each over
// its own mapping of the same memory, may call Alloc and Free concurrently:
// all the shared state lives in the region and is changed only with
// atomic compare-and-swap. A block belongs to whoever allocated it until
// it is freed; the allocator never touches a block's bytes while it is
// allocated, except that stale readers may read (never write) its first
// four bytes, so those should not be relied on for race-detector-visible
// synchronisation.
//
// One side initialises the region ([Allocator.Init]) before sharing it.
// Because of the encoding below, a zero-filled region is already a valid
// allocator with every block free, so a freshly created shared memory
// region needs no initialisation at all.
//
// # Layout
//
// All words are native-endian and naturally aligned (the region must
// start on an 8-byte boundary and BlockSize is a multiple of 8). With
// N = NumBlocks and blocks numbered 0 to N, index N+1 stands for "end of
// list":
//
//	block 0, bytes 0-7:  head, a 64-bit word updated only by CAS:
//	                       bits  0-31  first - 1, where first is the index
//	                                   of the first free block (N+1: none)
//	                       bits 32-63  tag, incremented by every
//	                                   successful CAS (against ABA)
//	block 0, bytes 8-:   unused
//	free block b, bytes 0-3:
//	                     next - b - 1 as a signed 32-bit integer, where
//	                     next is the index of the following free block
//	                     (N+1: none)
//
// In a zeroed region first = 1 and every block's next is the block after
// it, ending with block N whose next is N+1: the full free list in
// address order.
//
// The free list is a Treiber stack. Alloc reads head, reads the next field
// of the first block, and swaps head to (next, tag+1); Free writes the
// current first into the freed block and swaps head to (freed, tag+1).
// Because every successful swap changes the tag, a swap prepared from a
// stale head (the block was popped and pushed back meanwhile: ABA) always
// fails and is retried. The tag wraps after 2^32 operations, which a
// stalled thread would have to sleep through exactly.
//
// # Trust model
//
// The peer process is not trusted: it may write anything anywhere in the
// region at any time. Every value read from the region is therefore
// checked before use: a head or next index outside 1 to N+1 is reported
// as corruption, never used to index memory. Nothing walks the list
// (except CountFree, which is bounded by N steps), and every retry loop
// stops after a fixed number of attempts. Consequently, whatever the
// region holds:
//
//   - no method panics, faults or loops without bound;
//   - every offset Alloc returns is a multiple of BlockSize between
//     BlockSize and NumBlocks*BlockSize, so the block lies inside the
//     region;
//   - Alloc and Free return ErrCorrupt when they find an impossible value,
//     ErrContended when the head keeps changing under them (a peer
//     rewriting it continuously), and ErrExhausted when the list is empty
//     (a peer can also make it look empty).
//
// What a hostile peer can do is what it can do to any shared memory: it
// can make the allocator hand out a block that is already in use (by us
// or by itself), lose blocks, or report exhaustion or corruption. Block
// contents are shared with the peer anyway and must be validated by their
// users. Once an error other than ErrExhausted is returned, the region
// should be considered broken and the link to the peer dropped.
//
// # Concurrency
//
// All methods except Init are safe for concurrent use, with each other
// and with the same methods of other Allocators on the same memory. Init
// must run before the region is shared.
package blockalloc
