package inprocess

import (
	"crypto/rand"
	"strconv"
	"sync/atomic"

	"github.com/ipcz-go/ipcz-go/internal/handles"
	"github.com/ipcz-go/ipcz-go/internal/reports"
	"github.com/ipcz-go/ipcz-go/ipcz"
)

// Mode selects how a Driver's transports deliver traffic. See the package
// documentation.
type Mode int

const (
	// Sync delivers on the transmitting goroutine.
	Sync Mode = iota
	// Async delivers on one goroutine per activated endpoint.
	Async
	// AsyncDelegatedAlloc is Async; tests check allocation per node.
	AsyncDelegatedAlloc
	// AsyncForcedBrokering is Async, and objects can only be serialized
	// over transports that have a broker at one end or the other.
	AsyncForcedBrokering
)

var modeNames = [...]string{"Sync", "Async", "AsyncDelegatedAlloc", "AsyncForcedBrokering"}

// String returns the name of the mode.
func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// kind is the kind of object in the handle table.
type kind uint8

const (
	kindTransport  kind = 1 // *endpoint
	kindMemory     kind = 2 // *memory
	kindBlob       kind = 3 // *blob
	kindMapping    kind = 4 // *mapping
	kindSerialized kind = 5 // *serialized
)

// object is a value stored in the handle table.
type object interface{ kind() kind }

// BadActivityReport is one call of ReportBadTransportActivity.
type BadActivityReport struct {
	// Node is the name of the NodeDriver the call came through, or "" for
	// a call made on the Driver itself.
	Node      string
	Transport ipcz.DriverHandle
	Context   uintptr
}

// ObjectCounts is the number of live objects of each kind in a Driver's
// handle table.
type ObjectCounts struct {
	Transports int // transport endpoints
	Memories   int // shared memory handles (several may share a region)
	Mappings   int // mappings
	Blobs      int // blobs
	Serialized int // serialized objects not yet deserialized or closed
}

// Total is the sum of all counts.
func (c ObjectCounts) Total() int {
	return c.Transports + c.Memories + c.Mappings + c.Blobs + c.Serialized
}

// MaxSharedMemoryBytes is the largest region AllocateSharedMemory makes;
// larger requests get ipcz.ResourceExhausted.
const MaxSharedMemoryBytes = 1 << 30

// Driver is an in-process ipcz driver. Create it with New and share it
// among all the nodes that must exchange objects. The zero value is not
// usable.
type Driver struct {
	mode Mode // immutable

	// mu is the handle table, with the mutex that guards it (see package
	// handles).
	mu handles.Table[ipcz.DriverHandle, object]

	// reports are the calls of ReportBadTransportActivity (see package
	// reports).
	reports reports.Log[BadActivityReport]

	// allocations counts successful AllocateSharedMemory calls. Atomic.
	allocations atomic.Int64
	// goroutines counts running delivery goroutines (async modes). Atomic.
	goroutines atomic.Int64
}

var _ ipcz.Driver = (*Driver)(nil)

// New returns a Driver working in mode. It panics if mode is not one of the
// Mode constants.
func New(mode Mode) *Driver {
	if mode < Sync || mode > AsyncForcedBrokering {
		panic("inprocess: unknown mode " + mode.String())
	}
	d := &Driver{mode: mode}
	d.mu.Init(func(o object) int { return int(o.kind()) })
	return d
}

// Mode returns the mode given to New.
func (d *Driver) Mode() Mode { return d.mode }

func (d *Driver) async() bool { return d.mode != Sync }

// LiveObjects returns the number of live objects of each kind. Tests use it
// to check that everything was closed.
func (d *Driver) LiveObjects() ObjectCounts {
	c := d.mu.Counts()
	return ObjectCounts{
		Transports: c[kindTransport],
		Memories:   c[kindMemory],
		Mappings:   c[kindMapping],
		Blobs:      c[kindBlob],
		Serialized: c[kindSerialized],
	}
}

// RunningGoroutines returns the number of delivery goroutines still
// running. Each exits right after its endpoint's final
// TransportActivityDeactivated call returns.
func (d *Driver) RunningGoroutines() int { return int(d.goroutines.Load()) }

// AllocationCount returns the number of successful AllocateSharedMemory
// calls made through d or any of its NodeDrivers.
func (d *Driver) AllocationCount() int64 { return d.allocations.Load() }

// Close releases the object named by handle. Closing a transport endpoint
// begins its deactivation if it is active (so its handler still gets its
// final TransportActivityDeactivated call) and tells its peer with a
// TransportActivityError call. Closing a serialized object closes the
// object inside it. Closing a memory handle leaves its mappings valid.
//
// Errors: InvalidArgument if handle names no object.
func (d *Driver) Close(handle ipcz.DriverHandle) error {
	o := d.mu.Remove(handle, nil)
	if o == nil {
		return ipcz.InvalidArgument
	}
	d.release(o)
	return nil
}

// release finishes closing o, which has been taken out of the table.
// Called with no lock held.
func (d *Driver) release(o object) {
	switch o := o.(type) {
	case *endpoint:
		o.close()
	case *serialized:
		d.release(o.inner)
	}
	// Memory, mappings and blobs are left to the garbage collector.
}

// closeHandles closes every handle in hs that is still live, ignoring the
// others. Called with no lock held.
func (d *Driver) closeHandles(hs []ipcz.DriverHandle) {
	for _, h := range hs {
		_ = d.Close(h)
	}
}

// ReportBadTransportActivity records that the application rejected a
// parcel that came over transport; see BadActivityReports and
// SetBadActivityHook.
//
// Errors: InvalidArgument if transport is not a transport endpoint.
func (d *Driver) ReportBadTransportActivity(transport ipcz.DriverHandle, context uintptr) error {
	return d.reportBad("", transport, context)
}

func (d *Driver) reportBad(node string, transport ipcz.DriverHandle, context uintptr) error {
	if _, ok := d.mu.Lookup(transport).(*endpoint); !ok {
		return ipcz.InvalidArgument
	}
	d.reports.Record(BadActivityReport{Node: node, Transport: transport, Context: context})
	return nil
}

// BadActivityReports returns a copy of every report made so far, in order.
func (d *Driver) BadActivityReports() []BadActivityReport { return d.reports.All() }

// SetBadActivityHook installs a function called after each report is
// recorded, on the reporting goroutine with no driver lock held. nil removes
// it.
func (d *Driver) SetBadActivityHook(hook func(BadActivityReport)) { d.reports.SetHook(hook) }

// GenerateRandomBytes fills buffer from crypto/rand. It never fails.
func (d *Driver) GenerateRandomBytes(buffer []byte) error {
	_, _ = rand.Read(buffer) // crypto/rand.Read never returns an error
	return nil
}
