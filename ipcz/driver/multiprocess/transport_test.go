package multiprocess

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestTransmitBothWays(t *testing.T) {
	d := newDriver(t)
	a, b, ra, rb := newPair(t, d)
	require.NoError(t, d.Transmit(a, []byte("hello"), nil))
	require.NoError(t, d.Transmit(b, []byte("world"), nil))
	require.NoError(t, d.Transmit(b, nil, nil)) // empty messages are messages
	require.Equal(t, "hello", string(rb.nextMessage(t).data))
	require.Equal(t, "world", string(ra.nextMessage(t).data))
	ev := ra.nextMessage(t)
	require.Empty(t, ev.data)
	require.Empty(t, ev.handles)
}

func TestTransmitOrdering(t *testing.T) {
	d := newDriver(t)
	a, _, _, rb := newPair(t, d)
	const n = 10000
	errs := make(chan error, 1)
	go func() {
		var buf [8]byte
		for i := range n {
			binary.LittleEndian.PutUint64(buf[:], uint64(i))
			if err := d.Transmit(a, buf[:], nil); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	for i := range n {
		ev := rb.nextMessage(t)
		require.Equal(t, uint64(i), binary.LittleEndian.Uint64(ev.data))
	}
	require.NoError(t, <-errs)
}

// pattern returns n bytes that depend on seed.
func pattern(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 7))
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b
}

func TestLargeMessages(t *testing.T) {
	d := newDriver(t)
	a, b, ra, rb := newPair(t, d)
	big := pattern(16<<20, 1)
	other := pattern(16<<20+3, 2)
	// Both directions at once, so that both writers queue and both readers
	// see the frames in pieces.
	require.NoError(t, d.Transmit(a, big, nil))
	require.NoError(t, d.Transmit(b, other, nil))
	require.NoError(t, d.Transmit(a, []byte("after"), nil))
	require.True(t, bytes.Equal(big, rb.nextMessage(t).data))
	require.True(t, bytes.Equal(other, ra.nextMessage(t).data))
	require.Equal(t, "after", string(rb.nextMessage(t).data))
}

