package mojo

import (
	"bytes"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/inprocess"
	"golang.org/x/sys/unix"
)

// testDriver is the in-process driver plus, for tests only, the optional
// interfaces the multiprocess driver implements for real: file
// descriptors (kept in a map), read-only shared memory and shared memory
// file descriptors (memfds mapped with mmap). Its own handles live above
// 1<<40, far from the in-process driver's.
type testDriver struct {
	*inprocess.Driver

	mu   sync.Mutex
	next ipcz.DriverHandle
	// fds are wrapped file descriptors; mems are memfd-backed regions;
	// maps are their mappings; readOnly marks read-only handles of either
	// kind of memory. Guarded by mu.
	fds      map[ipcz.DriverHandle]int
	mems     map[ipcz.DriverHandle]*memfdRegion
	maps     map[ipcz.DriverHandle][]byte
	readOnly map[ipcz.DriverHandle]bool
}

type memfdRegion struct {
	fd   int
	size int
}

var (
	_ ipcz.FileDescriptorDriver        = (*testDriver)(nil)
	_ ipcz.ReadOnlySharedMemoryDriver  = (*testDriver)(nil)
	_ SharedMemoryFileDescriptorDriver = (*testDriver)(nil)
)

const blobPrefix = "testdriver-fd:"

func newTestDriver(mode inprocess.Mode) *testDriver {
	return &testDriver{
		Driver:   inprocess.New(mode),
		next:     1 << 40,
		fds:      make(map[ipcz.DriverHandle]int),
		mems:     make(map[ipcz.DriverHandle]*memfdRegion),
		maps:     make(map[ipcz.DriverHandle][]byte),
		readOnly: make(map[ipcz.DriverHandle]bool),
	}
}

func (d *testDriver) newHandleLocked() ipcz.DriverHandle {
	d.next++
	return d.next
}

func (d *testDriver) Close(h ipcz.DriverHandle) error {
	d.mu.Lock()
	if fd, ok := d.fds[h]; ok {
		delete(d.fds, h)
		d.mu.Unlock()
		return unix.Close(fd)
	}
	if m, ok := d.mems[h]; ok {
		delete(d.mems, h)
		delete(d.readOnly, h)
		d.mu.Unlock()
		return unix.Close(m.fd)
	}
	if b, ok := d.maps[h]; ok {
		delete(d.maps, h)
		d.mu.Unlock()
		return unix.Munmap(b)
	}
	delete(d.readOnly, h)
	d.mu.Unlock()
	return d.Driver.Close(h)
}

func (d *testDriver) WrapFileDescriptor(fd int) (ipcz.DriverHandle, error) {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		return 0, ipcz.InvalidArgument
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.newHandleLocked()
	d.fds[h] = fd
	return h, nil
}

func (d *testDriver) UnwrapFileDescriptor(h ipcz.DriverHandle) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fd, ok := d.fds[h]
	if !ok {
		return -1, ipcz.InvalidArgument
	}
	delete(d.fds, h)
	return fd, nil
}

// Serialize sends a wrapped fd to another in-process node as a blob that
// names it (the fd itself stays in this process, as it would in a real
// SCM_RIGHTS transfer to the same process).
func (d *testDriver) Serialize(h, transport ipcz.DriverHandle, data []byte, handles []ipcz.DriverHandle) (int, int, error) {
	d.mu.Lock()
	fd, isFD := d.fds[h]
	_, isMem := d.mems[h]
	d.mu.Unlock()
	if isMem {
		return 0, 0, ipcz.InvalidArgument
	}
	if !isFD {
		return d.Driver.Serialize(h, transport, data, handles)
	}
	if len(data) < inprocess.SerializedNumBytes || len(handles) < inprocess.SerializedNumHandles {
		return inprocess.SerializedNumBytes, inprocess.SerializedNumHandles, ipcz.ResourceExhausted
	}
	blob := d.NewBlob([]byte(blobPrefix + strconv.Itoa(fd)))
	n, nh, err := d.Driver.Serialize(blob, transport, data, handles)
	if err != nil {
		_ = d.Driver.Close(blob)
		return n, nh, err
	}
	d.mu.Lock()
	delete(d.fds, h)
	d.mu.Unlock()
	return n, nh, nil
}

