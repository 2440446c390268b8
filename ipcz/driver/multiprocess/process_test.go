package multiprocess

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func init() {
	registerChild("echo", childEcho)
	registerChild("memory", childMemory)
	registerChild("fdwriter", childFDWriter)
	registerChild("introduced", childIntroduced)
	for _, mode := range hostileModes {
		registerChild("hostile-"+mode, func() int { return childHostile(mode) })
	}
}

// childEcho sends every message back, with its handles, until the parent
// closes its end.
func childEcho() int {
	k := newChildKit()
	for {
		ev := k.next()
		if ev.flags != 0 {
			break
		}
		k.send(ev.data, ev.handles...)
	}
	return k.finishAfterError()
}

// finishAfterError is finish for a child that has already seen the error.
func (k *childKit) finishAfterError() int {
	k.r.events <- event{flags: ipcz.TransportActivityError}
	return k.finish()
}

func TestChildEcho(t *testing.T) {
	d := newDriver(t)
	h := startChild(t, d, "echo", nil)
	r := activate(t, d, h)
	const n = 2000
	go func() {
		for i := range n {
			size := 4 + i%300
			if i%500 == 0 {
				size = 1 << 20
			}
			msg := pattern(size, uint64(i))
			binary.LittleEndian.PutUint32(msg, uint32(i))
			if err := d.Transmit(h, msg, nil); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range n {
		ev := r.nextMessage(t)
		require.Equal(t, uint32(i), binary.LittleEndian.Uint32(ev.data))
		size := 4 + i%300
		if i%500 == 0 {
			size = 1 << 20
		}
		want := pattern(size, uint64(i))
		binary.LittleEndian.PutUint32(want, uint32(i))
		require.True(t, bytes.Equal(want, ev.data), "message %d", i)
	}

	// Descriptors go there and back.
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	defer pr.Close()
	sendFD(t, d, h, pw, []byte("round trip"))
	pw.Close()
	w, rest := receiveFD(t, d, h, r.nextMessage(t))
	require.Equal(t, "round trip", string(rest))
	_, err = w.Write([]byte("back home"))
	require.NoError(t, err)
	w.Close()
	got, err := io.ReadAll(pr)
	require.NoError(t, err)
	require.Equal(t, "back home", string(got))
}

// childMemory maps a region the parent sent, checks what the parent
// wrote, writes its own pattern, and checks that it sees the parent's
// later writes.
func childMemory() int {
	k := newChildKit()
	ev := k.next()
	mem, err := k.d.Deserialize(ev.data[:SerializedNumBytes], ev.handles[:1], k.t)
	if err != nil {
		k.fatalf("Deserialize: %v", err)
	}
	roMem, err := k.d.Deserialize(ev.data[SerializedNumBytes:], ev.handles[1:], k.t)
	if err != nil {
		k.fatalf("Deserialize read-only: %v", err)
	}
	if ro, _ := k.d.IsSharedMemoryReadOnly(roMem); !ro {
		k.fatalf("read-only region arrived writable")
	}
	m, b, err := k.d.MapSharedMemory(mem)
	if err != nil {
		k.fatalf("MapSharedMemory: %v", err)
	}
	roMap, roBytes, err := k.d.MapSharedMemory(roMem)
	if err != nil {
		k.fatalf("MapSharedMemory read-only: %v", err)
	}
	k.d.Close(mem)
	k.d.Close(roMem)
	half := len(b) / 2
	if !bytes.Equal(b[:half], pattern(half, 5)) || !bytes.Equal(roBytes[:half], pattern(half, 5)) {
		k.fatalf("the parent's writes are not visible")
	}
	copy(b[half:], pattern(half, 6))
	k.send([]byte("written"))
	if ev := k.next(); string(ev.data) != "check" {
		k.fatalf("unexpected %q", ev.data)
	}
	if b[0] != 0xAB || roBytes[0] != 0xAB {
		k.fatalf("the parent's later write is not visible")
	}
	k.d.Close(m)
	k.d.Close(roMap)
	k.send([]byte("ok"))
	return k.finish()
}

func TestChildSharedMemory(t *testing.T) {
	d := newDriver(t)
	h := startChild(t, d, "memory", nil)
	r := activate(t, d, h)
	const size = 1 << 20
	mem, err := d.AllocateSharedMemory(size)
	require.NoError(t, err)
	m, b, err := d.MapSharedMemory(mem)
	require.NoError(t, err)
	defer d.Close(m)
	copy(b, pattern(size/2, 5))
	ro, err := d.DuplicateSharedMemoryReadOnly(mem)
	require.NoError(t, err)
	data, th := serializeFor(t, d, mem, h)
	roData, roTh := serializeFor(t, d, ro, h)
	require.NoError(t, d.Transmit(h, append(data, roData...), []ipcz.DriverHandle{th, roTh}))
	require.Equal(t, "written", string(r.nextMessage(t).data))
	require.True(t, bytes.Equal(pattern(size/2, 6), b[size/2:]), "the child's writes are not visible")
	b[0] = 0xAB
	require.NoError(t, d.Transmit(h, []byte("check"), nil))
	require.Equal(t, "ok", string(r.nextMessage(t).data))
}

// childFDWriter writes through a descriptor the parent boxed.
func childFDWriter() int {
	k := newChildKit()
	ev := k.next()
	h, err := k.d.Deserialize(ev.data, ev.handles, k.t)
	if err != nil {
		k.fatalf("Deserialize: %v", err)
	}
	fd, err := k.d.UnwrapFileDescriptor(h)
	if err != nil {
		k.fatalf("UnwrapFileDescriptor: %v", err)
	}
	f := os.NewFile(uintptr(fd), "pipe")
	if _, err := f.Write([]byte("written by the child")); err != nil {
		k.fatalf("write: %v", err)
	}
	f.Close()
	k.send([]byte("done"))
	return k.finish()
}

func TestChildWritesThroughWrappedFD(t *testing.T) {
	d := newDriver(t)
	h := startChild(t, d, "fdwriter", nil)
	r := activate(t, d, h)
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	defer pr.Close()
	sendFD(t, d, h, pw, nil)
	pw.Close()
	require.Equal(t, "done", string(r.nextMessage(t).data))
	got, err := io.ReadAll(pr)
	require.NoError(t, err)
	require.Equal(t, "written by the child", string(got))
}

// childIntroduced receives a transport created by the parent, talks to
// the other child through it, and reports what it heard.
func childIntroduced() int {
	k := newChildKit()
	ev := k.next()
	name := string(ev.data[SerializedNumBytes:])
	peer, err := k.d.Deserialize(ev.data[:SerializedNumBytes], ev.handles, k.t)
	if err != nil {
		k.fatalf("Deserialize: %v", err)
	}
	pr := newRecorder()
	if err := k.d.ActivateTransport(peer, pr.handler); err != nil {
		k.fatalf("ActivateTransport: %v", err)
	}
	if err := k.d.Transmit(peer, []byte("hello from "+name), nil); err != nil {
		k.fatalf("Transmit: %v", err)
	}
	var heard event
	select {
	case heard = <-pr.events:
	case <-time.After(20 * time.Second):
		k.fatalf("nothing from the other child")
	}
	k.send(append([]byte(name+" heard: "), heard.data...))
	k.d.DeactivateTransport(peer)
	<-pr.done
	k.d.Close(peer)
	return k.finish()
}

func TestIntroducedChildrenTalkDirectly(t *testing.T) {
	d := newDriver(t)
	h1 := startChild(t, d, "introduced", nil)
	h2 := startChild(t, d, "introduced", nil)
	r1 := activate(t, d, h1)
	r2 := activate(t, d, h2)
	t1, t2, err := d.CreateTransports(h1, h2)
	require.NoError(t, err)
	data, th := serializeFor(t, d, t1, h1)
	require.NoError(t, d.Transmit(h1, append(data, "one"...), []ipcz.DriverHandle{th}))
	data, th = serializeFor(t, d, t2, h2)
	require.NoError(t, d.Transmit(h2, append(data, "two"...), []ipcz.DriverHandle{th}))
	require.Equal(t, "one heard: hello from two", string(r1.nextMessage(t).data))
	require.Equal(t, "two heard: hello from one", string(r2.nextMessage(t).data))
}

func TestKilledChildGivesError(t *testing.T) {
	d := newDriver(t)
	killed := func(ee *exec.ExitError) bool {
		ws, ok := ee.Sys().(syscall.WaitStatus)
		return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
	}
	h := startChild(t, d, "echo", killed)
	r := activate(t, d, h)
	// Make sure the child is up and running its driver.
	require.NoError(t, d.Transmit(h, []byte("ping"), nil))
	require.Equal(t, "ping", string(r.nextMessage(t).data))
	cmd, _ := childProcs.Load(h)
	require.NoError(t, cmd.(*exec.Cmd).Process.Signal(syscall.SIGKILL))
	r.expectError(t, d)
	r.finish(t, d, h)
}

// hostileModes are the ways a hostile child misbehaves on its socket.
var hostileModes = []string{"garbage", "liar", "fdflood", "midframe", "deadafterframes"}

// childHostile writes raw traffic to the inherited socket without a
// driver, then (except where it dies on purpose) waits for the parent to
// hang up.
func childHostile(mode string) int {
	fd, err := strconv.Atoi(os.Getenv(TransportFDEnv))
	if err != nil {
		return 5
	}
	send := func(b []byte, fds ...int) {
		var oob []byte
		if len(fds) > 0 {
			oob = unix.UnixRights(fds...)
		}
		for len(b) > 0 {
			n, err := unix.SendmsgN(fd, b, oob, nil, unix.MSG_NOSIGNAL)
			if err != nil {
				return // the parent hung up on us
			}
			b, oob = b[n:], nil
		}
	}
	// An honest setup (offering no ring) and first message, which the
	// parent acknowledges.
	send(rawSetup())
	send(rawMessage(0, []byte("hello")))
	switch mode {
	case "garbage":
		send(pattern(64<<10, 11))
	case "liar":
		// Claims a descriptor it never sends.
		send(rawFrameSeq(frameHeaderSize+4, 1, 1, []byte("fibs")))
	case "fdflood":
		// 10,000 descriptors, 64 to a byte, on a frame that claims 4096.
		null, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return 6
		}
		fds := make([]int, fdsPerSendmsg)
		for i := range fds {
			fds[i] = null
		}
		frame := rawFrameSeq(frameHeaderSize+200, MaxMessageHandles, 1, make([]byte, 200))
		for i := 0; i < 10000/fdsPerSendmsg+1; i++ {
			send(frame[i:i+1], fds...)
		}
		unix.Close(null)
	case "midframe":
		send(rawFrameSeq(1000, 0, 1, []byte("only part of it")))
		return 0 // and die
	case "deadafterframes":
		for i := range 3 {
			send(rawMessage(uint64(1+i), []byte{byte(i)}))
		}
		return 0
	}
	// Wait for the parent to hang up.
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if n <= 0 || err != nil {
			return 0
		}
	}
}