func TestConcurrentTransmit(t *testing.T) {
	d := newDriver(t)
	a, _, _, rb := newPair(t, d)
	const senders, each = 8, 1000
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			buf := make([]byte, 16+s*100) // different sizes
			for i := range each {
				binary.LittleEndian.PutUint32(buf[0:], uint32(s))
				binary.LittleEndian.PutUint32(buf[4:], uint32(i))
				if err := d.Transmit(a, buf, nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	next := make([]uint32, senders)
	for range senders * each {
		ev := rb.nextMessage(t)
		s := binary.LittleEndian.Uint32(ev.data[0:])
		i := binary.LittleEndian.Uint32(ev.data[4:])
		require.Equal(t, 16+int(s)*100, len(ev.data))
		require.Equal(t, next[s], i, "sender %d out of order", s)
		next[s]++
	}
	wg.Wait()
}

// sendFD wraps a duplicate of f's descriptor, serializes it and transmits
// it with data over transport.
func sendFD(t testing.TB, d *Driver, transport ipcz.DriverHandle, f *os.File, data []byte) {
	t.Helper()
	fd, err := dupCloexec(int(f.Fd()))
	require.NoError(t, err)
	h, err := d.WrapFileDescriptor(fd)
	require.NoError(t, err)
	hdr, th := serializeFor(t, d, h, transport)
	require.NoError(t, d.Transmit(transport, append(hdr, data...), []ipcz.DriverHandle{th}))
}

// receiveFD deserializes and unwraps the descriptor of a message sent by
// sendFD.
func receiveFD(t testing.TB, d *Driver, transport ipcz.DriverHandle, ev event) (*os.File, []byte) {
	t.Helper()
	require.Len(t, ev.handles, 1)
	h, err := d.Deserialize(ev.data[:SerializedNumBytes], ev.handles, transport)
	require.NoError(t, err)
	fd, err := d.UnwrapFileDescriptor(h)
	require.NoError(t, err)
	return os.NewFile(uintptr(fd), "received"), ev.data[SerializedNumBytes:]
}

func TestPassFDs(t *testing.T) {
	d := newDriver(t)
	a, b, _, rb := newPair(t, d)
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	defer pr.Close()
	sendFD(t, d, a, pw, []byte("pipe"))
	pw.Close()
	w, rest := receiveFD(t, d, b, rb.nextMessage(t))
	require.Equal(t, "pipe", string(rest))
	_, err = w.Write([]byte("through the socket"))
	require.NoError(t, err)
	w.Close()
	got := make([]byte, 64)
	n, err := pr.Read(got)
	require.NoError(t, err)
	require.Equal(t, "through the socket", string(got[:n]))
}

// transmissibleFDs makes n transmissible objects holding pipe ends and
// returns their handles and the pipe ends kept (the other end of each).
func transmissibleFDs(t testing.TB, d *Driver, n int) ([]ipcz.DriverHandle, []*os.File) {
	t.Helper()
	var hs []ipcz.DriverHandle
	var kept []*os.File
	for range n {
		r, w, err := os.Pipe()
		require.NoError(t, err)
		fd, err := dupCloexec(int(w.Fd()))
		require.NoError(t, err)
		w.Close()
		hs = append(hs, d.mu.Insert(&transmissible{fd: fd}))
		kept = append(kept, r)
	}
	return hs, kept
}

func TestManyFDsInOneMessage(t *testing.T) {
	for _, n := range []int{1, fdsPerSendmsg, fdsPerSendmsg + 1, 3*fdsPerSendmsg + 5, 600} {
		t.Run("", func(t *testing.T) {
			d := newDriver(t)
			a, _, _, rb := newPair(t, d)
			hs, kept := transmissibleFDs(t, d, n)
			defer func() {
				for _, f := range kept {
					f.Close()
				}
			}()
			// Enough bytes to carry the descriptors, 64 to a byte.
			data := bytes.Repeat([]byte("x"), 16)
			require.NoError(t, d.Transmit(a, data, hs))
			require.NoError(t, d.Transmit(a, []byte("y"), hs[:0]))
			ev := rb.nextMessage(t)
			require.Equal(t, data, ev.data)
			require.Len(t, ev.handles, n)
			// Each received descriptor is the write end of the pipe whose read
			// end we kept, in order.
			for i, h := range ev.handles {
				tr := d.mu.Lookup(h).(*transmissible)
				_, err := unix.Write(tr.fd, []byte{byte(i)})
				require.NoError(t, err)
				var got [1]byte
				_, err = kept[i].Read(got[:])
				require.NoError(t, err)
				require.Equal(t, byte(i), got[0])
				require.NoError(t, d.Close(h))
			}
			require.Equal(t, "y", string(rb.nextMessage(t).data))
		})
	}
}

func TestMessagesBeforeActivation(t *testing.T) {
	d := newDriver(t)
	a, b, err := d.NewTransportPair()
	require.NoError(t, err)
	activate(t, d, a)
	hs, kept := transmissibleFDs(t, d, 2)
	for _, f := range kept {
		f.Close()
	}
	for i := range 100 {
		var handles []ipcz.DriverHandle
		if i == 50 {
			handles = hs
		}
		require.NoError(t, d.Transmit(a, []byte{byte(i)}, handles))
	}
	time.Sleep(10 * time.Millisecond)
	rb := activate(t, d, b)
	for i := range 100 {
		ev := rb.nextMessage(t)
		require.Equal(t, []byte{byte(i)}, ev.data)
		if i == 50 {
			require.Len(t, ev.handles, 2)
			d.closeHandles(ev.handles)
		}
	}
}

func TestPeerClosedGivesOneErrorThenDeactivated(t *testing.T) {
	d := newDriver(t)
	a, b, err := d.NewTransportPair()
	require.NoError(t, err)
	ra := newRecorder()
	require.NoError(t, d.ActivateTransport(a, ra.handler))
	require.NoError(t, d.Close(b)) // never activated
	ev := ra.next(t)
	require.Equal(t, ipcz.TransportActivityError, ev.flags)
	// Nothing more until deactivation, then exactly the final call.
	time.Sleep(20 * time.Millisecond)
	require.Equal(t, 0, len(ra.events))
	require.NoError(t, d.Transmit(a, []byte("into the void"), nil)) // dropped
	require.NoError(t, d.DeactivateTransport(a))
	require.Equal(t, ipcz.TransportActivityDeactivated, ra.next(t).flags)
	require.NoError(t, d.DeactivateTransport(a)) // again: no effect
	require.Equal(t, ipcz.FailedPrecondition, d.Transmit(a, nil, nil))
	ra.finish(t, d, a)
	require.Equal(t, 1, ra.count(ipcz.TransportActivityError))
	require.Empty(t, d.BadActivityReports(), "a peer that leaves broke no rule")
}

func TestPeerGoneAfterSendingDeliversEverything(t *testing.T) {
	d := newDriver(t)
	a, b, err := d.NewTransportPair()
	require.NoError(t, err)
	rb := newRecorder()
	require.NoError(t, d.ActivateTransport(a, func([]byte, []ipcz.DriverHandle, ipcz.TransportActivityFlags) error { return nil }))
	for i := range 3 {
		require.NoError(t, d.Transmit(a, []byte{byte(i)}, nil))
	}
	require.NoError(t, d.DeactivateTransport(a))
	require.NoError(t, d.Close(a))
	require.NoError(t, d.ActivateTransport(b, rb.handler))
	// b's sends hit a closed peer (EPIPE): they are dropped, but what the
	// peer sent before it went is still delivered before the error.
	for range 3 {
		require.NoError(t, d.Transmit(b, []byte("late"), nil))
	}
	for i := range 3 {
		require.Equal(t, []byte{byte(i)}, rb.nextMessage(t).data)
	}
	require.Equal(t, ipcz.TransportActivityError, rb.next(t).flags)
	rb.finish(t, d, b)
}

func TestCloseActiveTransportStillMakesFinalCall(t *testing.T) {
	d := newDriver(t)
	a, b, err := d.NewTransportPair()
	require.NoError(t, err)
	ra := newRecorder()
	require.NoError(t, d.ActivateTransport(a, ra.handler))
	rb := activate(t, d, b)
	require.NoError(t, d.Close(a))
	select {
	case <-ra.done:
	case <-time.After(10 * time.Second):
		t.Fatal("no final call after Close")
	}
	require.Equal(t, 0, ra.count(ipcz.TransportActivityError))
	rb.expectError(t, d)
}

func TestDeactivateFromHandler(t *testing.T) {
	d := newDriver(t)
	a, b, err := d.NewTransportPair()
	require.NoError(t, err)
	rb := newRecorder()
	var delivered int
	require.NoError(t, d.ActivateTransport(b, func(data []byte, hs []ipcz.DriverHandle, flags ipcz.TransportActivityFlags) error {
		if flags == 0 {
			delivered++
			d.closeHandles(hs)
			require.NoError(t, d.DeactivateTransport(b))
		}
		return rb.handler(data, hs, flags)
	}))
	ra := activate(t, d, a)
	hs, kept := transmissibleFDs(t, d, 1)
	kept[0].Close()
	for i := range 10 {
		var handles []ipcz.DriverHandle
		if i == 5 {
			handles = hs
		}
		require.NoError(t, d.Transmit(a, []byte{byte(i)}, handles))
	}
	<-rb.done
	require.Equal(t, 1, delivered) // nothing after deactivation
	require.NoError(t, d.Close(b))
	ra.expectError(t, d)
}

func TestHandlerRejectionGivesError(t *testing.T) {
	d := newDriver(t)
	a, b, err := d.NewTransportPair()
	require.NoError(t, err)
	rb := newRecorder()
	rb.reject = func(ev event) error {
		if string(ev.data) == "bad" {
			return ipcz.InvalidArgument
		}
		return nil
	}
	require.NoError(t, d.ActivateTransport(b, rb.handler))
	activate(t, d, a)
	hs, kept := transmissibleFDs(t, d, 3)
	for _, f := range kept {
		f.Close()
	}
	require.NoError(t, d.Transmit(a, []byte("good"), nil))
	require.NoError(t, d.Transmit(a, []byte("bad"), hs)) // its handles are closed by the driver
	require.NoError(t, d.Transmit(a, []byte("never delivered"), nil))
	require.Equal(t, "good", string(rb.nextMessage(t).data))
	require.Equal(t, ipcz.TransportActivityError, rb.next(t).flags)
	rb.finish(t, d, b)
}

// rawPeer returns an active transport whose peer is a plain socket the
// test writes to directly (blocking mode). The peer has sent its setup
// frame (offering no ring), so its next message is number 0.
func rawPeer(t testing.TB, d *Driver) (ipcz.DriverHandle, *recorder, *os.File) {
	t.Helper()
	ours, theirs, err := NewSocketPair()
	require.NoError(t, err)
	h, err := d.NewTransportFromFile(ours)
	require.NoError(t, err)
	r := activate(t, d, h)
	t.Cleanup(func() { theirs.Close() })
	sendRaw(t, theirs, rawSetup())
	return h, r, theirs
}

// rawFrame builds a frame with an arbitrary header: word is the second
// header word (the descriptor count, and the type in its high 16 bits),
// and the sequence number is 0.
func rawFrame(total, word uint32, data []byte) []byte {
	return rawFrameSeq(total, word, 0, data)
}

// rawFrameSeq is rawFrame with a sequence number.
func rawFrameSeq(total, word uint32, seq uint64, data []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, total)
	b = binary.LittleEndian.AppendUint32(b, word)
	b = binary.LittleEndian.AppendUint64(b, seq)
	return append(b, data...)
}

// rawMessage builds an honest frame for message seq without descriptors.
func rawMessage(seq uint64, data []byte) []byte {
	return rawFrameSeq(uint32(frameHeaderSize+len(data)), 0, seq, data)
}

// rawSetup builds the setup frame of an end that offers no ring.
func rawSetup() []byte {
	payload := binary.LittleEndian.AppendUint32(nil, setupVersion)
	payload = append(payload, make([]byte, 12)...)
	return rawFrame(frameHeaderSize+setupSize, frameSetup<<16, payload)
}

// sendRaw writes b with fds attached, blocking.
func sendRaw(t testing.TB, f *os.File, b []byte, fds ...int) {
	t.Helper()
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	rc, err := f.SyscallConn()
	require.NoError(t, err)
	var serr error
	require.NoError(t, rc.Control(func(fd uintptr) {
		for len(b) > 0 {
			var n int
			n, serr = unix.SendmsgN(int(fd), b, oob, nil, unix.MSG_NOSIGNAL)
			if serr != nil {
				return
			}
			b, oob = b[n:], nil
		}
	}))
	if serr != nil && !errors.Is(serr, unix.EPIPE) && !errors.Is(serr, unix.ECONNRESET) {
		require.NoError(t, serr)
	}
}

func TestMalformedTrafficCutsOffOnlyThatTransport(t *testing.T) {
	devNull := func(t testing.TB) int {
		f, err := os.Open(os.DevNull)
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		return int(f.Fd())
	}
	cases := []struct {
		name string
		send func(t testing.TB, f *os.File)
	}{
		{"short length", func(t testing.TB, f *os.File) { sendRaw(t, f, rawFrame(frameHeaderSize-1, 0, nil)) }},
		{"wrong sequence number", func(t testing.TB, f *os.File) { sendRaw(t, f, rawMessage(5, []byte("x"))) }},
		{"repeated sequence number", func(t testing.TB, f *os.File) { sendRaw(t, f, rawMessage(0, []byte("x"))) }},
		{"second setup", func(t testing.TB, f *os.File) { sendRaw(t, f, rawSetup()) }},
		{"huge length", func(t testing.TB, f *os.File) { sendRaw(t, f, rawFrame(frameHeaderSize+MaxMessageBytes+1, 0, nil)) }},
		{"too many fds claimed", func(t testing.TB, f *os.File) { sendRaw(t, f, rawFrame(100, MaxMessageHandles+1, make([]byte, 92))) }},
		{"fds missing", func(t testing.TB, f *os.File) { sendRaw(t, f, rawFrameSeq(frameHeaderSize+1, 2, 1, []byte{1})) }},
		{"fds without frame", func(t testing.TB, f *os.File) {
			sendRaw(t, f, rawMessage(1, []byte("abcd")), devNull(t), devNull(t))
		}},
		{"too many fds in one sendmsg", func(t testing.TB, f *os.File) {
			fd := devNull(t)
			fds := make([]int, fdsPerSendmsg+1)
			for i := range fds {
				fds[i] = fd
			}
			sendRaw(t, f, rawFrameSeq(frameHeaderSize+4, uint32(len(fds)), 1, []byte("abcd")), fds...)
		}},
		{"garbage", func(t testing.TB, f *os.File) { sendRaw(t, f, pattern(4096, 9)) }},
		{"dies mid-frame", func(t testing.TB, f *os.File) {
			sendRaw(t, f, rawFrame(1000, 0, []byte("only a little")))
			f.Close()
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDriver(t)
			a, b, ra, rb := newPair(t, d)
			h, r, raw := rawPeer(t, d)
			sendRaw(t, raw, rawMessage(0, []byte("ok")))
			require.Equal(t, "ok", string(r.nextMessage(t).data))
			c.send(t, raw)
			r.expectError(t, d)
			// Breaking the framing is reported as bad activity; ending
			// the stream mid-frame is only an end.
			if c.name == "dies mid-frame" {
				require.Empty(t, d.BadActivityReports())
			} else {
				require.Equal(t, []BadActivityReport{{Transport: h}}, d.BadActivityReports())
			}
			r.finish(t, d, h)
			// The other transport of the same driver is unaffected.
			require.NoError(t, d.Transmit(a, []byte("still"), nil))
			require.NoError(t, d.Transmit(b, []byte("fine"), nil))
			require.Equal(t, "still", string(rb.nextMessage(t).data))
			require.Equal(t, "fine", string(ra.nextMessage(t).data))
		})
	}
}

func TestBackPressureBoundsTheQueue(t *testing.T) {
	d := newDriver(t)
	a, b, err := d.NewTransportPair()
	require.NoError(t, err)
	activate(t, d, a)
	ta := d.lookupTransport(a)

	// The receiver is idle (reads nothing) at first, then slow.
	const msg, total = 256 << 10, 64 << 20
	sent := make(chan int, 1)
	go func() {
		buf := pattern(msg, 3)
		n := 0
		for n < total/msg {
			if err := d.Transmit(a, buf, nil); err != nil {
				t.Error(err)
				break
			}
			n++
		}
		sent <- n
	}()
	queued := func() int {
		ta.w.Lock()
		defer ta.w.Unlock()
		return ta.w.queuedBytes
	}
	// The sender fills the socket and the queue up to the threshold, then
	// blocks.
	require.True(t, waitUntil(10*time.Second, func() bool { return queued() >= MaxQueuedBytes }))
	time.Sleep(50 * time.Millisecond)
	require.Empty(t, sent)
	require.LessOrEqual(t, queued(), MaxQueuedBytes+msg)

	var mu sync.Mutex
	maxSeen, got := 0, 0
	done := make(chan struct{})
	require.NoError(t, d.ActivateTransport(b, func(data []byte, hs []ipcz.DriverHandle, flags ipcz.TransportActivityFlags) error {
		if flags != 0 {
			if flags&ipcz.TransportActivityDeactivated != 0 {
				close(done)
			}
			return nil
		}
		mu.Lock()
		maxSeen = max(maxSeen, queued())
		got++
		mu.Unlock()
		if got%16 == 0 {
			time.Sleep(time.Millisecond) // a slow reader
		}
		return nil
	}))
	n := <-sent
	require.Equal(t, total/msg, n)
	require.True(t, waitUntil(10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got == n
	}))
	mu.Lock()
	require.LessOrEqual(t, maxSeen, MaxQueuedBytes+msg)
	mu.Unlock()
	require.NoError(t, d.DeactivateTransport(b))
	<-done
	require.NoError(t, d.Close(b))
}

