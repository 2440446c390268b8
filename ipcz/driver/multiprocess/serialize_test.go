package multiprocess

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/ipcz-go/ipcz-go/internal/leakcheck"
	"github.com/ipcz-go/ipcz-go/internal/shm"
	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestSerializeTwoPass(t *testing.T) {
	k := newKit(t)
	d := k.d
	for _, h := range []ipcz.DriverHandle{k.idle, k.mem, k.fd} {
		// Sizing passes write nothing and keep the object.
		for _, caps := range [][2]int{{0, 0}, {SerializedNumBytes - 1, 1}, {SerializedNumBytes, 0}} {
			data := make([]byte, caps[0])
			handles := make([]ipcz.DriverHandle, caps[1])
			n, m, err := d.Serialize(h, k.active, data, handles)
			require.Equal(t, ipcz.ResourceExhausted, err)
			require.Equal(t, SerializedNumBytes, n)
			require.Equal(t, SerializedNumHandles, m)
			require.Equal(t, make([]byte, caps[0]), data)
			require.NotNil(t, d.mu.Lookup(h))
		}
		data := make([]byte, 16)
		handles := make([]ipcz.DriverHandle, 2)
		n, m, err := d.Serialize(h, 0, data, handles) // no transport: never Aborted
		require.NoError(t, err)
		require.Equal(t, SerializedNumBytes, n)
		require.Equal(t, SerializedNumHandles, m)
		require.Nil(t, d.mu.Lookup(h), "the driver owns the object now")
		require.IsType(t, &transmissible{}, d.mu.Lookup(handles[0]))
		require.Zero(t, handles[1])
		require.Equal(t, make([]byte, 8), data[8:])
		require.NoError(t, d.Close(handles[0]))
	}
}

func TestSerializeErrors(t *testing.T) {
	k := newKit(t)
	d := k.d
	buf := make([]byte, SerializedNumBytes)
	hs := make([]ipcz.DriverHandle, SerializedNumHandles)
	for _, h := range []ipcz.DriverHandle{0, 999, k.active, k.mapping, k.trans} {
		_, _, err := d.Serialize(h, k.active, buf, hs)
		require.Equal(t, ipcz.InvalidArgument, err, "handle %d", h)
		_, _, err = d.Serialize(h, k.active, nil, nil)
		require.Equal(t, ipcz.InvalidArgument, err, "handle %d", h)
	}
	for _, over := range []ipcz.DriverHandle{999, k.mem, k.mapping, k.fd, k.trans} {
		_, _, err := d.Serialize(k.mem, over, buf, hs)
		require.Equal(t, ipcz.InvalidArgument, err, "transport %d", over)
	}
	require.NotNil(t, d.mu.Lookup(k.mem))
}

func TestSerializeRoundTrip(t *testing.T) {
	d := newDriver(t)
	a, b, ra, rb := newPair(t, d)

	// Memory, writable and read-only, keeps its size, access and contents.
	mem, err := d.AllocateSharedMemory(5000)
	require.NoError(t, err)
	mp, bytes, err := d.MapSharedMemory(mem)
	require.NoError(t, err)
	defer d.Close(mp)
	bytes[4999] = 42
	ro, err := d.DuplicateSharedMemoryReadOnly(mem)
	require.NoError(t, err)
	for _, h := range []ipcz.DriverHandle{mem, ro} {
		data, th := serializeFor(t, d, h, a)
		require.NoError(t, d.Transmit(a, data, []ipcz.DriverHandle{th}))
	}
	for _, wantRO := range []bool{false, true} {
		ev := rb.nextMessage(t)
		h, err := d.Deserialize(ev.data, ev.handles, b)
		require.NoError(t, err)
		info, err := d.GetSharedMemoryInfo(h)
		require.NoError(t, err)
		require.Equal(t, 5000, info.RegionNumBytes)
		isRO, err := d.IsSharedMemoryReadOnly(h)
		require.NoError(t, err)
		require.Equal(t, wantRO, isRO)
		m, got, err := d.MapSharedMemory(h)
		require.NoError(t, err)
		require.Equal(t, byte(42), got[4999])
		require.NoError(t, d.Close(m))
		require.NoError(t, d.Close(h))
		require.Nil(t, d.mu.Lookup(ev.handles[0]), "consumed")
	}

	// A transport travels, and the transport it came over keeps working.
	t1, t2, err := d.NewTransportPair()
	require.NoError(t, err)
	data, th := serializeFor(t, d, t1, b)
	require.NoError(t, d.Transmit(b, data, []ipcz.DriverHandle{th}))
	ev := ra.nextMessage(t)
	moved, err := d.Deserialize(ev.data, ev.handles, a)
	require.NoError(t, err)
	r1 := activate(t, d, moved)
	activate(t, d, t2)
	require.NoError(t, d.Transmit(t2, []byte("via a moved transport"), nil))
	require.Equal(t, "via a moved transport", string(r1.nextMessage(t).data))
}

