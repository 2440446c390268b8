package multiprocess

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// outRing returns the producer side of h's ring, waiting for activation
// to have made it.
func outRing(t testing.TB, d *Driver, h ipcz.DriverHandle) *producer {
	t.Helper()
	tr := d.lookupTransport(h)
	tr.w.Lock()
	defer tr.w.Unlock()
	require.NotNil(t, tr.w.ring, "no ring")
	return tr.w.ring
}

// consuming reports whether h's reader consumes the peer's ring.
func consuming(d *Driver, h ipcz.DriverHandle) bool {
	tr := d.lookupTransport(h)
	tr.in.Lock()
	defer tr.in.Unlock()
	return tr.in.ring != nil
}

func TestRingCarriesMessagesWithoutDescriptors(t *testing.T) {
	d := newDriver(t, FastPath(true))
	a, b, ra, rb := newPair(t, d)
	require.True(t, d.FastPathEnabled())
	require.NoError(t, d.Transmit(a, []byte("through the ring"), nil))
	require.Equal(t, "through the ring", string(rb.nextMessage(t).data))
	require.NoError(t, d.Transmit(b, []byte("back"), nil))
	require.Equal(t, "back", string(ra.nextMessage(t).data))
	require.True(t, consuming(d, a) && consuming(d, b))
	p := outRing(t, d, a)
	require.NotZero(t, atomic.LoadUint64(p.r.w.tail), "the message did not use the ring")
	require.Zero(t, atomic.LoadUint64(p.r.w.sockSeq), "a message went on the socket")
}

// TestRingAndSocketKeepOrder sends a random mix of messages through a
// small ring: small ones without descriptors (the ring), large ones (the
// socket) and ones with descriptors (the socket), from two directions at
// once. Every message arrives once, in order, intact.
func TestRingAndSocketKeepOrder(t *testing.T) {
	d := newDriver(t, RingCapacity(minRingCapacity))
	a, b, ra, rb := newPair(t, d)
	const n = 3000
	kinds := func(seed uint64) []int {
		r := rand.New(rand.NewPCG(seed, 3))
		k := make([]int, n)
		for i := range k {
			k[i] = r.IntN(10)
		}
		return k
	}
	size := func(kind, i int) int {
		switch {
		case kind == 0:
			return maxRecordData(minRingCapacity) + 1 + i%5000 // too large for the ring
		case kind == 1:
			return 20 // with a descriptor
		default:
			return 8 + i%600
		}
	}
	send := func(h ipcz.DriverHandle, seed uint64) {
		for i, kind := range kinds(seed) {
			msg := pattern(size(kind, i), seed*n+uint64(i))
			binary.LittleEndian.PutUint64(msg, uint64(i))
			var hs []ipcz.DriverHandle
			if kind == 1 {
				var kept []*os.File
				hs, kept = transmissibleFDs(t, d, 1)
				kept[0].Close()
			}
			if err := d.Transmit(h, msg, hs); err != nil {
				t.Error(err)
				return
			}
		}
	}
	go send(a, 1)
	go send(b, 2)
	check := func(r *recorder, seed uint64) {
		for i, kind := range kinds(seed) {
			ev := r.nextMessage(t)
			want := pattern(size(kind, i), seed*n+uint64(i))
			binary.LittleEndian.PutUint64(want, uint64(i))
			require.True(t, bytes.Equal(want, ev.data), "message %d (kind %d)", i, kind)
			if kind == 1 {
				require.Len(t, ev.handles, 1)
			} else {
				require.Empty(t, ev.handles)
			}
			d.closeHandles(ev.handles)
		}
	}
	check(rb, 1)
	check(ra, 2)
	pa := outRing(t, d, a)
	require.NotZero(t, atomic.LoadUint64(pa.r.w.tail))
	require.NotZero(t, atomic.LoadUint64(pa.r.w.sockSeq))
}

// TestRingFullSpillsToSocket stalls the receiver so that the ring fills;
// the rest goes on the socket and everything arrives in order.
func TestRingFullSpillsToSocket(t *testing.T) {
	d := newDriver(t, RingCapacity(minRingCapacity))
	a, b, err := d.NewTransportPair()
	require.NoError(t, err)
	activate(t, d, a)
	release := make(chan struct{})
	r := newRecorder()
	first := true
	require.NoError(t, d.ActivateTransport(b, func(data []byte, hs []ipcz.DriverHandle, flags ipcz.TransportActivityFlags) error {
		if first && flags == 0 {
			first = false
			<-release
		}
		return r.handler(data, hs, flags)
	}))
	t.Cleanup(func() { r.finish(t, d, b) })
	const n = 2000
	for i := range n {
		require.NoError(t, d.Transmit(a, binary.LittleEndian.AppendUint64(nil, uint64(i)), nil))
	}
	p := outRing(t, d, a)
	require.NotZero(t, atomic.LoadUint64(p.r.w.sockSeq), "nothing spilled")
	close(release)
	for i := range n {
		require.Equal(t, uint64(i), binary.LittleEndian.Uint64(r.nextMessage(t).data))
	}
}

