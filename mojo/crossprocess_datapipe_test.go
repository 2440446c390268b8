package mojo

import (
	"errors"
	"fmt"
	"hash/crc32"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func init() {
	registerCrossChild("stream-producer", childStreamProducer)
	registerCrossChild("streamer", childStreamer)
	registerCrossChild("mover", childMover)
	registerCrossChild("idle", childIdle)
}

// crossRingBytes is the capacity of the pipe of
// TestCrossProcessDataPipeStream.
const crossRingBytes = 4 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// bgTB is the testing.TB of a goroutine other than the test's: Fatal
// records the failure and ends the goroutine (not the test).
type bgTB struct{ testing.TB }

func (b bgTB) Fatal(args ...any) {
	b.TB.Helper()
	b.TB.Error(args...)
	runtime.Goexit()
}

func (b bgTB) Fatalf(format string, args ...any) {
	b.TB.Helper()
	b.TB.Errorf(format, args...)
	runtime.Goexit()
}

// writeStream writes the pattern stream [off, end) into producer p with
// WriteData, chunk bytes at a time, waiting while the pipe is full. It
// returns the offset reached and OK, or FailedPrecondition once the
// consumer is closed.
func writeStream(t testing.TB, c *Core, p Handle, off, end uint64, chunk int) (uint64, Result) {
	t.Helper()
	w := newWaiter(t, c, p, HandleSignalWritable)
	defer w.close(t)
	buf := make([]byte, chunk)
	for off < end {
		n := min(uint64(chunk), end-off)
		fillPattern(buf[:n], off)
		m, r := c.WriteData(p, buf[:n], 0)
		switch r {
		case ResultOK:
			off += uint64(m)
		case ResultShouldWait:
			w.wait(t) // FailedPrecondition shows in the next WriteData
		case ResultFailedPrecondition:
			return off, r
		default:
			t.Fatalf("WriteData at %d: %v", off, r)
		}
	}
	return off, ResultOK
}

// readStream reads the pattern stream from offset off out of consumer h
// with ReadData, checking every byte, until end (OK) or until the
// producer is closed and everything was read (FailedPrecondition). It
// returns the offset reached.
func readStream(t testing.TB, c *Core, h Handle, off, end uint64) (uint64, Result) {
	t.Helper()
	w := newWaiter(t, c, h, HandleSignalReadable)
	defer w.close(t)
	buf := make([]byte, 60<<10) // a multiple of 12 (see the mover test)
	for off < end {
		n, r := c.ReadData(h, buf, uint32(min(uint64(len(buf)), end-off)), 0)
		switch r {
		case ResultOK:
			if !matchesPattern(buf[:n], off) {
				t.Fatalf("stream corrupt in [%d, %d)", off, off+uint64(n))
			}
			off += uint64(n)
		case ResultShouldWait:
			w.wait(t) // FailedPrecondition shows in the next ReadData
		case ResultFailedPrecondition:
			return off, r
		default:
			t.Fatalf("ReadData at %d: %v", off, r)
		}
	}
	return off, ResultOK
}

// A data pipe streams 1 GiB (64 MiB under -race) from a child to the
// parent with two-phase writes and reads: every byte is checked against
// the pattern here, and the CRC-32C of the stream matches the child's.
func TestCrossProcessDataPipeStream(t *testing.T) {
	b := newCrossBroker(t)
	c := b.c
	_, hs := b.spawn("stream-producer", spawnOptions{}, "control")
	control := hs[0]
	p, cons, r := c.CreateDataPipe(&CreateDataPipeOptions{StructSize: 16, ElementNumBytes: 1, CapacityNumBytes: crossRingBytes})
	ok(t, "CreateDataPipe", r)
	start := time.Now()
	send(t, c, control, strconv.Itoa(crossStreamBytes), p)

	w := newWaiter(t, c, cons, HandleSignalReadable)
	var off uint64
	crc := uint32(0)
	for {
		span, r := c.BeginReadData(cons, 0)
		if r == ResultShouldWait {
			w.wait(t)
			continue
		}
		if r == ResultFailedPrecondition {
			break
		}
		ok(t, "BeginReadData", r)
		if !matchesPattern(span, off) {
			t.Fatalf("stream corrupt in [%d, %d)", off, off+uint64(len(span)))
		}
		crc = crc32.Update(crc, castagnoli, span)
		off += uint64(len(span))
		ok(t, "EndReadData", c.EndReadData(cons, uint32(len(span))))
	}
	elapsed := time.Since(start)
	w.close(t)
	if off != crossStreamBytes {
		t.Fatalf("read %d bytes, want %d", off, crossStreamBytes)
	}
	expectState(t, c, cons, HandleSignalPeerClosed, HandleSignalPeerClosed)
	expectString(t, "checksum", recvString(t, c, control), fmt.Sprintf("crc32c %08x", crc))
	t.Logf("%d MiB in %v: %.0f MB/s", off>>20, elapsed.Round(time.Millisecond), float64(off)/elapsed.Seconds()/1e6)
	closeAll(t, c, cons, control)
}

func childStreamProducer() {
	k := acceptCross()
	t, c := k.t, k.c
	control := k.extract("control")[0]
	msg, hs := recv(t, c, control)
	total, err := strconv.ParseUint(string(msg), 10, 64)
	if err != nil || len(hs) != 1 {
		t.Fatalf("message %q with %d handles", msg, len(hs))
	}
	p := hs[0]
	w := newWaiter(t, c, p, HandleSignalWritable)
	var off uint64
	crc := uint32(0)
	for off < total {
		span, r := c.BeginWriteData(p, 0)
		if r == ResultShouldWait {
			w.wait(t)
			continue
		}
		ok(t, "BeginWriteData", r)
		span = span[:min(uint64(len(span)), total-off)]
		fillPattern(span, off)
		crc = crc32.Update(crc, castagnoli, span)
		off += uint64(len(span))
		ok(t, "EndWriteData", c.EndWriteData(p, uint32(len(span))))
	}
	w.close(t)
	closeAll(t, c, p)
	send(t, c, control, fmt.Sprintf("crc32c %08x", crc))
	k.finish(control)
}

// wantKilled accepts only a child killed by SIGKILL.
func wantKilled(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return nil
		}
	}
	return fmt.Errorf("exit %v, want SIGKILL", err)
}

