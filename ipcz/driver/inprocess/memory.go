package inprocess

import "github.com/ipcz-go/ipcz-go/ipcz"

// region is a block of zeroed, 8-byte aligned heap memory that never
// moves. It is shared by every memory handle and mapping of it and lives as
// long as any of them (or any slice returned by MapSharedMemory) does.
type region struct {
	buf []byte // immutable; len(buf) == cap(buf) == the region's size
}

// memory is one handle to a region.
type memory struct {
	r *region // immutable
}

func (*memory) kind() kind { return kindMemory }

// mapping is a mapping of a region.
type mapping struct {
	r *region // immutable
}

func (*mapping) kind() kind { return kindMapping }

// blob is an application object for tests: immutable bytes.
type blob struct {
	b []byte // immutable
}

func (*blob) kind() kind { return kindBlob }

// AllocateSharedMemory makes a new zeroed region of exactly numBytes bytes,
// 8-byte aligned so that 64-bit atomics work on it.
//
// Errors: InvalidArgument if numBytes <= 0; ResourceExhausted if numBytes >
// MaxSharedMemoryBytes.
func (d *Driver) AllocateSharedMemory(numBytes int) (ipcz.DriverHandle, error) {
	switch {
	case numBytes <= 0:
		return 0, ipcz.InvalidArgument
	case numBytes > MaxSharedMemoryBytes:
		return 0, ipcz.ResourceExhausted
	}
	h := d.mu.Insert(&memory{r: &region{buf: alignedBytes(numBytes)}})
	d.allocations.Add(1)
	return h, nil
}

func (d *Driver) lookupMemory(h ipcz.DriverHandle) *memory {
	m, _ := d.mu.Lookup(h).(*memory)
	return m
}

// GetSharedMemoryInfo returns the size of the region.
//
// Errors: InvalidArgument if mem is not a memory handle.
func (d *Driver) GetSharedMemoryInfo(mem ipcz.DriverHandle) (ipcz.SharedMemoryInfo, error) {
	m := d.lookupMemory(mem)
	if m == nil {
		return ipcz.SharedMemoryInfo{}, ipcz.InvalidArgument
	}
	return ipcz.SharedMemoryInfo{RegionNumBytes: len(m.r.buf)}, nil
}

// DuplicateSharedMemory returns a new handle to the same region.
//
// Errors: InvalidArgument if mem is not a memory handle.
func (d *Driver) DuplicateSharedMemory(mem ipcz.DriverHandle) (ipcz.DriverHandle, error) {
	m := d.lookupMemory(mem)
	if m == nil {
		return 0, ipcz.InvalidArgument
	}
	return d.mu.Insert(&memory{r: m.r}), nil
}

// MapSharedMemory returns a mapping handle and the region's bytes (len and
// cap equal to its size). The mapping stays valid until its handle is
// closed, whatever happens to the memory handles.
//
// Errors: InvalidArgument if mem is not a memory handle.
func (d *Driver) MapSharedMemory(mem ipcz.DriverHandle) (ipcz.DriverHandle, []byte, error) {
	m := d.lookupMemory(mem)
	if m == nil {
		return 0, nil, ipcz.InvalidArgument
	}
	return d.mu.Insert(&mapping{r: m.r}), m.r.buf, nil
}

// NewBlob returns a handle to a new blob holding a copy of b. Blobs can be
// boxed, serialized and sent like any other driver object.
func (d *Driver) NewBlob(b []byte) ipcz.DriverHandle {
	return d.mu.Insert(&blob{b: append([]byte{}, b...)})
}

// BlobBytes returns a copy of the bytes of a blob.
//
// Errors: InvalidArgument if h is not a blob.
func (d *Driver) BlobBytes(h ipcz.DriverHandle) ([]byte, error) {
	b, ok := d.mu.Lookup(h).(*blob)
	if !ok {
		return nil, ipcz.InvalidArgument
	}
	return append([]byte{}, b.b...), nil
}
