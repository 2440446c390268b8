package inprocess

import (
	"encoding/binary"

	"github.com/ipcz-go/ipcz-go/ipcz"
)

// The serialized form of every object: 8 bytes (uint32 kind, uint32 zero,
// little-endian) and one handle naming a serialized object.
const (
	SerializedNumBytes   = 8
	SerializedNumHandles = 1
)

// serialized is an object that Serialize has taken over, on its way to
// Deserialize. inner is a transport endpoint, memory handle or blob.
type serialized struct {
	inner object // immutable
}

func (*serialized) kind() kind { return kindSerialized }

// Serialize follows the two-pass rules of ipcz.h (see ipcz.Driver). The
// capacities are len(data) and len(handles); every serializable object
// needs SerializedNumBytes bytes and SerializedNumHandles handles. In order:
//
//   - InvalidArgument if handle is not a transport endpoint that has never
//     been activated, a memory handle or a blob (mappings and serialized
//     objects cannot be serialized), or if transport is neither
//     InvalidDriverHandle nor a transport endpoint;
//   - in AsyncForcedBrokering mode only: Aborted if transport is
//     InvalidDriverHandle, PermissionDenied if neither end of transport
//     belongs to a broker;
//   - ResourceExhausted with the required sizes, writing nothing, if data or
//     handles is too short;
//   - otherwise nil: the first SerializedNumBytes bytes of data and the
//     first handle of handles are written, and handle is no longer valid.
func (d *Driver) Serialize(handle, transport ipcz.DriverHandle, data []byte, handles []ipcz.DriverHandle) (numBytes, numHandles int, err error) {
	o := d.mu.Lookup(handle)
	switch o := o.(type) {
	case *endpoint:
		o.mu.Lock()
		ok := !o.mu.closed && o.mu.state == stateIdle
		o.mu.Unlock()
		if !ok {
			return 0, 0, ipcz.InvalidArgument
		}
	case *memory, *blob:
	default:
		return 0, 0, ipcz.InvalidArgument
	}
	forced := d.mode == AsyncForcedBrokering
	if transport == ipcz.InvalidDriverHandle {
		if forced {
			return 0, 0, ipcz.Aborted
		}
	} else {
		t := d.lookupEndpoint(transport)
		switch {
		case t == nil:
			return 0, 0, ipcz.InvalidArgument
		case forced && !t.selfBroker && !t.peerBroker:
			return 0, 0, ipcz.PermissionDenied
		}
	}
	if len(data) < SerializedNumBytes || len(handles) < SerializedNumHandles {
		return SerializedNumBytes, SerializedNumHandles, ipcz.ResourceExhausted
	}

	d.mu.Lock()
	if d.mu.RemoveLocked(handle, o) == nil { // closed meanwhile
		d.mu.Unlock()
		return 0, 0, ipcz.InvalidArgument
	}
	h := d.mu.InsertLocked(&serialized{inner: o})
	d.mu.Unlock()

	binary.LittleEndian.PutUint32(data[0:], uint32(o.kind()))
	binary.LittleEndian.PutUint32(data[4:], 0)
	handles[0] = h
	return SerializedNumBytes, SerializedNumHandles, nil
}

// Deserialize turns a serialized object that arrived over transport back
// into a transport endpoint, memory handle or blob with a new handle,
// consuming the serialized object.
//
// Errors: InvalidArgument if transport is not a transport endpoint, if
// data is not exactly SerializedNumBytes bytes with a known kind and a zero
// reserved word, if there is not exactly one handle, or if that handle is
// not a serialized object of the kind data names. Nothing is consumed on
// error.
func (d *Driver) Deserialize(data []byte, handles []ipcz.DriverHandle, transport ipcz.DriverHandle) (ipcz.DriverHandle, error) {
	if d.lookupEndpoint(transport) == nil {
		return 0, ipcz.InvalidArgument
	}
	if len(data) != SerializedNumBytes || len(handles) != SerializedNumHandles {
		return 0, ipcz.InvalidArgument
	}
	k := binary.LittleEndian.Uint32(data[0:])
	if binary.LittleEndian.Uint32(data[4:]) != 0 ||
		(k != uint32(kindTransport) && k != uint32(kindMemory) && k != uint32(kindBlob)) {
		return 0, ipcz.InvalidArgument
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.mu.LookupLocked(handles[0]).(*serialized)
	if !ok || uint32(s.inner.kind()) != k {
		return 0, ipcz.InvalidArgument
	}
	d.mu.RemoveLocked(handles[0], s)
	return d.mu.InsertLocked(s.inner), nil
}