// killStreamBytes is how much each stream of TestCrossProcessKilledChild
// carries before the child is killed.
const killStreamBytes = 4 << 20

// A child killed in the middle of two streams (one into it, one out of
// it) leaves every peer it had here PEER_CLOSED: the consumer still reads
// what the child wrote before it died, all of it intact, and then sees
// its peer closed; the producer's writes fail; the pipes to the child see
// their peers closed, and a watcher armed on one is told so.
func TestCrossProcessKilledChild(t *testing.T) {
	b := newCrossBroker(t)
	c := b.c
	child, hs := b.spawn("streamer", spawnOptions{wantExit: wantKilled}, "control")
	control := hs[0]
	x, y := pipe(t, c)
	p1, c1, r := c.CreateDataPipe(nil)
	ok(t, "CreateDataPipe", r)
	p2, c2, r := c.CreateDataPipe(nil)
	ok(t, "CreateDataPipe", r)
	send(t, c, control, "stream", y, p1, c2)

	// Stream into the child until it dies.
	var wrote uint64
	var writeResult Result
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		wrote, writeResult = writeStream(bgTB{t}, c, p2, 0, 1<<50, 10000)
	}()
	// Read from the child a while, then kill it, with a watcher armed on
	// the pipe it holds the other end of.
	n, r := readStream(t, c, c1, 0, killStreamBytes)
	ok(t, "readStream", r)
	expectString(t, "report", recvString(t, c, control), "received")
	var rec recorder
	w, r := c.CreateWatcher(rec.callback)
	ok(t, "CreateWatcher", r)
	ok(t, "Watch", c.Watch(w, x, HandleSignalReadable, 42))
	ok(t, "ArmWatcher", c.ArmWatcher(w, nil, nil, nil, nil))
	if err := child.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.wait(t)

	// The consumer: what the child wrote is all there, then PEER_CLOSED.
	n, r = readStream(t, c, c1, n, 1<<50)
	expect(t, "reading after the kill", r, ResultFailedPrecondition)
	if n < killStreamBytes {
		t.Fatalf("read %d bytes", n)
	}
	expectState(t, c, c1, HandleSignalPeerClosed, HandleSignalPeerClosed)
	_, r = c.ReadData(c1, make([]byte, 1), 1, 0)
	expect(t, "ReadData", r, ResultFailedPrecondition)
	// The producer: writes fail.
	select {
	case <-writerDone:
	case <-time.After(crossTimeout):
		t.Fatal("the writer did not stop")
	}
	expect(t, "writing after the kill", writeResult, ResultFailedPrecondition)
	if wrote < killStreamBytes {
		t.Fatalf("wrote %d bytes", wrote)
	}
	expectState(t, c, p2, HandleSignalPeerClosed, HandleSignalPeerClosed)
	_, r = c.WriteData(p2, []byte("x"), 0)
	expect(t, "WriteData", r, ResultFailedPrecondition)
	// The pipes: the one sent to the child and the invitation's.
	waitPeerClosed(t, c, x)
	expectState(t, c, x, HandleSignalPeerClosed, HandleSignalPeerClosed)
	expect(t, "WriteMessage", c.WriteMessage(x, []byte("x"), nil, 0), ResultFailedPrecondition)
	waitPeerClosed(t, c, control)
	expectState(t, c, control, HandleSignalPeerClosed, HandleSignalPeerClosed)
	var ns []notification
	waitFor(t, "the watcher's notification", func() bool {
		ns = append(ns, rec.take()...)
		return len(ns) > 0
	})
	// READABLE can never be satisfied now. The notification is FROM_SYSTEM
	// if the driver's delivery of the news pumped it; an API call of
	// another goroutine (the writer's, or this one's reads) may get there
	// first (the watcher package's documented relaxation), and then it
	// carries no flags.
	want := notification{42, ResultFailedPrecondition,
		HandleSignalsState{Satisfied: HandleSignalPeerClosed, Satisfiable: HandleSignalPeerClosed}, 0}
	if len(ns) != 1 || ns[0].flags&^WatcherNotificationFlagFromSystem != 0 {
		t.Fatalf("notifications %+v, want one %+v", ns, want)
	}
	if ns[0].flags = 0; ns[0] != want {
		t.Fatalf("notification %+v, want %+v", ns[0], want)
	}
	closeAll(t, c, w)
	// The CANCELLED notification: at the tail of Close, or just after it
	// if a driver delivery was pumping notifications meanwhile.
	ns = nil
	waitFor(t, "the CANCELLED notification", func() bool {
		ns = append(ns, rec.take()...)
		return len(ns) > 0
	})
	if len(ns) != 1 || ns[0].context != 42 || ns[0].result != ResultCancelled {
		t.Fatalf("notifications at close: %+v", ns)
	}
	closeAll(t, c, x, c1, p2, control)
}

