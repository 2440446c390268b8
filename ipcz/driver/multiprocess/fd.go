package multiprocess

import "github.com/ipcz-go/ipcz-go/ipcz"

// fdObject is an application file descriptor that the driver owns, so
// that it can be boxed and sent to another process.
type fdObject struct {
	fd int // immutable; owned
}

func (*fdObject) kind() kind { return kindFD }

// transmissible is the form in which an object travels: what Serialize
// makes of a transport, memory or descriptor object, and what a received
// descriptor becomes before Deserialize. Transmit sends its descriptor;
// Deserialize adopts it; Close closes it.
type transmissible struct {
	fd int // immutable; owned
}

func (*transmissible) kind() kind { return kindTransmissible }

// WrapFileDescriptor makes a driver object that owns fd. The object can be
// boxed and sent; in the receiving process UnwrapFileDescriptor gives back
// a descriptor for the same open file (received descriptors are
// close-on-exec).
//
// Errors: InvalidArgument if fd is not an open descriptor; on error the
// caller keeps fd.
func (d *Driver) WrapFileDescriptor(fd int) (ipcz.DriverHandle, error) {
	if fd < 0 || !fdIsOpen(fd) {
		return 0, ipcz.InvalidArgument
	}
	return d.mu.Insert(&fdObject{fd: fd}), nil
}

// UnwrapFileDescriptor consumes an object made by WrapFileDescriptor (here,
// or in another process and deserialized here) and returns its descriptor,
// which the caller then owns.
//
// Errors: InvalidArgument if handle is not such an object.
func (d *Driver) UnwrapFileDescriptor(handle ipcz.DriverHandle) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o, ok := d.mu.LookupLocked(handle).(*fdObject)
	if !ok {
		return -1, ipcz.InvalidArgument
	}
	d.mu.RemoveLocked(handle, o)
	return o.fd, nil
}
