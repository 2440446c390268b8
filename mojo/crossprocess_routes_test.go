package mojo

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/internal/leakcheck"
	"golang.org/x/sys/unix"
)

func init() {
	registerCrossChild("many", childMany)
	registerCrossChild("fuser", childFuser)
	registerCrossChild("pair", childPair)
	registerCrossChild("echo", childEcho)
}

// manyEach is how many handles of each kind TestCrossProcessManyHandles
// sends in one message.
const manyEach = 64

// One message carrying 3×64 handles to a child: message pipe ends, platform
// handles and shared buffers (128 descriptors, more than one SCM_RIGHTS
// group), each arriving in order and working there.
func TestCrossProcessManyHandles(t *testing.T) {
	b := newCrossBroker(t)
	c := b.c
	_, hs := b.spawn("many", spawnOptions{}, "control")
	control := hs[0]

	var sent, pipes []Handle
	var readEnds []*os.File
	var maps [][]byte
	for range manyEach {
		x, y := pipe(t, c)
		pipes = append(pipes, x)
		sent = append(sent, y)
	}
	for range manyEach {
		var fds [2]int
		if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		readEnds = append(readEnds, os.NewFile(uintptr(fds[0]), "pipe"))
		h, r := c.WrapPlatformHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeFileDescriptor, Value: uint64(fds[1])})
		ok(t, "WrapPlatformHandle", r)
		sent = append(sent, h)
	}
	defer func() {
		for _, f := range readEnds {
			f.Close()
		}
	}()
	for i := range manyEach {
		buf, r := c.CreateSharedBuffer(nil, 64)
		ok(t, "CreateSharedBuffer", r)
		m, r := c.MapBuffer(buf, 0, 64, 0)
		ok(t, "MapBuffer", r)
		copy(m, fmt.Sprintf("buffer %d", i))
		maps = append(maps, m)
		sent = append(sent, buf)
	}
	send(t, c, control, "many", sent...)

	for i, x := range pipes {
		expectString(t, "pipe", recvString(t, c, x), fmt.Sprintf("pipe %d", i))
	}
	for i, f := range readEnds {
		got, err := io.ReadAll(f)
		if err != nil || string(got) != fmt.Sprintf("fd %d", i) {
			t.Fatalf("pipe %d: %q, %v", i, got, err)
		}
	}
	expectString(t, "report", recvString(t, c, control), "done")
	for i, m := range maps {
		if want := fmt.Sprintf("child %d", i); !bytes.HasPrefix(m, []byte(want)) {
			t.Fatalf("buffer %d holds %q", i, m[:len(want)])
		}
		ok(t, "UnmapBuffer", c.UnmapBuffer(m))
	}
	closeAll(t, c, pipes...)
	closeAll(t, c, control)
}

func childMany() {
	k := acceptCross()
	t, c := k.t, k.c
	control := k.extract("control")[0]
	msg, hs := recv(t, c, control)
	expectString(t, "message", string(msg), "many")
	if len(hs) != 3*manyEach {
		t.Fatalf("%d handles", len(hs))
	}
	for i, h := range hs[:manyEach] {
		send(t, c, h, fmt.Sprintf("pipe %d", i))
	}
	for i, h := range hs[manyEach : 2*manyEach] {
		out := PlatformHandle{StructSize: 16}
		ok(t, "UnwrapPlatformHandle", c.UnwrapPlatformHandle(h, &out))
		if _, err := unix.Write(int(out.Value), []byte(fmt.Sprintf("fd %d", i))); err != nil {
			t.Fatalf("write: %v", err)
		}
		unix.Close(int(out.Value))
	}
	for i, h := range hs[2*manyEach:] {
		m, r := c.MapBuffer(h, 0, 64, 0)
		ok(t, "MapBuffer", r)
		if want := fmt.Sprintf("buffer %d", i); !bytes.HasPrefix(m, []byte(want)) {
			t.Fatalf("buffer %d holds %q", i, m[:len(want)])
		}
		copy(m, fmt.Sprintf("child %d", i))
		ok(t, "UnmapBuffer", c.UnmapBuffer(m))
	}
	send(t, c, control, "done")
	// The pipes' peers stay open until the parent has read them.
	for _, h := range hs[:manyEach] {
		waitPeerClosed(t, c, h)
	}
	closeAll(t, c, hs[:manyEach]...)
	closeAll(t, c, hs[2*manyEach:]...)
	k.finish(control)
}

// Fusing, in the parent, two pipes whose other ends are both in a child
// joins those ends: the child talks to itself through the fused route.
func TestCrossProcessFuse(t *testing.T) {
	b := newCrossBroker(t)
	c := b.c
	_, hs := b.spawn("fuser", spawnOptions{}, "control", "left", "right")
	control, left, right := hs[0], hs[1], hs[2]
	ok(t, "FuseMessagePipes", c.FuseMessagePipes(left, right))
	expect(t, "Close of a fused handle", c.Close(left), ResultInvalidArgument)
	expectString(t, "report", recvString(t, c, control), "left and right are joined")
	closeAll(t, c, control)
}

func childFuser() {
	k := acceptCross()
	t, c := k.t, k.c
	hs := k.extract("control", "left", "right")
	control, left, right := hs[0], hs[1], hs[2]
	send(t, c, left, "to the right")
	expectString(t, "right", recvString(t, c, right), "to the right")
	send(t, c, right, "to the left")
	expectString(t, "left", recvString(t, c, left), "to the left")
	closeAll(t, c, left)
	waitPeerClosed(t, c, right)
	expectState(t, c, right, HandleSignalPeerClosed, HandleSignalPeerClosed)
	closeAll(t, c, right)
	send(t, c, control, "left and right are joined")
	k.finish(control)
}

