// Package shm provides shared memory regions on Linux: sealed memfd files
// that can be passed to another process as file descriptors, and mappings
// of them into this process's address space.
//
// # Contract
//
// A [Region] owns one file descriptor that refers to a memfd of fixed size.
// [Create] makes a new region; [FromFD] adopts a descriptor received from
// another process. Every region this package hands out is sealed against
// shrinking and growing (F_SEAL_SHRINK|F_SEAL_GROW), so its size is fixed
// for its whole life, and a mapping of it can never lose its backing pages:
// touching any byte of a [Mapping] never raises SIGBUS.
//
// A [Mapping] is a MAP_SHARED mapping of the whole region. Its bytes have a
// stable address (they are outside the Go heap and never move) and stay
// valid until [Mapping.Unmap], even after every Region referring to the
// memory has been closed.
//
// A region is either writable or read-only. [Region.DupReadOnly] produces a
// descriptor opened O_RDONLY: the kernel refuses (EACCES) to map it
// writable with MAP_SHARED and refuses to mprotect such a mapping to
// writable, so a process that is only given that descriptor cannot change
// the contents through it. See [Region.DupReadOnly] for the limits of this
// protection and [Region.SealFutureWrites] for the stronger, irrevocable
// variant.
//
// # Trust model
//
// The process on the other side of a region is not trusted. In particular:
//
//   - A descriptor passed to [FromFD] may be anything: a pipe, a socket, a
//     regular file, an unsealed memfd whose sender could ftruncate it to
//     zero while we have it mapped (and so kill us with SIGBUS). FromFD
//     accepts only a tmpfs-backed file with both F_SEAL_SHRINK and
//     F_SEAL_GROW set, and a non-zero size; everything else is refused with
//     an error. Seals can never be removed, so once validated a region's
//     size cannot change under us.
//   - The contents of a shared mapping can change at any moment, including
//     between two reads of the same byte. The peer may also punch holes in
//     the file (fallocate), which makes pages read back as zeros; this does
//     not fault. Code that reads shared memory must read every value once,
//     validate it, and never trust a value it wrote earlier to still be
//     there.
//   - A peer holding a writable descriptor can add more seals (for example
//     F_SEAL_FUTURE_WRITE), after which new writable mappings fail with an
//     error. This is a denial of service the peer can always commit anyway;
//     it never makes this process fault.
//   - A peer cannot make FromFD map an unbounded amount of memory without
//     the caller noticing: check [Region.Size] against the expected size
//     before calling [Map].
//
// # Concurrency
//
// All methods of Region and Mapping are safe for concurrent use. Close and
// Unmap may race with other calls; the loser gets [ErrClosed] or
// [ErrUnmapped]. Using the byte slice returned by [Mapping.Bytes] after
// Unmap is a caller bug that faults; this package cannot prevent it.
package shm
