package mojo

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/watcher"
	"golang.org/x/sys/unix"
)

// SharedMemoryFileDescriptorDriver is the optional driver capability that
// WrapPlatformSharedBufferHandle and UnwrapPlatformSharedBufferHandle need.
type SharedMemoryFileDescriptorDriver = ipcz.SharedMemoryFileDescriptorDriver

// object is what a Handle names: *messagePipe, *dataPipeProducer,
// *dataPipeConsumer, *sharedBuffer, *platformHandle or *watcherObject.
type object interface {
	// close releases the object. It is called once, after the handle left
	// the table, inside an API call.
	close(c *Core)
}

// transferable is an object that can be attached to a message.
type transferable interface {
	object
	// beginTransit turns the object into its part of a message. Results:
	// Busy if it cannot travel now; InvalidArgument if it never can.
	beginTransit(c *Core) (outgoing, Result)
}

// Core is one Mojo core: an ipcz node on a driver, a handle table, a
// message table, a mapping table and the dispatcher of watcher
// notifications. A process normally has one (see Init); tests may make
// several in one process and connect them with invitations. Every method
// may be called from any goroutine.
type Core struct {
	node   *ipcz.Node  // immutable
	driver ipcz.Driver // immutable; node.Driver()
	// fds, readOnly and shmFDs are the driver's optional interfaces (nil
	// if it lacks them). Immutable.
	fds      ipcz.FileDescriptorDriver
	readOnly ipcz.ReadOnlySharedMemoryDriver
	shmFDs   SharedMemoryFileDescriptorDriver
	// d queues and delivers watcher notifications. Immutable.
	d *watcher.Dispatcher

	handles  table[object]   // internally synchronized
	messages table[*message] // internally synchronized
	mappings mappingTable    // internally synchronized

	// syncCallAllowed is MOJO_PROPERTY_TYPE_SYNC_CALL_ALLOWED. Atomic.
	syncCallAllowed atomic.Bool
	// badMessage is called by NotifyBadMessage. Atomic.
	badMessage atomic.Pointer[func(string)]
}

// NewCore creates a core with a new ipcz node on driver; isBroker makes
// the node the broker of its network (the process that sends invitations
// to the others). Optional driver interfaces are used when present:
// ipcz.FileDescriptorDriver for platform handles,
// ipcz.ReadOnlySharedMemoryDriver for read-only buffer duplicates and
// SharedMemoryFileDescriptorDriver for wrapping shared memory fds.
func NewCore(driver ipcz.Driver, isBroker bool) (*Core, error) {
	var flags ipcz.CreateNodeFlags
	if isBroker {
		flags = ipcz.CreateNodeAsBroker
	}
	if driver == nil {
		return nil, ResultInvalidArgument
	}
	d := watcher.NewDispatcher()
	node, err := ipcz.CreateNode(&deliveringDriver{Driver: driver, d: d}, ipcz.InvalidDriverHandle, flags)
	if err != nil {
		return nil, err
	}
	c := &Core{node: node, driver: driver, d: d}
	c.fds, _ = driver.(ipcz.FileDescriptorDriver)
	c.readOnly, _ = driver.(ipcz.ReadOnlySharedMemoryDriver)
	c.shmFDs, _ = driver.(SharedMemoryFileDescriptorDriver)
	c.syncCallAllowed.Store(true)
	c.mappings.m = make(map[uintptr][]ipcz.DriverHandle)
	return c, nil
}

// Node returns the core's ipcz node.
func (c *Core) Node() *ipcz.Node { return c.node }

// Shutdown closes the core's node: links to other nodes are dropped, so
// pipes to other processes see their peers closed. Handles stay valid.
func (c *Core) Shutdown() error {
	defer c.exit(c.enter())
	return c.node.Close()
}

// NumHandles returns the number of live handles (for leak checks).
func (c *Core) NumHandles() int { return c.handles.len() }

// NumMessages returns the number of live message objects.
func (c *Core) NumMessages() int { return c.messages.len() }

// SetBadMessageHandler installs fn, called with the error text of every
// NotifyBadMessage (the embedder's default process error handler). nil
// removes it.
func (c *Core) SetBadMessageHandler(fn func(err string)) {
	if fn == nil {
		c.badMessage.Store(nil)
		return
	}
	c.badMessage.Store(&fn)
}

// SetProperty sets an embedder property (the 2017 Core::SetProperty):
// PropertyTypeSyncCallAllowed takes a bool. Result: InvalidArgument for any
// other type or value.
func (c *Core) SetProperty(t PropertyType, value any) Result {
	v, ok := value.(bool)
	if t != PropertyTypeSyncCallAllowed || !ok {
		return ResultInvalidArgument
	}
	c.syncCallAllowed.Store(v)
	return ResultOK
}

