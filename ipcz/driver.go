package ipcz

// DriverHandle names an object owned by a driver: a transport, a shared
// memory region, a mapping, or any object the driver lets applications box.
// Zero is never valid.
type DriverHandle uintptr

// InvalidDriverHandle is the zero DriverHandle.
const InvalidDriverHandle DriverHandle = 0

// ActivityHandler is how a driver feeds a transport's incoming messages and
// state changes to ipcz (IpczTransportActivityHandler). The driver must not
// make overlapping calls for one transport, and must deliver messages in the
// order they were transmitted. The data and handles slices are only
// borrowed for the duration of the call, but the driver objects the handles
// name belong to ipcz from then on: ipcz deserializes or closes each one. A
// non-nil error tells the driver that ipcz rejected the message; ipcz then
// deactivates the transport itself.
//
// Every successful ActivateTransport is answered by exactly one final call
// with TransportActivityDeactivated, even if the transport is closed
// without being deactivated; after it the handler is never called again.
type ActivityHandler func(data []byte, handles []DriverHandle, flags TransportActivityFlags) error

// SharedMemoryInfo describes a shared memory region (IpczSharedMemoryInfo).
type SharedMemoryInfo struct {
	RegionNumBytes int
}

// Driver is the set of operations ipcz needs from the platform: the Go form
// of the 13 functions of IpczDriver, in its order and with its semantics.
// Errors are Results (use Result.Err to turn a C result code into one).
//
// ipcz never calls a driver method while holding any lock of its own, so a
// driver may call back into ipcz from any method, including synchronously
// from Transmit (the in-process synchronous driver does exactly that).
// Every method may be called from any goroutine.
type Driver interface {
	// Close releases the object named by handle.
	Close(handle DriverHandle) error

	// Serialize turns the object into bytes and transmissible handles for
	// sending over transport, following the two-pass rules of ipcz.h:
	//   - InvalidArgument if the object cannot be serialized at all;
	//   - Aborted if transport is InvalidDriverHandle and the answer
	//     depends on the transport;
	//   - PermissionDenied if the object cannot go over this transport
	//     (ipcz then relays it through the broker);
	//   - ResourceExhausted, with the required sizes returned and nothing
	//     written, if data or handles is too small;
	//   - nil on success, after which the driver owns handle.
	// The capacities are len(data) and len(handles); the sizes returned are
	// meaningful for nil and ResourceExhausted.
	Serialize(handle, transport DriverHandle, data []byte, handles []DriverHandle) (numBytes, numHandles int, err error)

	// Deserialize rebuilds an object that Serialize produced and that
	// arrived over transport (never InvalidDriverHandle). Its inputs come
	// from another node and must be validated. On success the driver has
	// consumed handles; on error ipcz closes them and drops the message.
	Deserialize(data []byte, handles []DriverHandle, transport DriverHandle) (DriverHandle, error)

	// CreateTransports makes a new entangled pair of transports; the first
	// will be sent over transport0 and the second over transport1.
	CreateTransports(transport0, transport1 DriverHandle) (DriverHandle, DriverHandle, error)

	// ActivateTransport starts delivering the transport's incoming traffic
	// to handler, possibly before it returns (messages that arrived
	// earlier). After it returns ipcz may call Transmit at once.
	ActivateTransport(transport DriverHandle, handler ActivityHandler) error

	// DeactivateTransport begins deactivation; the driver then calls the
	// handler one last time with TransportActivityDeactivated.
	DeactivateTransport(transport DriverHandle) error

	// Transmit sends data and handles (which came from Serialize) to the
	// peer transport, where they arrive as exactly one handler call, in
	// order. On success the driver owns the handles; on error the caller
	// keeps them, and ipcz severs the connection. The handler of either end
	// may be called before Transmit returns.
	Transmit(transport DriverHandle, data []byte, handles []DriverHandle) error

	// ReportBadTransportActivity tells the driver that the application
	// rejected a parcel that arrived over transport (see Validator.Reject).
	ReportBadTransportActivity(transport DriverHandle, context uintptr) error

	// AllocateSharedMemory makes a new zeroed region of at least numBytes.
	AllocateSharedMemory(numBytes int) (DriverHandle, error)

	// GetSharedMemoryInfo describes a region.
	GetSharedMemoryInfo(memory DriverHandle) (SharedMemoryInfo, error)

	// DuplicateSharedMemory returns a new handle to the same region.
	DuplicateSharedMemory(memory DriverHandle) (DriverHandle, error)

	// MapSharedMemory maps the region. The mapping lives until its handle is
	// closed, independent of the memory handle, and its bytes never move.
	MapSharedMemory(memory DriverHandle) (mapping DriverHandle, data []byte, err error)

	// GenerateRandomBytes fills buffer with random bytes.
	GenerateRandomBytes(buffer []byte) error
}

// FileDescriptorDriver is implemented by drivers whose objects can carry
// operating-system file descriptors, so that a box can move any fd to
// another process (Mojo platform handles are built on it).
type FileDescriptorDriver interface {
	// WrapFileDescriptor makes a driver object that owns fd.
	WrapFileDescriptor(fd int) (DriverHandle, error)
	// UnwrapFileDescriptor consumes an object made by WrapFileDescriptor
	// (here or, after transmission, in another process) and returns the
	// fd, which the caller then owns.
	UnwrapFileDescriptor(handle DriverHandle) (int, error)
}

// ReadOnlySharedMemoryDriver is implemented by drivers that can hand out
// read-only views of a shared memory region, enforced by the operating
// system where there is one (Mojo read-only shared buffers).
type ReadOnlySharedMemoryDriver interface {
	// DuplicateSharedMemoryReadOnly returns a new handle to the region
	// through which it can only be mapped for reading.
	DuplicateSharedMemoryReadOnly(memory DriverHandle) (DriverHandle, error)
	// IsSharedMemoryReadOnly reports whether the handle is read-only;
	// MapSharedMemory of such a handle returns a read-only mapping.
	IsSharedMemoryReadOnly(memory DriverHandle) (bool, error)
}

// SharedMemoryFileDescriptorDriver is implemented by drivers whose shared
// memory regions are file descriptors, so that an application can hand
// ipcz a region it made itself, or take one out (Mojo's platform shared
// buffer handles are built on it).
type SharedMemoryFileDescriptorDriver interface {
	// WrapSharedMemoryFileDescriptor takes ownership of fd, a shared
	// memory region of at least numBytes bytes, and returns a memory
	// handle for it that can only be mapped for reading if readOnly.
	WrapSharedMemoryFileDescriptor(fd int, numBytes int, readOnly bool) (DriverHandle, error)
	// UnwrapSharedMemoryFileDescriptor consumes a memory handle and
	// returns its region's fd, which the caller then owns.
	UnwrapSharedMemoryFileDescriptor(memory DriverHandle) (int, error)
}
