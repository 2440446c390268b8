package inprocess

import (
	"sync/atomic"

	"github.com/ipcz-go/ipcz-go/ipcz"
)

// NodeDriver is one node's view of a Driver: an ipcz.Driver that shares the
// Driver's handle table and transports, and records which node made the
// calls that tests care about (shared memory allocation, bad-activity
// reports). Give each node of a test its own view when the test needs to
// know which node did what; otherwise give them all the *Driver.
type NodeDriver struct {
	d           *Driver      // immutable
	name        string       // immutable
	allocations atomic.Int64 // successful AllocateSharedMemory calls; atomic
}

var _ ipcz.Driver = (*NodeDriver)(nil)

// ForNode returns a new view of d for the node called name. Each call
// returns a distinct view with its own counters.
func (d *Driver) ForNode(name string) *NodeDriver {
	return &NodeDriver{d: d, name: name}
}

// Driver returns the shared Driver.
func (n *NodeDriver) Driver() *Driver { return n.d }

// Name returns the name given to ForNode.
func (n *NodeDriver) Name() string { return n.name }

// AllocationCount returns the number of successful AllocateSharedMemory
// calls made through this view.
func (n *NodeDriver) AllocationCount() int64 { return n.allocations.Load() }

// Close is Driver.Close.
func (n *NodeDriver) Close(handle ipcz.DriverHandle) error { return n.d.Close(handle) }

// Serialize is Driver.Serialize.
func (n *NodeDriver) Serialize(handle, transport ipcz.DriverHandle, data []byte, handles []ipcz.DriverHandle) (int, int, error) {
	return n.d.Serialize(handle, transport, data, handles)
}

// Deserialize is Driver.Deserialize.
func (n *NodeDriver) Deserialize(data []byte, handles []ipcz.DriverHandle, transport ipcz.DriverHandle) (ipcz.DriverHandle, error) {
	return n.d.Deserialize(data, handles, transport)
}

// CreateTransports is Driver.CreateTransports.
func (n *NodeDriver) CreateTransports(transport0, transport1 ipcz.DriverHandle) (ipcz.DriverHandle, ipcz.DriverHandle, error) {
	return n.d.CreateTransports(transport0, transport1)
}

// ActivateTransport is Driver.ActivateTransport.
func (n *NodeDriver) ActivateTransport(transport ipcz.DriverHandle, handler ipcz.ActivityHandler) error {
	return n.d.ActivateTransport(transport, handler)
}

// DeactivateTransport is Driver.DeactivateTransport.
func (n *NodeDriver) DeactivateTransport(transport ipcz.DriverHandle) error {
	return n.d.DeactivateTransport(transport)
}

// Transmit is Driver.Transmit.
func (n *NodeDriver) Transmit(transport ipcz.DriverHandle, data []byte, handles []ipcz.DriverHandle) error {
	return n.d.Transmit(transport, data, handles)
}

// ReportBadTransportActivity is Driver.ReportBadTransportActivity; the
// report names this view's node.
func (n *NodeDriver) ReportBadTransportActivity(transport ipcz.DriverHandle, context uintptr) error {
	return n.d.reportBad(n.name, transport, context)
}

// AllocateSharedMemory is Driver.AllocateSharedMemory, counted for this
// view as well as for the Driver.
func (n *NodeDriver) AllocateSharedMemory(numBytes int) (ipcz.DriverHandle, error) {
	h, err := n.d.AllocateSharedMemory(numBytes)
	if err == nil {
		n.allocations.Add(1)
	}
	return h, err
}

// GetSharedMemoryInfo is Driver.GetSharedMemoryInfo.
func (n *NodeDriver) GetSharedMemoryInfo(mem ipcz.DriverHandle) (ipcz.SharedMemoryInfo, error) {
	return n.d.GetSharedMemoryInfo(mem)
}

// DuplicateSharedMemory is Driver.DuplicateSharedMemory.
func (n *NodeDriver) DuplicateSharedMemory(mem ipcz.DriverHandle) (ipcz.DriverHandle, error) {
	return n.d.DuplicateSharedMemory(mem)
}

// MapSharedMemory is Driver.MapSharedMemory.
func (n *NodeDriver) MapSharedMemory(mem ipcz.DriverHandle) (ipcz.DriverHandle, []byte, error) {
	return n.d.MapSharedMemory(mem)
}

// GenerateRandomBytes is Driver.GenerateRandomBytes.
func (n *NodeDriver) GenerateRandomBytes(buffer []byte) error {
	return n.d.GenerateRandomBytes(buffer)
}