func TestBlockedTransmitWakesOnDeactivation(t *testing.T) {
	d := newDriver(t)
	a, b, err := d.NewTransportPair()
	require.NoError(t, err)
	ra := newRecorder()
	require.NoError(t, d.ActivateTransport(a, ra.handler))
	result := make(chan error, 1)
	go func() {
		buf := make([]byte, 1<<20)
		for {
			if err := d.Transmit(a, buf, nil); err != nil {
				result <- err
				return
			}
		}
	}()
	ta := d.lookupTransport(a)
	require.True(t, waitUntil(10*time.Second, func() bool {
		ta.w.Lock()
		defer ta.w.Unlock()
		return ta.w.queuedBytes >= MaxQueuedBytes
	}))
	require.NoError(t, d.DeactivateTransport(a))
	require.Equal(t, ipcz.FailedPrecondition, <-result)
	<-ra.done
	require.NoError(t, d.Close(a))
	require.NoError(t, d.Close(b))
}

func TestTransmitFromHandlerNeverBlocks(t *testing.T) {
	d := newDriver(t)
	ours, theirs, err := NewSocketPair()
	require.NoError(t, err)
	defer theirs.Close()
	h, err := d.NewTransportFromFile(ours)
	require.NoError(t, err)
	// The handler answers each message with more than the back-pressure
	// threshold; the raw peer never reads. A blocking Transmit would hang
	// the reader.
	const reply = 3 * MaxQueuedBytes
	results := make(chan error, 4)
	r := newRecorder()
	require.NoError(t, d.ActivateTransport(h, func(data []byte, hs []ipcz.DriverHandle, flags ipcz.TransportActivityFlags) error {
		if flags == 0 {
			results <- d.Transmit(h, make([]byte, reply), nil)
		}
		return r.handler(data, hs, flags)
	}))
	sendRaw(t, theirs, rawSetup())
	for i := range 3 {
		sendRaw(t, theirs, rawMessage(uint64(i), []byte{1}))
	}
	for range 3 {
		select {
		case err := <-results:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("Transmit in a handler blocked")
		}
	}
	require.False(t, onReaderGoroutine())
	r.finish(t, d, h)
}