func (d *testDriver) Deserialize(data []byte, handles []ipcz.DriverHandle, transport ipcz.DriverHandle) (ipcz.DriverHandle, error) {
	h, err := d.Driver.Deserialize(data, handles, transport)
	if err != nil {
		return h, err
	}
	if b, err := d.BlobBytes(h); err == nil && bytes.HasPrefix(b, []byte(blobPrefix)) {
		fd, err := strconv.Atoi(string(b[len(blobPrefix):]))
		_ = d.Driver.Close(h)
		if err != nil {
			return 0, ipcz.InvalidArgument
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		nh := d.newHandleLocked()
		d.fds[nh] = fd
		return nh, nil
	}
	return h, nil
}

func (d *testDriver) DuplicateSharedMemoryReadOnly(mem ipcz.DriverHandle) (ipcz.DriverHandle, error) {
	d.mu.Lock()
	m, ok := d.mems[mem]
	d.mu.Unlock()
	if ok {
		fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(m.fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return 0, ipcz.FailedPrecondition
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		h := d.newHandleLocked()
		d.mems[h] = &memfdRegion{fd: fd, size: m.size}
		d.readOnly[h] = true
		return h, nil
	}
	h, err := d.Driver.DuplicateSharedMemory(mem)
	if err != nil {
		return 0, err
	}
	d.mu.Lock()
	d.readOnly[h] = true
	d.mu.Unlock()
	return h, nil
}

func (d *testDriver) IsSharedMemoryReadOnly(mem ipcz.DriverHandle) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.readOnly[mem], nil
}

func (d *testDriver) GetSharedMemoryInfo(mem ipcz.DriverHandle) (ipcz.SharedMemoryInfo, error) {
	d.mu.Lock()
	m, ok := d.mems[mem]
	d.mu.Unlock()
	if ok {
		return ipcz.SharedMemoryInfo{RegionNumBytes: m.size}, nil
	}
	return d.Driver.GetSharedMemoryInfo(mem)
}

func (d *testDriver) DuplicateSharedMemory(mem ipcz.DriverHandle) (ipcz.DriverHandle, error) {
	d.mu.Lock()
	m, ok := d.mems[mem]
	ro := d.readOnly[mem]
	d.mu.Unlock()
	if !ok {
		h, err := d.Driver.DuplicateSharedMemory(mem)
		if err == nil && ro {
			d.mu.Lock()
			d.readOnly[h] = true
			d.mu.Unlock()
		}
		return h, err
	}
	fd, err := unix.Dup(m.fd)
	if err != nil {
		return 0, ipcz.ResourceExhausted
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.newHandleLocked()
	d.mems[h] = &memfdRegion{fd: fd, size: m.size}
	if ro {
		d.readOnly[h] = true
	}
	return h, nil
}

func (d *testDriver) MapSharedMemory(mem ipcz.DriverHandle) (ipcz.DriverHandle, []byte, error) {
	d.mu.Lock()
	m, ok := d.mems[mem]
	ro := d.readOnly[mem]
	d.mu.Unlock()
	if !ok {
		return d.Driver.MapSharedMemory(mem)
	}
	prot := unix.PROT_READ
	if !ro {
		prot |= unix.PROT_WRITE
	}
	b, err := unix.Mmap(m.fd, 0, m.size, prot, unix.MAP_SHARED)
	if err != nil {
		return 0, nil, ipcz.ResourceExhausted
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.newHandleLocked()
	d.maps[h] = b
	return h, b, nil
}

func (d *testDriver) WrapSharedMemoryFileDescriptor(fd int, numBytes int, readOnly bool) (ipcz.DriverHandle, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Size < int64(numBytes) {
		return 0, ipcz.InvalidArgument
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.newHandleLocked()
	d.mems[h] = &memfdRegion{fd: fd, size: int(st.Size)}
	if readOnly {
		d.readOnly[h] = true
	}
	return h, nil
}

func (d *testDriver) UnwrapSharedMemoryFileDescriptor(mem ipcz.DriverHandle) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.mems[mem]
	if !ok {
		return -1, errors.New("testdriver: not a memfd region")
	}
	delete(d.mems, mem)
	delete(d.readOnly, mem)
	return m.fd, nil
}

// newMemfd returns a memfd of size bytes.
func newMemfd(t testing.TB, size int) int {
	t.Helper()
	fd, err := unix.MemfdCreate("mojo-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		t.Fatal(err)
	}
	return fd
}

// newCore returns a broker core on a fresh test driver in Sync mode.
func newCore(t testing.TB) *Core {
	t.Helper()
	c, err := NewCore(newTestDriver(inprocess.Sync), true)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newPlainCore returns a core on the bare in-process driver, which has
// none of the optional interfaces.
func newPlainCore(t testing.TB) *Core {
	t.Helper()
	c, err := NewCore(inprocess.New(inprocess.Sync), true)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// expect fails the test if got is not want.
func expect(t testing.TB, what string, got, want Result) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// ok fails the test unless r is OK.
func ok(t testing.TB, what string, r Result) {
	t.Helper()
	expect(t, what, r, ResultOK)
}

// pipe creates a message pipe.
func pipe(t testing.TB, c *Core) (Handle, Handle) {
	t.Helper()
	a, b, r := c.CreateMessagePipe(nil)
	ok(t, "CreateMessagePipe", r)
	return a, b
}

// state queries h's signals.
func state(t testing.TB, c *Core, h Handle) HandleSignalsState {
	t.Helper()
	s, r := c.QueryHandleSignalsState(h)
	ok(t, "QueryHandleSignalsState", r)
	if s.Satisfied&^s.Satisfiable != 0 {
		t.Fatalf("state %v: satisfied is not a subset of satisfiable", s)
	}
	return s
}

// expectState fails unless h's signals are exactly satisfied/satisfiable.
func expectState(t testing.TB, c *Core, h Handle, satisfied, satisfiable HandleSignals) {
	t.Helper()
	want := HandleSignalsState{Satisfied: satisfied, Satisfiable: satisfiable}
	if got := state(t, c, h); got != want {
		t.Fatalf("signals of %d = %v, want %v", h, got, want)
	}
}

// closeAll closes handles, requiring OK.
func closeAll(t testing.TB, c *Core, hs ...Handle) {
	t.Helper()
	for _, h := range hs {
		ok(t, "Close", c.Close(h))
	}
}

// notification is one watcher callback.
type notification struct {
	context uintptr
	result  Result
	state   HandleSignalsState
	flags   WatcherNotificationFlags
}

// recorder collects notifications.
type recorder struct {
	mu sync.Mutex
	ns []notification
}

func (r *recorder) callback(context uintptr, result Result, s HandleSignalsState, flags WatcherNotificationFlags) {
	r.mu.Lock()
	r.ns = append(r.ns, notification{context, result, s, flags})
	r.mu.Unlock()
}

func (r *recorder) take() []notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	ns := r.ns
	r.ns = nil
	return ns
}
