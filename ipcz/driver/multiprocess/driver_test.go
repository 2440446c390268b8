package multiprocess

import (
	"os"
	"testing"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// handles of each kind, for argument checks.
type kit struct {
	d                          *Driver
	idle, active, mem, mapping ipcz.DriverHandle
	fd, trans                  ipcz.DriverHandle
}

func newKit(t *testing.T) *kit {
	d := newDriver(t)
	k := &kit{d: d}
	var err error
	var peer, peer2 ipcz.DriverHandle
	k.idle, peer, err = d.NewTransportPair()
	require.NoError(t, err)
	k.active, peer2, err = d.NewTransportPair()
	require.NoError(t, err)
	activate(t, d, k.active)
	k.mem, err = d.AllocateSharedMemory(4096)
	require.NoError(t, err)
	k.mapping, _, err = d.MapSharedMemory(k.mem)
	require.NoError(t, err)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	r.Close()
	fd, err := dupCloexec(int(w.Fd()))
	require.NoError(t, err)
	w.Close()
	k.fd, err = d.WrapFileDescriptor(fd)
	require.NoError(t, err)
	dupFD, err := dupCloexec(fd)
	require.NoError(t, err)
	k.trans = d.mu.Insert(&transmissible{fd: dupFD})
	t.Cleanup(func() {
		for _, h := range []ipcz.DriverHandle{k.idle, peer, peer2, k.mem, k.mapping, k.fd, k.trans} {
			_ = d.Close(h)
		}
	})
	return k
}

func (k *kit) all() []ipcz.DriverHandle {
	return []ipcz.DriverHandle{k.idle, k.active, k.mem, k.mapping, k.fd, k.trans}
}

func TestCloseErrors(t *testing.T) {
	d := newDriver(t)
	require.Equal(t, ipcz.InvalidArgument, d.Close(0))
	require.Equal(t, ipcz.InvalidArgument, d.Close(12345))
	h, err := d.AllocateSharedMemory(1)
	require.NoError(t, err)
	require.NoError(t, d.Close(h))
	require.Equal(t, ipcz.InvalidArgument, d.Close(h))
}

func TestTransportArgumentErrors(t *testing.T) {
	k := newKit(t)
	d := k.d
	nop := func([]byte, []ipcz.DriverHandle, ipcz.TransportActivityFlags) error { return nil }
	for _, h := range []ipcz.DriverHandle{0, 999, k.mem, k.mapping, k.fd, k.trans} {
		require.Equal(t, ipcz.InvalidArgument, d.ActivateTransport(h, nop), "handle %d", h)
		require.Equal(t, ipcz.InvalidArgument, d.DeactivateTransport(h))
		require.Equal(t, ipcz.InvalidArgument, d.Transmit(h, nil, nil))
		require.Equal(t, ipcz.InvalidArgument, d.ReportBadTransportActivity(h, 0))
		_, _, err := d.CreateTransports(h, k.idle)
		require.Equal(t, ipcz.InvalidArgument, err)
		_, _, err = d.CreateTransports(k.idle, h)
		require.Equal(t, ipcz.InvalidArgument, err)
	}
	require.Equal(t, ipcz.InvalidArgument, d.ActivateTransport(k.idle, nil))
	require.Equal(t, ipcz.FailedPrecondition, d.ActivateTransport(k.active, nop))
	require.Equal(t, ipcz.FailedPrecondition, d.DeactivateTransport(k.idle))
	require.Equal(t, ipcz.FailedPrecondition, d.Transmit(k.idle, []byte("x"), nil))

	// Transmit's handles must be distinct transmissible objects; on error
	// they stay valid.
	for _, h := range []ipcz.DriverHandle{0, 999, k.idle, k.mem, k.mapping, k.fd} {
		require.Equal(t, ipcz.InvalidArgument, d.Transmit(k.active, nil, []ipcz.DriverHandle{k.trans, h}))
		require.IsType(t, &transmissible{}, d.mu.Lookup(k.trans))
	}
	require.Equal(t, ipcz.InvalidArgument, d.Transmit(k.active, nil, []ipcz.DriverHandle{k.trans, k.trans}))
	require.IsType(t, &transmissible{}, d.mu.Lookup(k.trans))
	require.Equal(t, ipcz.ResourceExhausted, d.Transmit(k.active, make([]byte, MaxMessageBytes+1), nil))
	require.Equal(t, ipcz.ResourceExhausted, d.Transmit(k.active, nil, make([]ipcz.DriverHandle, MaxMessageHandles+1)))
	// More than 64 descriptors per byte of the frame cannot be carried.
	many := make([]ipcz.DriverHandle, fdsPerSendmsg*frameHeaderSize+1)
	for i := range many {
		many[i] = k.trans
	}
	require.Equal(t, ipcz.InvalidArgument, d.Transmit(k.active, nil, many))

	// CreateTransports makes idle, serializable transports.
	a, b, err := d.CreateTransports(k.idle, k.active)
	require.NoError(t, err)
	require.Equal(t, ipcz.FailedPrecondition, d.DeactivateTransport(a))
	_, th := serializeFor(t, d, a, k.active)
	require.NoError(t, d.Close(th))
	require.NoError(t, d.Close(b))

	// Deactivation, then Transmit fails; a closed transport is gone.
	require.NoError(t, d.DeactivateTransport(k.active))
	require.NoError(t, d.DeactivateTransport(k.active))
	require.Equal(t, ipcz.FailedPrecondition, d.Transmit(k.active, nil, nil))
	require.Equal(t, ipcz.FailedPrecondition, d.ActivateTransport(k.active, nop))
}

func TestReportBadTransportActivity(t *testing.T) {
	d := newDriver(t)
	a, b, err := d.NewTransportPair()
	require.NoError(t, err)
	defer d.Close(a)
	defer d.Close(b)
	var hooked []BadActivityReport
	d.SetBadActivityHook(func(r BadActivityReport) { hooked = append(hooked, r) })
	require.NoError(t, d.ReportBadTransportActivity(a, 7))
	d.SetBadActivityHook(nil)
	require.NoError(t, d.ReportBadTransportActivity(b, 8))
	want := []BadActivityReport{{Transport: a, Context: 7}, {Transport: b, Context: 8}}
	require.Equal(t, want, d.BadActivityReports())
	require.Equal(t, want[:1], hooked)
}

func TestMemoryArgumentErrors(t *testing.T) {
	k := newKit(t)
	d := k.d
	for _, n := range []int{0, -1} {
		_, err := d.AllocateSharedMemory(n)
		require.Equal(t, ipcz.InvalidArgument, err)
	}
	_, err := d.AllocateSharedMemory(MaxSharedMemoryBytes + 1)
	require.Equal(t, ipcz.ResourceExhausted, err)
	for _, h := range []ipcz.DriverHandle{0, 999, k.idle, k.active, k.mapping, k.fd, k.trans} {
		_, err := d.GetSharedMemoryInfo(h)
		require.Equal(t, ipcz.InvalidArgument, err)
		_, err = d.DuplicateSharedMemory(h)
		require.Equal(t, ipcz.InvalidArgument, err)
		_, err = d.DuplicateSharedMemoryReadOnly(h)
		require.Equal(t, ipcz.InvalidArgument, err)
		_, err = d.IsSharedMemoryReadOnly(h)
		require.Equal(t, ipcz.InvalidArgument, err)
		_, _, err = d.MapSharedMemory(h)
		require.Equal(t, ipcz.InvalidArgument, err)
	}
}

func TestSharedMemory(t *testing.T) {
	d := newDriver(t)
	mem, err := d.AllocateSharedMemory(10000)
	require.NoError(t, err)
	info, err := d.GetSharedMemoryInfo(mem)
	require.NoError(t, err)
	require.Equal(t, 10000, info.RegionNumBytes)
	ro, err := d.IsSharedMemoryReadOnly(mem)
	require.NoError(t, err)
	require.False(t, ro)

	m1, b1, err := d.MapSharedMemory(mem)
	require.NoError(t, err)
	require.Len(t, b1, 10000)
	require.Equal(t, make([]byte, 10000), b1) // zeroed
	dup, err := d.DuplicateSharedMemory(mem)
	require.NoError(t, err)
	rodup, err := d.DuplicateSharedMemoryReadOnly(dup)
	require.NoError(t, err)
	ro, err = d.IsSharedMemoryReadOnly(rodup)
	require.NoError(t, err)
	require.True(t, ro)
	rorodup, err := d.DuplicateSharedMemoryReadOnly(rodup)
	require.NoError(t, err)

	// Mappings outlive every memory handle.
	require.NoError(t, d.Close(mem))
	m2, b2, err := d.MapSharedMemory(dup)
	require.NoError(t, err)
	m3, b3, err := d.MapSharedMemory(rorodup)
	require.NoError(t, err)
	require.NoError(t, d.Close(dup))
	require.NoError(t, d.Close(rodup))
	require.NoError(t, d.Close(rorodup))
	b1[0], b1[9999] = 1, 2
	b2[1] = 3
	require.Equal(t, []byte{1, 3}, b2[:2])
	require.Equal(t, []byte{1, 3}, b3[:2])
	require.Equal(t, byte(2), b3[9999])
	require.Equal(t, byte(3), b1[1])
	require.NoError(t, d.Close(m1))
	require.NoError(t, d.Close(m2))
	require.NoError(t, d.Close(m3))
}

func TestWrapUnwrapFileDescriptor(t *testing.T) {
	k := newKit(t)
	d := k.d
	_, err := d.WrapFileDescriptor(-1)
	require.Equal(t, ipcz.InvalidArgument, err)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	fd, err := dupCloexec(int(w.Fd()))
	require.NoError(t, err)
	r.Close()
	w.Close()
	require.NoError(t, unix.Close(fd))
	_, err = d.WrapFileDescriptor(fd) // closed
	require.Equal(t, ipcz.InvalidArgument, err)

	for _, h := range []ipcz.DriverHandle{0, 999, k.idle, k.active, k.mem, k.mapping, k.trans} {
		_, err := d.UnwrapFileDescriptor(h)
		require.Equal(t, ipcz.InvalidArgument, err)
	}
	fd, err = d.UnwrapFileDescriptor(k.fd)
	require.NoError(t, err)
	require.True(t, fdIsOpen(fd))
	_, err = d.UnwrapFileDescriptor(k.fd)
	require.Equal(t, ipcz.InvalidArgument, err)
	h, err := d.WrapFileDescriptor(fd)
	require.NoError(t, err)
	require.NoError(t, d.Close(h)) // closes fd
	require.False(t, fdIsOpen(fd))
}

func TestGenerateRandomBytes(t *testing.T) {
	d := New()
	b := make([]byte, 64)
	require.NoError(t, d.GenerateRandomBytes(b))
	require.NotEqual(t, make([]byte, 64), b)
	require.NoError(t, d.GenerateRandomBytes(nil))
}