func childStreamer() {
	k := acceptCross()
	t, c := k.t, k.c
	control := k.extract("control")[0]
	msg, hs := recv(t, c, control)
	expectString(t, "message", string(msg), "stream")
	_, producer, consumer := hs[0], hs[1], hs[2]
	go func() {
		writeStream(t, c, producer, 0, 1<<50, 9000)
	}()
	if _, r := readStream(t, c, consumer, 0, killStreamBytes); r != ResultOK {
		t.Fatalf("readStream: %v", r)
	}
	send(t, c, control, "received")
	readStream(t, c, consumer, killStreamBytes, 1<<50)
	t.Fatal("the stream into the child ended")
}

// Data pipe endpoints sent to another process mid-stream, while the other
// end keeps going, keep working: the consumer (or the producer) goes to a
// child and back at every segment of the stream, and every byte arrives
// once, in order, up to PEER_CLOSED exactly at the end. With 1-byte
// elements and with 12-byte ones (every chunk size used is a multiple of
// 12), in 8 segments, and in 200 short ones.
func TestCrossProcessDataPipeMovesMidStream(t *testing.T) {
	for _, tc := range []struct {
		elem     uint32
		segments int
	}{{1, 8}, {12, 8}, {1, 200}} {
		for _, moving := range []string{"consumer", "producer"} {
			t.Run(fmt.Sprintf("%s/elem=%d/segments=%d", moving, tc.elem, tc.segments), func(t *testing.T) {
				testMoveMidStream(t, moving, tc.elem, tc.segments)
			})
		}
	}
}

