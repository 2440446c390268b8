package mojo

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Cross-process benchmarks: the parent (the benchmark) and a child
// process made by re-executing the test binary, over Mojo on the
// multiprocess driver, each beside the same traffic over a bare Unix
// stream socket between the same two processes. Setup (spawning the child,
// the invitation) is outside the timed region.

func init() {
	registerCrossChild("bench-echo", childBenchEcho)
	registerCrossChild("bench-sink", childBenchSink)
	registerCrossChild("raw-echo", childRawEcho)
	registerCrossChild("raw-sink", childRawSink)
}

// pingPongSizes are the message sizes of the ping-pong benchmarks.
var pingPongSizes = []int{64, 4 << 10}

// bulkChunk is the chunk size of the throughput benchmarks.
const bulkChunk = 64 << 10

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	if n >= 1<<10 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// BenchmarkCrossProcessPingPong is a round trip of one message between
// the parent and a child that echoes it: through a Mojo message pipe
// ("mojo"), waiting with a watcher on each side, and through a raw
// socket ("raw") read and written by the Go poller on each side.
func BenchmarkCrossProcessPingPong(b *testing.B) {
	for _, size := range pingPongSizes {
		b.Run("mojo/"+sizeName(size), func(b *testing.B) { benchMojoPingPong(b, size) })
		b.Run("raw/"+sizeName(size), func(b *testing.B) { benchRawPingPong(b, size) })
	}
}

func benchMojoPingPong(b *testing.B, size int) {
	br := newCrossBroker(b)
	c := br.c
	_, hs := br.spawn("bench-echo", spawnOptions{}, "pipe")
	h := hs[0]
	w := newWaiter(b, c, h, HandleSignalReadable)
	msg := make([]byte, size)
	buf := make([]byte, size)
	roundTrip := func() {
		if r := c.WriteMessage(h, msg, nil, 0); r != ResultOK {
			b.Fatalf("WriteMessage: %v", r)
		}
		for {
			n, _, r := c.ReadMessage(h, buf, nil, 0)
			if r == ResultOK {
				if int(n) != size {
					b.Fatalf("echo of %d bytes", n)
				}
				return
			}
			if r != ResultShouldWait {
				b.Fatalf("ReadMessage: %v", r)
			}
			if r, _ := w.wait(b); r != ResultOK {
				b.Fatalf("waiting for the echo: %v", r)
			}
		}
	}
	roundTrip() // the child is up
	b.SetBytes(2 * int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		roundTrip()
	}
	b.StopTimer()
	w.close(b)
	closeAll(b, c, h)
}

func childBenchEcho() {
	k := acceptCross()
	t, c := k.t, k.c
	h := k.extract("pipe")[0]
	w := newWaiter(t, c, h, HandleSignalReadable)
	buf := make([]byte, 64<<10)
	for {
		n, _, r := c.ReadMessage(h, buf, nil, 0)
		switch r {
		case ResultOK:
			ok(t, "WriteMessage", c.WriteMessage(h, buf[:n], nil, 0))
			continue
		case ResultShouldWait:
		case ResultFailedPrecondition:
			w.close(t)
			closeAll(t, c, h)
			if err := c.Shutdown(); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			return
		default:
			t.Fatalf("ReadMessage: %v", r)
		}
		w.wait(t)
	}
}

// spawnRaw starts the child role with one end of a socketpair as its
// descriptor 3, both ends non-blocking (so the Go poller serves them), and
// returns the parent's end. At cleanup the end is closed and the child
// must exit with status 0.
func spawnRaw(b *testing.B, role string) *os.File {
	b.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "raw"), os.NewFile(uintptr(fds[1]), "raw-child")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crossChildEnv+"="+role, "GORACE=atexit_sleep_ms=0")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{theirs}
	err = cmd.Start()
	theirs.Close()
	if err != nil {
		mine.Close()
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	b.Cleanup(func() {
		mine.Close()
		select {
		case err := <-exited:
			if err != nil {
				b.Errorf("child %s: %v", role, err)
			}
		case <-time.After(crossTimeout):
			_ = cmd.Process.Kill()
			<-exited
			b.Errorf("child %s did not exit", role)
		}
	})
	return mine
}

// rawChildSocket is the socket a raw child got as descriptor 3.
func rawChildSocket() *os.File { return os.NewFile(3, "raw") }

func benchRawPingPong(b *testing.B, size int) {
	f := spawnRaw(b, "raw-echo")
	msg := make([]byte, size)
	binary.LittleEndian.PutUint32(msg, uint32(size))
	buf := make([]byte, size)
	roundTrip := func() {
		if _, err := f.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(f, buf); err != nil {
			b.Fatal(err)
		}
	}
	roundTrip()
	b.SetBytes(2 * int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		roundTrip()
	}
	b.StopTimer()
}

// childRawEcho echoes fixed-size messages, whose size is their first 4
// bytes, until end of stream.
func childRawEcho() {
	t := childTB{}
	f := rawChildSocket()
	var hdr [4]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		t.Fatalf("read: %v", err)
	}
	buf := make([]byte, binary.LittleEndian.Uint32(hdr[:]))
	copy(buf, hdr[:])
	first := true
	for {
		from := 0
		if first {
			from, first = 4, false
		}
		if _, err := io.ReadFull(f, buf[from:]); err == io.EOF {
			return
		} else if err != nil {
			t.Fatalf("read: %v", err)
		}
		if _, err := f.Write(buf); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
}