func TestHostileChildrenAreCutOff(t *testing.T) {
	for _, mode := range hostileModes {
		t.Run(mode, func(t *testing.T) {
			d := newDriver(t)
			// A healthy transport in the same process, busy all along.
			a, b, ra, rb := newPair(t, d)
			stop := make(chan struct{})
			busy := make(chan int)
			go func() {
				n := 0
				for {
					select {
					case <-stop:
						busy <- n
						return
					default:
					}
					if err := d.Transmit(a, []byte(fmt.Sprint(n)), nil); err != nil {
						t.Error(err)
					}
					n++
					time.Sleep(100 * time.Microsecond)
				}
			}()

			h := startChild(t, d, "hostile-"+mode, nil)
			r := activate(t, d, h)
			require.Equal(t, "hello", string(r.nextMessage(t).data))
			if mode == "deadafterframes" {
				for i := range 3 {
					require.Equal(t, []byte{byte(i)}, r.nextMessage(t).data)
				}
			}
			r.expectError(t, d)
			r.finish(t, d, h)

			close(stop)
			n := <-busy
			for i := range n {
				require.Equal(t, fmt.Sprint(i), string(rb.nextMessage(t).data))
			}
			require.NoError(t, d.Transmit(b, []byte("and back"), nil))
			require.Equal(t, "and back", string(ra.nextMessage(t).data))
		})
	}
}

