package multiprocess

import (
	"crypto/rand"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ipcz-go/ipcz-go/internal/handles"
	"github.com/ipcz-go/ipcz-go/internal/reports"
	"github.com/ipcz-go/ipcz-go/ipcz"
)

// kind is the kind of object in the handle table. The values of the kinds
// that travel are also their wire values in the serialized header.
type kind uint8

const (
	kindTransport     kind = 1 // *transport
	kindMemory        kind = 2 // *memory
	kindFD            kind = 3 // *fdObject
	kindMapping       kind = 4 // *mapping (never serialized)
	kindTransmissible kind = 5 // *transmissible (never serialized)
)

// object is a value stored in the handle table.
type object interface{ kind() kind }

// BadActivityReport is one call of ReportBadTransportActivity.
type BadActivityReport struct {
	Transport ipcz.DriverHandle
	Context   uintptr
}

// ObjectCounts is the number of live objects of each kind in a Driver's
// handle table.
type ObjectCounts struct {
	Transports    int // transport ends
	Memories      int // shared memory handles (several may share a region)
	Mappings      int // mappings
	FDs           int // application file descriptors
	Transmissible int // serialized or received objects not yet consumed
}

// Total is the sum of all counts.
func (c ObjectCounts) Total() int {
	return c.Transports + c.Memories + c.Mappings + c.FDs + c.Transmissible
}

// Driver is the multiprocess ipcz driver. Create one per process with New
// and give it to every node of the process. The zero value is not usable.
type Driver struct {
	// mu is the handle table, with the mutex that guards it (see package
	// handles).
	mu handles.Table[ipcz.DriverHandle, object]

	// reports are the calls of ReportBadTransportActivity and the
	// driver's own reports (see package reports).
	reports reports.Log[BadActivityReport]

	// goroutines counts running reader, watcher and writer goroutines.
	// Atomic.
	goroutines atomic.Int64

	opts options // immutable
}

// options are the settings New takes.
type options struct {
	// ringCapacity is the capacity of the ring each transport end offers;
	// 0 for none (socket only).
	ringCapacity uint64
	// spin is how long a reader polls its ring before sleeping.
	spin time.Duration
}

// Option is a setting of New.
type Option func(*options)

// FastPathEnv is the environment variable that turns the fast path (the
// shared ring with its futex wake-ups; see the package documentation) on
// on or off for the Drivers of a process, unless an Option says
// otherwise: "off" (or "0", "socket", "false") leaves every message on
// the socket; anything else, or nothing, makes every transport end offer
// a ring (the default: it is faster at every size and placement measured,
// see docs/benchmarks.md). Spawn passes the environment on, so setting it
// in a parent covers its children.
const FastPathEnv = "IPCZ_MULTIPROCESS_FAST_PATH"

// SpinEnv is the environment variable that sets the spin time (see Spin)
// unless an Option does, as a time.ParseDuration string such as "20us".
const SpinEnv = "IPCZ_MULTIPROCESS_SPIN"

// DefaultSpin is how long a reader polls its ring before it sleeps,
// unless Spin or SpinEnv says otherwise.
const DefaultSpin = 50 * time.Microsecond

// FastPath turns the shared ring on or off (see FastPathEnv).
func FastPath(on bool) Option {
	return func(o *options) {
		o.ringCapacity = 0
		if on {
			o.ringCapacity = DefaultRingCapacity
		}
	}
}

// RingCapacity sets the size of the record area of the ring each
// transport end offers: a power of two from 4 KiB to 16 MiB (other values
// are rounded up into that range). Messages of up to a quarter of it go
// through the ring.
func RingCapacity(n int) Option {
	return func(o *options) {
		c := uint64(minRingCapacity)
		for c < uint64(n) && c < maxRingCapacity {
			c <<= 1
		}
		o.ringCapacity = c
	}
}

// Spin sets how long a reader with nothing to read polls the peer's ring
// (yielding the processor every few polls) before it sleeps on the ring's
// futex. Spinning saves the peer a wake-up system call and this process a
// sleep and a wake-up when the next message comes soon; it costs processor
// time when it does not. Zero sleeps at once.
func Spin(d time.Duration) Option {
	return func(o *options) { o.spin = max(d, 0) }
}

// defaultOptions are the options before New's, from the environment.
func defaultOptions() options {
	o := options{spin: DefaultSpin, ringCapacity: DefaultRingCapacity}
	switch strings.ToLower(os.Getenv(FastPathEnv)) {
	case "off", "0", "socket", "false":
		o.ringCapacity = 0
	}
	if v := os.Getenv(SpinEnv); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			o.spin = d
		}
	}
	return o
}

var (
	_ ipcz.Driver                     = (*Driver)(nil)
	_ ipcz.FileDescriptorDriver       = (*Driver)(nil)
	_ ipcz.ReadOnlySharedMemoryDriver = (*Driver)(nil)
)