// memfdFD returns a new memfd of size bytes with the given seals.
func memfdFD(t testing.TB, size int, seals int) int {
	fd, err := unix.MemfdCreate("test", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	require.NoError(t, err)
	require.NoError(t, unix.Ftruncate(fd, int64(size)))
	if seals != 0 {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals)
		require.NoError(t, err)
	}
	return fd
}

// header returns serialized data of wire kind wk with extra.
func header(wk, extra uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, wk)
	return binary.LittleEndian.AppendUint32(b, extra)
}

func TestDeserializeRejectsMalformedInput(t *testing.T) {
	k := newKit(t)
	d := k.d
	pipeFD := func() int {
		r, w, err := os.Pipe()
		require.NoError(t, err)
		defer r.Close()
		defer w.Close()
		fd, err := dupCloexec(int(r.Fd()))
		require.NoError(t, err)
		return fd
	}
	sealed := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW
	roMemfd := func() int {
		r, err := shm.Create("ro", 4096)
		require.NoError(t, err)
		defer r.Close()
		ro, err := r.DupReadOnly()
		require.NoError(t, err)
		fd, err := dupCloexec(ro.FD())
		require.NoError(t, err)
		ro.Close()
		return fd
	}
	cases := []struct {
		name string
		data []byte
		fd   func() int
	}{
		{"short data", header(wireFD, 0)[:7], pipeFD},
		{"long data", append(header(wireFD, 0), 0), pipeFD},
		{"unknown kind", header(9, 0), pipeFD},
		{"zero kind", header(0, 0), pipeFD},
		{"fd with extra", header(wireFD, 1), pipeFD},
		{"transport with extra", header(wireTransport, 1), func() int { a, b, _ := socketPair(); closeFD(b); return a }},
		{"transport not a socket", header(wireTransport, 0), pipeFD},
		{"transport datagram socket", header(wireTransport, 0), func() int {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			require.NoError(t, err)
			closeFD(fds[1])
			return fds[0]
		}},
		{"memory not a memfd", header(wireMemory, 4096), pipeFD},
		{"memory unsealed", header(wireMemory, 4096), func() int { return memfdFD(t, 4096, 0) }},
		{"memory shrinkable", header(wireMemory, 4096), func() int { return memfdFD(t, 4096, unix.F_SEAL_GROW) }},
		{"memory size mismatch", header(wireMemory, 4095), func() int { return memfdFD(t, 4096, sealed) }},
		{"memory size zero", header(wireMemory, 0), func() int { return memfdFD(t, 4096, sealed) }},
		{"memory too large", header(wireMemory, MaxSharedMemoryBytes+1), func() int { return memfdFD(t, 4096, sealed) }},
		{"memory claims writable", header(wireMemory, 4096), roMemfd},
		{"memory claims read-only", header(wireMemoryReadOnly, 4096), func() int { return memfdFD(t, 4096, sealed) }},
	}
	for _, c := range cases {
		th := d.mu.Insert(&transmissible{fd: c.fd()})
		_, err := d.Deserialize(c.data, []ipcz.DriverHandle{th}, k.active)
		require.Equal(t, ipcz.InvalidArgument, err, c.name)
		require.IsType(t, &transmissible{}, d.mu.Lookup(th), "%s: consumed on error", c.name)
		require.NoError(t, d.Close(th))
	}

	// Bad handles and transports.
	good := header(wireFD, 0)
	for _, hs := range [][]ipcz.DriverHandle{nil, {k.trans, k.trans}, {0}, {999}, {k.fd}, {k.mem}, {k.idle}} {
		_, err := d.Deserialize(good, hs, k.active)
		require.Equal(t, ipcz.InvalidArgument, err)
	}
	for _, over := range []ipcz.DriverHandle{0, 999, k.mem, k.fd, k.trans} {
		_, err := d.Deserialize(good, []ipcz.DriverHandle{k.trans}, over)
		require.Equal(t, ipcz.InvalidArgument, err)
	}
	// A valid one works (and is consumed) exactly once.
	h, err := d.Deserialize(good, []ipcz.DriverHandle{k.trans}, k.active)
	require.NoError(t, err)
	_, err = d.Deserialize(good, []ipcz.DriverHandle{k.trans}, k.active)
	require.Equal(t, ipcz.InvalidArgument, err)
	require.NoError(t, d.Close(h))
	// Sealed memfds of the right size and access are accepted.
	for _, c := range []struct {
		data []byte
		fd   int
	}{
		{header(wireMemory, 4096), memfdFD(t, 4096, sealed)},
		{header(wireMemoryReadOnly, 4096), roMemfd()},
	} {
		th := d.mu.Insert(&transmissible{fd: c.fd})
		h, err := d.Deserialize(c.data, []ipcz.DriverHandle{th}, k.active)
		require.NoError(t, err)
		require.NoError(t, d.Close(h))
	}
}