// TestMixedFastPathSettings connects a driver that offers rings with one
// that does not: each direction uses what its sender offers.
func TestMixedFastPathSettings(t *testing.T) {
	dRing := newDriver(t, FastPath(true))
	dSock := newDriver(t, FastPath(false))
	x, y, err := NewSocketPair()
	require.NoError(t, err)
	hr, err := dRing.NewTransportFromFile(x)
	require.NoError(t, err)
	hs, err := dSock.NewTransportFromFile(y)
	require.NoError(t, err)
	rr := activate(t, dRing, hr)
	rs := activate(t, dSock, hs)
	for i := range 100 {
		require.NoError(t, dRing.Transmit(hr, []byte(fmt.Sprint("r", i)), nil))
		require.NoError(t, dSock.Transmit(hs, []byte(fmt.Sprint("s", i)), nil))
	}
	for i := range 100 {
		require.Equal(t, fmt.Sprint("r", i), string(rs.nextMessage(t).data))
		require.Equal(t, fmt.Sprint("s", i), string(rr.nextMessage(t).data))
	}
	require.True(t, consuming(dSock, hs))
	require.False(t, consuming(dRing, hr))
}

// TestDeactivationWakesSleepingReader: a reader asleep on the doorbell
// notices deactivation at once, and a peer that cleared the waiting flag
// cannot stop that.
func TestDeactivationWakesSleepingReader(t *testing.T) {
	d := newDriver(t, FastPath(true), Spin(0))
	a, b, err := d.NewTransportPair()
	require.NoError(t, err)
	ra := activate(t, d, a)
	rb := newRecorder()
	require.NoError(t, d.ActivateTransport(b, rb.handler))
	require.NoError(t, d.Transmit(a, []byte("x"), nil))
	rb.nextMessage(t)
	// b's reader sleeps on a's ring; the "peer" (a's producer) keeps
	// clearing the waiting flag.
	p := outRing(t, d, a)
	require.True(t, waitUntil(10*time.Second, func() bool { return atomic.LoadUint32(p.r.w.waiting) != 0 }))
	atomic.StoreUint32(p.r.w.waiting, 0)
	start := time.Now()
	require.NoError(t, d.DeactivateTransport(b))
	select {
	case <-rb.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the sleeping reader was not woken")
	}
	require.Less(t, time.Since(start), 5*time.Second)
	require.NoError(t, d.Close(b))
	_ = ra
}

// TestRingCorruptionCutsOffOnlyThatTransport scribbles on a ring as a
// hostile peer would (the test owns both ends, so it writes through the
// sender's mapping): the receiving end reports one error, and another
// transport of the same driver is unaffected.
func TestRingCorruptionCutsOffOnlyThatTransport(t *testing.T) {
	cases := []struct {
		name string
		// scribble corrupts a's ring after one honest message; sender
		// says which end then reports the error (b, the consumer, unless
		// the producer's own view is what was corrupted).
		scribble func(t *testing.T, d *Driver, a ipcz.DriverHandle, p *producer)
		producer bool
	}{
		{"tail past the records", func(t *testing.T, d *Driver, a ipcz.DriverHandle, p *producer) {
			atomic.StoreUint64(p.r.w.tail, p.tail+2*p.r.w.capacity)
			p.r.w.wake()
		}, false},
		{"tail misaligned", func(t *testing.T, d *Driver, a ipcz.DriverHandle, p *producer) {
			atomic.StoreUint64(p.r.w.tail, p.tail+3)
			p.r.w.wake()
		}, false},
		{"length lies", func(t *testing.T, d *Driver, a ipcz.DriverHandle, p *producer) {
			pos := p.tail % p.r.w.capacity
			binary.LittleEndian.PutUint32(p.r.w.area[pos:], 1<<20)
			binary.LittleEndian.PutUint64(p.r.w.area[pos+8:], 1)
			atomic.StoreUint64(p.r.w.tail, p.tail+recordSize(8))
			p.r.w.wake()
		}, false},
		{"sequence number repeated", func(t *testing.T, d *Driver, a ipcz.DriverHandle, p *producer) {
			ok, _ := p.write(0, []byte("again"))
			require.True(t, ok)
			p.r.w.wake()
		}, false},
		{"head past the tail", func(t *testing.T, d *Driver, a ipcz.DriverHandle, p *producer) {
			atomic.StoreUint64(p.r.w.head, 1<<40)
			require.NoError(t, d.Transmit(a, []byte("after"), nil))
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDriver(t, FastPath(true))
			x, y, rx, ry := newPair(t, d)
			a, b, ra, rb := newPair(t, d)
			require.NoError(t, d.Transmit(a, []byte("honest"), nil))
			require.Equal(t, "honest", string(rb.nextMessage(t).data))
			p := outRing(t, d, a)
			tr := d.lookupTransport(a)
			if !c.producer {
				tr.w.Lock() // the test is the producer now
			}
			c.scribble(t, d, a, p)
			if !c.producer {
				tr.w.Unlock()
			}
			victim, h := rb, b
			if c.producer {
				victim, h = ra, a
			}
			victim.expectError(t, d)
			require.Equal(t, []BadActivityReport{{Transport: h}}, d.BadActivityReports())
			victim.finish(t, d, h)
			require.NoError(t, d.Transmit(x, []byte("still"), nil))
			require.NoError(t, d.Transmit(y, []byte("fine"), nil))
			require.Equal(t, "still", string(ry.nextMessage(t).data))
			require.Equal(t, "fine", string(rx.nextMessage(t).data))
		})
	}
}

