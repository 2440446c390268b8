package ipcz_test

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ipcz-go/ipcz-go/internal/leakcheck"
	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/inprocess"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/multiprocess"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// mnDriver is one driver the multi-node tests run over: an in-process
// mode, or the multiprocess driver (sockets, memfd, SCM_RIGHTS) with all
// its nodes in this process. It gives the tests what they need of a
// driver beyond ipcz.Driver: per-node views, transport pairs, boxable
// objects with contents ("blobs"), and leak and report accounting.
type mnDriver struct {
	in *inprocess.Driver    // nil unless in-process
	mp *multiprocess.Driver // nil unless multiprocess

	mu sync.Mutex
	// views are the node views by node name, the latest for each name.
	// Guarded by mu.
	views map[string]nodeView
	// reports are the multiprocess driver's bad-activity reports, with
	// the reporting node's name. Guarded by mu.
	reports []mnReport
}

// nodeView is what forNode returns.
type nodeView interface {
	ipcz.Driver
	AllocationCount() int64
}

// mnReport is one ReportBadTransportActivity call.
type mnReport struct {
	Node      string
	Transport ipcz.DriverHandle
	Context   uintptr
}

// mnDriverNames are the subtests forEachDriver makes, in order.
var mnDriverNames = []string{
	inprocess.Sync.String(),
	inprocess.Async.String(),
	inprocess.AsyncDelegatedAlloc.String(),
	inprocess.AsyncForcedBrokering.String(),
	"Multiprocess",
	"MultiprocessSocketOnly",
}

// newMNDriver makes the driver forEachDriver names name.
func newMNDriver(name string) *mnDriver {
	d := &mnDriver{views: make(map[string]nodeView)}
	switch name {
	case "Multiprocess":
		d.mp = multiprocess.New(multiprocess.FastPath(true))
	case "MultiprocessSocketOnly":
		d.mp = multiprocess.New(multiprocess.FastPath(false))
	default:
		for _, m := range driverModes {
			if m.String() == name {
				d.in = inprocess.New(m)
			}
		}
		if d.in == nil {
			panic("no driver " + name)
		}
	}
	return d
}

// forEachDriver runs f as one subtest per driver. At the end of each it
// checks that every driver object, driver goroutine and (multiprocess)
// descriptor the subtest made is gone.
func forEachDriver(t *testing.T, f func(t *testing.T, d *mnDriver)) {
	for _, name := range mnDriverNames {
		t.Run(name, func(t *testing.T) {
			d := newMNDriver(name)
			d.checkLeaksAtCleanup(t)
			f(t, d)
		})
	}
}

// checkLeaksAtCleanup registers a check that runs after every cleanup
// the test registers later (closing its nodes).
func (d *mnDriver) checkLeaksAtCleanup(t *testing.T) {
	fds := d.openFDs(t)
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		eventuallyf(t, func() bool {
			return d.runningGoroutines() == 0 && d.liveTotal() == 0 && len(d.leakedFDs(t, fds)) == 0
		}, func() string {
			return fmt.Sprintf("left behind: %d driver goroutines, objects %+v, descriptors:\n%s",
				d.runningGoroutines(), d.liveObjects(), leakcheck.DescribeFDs(d.leakedFDs(t, fds)))
		})
	})
}

// openFDs lists the process's descriptors for leakedFDs; nil unless d is
// the multiprocess driver (the in-process driver opens none).
func (d *mnDriver) openFDs(t *testing.T) []string {
	if d.mp == nil {
		return nil
	}
	return leakcheck.OpenFDs()
}

// leakedFDs are the descriptors open now that were not in before (from
// openFDs), except the Go runtime's poller, which the first socket of the
// process opens.
func (d *mnDriver) leakedFDs(t *testing.T, before []string) []string {
	if d.mp == nil {
		return nil
	}
	var out []string
	for _, fd := range leakcheck.OpenFDs() {
		if slices.Contains(before, fd) {
			continue
		}
		target, _ := os.Readlink("/proc/self/fd/" + fd)
		if target == "anon_inode:[eventpoll]" || target == "anon_inode:[eventfd]" {
			continue
		}
		out = append(out, fd)
	}
	return out
}

// delegatesAllocation reports whether non-brokers connect with
// ConnectNodeToAllocationDelegate.
func (d *mnDriver) delegatesAllocation() bool {
	return d.in != nil && d.in.Mode() == inprocess.AsyncDelegatedAlloc
}

// clientFlags are the flags a non-broker connects to its broker with.
func (d *mnDriver) clientFlags() ipcz.ConnectNodeFlags {
	if d.delegatesAllocation() {
		return ipcz.ConnectNodeToBroker | ipcz.ConnectNodeToAllocationDelegate
	}
	return ipcz.ConnectNodeToBroker
}