// testMoveMidStream streams 16.8 MB (4.2 MB under -race; multiples of
// 12×8×200, so that every segment is a whole number of elements) through a
// pipe whose moving end is here for even segments and in a child for odd
// ones.
func testMoveMidStream(t *testing.T, moving string, elem uint32, segments int) {
	total := uint64(16_800_000)
	if raceEnabled {
		total /= 4
	}
	segment := func(i int) uint64 { return total * uint64(i) / uint64(segments) }
	b := newCrossBroker(t)
	c := b.c
	_, hs := b.spawn("mover", spawnOptions{}, "control")
	control := hs[0]
	// A ring size that no chunk size divides.
	ring := 100_003 - 100_003%elem
	p, cons, r := c.CreateDataPipe(&CreateDataPipeOptions{StructSize: 16, ElementNumBytes: elem, CapacityNumBytes: ring})
	ok(t, "CreateDataPipe", r)
	moved, still := cons, p
	if moving == "producer" {
		moved, still = p, cons
	}

	// The end that stays runs on its own goroutine throughout.
	var reached uint64 // where it got to; set before done is closed
	done := make(chan struct{})
	go func() {
		defer close(done)
		bt := bgTB{t}
		if moving == "consumer" {
			n, r := writeStream(bt, c, still, 0, total, 7776)
			if r != ResultOK || n != total {
				bt.Fatalf("wrote %d, %v", n, r)
			}
			ok(bt, "Close producer", c.Close(still))
			reached = n
			return
		}
		n, r := readStream(bt, c, still, 0, 1<<50)
		if r != ResultFailedPrecondition {
			bt.Fatalf("read %d, %v", n, r)
		}
		expectState(bt, c, still, HandleSignalPeerClosed, HandleSignalPeerClosed)
		ok(bt, "Close consumer", c.Close(still))
		reached = n
	}()

	// The moving end does even segments here, odd ones in the
	// child.
	for i := range segments {
		from, to := segment(i), segment(i+1)
		if i%2 == 1 {
			send(t, c, control, fmt.Sprintf("%s %d %d", moving, from, to), moved)
			msg, hs := recv(t, c, control)
			expectString(t, "report", string(msg), fmt.Sprintf("%s at %d", moving, to))
			if len(hs) != 1 {
				t.Fatalf("%d handles", len(hs))
			}
			moved = hs[0]
			continue
		}
		var n uint64
		if moving == "consumer" {
			n, r = readStream(t, c, moved, from, to)
		} else {
			n, r = writeStream(t, c, moved, from, to, 4800)
		}
		if r != ResultOK || n != to {
			t.Fatalf("segment %d: reached %d of %d: %v", i, n, to, r)
		}
	}
	if moving == "consumer" {
		// The producer closed after the last byte: nothing more.
		n, r := readStream(t, c, moved, total, 1<<50)
		if r != ResultFailedPrecondition || n != total {
			t.Fatalf("after the end: %d, %v", n, r)
		}
		expectState(t, c, moved, HandleSignalPeerClosed, HandleSignalPeerClosed)
	}
	closeAll(t, c, moved)
	select {
	case <-done:
		if reached != total {
			t.Fatalf("the other end reached %d", reached)
		}
	case <-time.After(crossTimeout):
		t.Fatal("the other end did not finish")
	}
	send(t, c, control, "done")
	closeAll(t, c, control)
}

func childMover() {
	k := acceptCross()
	t, c := k.t, k.c
	control := k.extract("control")[0]
	for {
		msg, hs := recv(t, c, control)
		if string(msg) == "done" {
			break
		}
		var what string
		var from, to uint64
		if _, err := fmt.Sscanf(string(msg), "%s %d %d", &what, &from, &to); err != nil || len(hs) != 1 {
			t.Fatalf("message %q with %d handles", msg, len(hs))
		}
		h := hs[0]
		var n uint64
		var r Result
		if strings.HasPrefix(what, "consumer") {
			n, r = readStream(t, c, h, from, to)
		} else {
			n, r = writeStream(t, c, h, from, to, 3000)
		}
		if r != ResultOK || n != to {
			t.Fatalf("%s: reached %d of %d: %v", what, n, to, r)
		}
		send(t, c, control, fmt.Sprintf("%s at %d", what, to), h)
	}
	k.finish(control)
}

// A child killed before it reads a message full of handles (so the
// handles die with it, unread) leaves the peers of those handles here
// PEER_CLOSED, and nothing of them behind (the broker's cleanup checks).
func TestCrossProcessKilledWithHandlesInFlight(t *testing.T) {
	b := newCrossBroker(t)
	c := b.c
	child, hs := b.spawn("idle", spawnOptions{wantExit: wantKilled}, "control")
	control := hs[0]
	expectString(t, "child", recvString(t, c, control), "idle")
	x, y := pipe(t, c)
	send(t, c, x, "queued at the far end")
	p1, c1, r := c.CreateDataPipe(nil)
	ok(t, "CreateDataPipe", r)
	if _, r := c.WriteData(p1, []byte("unread"), 0); r != ResultOK {
		t.Fatalf("WriteData: %v", r)
	}
	p2, c2, r := c.CreateDataPipe(nil)
	ok(t, "CreateDataPipe", r)
	buf, r := c.CreateSharedBuffer(nil, 4096)
	ok(t, "CreateSharedBuffer", r)
	send(t, c, control, "yours", y, c1, p2, buf)
	if err := child.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.wait(t)
	for _, h := range []Handle{x, p1, c2, control} {
		waitPeerClosed(t, c, h)
		expectState(t, c, h, HandleSignalPeerClosed, HandleSignalPeerClosed)
	}
	_, r = c.WriteData(p1, []byte("more"), 0)
	expect(t, "WriteData", r, ResultFailedPrecondition)
	_, r = c.ReadData(c2, make([]byte, 1), 1, 0)
	expect(t, "ReadData", r, ResultFailedPrecondition)
	closeAll(t, c, x, p1, c2, control)
}

func childIdle() {
	k := acceptCross()
	t, c := k.t, k.c
	control := k.extract("control")[0]
	send(t, c, control, "idle")
	select {} // until killed
}