// badSetup builds a setup frame with an arbitrary payload.
func badSetup(version, flags, capacity, zero uint32) []byte {
	p := binary.LittleEndian.AppendUint32(nil, version)
	p = binary.LittleEndian.AppendUint32(p, flags)
	p = binary.LittleEndian.AppendUint32(p, capacity)
	p = binary.LittleEndian.AppendUint32(p, zero)
	return p
}

// memfdOf returns a memfd of size bytes with the given seals, closed at
// cleanup.
func memfdOf(t testing.TB, size, seals int) int {
	t.Helper()
	fd := memfdFD(t, size, seals)
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func TestSetupFrameValidation(t *testing.T) {
	sealed := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW
	ringSize := ringHeaderSize + minRingCapacity
	setupFrame := func(payload []byte, nfds int) []byte {
		return rawFrame(uint32(frameHeaderSize+len(payload)), uint32(nfds)|frameSetup<<16, payload)
	}
	cases := []struct {
		name string
		send func(t testing.TB, f *os.File)
	}{
		{"a message first", func(t testing.TB, f *os.File) { sendRaw(t, f, rawMessage(0, []byte("no setup"))) }},
		{"short", func(t testing.TB, f *os.File) { sendRaw(t, f, setupFrame([]byte{1, 0, 0, 0}, 0)) }},
		{"version", func(t testing.TB, f *os.File) { sendRaw(t, f, setupFrame(badSetup(2, 0, 0, 0), 0)) }},
		{"flags", func(t testing.TB, f *os.File) { sendRaw(t, f, setupFrame(badSetup(1, 2, 0, 0), 0)) }},
		{"reserved", func(t testing.TB, f *os.File) { sendRaw(t, f, setupFrame(badSetup(1, 0, 0, 1), 0)) }},
		{"capacity without ring", func(t testing.TB, f *os.File) {
			sendRaw(t, f, setupFrame(badSetup(1, 0, minRingCapacity, 0), 0))
		}},
		{"ring without descriptor", func(t testing.TB, f *os.File) {
			sendRaw(t, f, setupFrame(badSetup(1, setupRing, minRingCapacity, 0), 0))
		}},
		{"capacity not a power of two", func(t testing.TB, f *os.File) {
			sendRaw(t, f, setupFrame(badSetup(1, setupRing, minRingCapacity+16, 0), 1), memfdOf(t, ringSize+16, sealed))
		}},
		{"capacity too large", func(t testing.TB, f *os.File) {
			sendRaw(t, f, setupFrame(badSetup(1, setupRing, 2*maxRingCapacity, 0), 1), memfdOf(t, ringSize, sealed))
		}},
		{"not a memfd", func(t testing.TB, f *os.File) {
			r, w, err := os.Pipe()
			require.NoError(t, err)
			defer r.Close()
			defer w.Close()
			sendRaw(t, f, setupFrame(badSetup(1, setupRing, minRingCapacity, 0), 1), int(r.Fd()))
		}},
		{"unsealed", func(t testing.TB, f *os.File) {
			sendRaw(t, f, setupFrame(badSetup(1, setupRing, minRingCapacity, 0), 1), memfdOf(t, ringSize, 0))
		}},
		{"wrong size", func(t testing.TB, f *os.File) {
			sendRaw(t, f, setupFrame(badSetup(1, setupRing, minRingCapacity, 0), 1), memfdOf(t, ringSize+4096, sealed))
		}},
		{"write-sealed", func(t testing.TB, f *os.File) {
			sendRaw(t, f, setupFrame(badSetup(1, setupRing, minRingCapacity, 0), 1),
				memfdOf(t, ringSize, sealed|unix.F_SEAL_FUTURE_WRITE))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDriver(t)
			ours, theirs, err := NewSocketPair()
			require.NoError(t, err)
			defer theirs.Close()
			h, err := d.NewTransportFromFile(ours)
			require.NoError(t, err)
			r := activate(t, d, h)
			c.send(t, theirs)
			r.expectError(t, d)
			r.finish(t, d, h)
		})
	}
}

// TestPeerGoneAfterRingMessages: messages the peer put in its ring
// before it closed its end are all delivered before the error.
func TestPeerGoneAfterRingMessages(t *testing.T) {
	d := newDriver(t, FastPath(true))
	a, b, err := d.NewTransportPair()
	require.NoError(t, err)
	ra := newRecorder()
	require.NoError(t, d.ActivateTransport(a, ra.handler))
	// b is idle until a has sent and gone, so everything waits for it.
	for i := range 50 {
		require.NoError(t, d.Transmit(a, []byte{byte(i)}, nil))
	}
	hs, files := transmissibleFDs(t, d, 1)
	require.NoError(t, d.Transmit(a, []byte("fd"), hs))
	require.NoError(t, d.Transmit(a, []byte("last"), nil))
	require.NoError(t, d.DeactivateTransport(a))
	<-ra.done
	require.NoError(t, d.Close(a))
	rb := activate(t, d, b)
	for i := range 50 {
		require.Equal(t, []byte{byte(i)}, rb.nextMessage(t).data)
	}
	ev := rb.nextMessage(t)
	require.Equal(t, "fd", string(ev.data))
	require.Len(t, ev.handles, 1)
	d.closeHandles(ev.handles)
	require.Equal(t, "last", string(rb.nextMessage(t).data))
	rb.expectError(t, d)
	for _, f := range files {
		f.Close()
	}
}

// TestTransmitWithDescriptorsInRingMode: a descriptor still works after
// going on the socket between ring messages.
func TestTransmitWithDescriptorsInRingMode(t *testing.T) {
	d := newDriver(t, FastPath(true))
	a, b, _, rb := newPair(t, d)
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	defer pr.Close()
	require.NoError(t, d.Transmit(a, []byte("before"), nil))
	sendFD(t, d, a, pw, []byte("pipe"))
	pw.Close()
	require.NoError(t, d.Transmit(a, []byte("after"), nil))
	require.Equal(t, "before", string(rb.nextMessage(t).data))
	w, rest := receiveFD(t, d, b, rb.nextMessage(t))
	require.Equal(t, "pipe", string(rest))
	require.Equal(t, "after", string(rb.nextMessage(t).data))
	_, err = w.Write([]byte("works"))
	require.NoError(t, err)
	w.Close()
	got, err := io.ReadAll(pr)
	require.NoError(t, err)
	require.Equal(t, "works", string(got))
}

// TestPeerSharesCPU: a spinning reader records its processor in the ring
// it consumes and compares it with the one the peer's reader recorded in
// ours.
func TestPeerSharesCPU(t *testing.T) {
	d := newDriver(t, FastPath(true))
	a, b, _, _ := newPair(t, d)
	require.NoError(t, d.Transmit(a, []byte("set up"), nil))
	require.True(t, waitUntil(10*time.Second, func() bool { return consuming(d, b) }), "b's reader never consumed a's ring")
	// Keep this goroutine on one processor, so that its number holds.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var set unix.CPUSet
	require.NoError(t, unix.SchedGetaffinity(0, &set))
	defer unix.SchedSetaffinity(0, &set)
	cpu, ok := currentCPU()
	require.True(t, ok)
	var one unix.CPUSet
	one.Set(int(cpu))
	require.NoError(t, unix.SchedSetaffinity(0, &one))
	cpu, _ = currentCPU()

	tb := d.lookupTransport(b)
	tb.in.Lock()
	in := tb.in.ring
	tb.in.Unlock()
	r := &reader{t: tb, in: &consumer{r: in}}
	peer := outRing(t, d, b).r.w.cpu // where a's reader records its processor
	for _, c := range []struct {
		peer uint32
		want bool
	}{{cpu + 1, true}, {cpu + 2, false}, {0, false}} {
		atomic.StoreUint32(peer, c.peer)
		require.Equal(t, c.want, r.peerSharesCPU(), "peer word %d, cpu %d", c.peer, cpu)
		require.Equal(t, cpu+1, atomic.LoadUint32(in.w.cpu))
	}
}