// forNode returns a new view of the driver for the node called name.
func (d *mnDriver) forNode(name string) nodeView {
	var v nodeView
	if d.in != nil {
		v = d.in.ForNode(name)
	} else {
		v = &mpNodeDriver{Driver: d.mp, d: d, name: name}
	}
	d.mu.Lock()
	d.views[name] = v
	d.mu.Unlock()
	return v
}

// allocationCount is how many regions the latest view for node name
// allocated.
func (d *mnDriver) allocationCount(name string) int64 {
	d.mu.Lock()
	v := d.views[name]
	d.mu.Unlock()
	return v.AllocationCount()
}

// newTransportPair makes two connected idle transports; the broker flags
// say whether the node that takes each end is a broker (only forced
// brokering uses them).
func (d *mnDriver) newTransportPair(t *testing.T, aIsBroker, bIsBroker bool) (a, b ipcz.DriverHandle) {
	t.Helper()
	if d.in != nil {
		return d.in.NewTransportPair(aIsBroker, bIsBroker)
	}
	a, b, err := d.mp.NewTransportPair()
	require.NoError(t, err)
	return a, b
}

// close closes a driver object.
func (d *mnDriver) close(h ipcz.DriverHandle) error {
	if d.in != nil {
		return d.in.Close(h)
	}
	return d.mp.Close(h)
}

// newBlob returns a boxable object holding a copy of b: an in-process
// blob, or a memfd with b as its contents.
func (d *mnDriver) newBlob(t *testing.T, b []byte) ipcz.DriverHandle {
	t.Helper()
	if d.in != nil {
		return d.in.NewBlob(b)
	}
	fd, err := unix.MemfdCreate("mn-blob", unix.MFD_CLOEXEC)
	require.NoError(t, err)
	_, err = unix.Pwrite(fd, b, 0)
	require.NoError(t, err)
	h, err := d.mp.WrapFileDescriptor(fd)
	require.NoError(t, err)
	return h
}

// takeBlob returns the contents of an object newBlob made (possibly in
// transit since) and closes it.
func (d *mnDriver) takeBlob(t *testing.T, h ipcz.DriverHandle) string {
	t.Helper()
	if d.in != nil {
		b, err := d.in.BlobBytes(h)
		require.NoError(t, err)
		require.NoError(t, d.in.Close(h))
		return string(b)
	}
	fd, err := d.mp.UnwrapFileDescriptor(h)
	require.NoError(t, err)
	defer unix.Close(fd)
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(fd, &st))
	b := make([]byte, st.Size)
	n, err := unix.Pread(fd, b, 0)
	require.NoError(t, err)
	return string(b[:n])
}

// liveBlobs is how many objects newBlob made are open (in this process,
// outside of parcels in transit).
func (d *mnDriver) liveBlobs() int {
	if d.in != nil {
		return d.in.LiveObjects().Blobs
	}
	return d.mp.LiveObjects().FDs
}

// liveObjects is the driver's count of live objects by kind.
func (d *mnDriver) liveObjects() any {
	if d.in != nil {
		return d.in.LiveObjects()
	}
	return d.mp.LiveObjects()
}

// liveTotal is the number of live driver objects.
func (d *mnDriver) liveTotal() int {
	if d.in != nil {
		return d.in.LiveObjects().Total()
	}
	return d.mp.LiveObjects().Total()
}

// runningGoroutines is the number of the driver's own goroutines.
func (d *mnDriver) runningGoroutines() int {
	if d.in != nil {
		return d.in.RunningGoroutines()
	}
	return d.mp.RunningGoroutines()
}

// badReports returns every bad-activity report so far, in order.
func (d *mnDriver) badReports() []mnReport {
	if d.in != nil {
		var out []mnReport
		for _, r := range d.in.BadActivityReports() {
			out = append(out, mnReport{Node: r.Node, Transport: r.Transport, Context: r.Context})
		}
		return out
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]mnReport(nil), d.reports...)
}

// mpNodeDriver is one node's view of a multiprocess driver: the driver
// itself, plus what the tests ask of a node view (its allocations, and
// the node's name on its bad-activity reports).
type mpNodeDriver struct {
	*multiprocess.Driver
	d           *mnDriver    // immutable
	name        string       // immutable
	allocations atomic.Int64 // successful AllocateSharedMemory calls
}

func (n *mpNodeDriver) AllocationCount() int64 { return n.allocations.Load() }

func (n *mpNodeDriver) AllocateSharedMemory(numBytes int) (ipcz.DriverHandle, error) {
	h, err := n.Driver.AllocateSharedMemory(numBytes)
	if err == nil {
		n.allocations.Add(1)
	}
	return h, err
}

func (n *mpNodeDriver) ReportBadTransportActivity(transport ipcz.DriverHandle, context uintptr) error {
	if err := n.Driver.ReportBadTransportActivity(transport, context); err != nil {
		return err
	}
	n.d.mu.Lock()
	n.d.reports = append(n.d.reports, mnReport{Node: n.name, Transport: transport, Context: context})
	n.d.mu.Unlock()
	return nil
}