func TestProcessHelperErrors(t *testing.T) {
	d := newDriver(t)
	_, err := d.NewTransportFromFD(-1)
	require.ErrorIs(t, err, ipcz.InvalidArgument)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	_, err = d.NewTransportFromFD(int(r.Fd()))
	require.ErrorIs(t, err, ipcz.InvalidArgument)
	require.True(t, fdIsOpen(int(r.Fd())), "the caller keeps the descriptor on error")
	dgram, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	_, err = d.NewTransportFromFD(dgram[0])
	require.ErrorIs(t, err, ipcz.InvalidArgument)
	closeFDs(dgram[:])

	t.Setenv(TransportFDEnv, "")
	os.Unsetenv(TransportFDEnv)
	_, err = d.TransportFromEnvironment()
	require.Error(t, err)
	for _, v := range []string{"x", "-1", "0", "2"} {
		t.Setenv(TransportFDEnv, v)
		_, err = d.TransportFromEnvironment()
		require.ErrorIs(t, err, ipcz.InvalidArgument, v)
	}

	cmd := exec.Command("/bin/true")
	require.NoError(t, cmd.Start())
	require.NoError(t, cmd.Wait())
	_, err = d.Spawn(cmd)
	require.Error(t, err)
	_, err = d.Spawn(exec.Command("/nonexistent/program"))
	require.Error(t, err)
}

func TestNewSocketPair(t *testing.T) {
	a, b, err := NewSocketPair()
	require.NoError(t, err)
	defer a.Close()
	defer b.Close()
	_, err = a.Write([]byte("hi"))
	require.NoError(t, err)
	buf := make([]byte, 2)
	_, err = io.ReadFull(b, buf)
	require.NoError(t, err)
	require.Equal(t, "hi", string(buf))
}