// New returns a Driver with an empty handle table. A process normally
// needs one. Without options the fast path is on (unless FastPathEnv
// says otherwise), with rings of DefaultRingCapacity and DefaultSpin;
// FastPath(false) keeps every message on the socket.
func New(opts ...Option) *Driver {
	d := &Driver{opts: defaultOptions()}
	for _, o := range opts {
		o(&d.opts)
	}
	d.mu.Init(func(o object) int { return int(o.kind()) })
	return d
}

// FastPathEnabled reports whether the transport ends of d offer a ring.
func (d *Driver) FastPathEnabled() bool { return d.opts.ringCapacity > 0 }

// lookup, insertLocked, removeLocked and restoreLocked are the table's
// Lookup, InsertLocked, RemoveLocked and RestoreLocked, for the transport
// code.
func (d *Driver) lookup(h ipcz.DriverHandle) object { return d.mu.Lookup(h) }

func (d *Driver) insertLocked(o object) ipcz.DriverHandle { return d.mu.InsertLocked(o) }

func (d *Driver) removeLocked(h ipcz.DriverHandle, o object) object {
	return d.mu.RemoveLocked(h, o)
}

func (d *Driver) restoreLocked(h ipcz.DriverHandle, o object) { d.mu.RestoreLocked(h, o) }

// LiveObjects returns the number of live objects of each kind. Tests use it
// to check that everything was closed.
func (d *Driver) LiveObjects() ObjectCounts {
	c := d.mu.Counts()
	return ObjectCounts{
		Transports:    c[kindTransport],
		Memories:      c[kindMemory],
		Mappings:      c[kindMapping],
		FDs:           c[kindFD],
		Transmissible: c[kindTransmissible],
	}
}

// RunningGoroutines returns the number of reader, socket watcher and
// writer goroutines still running. A reader exits right after its
// transport's final TransportActivityDeactivated call, a watcher once
// deactivation has begun; a writer exits when its queue is empty or its
// transport is closed.
func (d *Driver) RunningGoroutines() int { return int(d.goroutines.Load()) }

// Close releases the object named by handle:
//
//   - a transport: its socket is closed. If it is active and not yet
//     deactivating, deactivation begins, so its handler still gets the
//     final TransportActivityDeactivated call (possibly after Close
//     returns). Messages still queued for sending are dropped.
//   - a memory handle: its descriptor is closed; mappings stay valid.
//   - a mapping: it is unmapped; the bytes MapSharedMemory returned must
//     not be touched afterwards.
//   - a file descriptor object or a transmissible object: the descriptor
//     it owns is closed.
//
// Errors: InvalidArgument if handle names no object.
func (d *Driver) Close(handle ipcz.DriverHandle) error {
	o := d.mu.Remove(handle, nil)
	if o == nil {
		return ipcz.InvalidArgument
	}
	release(o)
	return nil
}

// release finishes closing o, which has been taken out of the table.
// Called with no lock held.
func release(o object) {
	switch o := o.(type) {
	case *transport:
		o.close()
	case *memory:
		_ = o.region.Close()
	case *mapping:
		_ = o.m.Unmap()
	case *fdObject:
		closeFD(o.fd)
	case *transmissible:
		closeFD(o.fd)
	}
}

// closeHandles closes every handle in hs that is still live, ignoring the
// others. Called with no lock held.
func (d *Driver) closeHandles(hs []ipcz.DriverHandle) {
	for _, h := range hs {
		_ = d.Close(h)
	}
}

// ReportBadTransportActivity records that ipcz or the application
// rejected traffic that came over transport, then calls the hook
// installed with SetBadActivityHook, if any. It does not itself
// disconnect the transport (ipcz decides that). The driver records a
// report of its own, with context 0, when the peer breaks the rules of
// the transport itself (a malformed frame, a corrupt ring, too many
// descriptors), just before it reports the transport's error to ipcz.
//
// Errors: InvalidArgument if transport is not a transport.
func (d *Driver) ReportBadTransportActivity(transport ipcz.DriverHandle, context uintptr) error {
	if d.lookupTransport(transport) == nil {
		return ipcz.InvalidArgument
	}
	d.recordBadActivity(BadActivityReport{Transport: transport, Context: context})
	return nil
}

// recordBadActivity records r and calls the hook. No lock may be held.
func (d *Driver) recordBadActivity(r BadActivityReport) { d.reports.Record(r) }

// BadActivityReports returns a copy of every report made so far, in order.
func (d *Driver) BadActivityReports() []BadActivityReport { return d.reports.All() }

// SetBadActivityHook installs a function called after each report is
// recorded, on the reporting goroutine with no driver lock held. nil
// removes it.
func (d *Driver) SetBadActivityHook(hook func(BadActivityReport)) { d.reports.SetHook(hook) }

// GenerateRandomBytes fills buffer from crypto/rand (getrandom(2)). It
// never fails.
func (d *Driver) GenerateRandomBytes(buffer []byte) error {
	_, _ = rand.Read(buffer) // crypto/rand.Read never returns an error
	return nil
}
