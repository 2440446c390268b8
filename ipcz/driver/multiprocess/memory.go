package multiprocess

import (
	"errors"

	"github.com/ipcz-go/ipcz-go/internal/shm"
	"github.com/ipcz-go/ipcz-go/ipcz"
)

// MaxSharedMemoryBytes is the largest region AllocateSharedMemory makes
// and Deserialize accepts; larger requests get ipcz.ResourceExhausted.
const MaxSharedMemoryBytes = 1 << 30

// memory is one handle to a shared memory region: a sealed memfd,
// writable or read-only.
type memory struct {
	region *shm.Region // immutable; owns the descriptor
}

func (*memory) kind() kind { return kindMemory }

// mapping is a mapping of a region.
type mapping struct {
	m *shm.Mapping // immutable
}

func (*mapping) kind() kind { return kindMapping }

func (d *Driver) lookupMemory(h ipcz.DriverHandle) *memory {
	m, _ := d.mu.Lookup(h).(*memory)
	return m
}

// regionErr maps an error of package shm to a result: a region closed by
// a concurrent Close is an invalid handle, anything else a lack of
// resources (descriptors, memory, address space).
func regionErr(err error) error {
	if errors.Is(err, shm.ErrClosed) {
		return ipcz.InvalidArgument
	}
	return ipcz.ResourceExhausted
}

// AllocateSharedMemory makes a new zeroed, writable region of exactly
// numBytes bytes: a memfd sealed against shrinking and growing (see
// package shm), so that no process it is sent to can truncate it under
// our mappings.
//
// Errors: InvalidArgument if numBytes <= 0; ResourceExhausted if numBytes
// > MaxSharedMemoryBytes or the system refuses the memfd.
func (d *Driver) AllocateSharedMemory(numBytes int) (ipcz.DriverHandle, error) {
	switch {
	case numBytes <= 0:
		return 0, ipcz.InvalidArgument
	case numBytes > MaxSharedMemoryBytes:
		return 0, ipcz.ResourceExhausted
	}
	r, err := shm.Create("ipcz", numBytes)
	if err != nil {
		return 0, ipcz.ResourceExhausted
	}
	return d.mu.Insert(&memory{region: r}), nil
}

// GetSharedMemoryInfo returns the size of the region.
//
// Errors: InvalidArgument if mem is not a memory handle.
func (d *Driver) GetSharedMemoryInfo(mem ipcz.DriverHandle) (ipcz.SharedMemoryInfo, error) {
	m := d.lookupMemory(mem)
	if m == nil {
		return ipcz.SharedMemoryInfo{}, ipcz.InvalidArgument
	}
	return ipcz.SharedMemoryInfo{RegionNumBytes: m.region.Size()}, nil
}

// DuplicateSharedMemory returns a new handle, with its own descriptor
// (dup), to the same region and with the same access.
//
// Errors: InvalidArgument if mem is not a memory handle;
// ResourceExhausted if no descriptor is left.
func (d *Driver) DuplicateSharedMemory(mem ipcz.DriverHandle) (ipcz.DriverHandle, error) {
	m := d.lookupMemory(mem)
	if m == nil {
		return 0, ipcz.InvalidArgument
	}
	r, err := m.region.Dup()
	if err != nil {
		return 0, regionErr(err)
	}
	return d.mu.Insert(&memory{region: r}), nil
}

// DuplicateSharedMemoryReadOnly returns a new read-only handle to the same
// region: its descriptor is a fresh O_RDONLY open of the memfd, which the
// kernel refuses to map writable (see shm.Region.DupReadOnly for the
// limits of that protection). It works on read-only handles too.
//
// Errors: InvalidArgument if mem is not a memory handle;
// ResourceExhausted if the descriptor cannot be made.
func (d *Driver) DuplicateSharedMemoryReadOnly(mem ipcz.DriverHandle) (ipcz.DriverHandle, error) {
	m := d.lookupMemory(mem)
	if m == nil {
		return 0, ipcz.InvalidArgument
	}
	r, err := m.region.DupReadOnly()
	if err != nil {
		return 0, regionErr(err)
	}
	return d.mu.Insert(&memory{region: r}), nil
}

// IsSharedMemoryReadOnly reports whether the handle can only be mapped
// for reading.
//
// Errors: InvalidArgument if mem is not a memory handle.
func (d *Driver) IsSharedMemoryReadOnly(mem ipcz.DriverHandle) (bool, error) {
	m := d.lookupMemory(mem)
	if m == nil {
		return false, ipcz.InvalidArgument
	}
	return m.region.ReadOnly(), nil
}

// MapSharedMemory maps the whole region MAP_SHARED, writable unless the
// handle is read-only (then PROT_READ only: writing to the bytes faults).
// The bytes are outside the Go heap, never move, have the region's size
// as length, and stay valid until the mapping handle is closed, whatever
// happens to the memory handle.
//
// Errors: InvalidArgument if mem is not a memory handle;
// ResourceExhausted if mmap fails.
func (d *Driver) MapSharedMemory(mem ipcz.DriverHandle) (ipcz.DriverHandle, []byte, error) {
	m := d.lookupMemory(mem)
	if m == nil {
		return 0, nil, ipcz.InvalidArgument
	}
	mm, err := shm.Map(m.region, !m.region.ReadOnly())
	if err != nil {
		return 0, nil, regionErr(err)
	}
	return d.mu.Insert(&mapping{m: mm}), mm.Bytes(), nil
}

// WrapSharedMemoryFileDescriptor adopts fd, which must be a sealed memfd
// of at least numBytes bytes (see shm.FromFD), as a memory handle. With
// readOnly the handle is a read-only view and fd itself is closed.
//
// Errors: InvalidArgument if fd is not such a region, or too small; the
// caller then still owns fd.
func (d *Driver) WrapSharedMemoryFileDescriptor(fd int, numBytes int, readOnly bool) (ipcz.DriverHandle, error) {
	if fd < 0 || numBytes <= 0 || numBytes > MaxSharedMemoryBytes {
		return 0, ipcz.InvalidArgument
	}
	r, err := shm.FromFD(fd)
	if err != nil {
		return 0, ipcz.InvalidArgument
	}
	if r.Size() < numBytes {
		r.Release()
		return 0, ipcz.InvalidArgument
	}
	if readOnly && !r.ReadOnly() {
		ro, err := r.DupReadOnly()
		if err != nil {
			r.Release()
			return 0, regionErr(err)
		}
		r.Close()
		r = ro
	}
	return d.mu.Insert(&memory{region: r}), nil
}

// UnwrapSharedMemoryFileDescriptor consumes a memory handle and returns
// its region's descriptor, which the caller then owns.
//
// Errors: InvalidArgument if mem is not a memory handle.
func (d *Driver) UnwrapSharedMemoryFileDescriptor(mem ipcz.DriverHandle) (int, error) {
	d.mu.Lock()
	m, ok := d.mu.LookupLocked(mem).(*memory)
	if ok {
		d.mu.RemoveLocked(mem, m)
	}
	d.mu.Unlock()
	if !ok {
		return -1, ipcz.InvalidArgument
	}
	return m.region.Release()
}