// pairStreamBytes is what one child streams to the other in
// TestCrossProcessBetweenChildren.
const pairStreamBytes = 32 << 20

// Handles the broker sends to two children connect them: a message pipe
// and a data pipe, each with one end in either child, carry traffic
// between the children, and the routes then bypass the broker (it keeps
// no proxy).
func TestCrossProcessBetweenChildren(t *testing.T) {
	b := newCrossBroker(t)
	c := b.c
	_, hs := b.spawn("pair", spawnOptions{}, "control")
	controlA := hs[0]
	_, hs = b.spawn("pair", spawnOptions{}, "control")
	controlB := hs[0]
	x, y := pipe(t, c)
	p, cons, r := c.CreateDataPipe(&CreateDataPipeOptions{StructSize: 16, ElementNumBytes: 1, CapacityNumBytes: 1 << 20})
	ok(t, "CreateDataPipe", r)
	send(t, c, controlA, "write", x, p)
	send(t, c, controlB, "read", y, cons)
	expectString(t, "A", recvString(t, c, controlA), "wrote 33554432 bytes; B read them")
	expectString(t, "B", recvString(t, c, controlB), "read 33554432 bytes; A acknowledged")
	if !leakcheck.WaitUntil(crossTimeout, time.Millisecond, func() bool { return c.Node().Stats().Proxies == 0 }) {
		t.Fatalf("the broker still proxies: %+v", c.Node().Stats())
	}
	send(t, c, controlA, "bye")
	send(t, c, controlB, "bye")
	closeAll(t, c, controlA, controlB)
}

func childPair() {
	k := acceptCross()
	t, c := k.t, k.c
	control := k.extract("control")[0]
	msg, hs := recv(t, c, control)
	if len(hs) != 2 {
		t.Fatalf("%d handles", len(hs))
	}
	peer, dp := hs[0], hs[1]
	switch string(msg) {
	case "write":
		if n, r := writeStream(t, c, dp, 0, pairStreamBytes, 50_000); r != ResultOK || n != pairStreamBytes {
			t.Fatalf("wrote %d, %v", n, r)
		}
		closeAll(t, c, dp)
		expectString(t, "peer", recvString(t, c, peer), fmt.Sprintf("read %d", pairStreamBytes))
		send(t, c, peer, "ack")
		send(t, c, control, fmt.Sprintf("wrote %d bytes; B read them", pairStreamBytes))
	case "read":
		n, r := readStream(t, c, dp, 0, 1<<50)
		if r != ResultFailedPrecondition || n != pairStreamBytes {
			t.Fatalf("read %d, %v", n, r)
		}
		closeAll(t, c, dp)
		send(t, c, peer, fmt.Sprintf("read %d", n))
		expectString(t, "peer", recvString(t, c, peer), "ack")
		send(t, c, control, fmt.Sprintf("read %d bytes; A acknowledged", n))
	default:
		t.Fatalf("message %q", msg)
	}
	expectString(t, "control", recvString(t, c, control), "bye")
	// The writer closes its end of the pipe between the children; the
	// reader sees that.
	if string(msg) == "read" {
		waitPeerClosed(t, c, peer)
		expectState(t, c, peer, HandleSignalPeerClosed, HandleSignalPeerClosed)
	}
	closeAll(t, c, peer)
	k.finish(control)
}

// Messages from empty to 16 MiB (4 MiB under -race), each with a pipe
// attached, go to a child and come back intact, and the pipe still works
// after the round trip.
func TestCrossProcessLargeMessages(t *testing.T) {
	b := newCrossBroker(t)
	c := b.c
	_, hs := b.spawn("echo", spawnOptions{}, "control")
	control := hs[0]
	largest := 16 << 20
	if raceEnabled {
		largest = 4 << 20
	}
	for _, size := range []int{0, 1, 64<<10 + 1, 1 << 20, largest} {
		msg := make([]byte, size)
		fillPattern(msg, uint64(size))
		x, y := pipe(t, c)
		ok(t, "WriteMessage", c.WriteMessage(control, msg, []Handle{y}, 0))
		got, hs := recv(t, c, control)
		if len(got) != size || !matchesPattern(got, uint64(size)) || len(hs) != 1 {
			t.Fatalf("%d bytes and %d handles back for %d bytes", len(got), len(hs), size)
		}
		send(t, c, x, "through the pipe")
		expectString(t, "returned pipe", recvString(t, c, hs[0]), "through the pipe")
		closeAll(t, c, x, hs[0])
	}
	send(t, c, control, "done")
	expectString(t, "report", recvString(t, c, control), "echoed 5")
	closeAll(t, c, control)
}

// childEcho sends every message back, with its handles, until "done".
func childEcho() {
	k := acceptCross()
	t, c := k.t, k.c
	control := k.extract("control")[0]
	n := 0
	for {
		msg, hs := recv(t, c, control)
		if string(msg) == "done" && len(hs) == 0 {
			break
		}
		ok(t, "WriteMessage", c.WriteMessage(control, msg, hs, 0))
		n++
	}
	send(t, c, control, fmt.Sprintf("echoed %d", n))
	k.finish(control)
}