// BenchmarkCrossProcessThroughput streams 64 KiB chunks from the parent
// to a child; one op is one chunk, and the timed region ends when the
// child has confirmed receipt of everything. "mojo" is a data pipe with
// WriteData and ReadData (one copy in, one copy out, as a socket's write
// and read), for a few ring sizes; "mojo-2phase" writes and reads the
// ring in place with BeginWriteData/BeginReadData (the copy in stays, the
// reader only looks at the bytes); "raw" is a socket written and read 64
// KiB at a time.
func BenchmarkCrossProcessThroughput(b *testing.B) {
	for _, ring := range []int{64 << 10, 1 << 20, 8 << 20} {
		b.Run("mojo/ring="+sizeName(ring), func(b *testing.B) { benchDataPipe(b, ring, false) })
	}
	b.Run("mojo-2phase/ring=8MiB", func(b *testing.B) { benchDataPipe(b, 8<<20, true) })
	b.Run("raw", benchRawBulk)
}

func benchDataPipe(b *testing.B, ring int, twoPhase bool) {
	br := newCrossBroker(b)
	c := br.c
	_, hs := br.spawn("bench-sink", spawnOptions{}, "control")
	control := hs[0]
	p, cons, r := c.CreateDataPipe(&CreateDataPipeOptions{StructSize: 16, ElementNumBytes: 1, CapacityNumBytes: uint32(ring)})
	ok(b, "CreateDataPipe", r)
	mode := "copy"
	if twoPhase {
		mode = "2phase"
	}
	send(b, c, control, mode, cons)
	expectString(b, "child", recvString(b, c, control), "ready")
	w := newWaiter(b, c, p, HandleSignalWritable)
	chunk := make([]byte, bulkChunk)
	fillPattern(chunk, 0)
	b.SetBytes(bulkChunk)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for data := chunk; len(data) > 0; {
			var n int
			var r Result
			if twoPhase {
				var span []byte
				if span, r = c.BeginWriteData(p, 0); r == ResultOK {
					n = copy(span, data)
					r = c.EndWriteData(p, uint32(n))
				}
			} else {
				var m uint32
				m, r = c.WriteData(p, data, 0)
				n = int(m)
			}
			switch r {
			case ResultOK:
				data = data[n:]
			case ResultShouldWait:
				w.wait(b)
			default:
				b.Fatalf("writing: %v", r)
			}
		}
	}
	closeAll(b, c, p)
	got := recvString(b, c, control)
	b.StopTimer()
	expectString(b, "child's count", got, strconv.Itoa(b.N*bulkChunk))
	w.close(b)
	closeAll(b, c, control)
}

func childBenchSink() {
	k := acceptCross()
	t, c := k.t, k.c
	control := k.extract("control")[0]
	msg, hs := recv(t, c, control)
	if len(hs) != 1 {
		t.Fatalf("%d handles", len(hs))
	}
	cons := hs[0]
	twoPhase := string(msg) == "2phase"
	w := newWaiter(t, c, cons, HandleSignalReadable)
	send(t, c, control, "ready")
	buf := make([]byte, bulkChunk)
	total := 0
	for {
		var n int
		var r Result
		if twoPhase {
			var span []byte
			if span, r = c.BeginReadData(cons, 0); r == ResultOK {
				n = len(span)
				r = c.EndReadData(cons, uint32(n))
			}
		} else {
			var m uint32
			m, r = c.ReadData(cons, buf, uint32(len(buf)), 0)
			n = int(m)
		}
		if r == ResultFailedPrecondition {
			break
		}
		switch r {
		case ResultOK:
			total += n
		case ResultShouldWait:
			w.wait(t)
		default:
			t.Fatalf("reading: %v", r)
		}
	}
	w.close(t)
	closeAll(t, c, cons)
	send(t, c, control, strconv.Itoa(total))
	k.finish(control)
}

func benchRawBulk(b *testing.B) {
	f := spawnRaw(b, "raw-sink")
	chunk := make([]byte, bulkChunk)
	fillPattern(chunk, 0)
	b.SetBytes(bulkChunk)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	rc, err := f.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	_ = rc.Control(func(fd uintptr) { err = unix.Shutdown(int(fd), unix.SHUT_WR) })
	if err != nil {
		b.Fatal(err)
	}
	var count [8]byte
	if _, err := io.ReadFull(f, count[:]); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if got := binary.LittleEndian.Uint64(count[:]); got != uint64(b.N*bulkChunk) {
		b.Fatalf("the child counted %d bytes, want %d", got, b.N*bulkChunk)
	}
}

// childRawSink reads 64 KiB at a time until end of stream, then writes
// the byte count.
func childRawSink() {
	t := childTB{}
	f := rawChildSocket()
	buf := make([]byte, bulkChunk)
	var total uint64
	for {
		n, err := f.Read(buf)
		total += uint64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	if _, err := f.Write(binary.LittleEndian.AppendUint64(nil, total)); err != nil {
		t.Fatalf("write: %v", err)
	}
}