// FuzzDeserialize feeds arbitrary serialized data with a descriptor of
// each kind. Nothing may panic, and every descriptor must end up either
// adopted (then closed through the object) or left in the transmissible
// object (closed through it): the descriptor count must not change.
func FuzzDeserialize(f *testing.F) {
	f.Add(header(wireTransport, 0), uint8(0), uint16(0))
	f.Add(header(wireMemory, 4096), uint8(1), uint16(4096))
	f.Add(header(wireMemoryReadOnly, 4096), uint8(2), uint16(4096))
	f.Add(header(wireFD, 0), uint8(3), uint16(0))
	f.Add(header(wireMemory, 100), uint8(4), uint16(100))
	f.Add([]byte{1, 2, 3}, uint8(5), uint16(1))
	d := New()
	transport, peer, err := d.NewTransportPair()
	require.NoError(f, err)
	defer d.Close(transport)
	defer d.Close(peer)
	before := len(leakcheck.OpenFDs())
	f.Fuzz(func(t *testing.T, data []byte, fdKind uint8, size uint16) {
		var fd int
		switch fdKind % 6 {
		case 0:
			a, b, err := socketPair()
			require.NoError(t, err)
			closeFD(b)
			fd = a
		case 1:
			fd = memfdFD(t, int(size)+1, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW)
		case 2:
			r, err := shm.Create("ro", int(size)+1)
			require.NoError(t, err)
			ro, err := r.DupReadOnly()
			require.NoError(t, err)
			r.Close()
			fd, err = dupCloexec(ro.FD())
			require.NoError(t, err)
			ro.Close()
		case 3:
			fds := make([]int, 2)
			require.NoError(t, unix.Pipe2(fds, unix.O_CLOEXEC))
			closeFD(fds[1])
			fd = fds[0]
		case 4:
			fd = memfdFD(t, int(size)+1, 0)
		case 5:
			fd = memfdFD(t, int(size)+1, unix.F_SEAL_SHRINK)
		}
		th := d.mu.Insert(&transmissible{fd: fd})
		h, err := d.Deserialize(data, []ipcz.DriverHandle{th}, transport)
		if err == nil {
			require.Nil(t, d.mu.Lookup(th))
			require.NoError(t, d.Close(h))
		} else {
			require.NoError(t, d.Close(th))
		}
		require.Equal(t, before, len(leakcheck.OpenFDs()))
		require.Equal(t, 2, d.LiveObjects().Total())
	})
}