// enter and exit bracket every API call (see watcher.Dispatcher): pass
// enter's result to exit.
func (c *Core) enter() bool       { return c.d.Enter() }
func (c *Core) exit(counted bool) { c.d.Exit(counted) }

// deliveringDriver is the driver as the core's ipcz node sees it: the
// application's driver, except that every delivery of another node's
// traffic runs inside the dispatcher's Deliver, so that watcher
// notifications it causes go out as FROM_SYSTEM when it ends. Only
// ipcz.Driver's methods are visible through it; the core uses the
// driver's optional interfaces on the driver itself.
type deliveringDriver struct {
	ipcz.Driver                     // immutable; the application's driver
	d           *watcher.Dispatcher // immutable
}

// ActivateTransport wraps handler in the dispatcher's Deliver.
func (dd *deliveringDriver) ActivateTransport(transport ipcz.DriverHandle, handler ipcz.ActivityHandler) error {
	d := dd.d
	return dd.Driver.ActivateTransport(transport, func(data []byte, handles []ipcz.DriverHandle, flags ipcz.TransportActivityFlags) error {
		var err error
		d.Deliver(func() { err = handler(data, handles, flags) })
		return err
	})
}

// lookup returns the object behind a live, non-busy handle.
func (c *Core) lookup(h Handle) (object, bool) { return c.handles.lookup(uint32(h)) }

// addHandle puts o in the table; if the table is full it closes o.
func (c *Core) addHandle(o object) (Handle, Result) {
	h, ok := c.handles.add(o)
	if !ok {
		o.close(c)
		return HandleInvalid, ResultResourceExhausted
	}
	return Handle(h), ResultOK
}

var (
	defaultMu   sync.Mutex
	defaultCore atomic.Pointer[Core]
)

// Init creates the process-wide default core that the package-level
// functions (and the C exports) use. It may be called once. Result:
// AlreadyExists if a default core exists; the error of NewCore otherwise.
func Init(driver ipcz.Driver, isBroker bool) error {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	if defaultCore.Load() != nil {
		return ResultAlreadyExists
	}
	c, err := NewCore(driver, isBroker)
	if err != nil {
		return err
	}
	defaultCore.Store(c)
	return nil
}

// SetDefault makes c the default core (nil clears it), for embedders and
// tests that build cores with NewCore.
func SetDefault(c *Core) {
	defaultMu.Lock()
	defaultCore.Store(c)
	defaultMu.Unlock()
}

// Default returns the default core, or nil before Init.
func Default() *Core { return defaultCore.Load() }

// core returns the default core; calling a package-level function before
// Init is a programming error.
func core() *Core {
	c := defaultCore.Load()
	if c == nil {
		panic("mojo: Init has not been called")
	}
	return c
}

// Monotonic time: the CLOCK_MONOTONIC reading at start-up plus Go's
// monotonic time elapsed since, so values agree with other processes'
// without a system call per reading.
var (
	ticksBase     = time.Now()
	ticksBaseMono = func() int64 {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			return 1
		}
		return ts.Nano() / 1000
	}()
)

// GetTimeTicksNow returns a monotonic time in microseconds
// (MojoGetTimeTicksNow); it is never 0 and never decreases.
func GetTimeTicksNow() TimeTicks {
	t := ticksBaseMono + time.Since(ticksBase).Microseconds()
	if t <= 0 {
		t = 1
	}
	return TimeTicks(t)
}

// Close closes a handle of any kind (MojoClose). Results: InvalidArgument
// if h is not a live handle; Busy if it is attached to a message being
// sent.
func (c *Core) Close(h Handle) Result {
	defer c.exit(c.enter())
	o, r := c.handles.remove(uint32(h))
	if r != ResultOK {
		return r
	}
	o.close(c)
	return ResultOK
}

// QueryHandleSignalsState returns a handle's signals
// (MojoQueryHandleSignalsState). Handles that have no signals (buffers,
// platform handles, watchers) report none. Result: InvalidArgument if h
// is not a live handle.
func (c *Core) QueryHandleSignalsState(h Handle) (HandleSignalsState, Result) {
	defer c.exit(c.enter())
	o, ok := c.lookup(h)
	if !ok {
		return HandleSignalsState{}, ResultInvalidArgument
	}
	if s, ok := o.(watcher.Source); ok {
		return s.SignalsState(), ResultOK
	}
	return HandleSignalsState{}, ResultOK
}

// GetProperty reads a property (MojoGetProperty): for
// PropertyTypeSyncCallAllowed, value must be a *bool, set to true unless
// the embedder changed it. Result: InvalidArgument for any other type or
// value.
func (c *Core) GetProperty(t PropertyType, value any) Result {
	p, ok := value.(*bool)
	if t != PropertyTypeSyncCallAllowed || !ok || p == nil {
		return ResultInvalidArgument
	}
	*p = c.syncCallAllowed.Load()
	return ResultOK
}
