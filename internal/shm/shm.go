//go:build linux

package shm

import (
	"errors"
	"sync"
)

// Errors returned by this package. Errors from system calls are wrapped in
// an *os.SyscallError, so errors.Is(err, unix.EACCES) and similar work.
var (
	// ErrClosed is returned by methods of a Region that has been closed.
	ErrClosed = errors.New("shm: region is closed")
	// ErrUnmapped is returned by methods of a Mapping that has been
	// unmapped, including a second Unmap.
	ErrUnmapped = errors.New("shm: mapping is unmapped")
	// ErrReadOnly is returned when a writable mapping of a read-only region
	// is requested.
	ErrReadOnly = errors.New("shm: region is read-only")
	// ErrNotRegion is returned by FromFD for a descriptor that is not a
	// usable shared memory file (not tmpfs-backed, not a regular file,
	// empty, or opened write-only).
	ErrNotRegion = errors.New("shm: descriptor is not a shared memory region")
	// ErrUnsealed is returned by FromFD for a memory file that lacks
	// F_SEAL_SHRINK or F_SEAL_GROW: its sender could resize it while it is
	// mapped here.
	ErrUnsealed = errors.New("shm: region is not sealed against resizing")
	// ErrOutOfRange is returned by Uint32At and Uint64At for an offset that
	// is negative, misaligned or past the end of the mapping.
	ErrOutOfRange = errors.New("shm: offset out of range or misaligned")
)

// Region is a shared memory file of fixed size, identified by a file
// descriptor that this Region owns.
type Region struct {
	// mu guards fd against Close racing with the other methods.
	mu sync.Mutex
	// fd is the owned descriptor; -1 after Close. Guarded by mu.
	fd int

	// size is the length of the file in bytes; immutable (the file is
	// sealed against resizing).
	size int
	// readOnly is true when fd was opened O_RDONLY or the file carries a
	// write seal, so that no writable mapping can be made from it;
	// immutable.
	readOnly bool
}

// Size returns the size of the region in bytes. It never changes.
func (r *Region) Size() int { return r.size }

// ReadOnly reports whether the region can only be mapped read-only.
func (r *Region) ReadOnly() bool { return r.readOnly }

// FD returns the region's file descriptor, or -1 if the region is closed.
// The descriptor stays owned by the Region: the caller must not close it,
// and must not use it after Close. To hand a descriptor to someone who
// will own it (for example to send it and then close it), use Dup.
func (r *Region) FD() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fd
}

// Mapping is a MAP_SHARED mapping of a whole Region into this process.
type Mapping struct {
	// mu guards data against Unmap racing with the other methods.
	mu sync.Mutex
	// data is the mapped memory; nil after Unmap. Guarded by mu. The
	// address and length never change while mapped.
	data []byte

	// writable is whether the mapping was made with PROT_WRITE; immutable.
	writable bool
}

// Bytes returns the mapped memory, or nil after Unmap. The slice has the
// length of the region and a stable address: the memory is outside the Go
// heap and is never moved. It is valid until Unmap; touching it afterwards
// faults.
//
// The memory is shared with another, untrusted process: see the package
// documentation for the rules for reading it.
func (m *Mapping) Bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data
}

// Writable reports whether the mapping was made writable.
func (m *Mapping) Writable() bool { return m.writable }

// Release gives up ownership of the region's descriptor and returns it;
// the caller must close it. The Region is closed afterwards.
func (r *Region) Release() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fd < 0 {
		return -1, ErrClosed
	}
	fd := r.fd
	r.fd = -1
	return fd, nil
}
