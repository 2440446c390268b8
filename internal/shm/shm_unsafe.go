//go:build linux

package shm

import (
	"fmt"
	"unsafe"
)

// Uint32At returns a pointer to the 4-byte word at byte offset off of the
// mapping, for use with sync/atomic or the futex package. off must be a
// multiple of 4 (the mapping starts on a page boundary, so the word is
// then 4-aligned) and the word must lie inside the mapping; otherwise the
// error wraps ErrOutOfRange. The pointer is valid until Unmap.
//
// The word is shared with an untrusted process: access it only with
// atomic operations and validate every value loaded from it.
func (m *Mapping) Uint32At(off int) (*uint32, error) {
	p, err := m.wordAt(off, 4)
	if err != nil {
		return nil, err
	}
	return (*uint32)(p), nil
}

// Uint64At is like Uint32At for an 8-byte word; off must be a multiple
// of 8.
func (m *Mapping) Uint64At(off int) (*uint64, error) {
	p, err := m.wordAt(off, 8)
	if err != nil {
		return nil, err
	}
	return (*uint64)(p), nil
}

func (m *Mapping) wordAt(off, size int) (unsafe.Pointer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		return nil, ErrUnmapped
	}
	if off < 0 || off%size != 0 || off > len(m.data)-size {
		return nil, fmt.Errorf("%w: offset %d, size %d, mapping length %d", ErrOutOfRange, off, size, len(m.data))
	}
	return unsafe.Pointer(&m.data[off]), nil
}
