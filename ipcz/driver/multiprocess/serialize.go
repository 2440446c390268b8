package multiprocess

import (
	"encoding/binary"

	"github.com/ipcz-go/ipcz-go/internal/shm"
	"github.com/ipcz-go/ipcz-go/ipcz"
)

// The serialized form of every object: 8 bytes of data, a little-endian
// uint32 wire kind and a uint32 whose meaning depends on the kind, plus
// exactly one handle naming a transmissible object (a descriptor).
const (
	SerializedNumBytes   = 8
	SerializedNumHandles = 1
)

// Wire kinds of serialized objects.
const (
	wireTransport      = 1 // extra 0; the descriptor is a Unix stream socket
	wireMemory         = 2 // extra is the size; a writable sealed memfd
	wireMemoryReadOnly = 3 // extra is the size; a read-only sealed memfd
	wireFD             = 4 // extra 0; any descriptor
)

// Serialize follows the two-pass rules of ipcz.h (see ipcz.Driver). Every
// serializable object needs SerializedNumBytes bytes and
// SerializedNumHandles handles; the capacities are len(data) and
// len(handles). In order:
//
//   - InvalidArgument if handle is not a transport that has never been
//     activated, a memory handle or a file descriptor object (mappings and
//     transmissible objects cannot be serialized), or if over (the
//     transport it is to go over) is neither InvalidDriverHandle nor a
//     transport;
//   - ResourceExhausted with the required sizes, writing nothing, if data
//     or handles is too short, or (memory only) if the descriptor cannot
//     be duplicated;
//   - otherwise nil: the first SerializedNumBytes bytes of data and the
//     first handle of handles are written, and handle is no longer valid.
//
// It never returns Aborted or PermissionDenied: any descriptor can cross a
// Unix socket, whatever the transport.
func (d *Driver) Serialize(handle, over ipcz.DriverHandle, data []byte, handles []ipcz.DriverHandle) (numBytes, numHandles int, err error) {
	o := d.mu.Lookup(handle)
	switch o := o.(type) {
	case *transport:
		if !o.isIdle() {
			return 0, 0, ipcz.InvalidArgument
		}
	case *memory, *fdObject:
	default:
		return 0, 0, ipcz.InvalidArgument
	}
	if over != ipcz.InvalidDriverHandle && d.lookupTransport(over) == nil {
		return 0, 0, ipcz.InvalidArgument
	}
	if len(data) < SerializedNumBytes || len(handles) < SerializedNumHandles {
		return SerializedNumBytes, SerializedNumHandles, ipcz.ResourceExhausted
	}

	// Take the object out of the table first, so that nothing else can use
	// it while its descriptor moves; put it back if that fails.
	if d.mu.Remove(handle, o) == nil {
		return 0, 0, ipcz.InvalidArgument // closed meanwhile
	}
	var fd int
	var wk, extra uint32
	switch o := o.(type) {
	case *transport:
		fd = o.takeIdleFD()
		wk = wireTransport
	case *memory:
		fd, err = dupCloexec(o.region.FD())
		wk, extra = wireMemory, uint32(o.region.Size())
		if o.region.ReadOnly() {
			wk = wireMemoryReadOnly
		}
	case *fdObject:
		fd, wk = o.fd, wireFD
	}
	if fd < 0 {
		d.mu.Lock()
		d.mu.RestoreLocked(handle, o)
		d.mu.Unlock()
		if err != nil {
			return 0, 0, ipcz.ResourceExhausted
		}
		return 0, 0, ipcz.InvalidArgument // activated meanwhile
	}
	if m, ok := o.(*memory); ok {
		_ = m.region.Close()
	}

	binary.LittleEndian.PutUint32(data[0:], wk)
	binary.LittleEndian.PutUint32(data[4:], extra)
	handles[0] = d.mu.Insert(&transmissible{fd: fd})
	return SerializedNumBytes, SerializedNumHandles, nil
}

// Deserialize rebuilds an object that Serialize produced in this or
// another process and that arrived over transport. Everything is
// validated as coming from an untrusted peer:
//
//   - a transport's descriptor must be a Unix-domain stream socket; it is
//     made non-blocking and close-on-exec, and the new transport is idle;
//   - a memory descriptor must be a memfd sealed against shrinking and
//     growing (shm.FromFD), of exactly the size the data names, at most
//     MaxSharedMemoryBytes, and writable or read-only as the kind says;
//   - a file descriptor object accepts any descriptor.
//
// Errors: InvalidArgument if transport is not a transport, if data is not
// exactly SerializedNumBytes bytes with a known kind and a valid extra
// word, if there is not exactly one handle or it is not a transmissible
// object, or if the descriptor fails validation. Nothing is consumed on
// error (ipcz then closes the handle, and with it the descriptor).
func (d *Driver) Deserialize(data []byte, handles []ipcz.DriverHandle, transport ipcz.DriverHandle) (ipcz.DriverHandle, error) {
	if d.lookupTransport(transport) == nil {
		return 0, ipcz.InvalidArgument
	}
	if len(data) != SerializedNumBytes || len(handles) != SerializedNumHandles {
		return 0, ipcz.InvalidArgument
	}
	wk := binary.LittleEndian.Uint32(data[0:])
	extra := binary.LittleEndian.Uint32(data[4:])
	tr, ok := d.mu.Lookup(handles[0]).(*transmissible)
	if !ok {
		return 0, ipcz.InvalidArgument
	}

	var region *shm.Region
	switch wk {
	case wireTransport:
		if extra != 0 || checkStreamSocket(tr.fd) != nil || prepareSocket(tr.fd) != nil {
			return 0, ipcz.InvalidArgument
		}
	case wireMemory, wireMemoryReadOnly:
		if extra == 0 || extra > MaxSharedMemoryBytes {
			return 0, ipcz.InvalidArgument
		}
		// Validate a duplicate, so that the transmissible object is left
		// intact if validation fails.
		dup, err := dupCloexec(tr.fd)
		if err != nil {
			return 0, ipcz.InvalidArgument
		}
		region, err = shm.FromFD(dup)
		if err != nil {
			closeFD(dup)
			return 0, ipcz.InvalidArgument
		}
		if region.Size() != int(extra) || region.ReadOnly() != (wk == wireMemoryReadOnly) {
			_ = region.Close()
			return 0, ipcz.InvalidArgument
		}
	case wireFD:
		if extra != 0 {
			return 0, ipcz.InvalidArgument
		}
	default:
		return 0, ipcz.InvalidArgument
	}

	var o object
	switch wk {
	case wireTransport:
		o = newTransport(d, tr.fd)
	case wireFD:
		o = &fdObject{fd: tr.fd}
	default:
		o = &memory{region: region}
	}
	d.mu.Lock()
	if d.mu.RemoveLocked(handles[0], tr) == nil { // consumed meanwhile
		d.mu.Unlock()
		if region != nil {
			_ = region.Close()
		}
		return 0, ipcz.InvalidArgument
	}
	h := d.mu.InsertLocked(o)
	d.mu.Unlock()
	if region != nil {
		closeFD(tr.fd) // the region holds its own descriptor
	}
	return h, nil
}
