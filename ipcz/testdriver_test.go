package ipcz

import (
	"crypto/rand"
	"sync"
)

// testDriver is a Driver for single-node tests: it tracks which driver
// objects are open and records bad-activity reports. Node-to-node
// operations are not used by single-node tests and fail.
type testDriver struct {
	mu      sync.Mutex
	next    DriverHandle
	open    map[DriverHandle]bool
	reports []badActivityReport
}

type badActivityReport struct {
	transport DriverHandle
	context   uintptr
}

func newTestDriver() *testDriver { return &testDriver{open: map[DriverHandle]bool{}} }

// newObject makes a driver object for tests to box.
func (d *testDriver) newObject() DriverHandle {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.next++
	d.open[d.next] = true
	return d.next
}

func (d *testDriver) isOpen(h DriverHandle) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.open[h]
}

func (d *testDriver) numOpen() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.open)
}

func (d *testDriver) Close(h DriverHandle) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.open[h] {
		return InvalidArgument
	}
	delete(d.open, h)
	return nil
}

func (d *testDriver) Serialize(h, transport DriverHandle, data []byte, handles []DriverHandle) (int, int, error) {
	return 0, 0, InvalidArgument
}

func (d *testDriver) Deserialize(data []byte, handles []DriverHandle, transport DriverHandle) (DriverHandle, error) {
	return InvalidDriverHandle, InvalidArgument
}

func (d *testDriver) CreateTransports(t0, t1 DriverHandle) (DriverHandle, DriverHandle, error) {
	return InvalidDriverHandle, InvalidDriverHandle, InvalidArgument
}

func (d *testDriver) ActivateTransport(t DriverHandle, h ActivityHandler) error {
	return InvalidArgument
}
func (d *testDriver) DeactivateTransport(t DriverHandle) error { return InvalidArgument }
func (d *testDriver) Transmit(t DriverHandle, data []byte, handles []DriverHandle) error {
	return InvalidArgument
}

func (d *testDriver) ReportBadTransportActivity(t DriverHandle, context uintptr) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reports = append(d.reports, badActivityReport{t, context})
	return nil
}

func (d *testDriver) AllocateSharedMemory(n int) (DriverHandle, error) {
	return InvalidDriverHandle, ResourceExhausted
}

func (d *testDriver) GetSharedMemoryInfo(m DriverHandle) (SharedMemoryInfo, error) {
	return SharedMemoryInfo{}, InvalidArgument
}

func (d *testDriver) DuplicateSharedMemory(m DriverHandle) (DriverHandle, error) {
	return InvalidDriverHandle, InvalidArgument
}

func (d *testDriver) MapSharedMemory(m DriverHandle) (DriverHandle, []byte, error) {
	return InvalidDriverHandle, nil, InvalidArgument
}

func (d *testDriver) GenerateRandomBytes(b []byte) error {
	_, err := rand.Read(b)
	return err
}
