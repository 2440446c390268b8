package mojo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() {
	registerCrossChild("kinds", childKinds)
	registerCrossChild("invitee", childInvitee)
	registerCrossChild("buffers", childBuffers)
	registerCrossChild("readonly", childReadOnly)
	registerCrossChild("readonly-crash", childReadOnlyCrash)
	registerCrossChild("fds", childFDs)
}

const (
	// kindsStreamBytes is what each data pipe of TestCrossProcessHandleKinds
	// carries: more than the default capacity of 64 KiB, so the ring of
	// the pipe the child writes into wraps.
	kindsStreamBytes = 100_000
	// kindsBufferBytes is the size of its shared buffer.
	kindsBufferBytes = 4096 + 123
)

// Every kind of handle (message pipe, data pipe producer, data pipe
// consumer, shared buffer, platform handle) sent to a child in one
// message, and used there.
func TestCrossProcessHandleKinds(t *testing.T) {
	b := newCrossBroker(t)
	c := b.c
	_, hs := b.spawn("kinds", spawnOptions{}, "control")
	control := hs[0]

	// A pipe whose far end goes with a message already queued on it.
	x, y := pipe(t, c)
	send(t, c, x, "ping")
	// A producer for the child, whose consumer stays here.
	p1, c1, r := c.CreateDataPipe(nil)
	ok(t, "CreateDataPipe", r)
	// A consumer for the child, of a pipe already written and closed.
	p2, c2, r := c.CreateDataPipe(&CreateDataPipeOptions{StructSize: 16, ElementNumBytes: 1, CapacityNumBytes: 128 << 10})
	ok(t, "CreateDataPipe", r)
	if n, r := writeStream(t, c, p2, 0, kindsStreamBytes, 7000); r != ResultOK || n != kindsStreamBytes {
		t.Fatalf("writing p2: %d bytes, %v", n, r)
	}
	closeAll(t, c, p2)
	// A buffer, mapped here.
	buf, r := c.CreateSharedBuffer(nil, kindsBufferBytes)
	ok(t, "CreateSharedBuffer", r)
	m, r := c.MapBuffer(buf, 0, kindsBufferBytes, 0)
	ok(t, "MapBuffer", r)
	copy(m, "hello from the parent")
	// The write end of an OS pipe.
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	readEnd := os.NewFile(uintptr(fds[0]), "pipe")
	defer readEnd.Close()
	ph, r := c.WrapPlatformHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeFileDescriptor, Value: uint64(fds[1])})
	ok(t, "WrapPlatformHandle", r)

	send(t, c, control, "five handles", y, p1, c2, buf, ph)
	// They left the table with the message.
	for _, h := range []Handle{y, p1, c2, buf, ph} {
		expect(t, "Close of a sent handle", c.Close(h), ResultInvalidArgument)
	}

	// The pipe: the child read "ping" and answered, then closed its end.
	expectString(t, "x", recvString(t, c, x), "pong")
	waitPeerClosed(t, c, x)
	expectState(t, c, x, HandleSignalPeerClosed, HandleSignalPeerClosed)
	// The producer: the child wrote the stream and closed it.
	if n, r := readStream(t, c, c1, 0, 1<<40); r != ResultFailedPrecondition || n != kindsStreamBytes {
		t.Fatalf("c1: read %d bytes, then %v", n, r)
	}
	expectState(t, c, c1, HandleSignalPeerClosed, HandleSignalPeerClosed)
	// The child reports on the consumer and writes into the buffer.
	expectString(t, "report", recvString(t, c, control), fmt.Sprintf("consumer read %d bytes", kindsStreamBytes))
	expectString(t, "report", recvString(t, c, control), "buffer written")
	if !bytes.HasPrefix(m[2048:], []byte("hello from the child")) {
		t.Fatalf("buffer at 2048: %q", m[2048:2068])
	}
	// The platform handle: the child wrote and closed the only write end.
	got, err := io.ReadAll(readEnd)
	if err != nil || string(got) != "through a platform handle" {
		t.Fatalf("OS pipe: %q, %v", got, err)
	}
	expectString(t, "report", recvString(t, c, control), "done")
	ok(t, "UnmapBuffer", c.UnmapBuffer(m))
	closeAll(t, c, x, c1, control)
}

func childKinds() {
	k := acceptCross()
	t, c := k.t, k.c
	control := k.extract("control")[0]
	msg, hs := recv(t, c, control)
	expectString(t, "message", string(msg), "five handles")
	if len(hs) != 5 {
		t.Fatalf("%d handles", len(hs))
	}
	pipeEnd, producer, consumer, buf, ph := hs[0], hs[1], hs[2], hs[3], hs[4]

	// The pipe arrives with its peer open and "ping" on its way (ipcz
	// forwards what was queued at the moved end after the end itself).
	if r, _ := waitSignals(t, c, pipeEnd, HandleSignalReadable); r != ResultOK {
		t.Fatalf("waiting for ping: %v", r)
	}
	expectState(t, c, pipeEnd, HandleSignalReadable|HandleSignalWritable,
		HandleSignalReadable|HandleSignalWritable|HandleSignalPeerClosed)
	expectString(t, "pipe", recvString(t, c, pipeEnd), "ping")
	send(t, c, pipeEnd, "pong")
	closeAll(t, c, pipeEnd)

	// The producer arrives writable.
	expectState(t, c, producer, HandleSignalWritable, HandleSignalWritable|HandleSignalPeerClosed)
	if n, r := writeStream(t, c, producer, 0, kindsStreamBytes, 9000); r != ResultOK || n != kindsStreamBytes {
		t.Fatalf("producer: wrote %d, %v", n, r)
	}
	closeAll(t, c, producer)

	// The consumer holds the whole stream; its producer is closed.
	n, r := readStream(t, c, consumer, 0, 1<<40)
	if r != ResultFailedPrecondition {
		t.Fatalf("consumer: %v after %d bytes", r, n)
	}
	expectState(t, c, consumer, HandleSignalPeerClosed, HandleSignalPeerClosed)
	closeAll(t, c, consumer)
	send(t, c, control, fmt.Sprintf("consumer read %d bytes", n))

	// The buffer is the parent's memory.
	m, r := c.MapBuffer(buf, 0, kindsBufferBytes, 0)
	ok(t, "MapBuffer", r)
	if !bytes.HasPrefix(m, []byte("hello from the parent")) {
		t.Fatalf("buffer: %q", m[:21])
	}
	copy(m[2048:], "hello from the child")
	ok(t, "UnmapBuffer", c.UnmapBuffer(m))
	closeAll(t, c, buf)
	send(t, c, control, "buffer written")

	// The platform handle is a working descriptor.
	out := PlatformHandle{StructSize: 16}
	ok(t, "UnwrapPlatformHandle", c.UnwrapPlatformHandle(ph, &out))
	if out.Type != PlatformHandleTypeFileDescriptor {
		t.Fatalf("type %v", out.Type)
	}
	if _, err := unix.Write(int(out.Value), []byte("through a platform handle")); err != nil {
		t.Fatalf("write: %v", err)
	}
	unix.Close(int(out.Value))
	send(t, c, control, "done")
	k.finish(control)
}

// An invitation from the broker to a child: named pipes attached here,
// extracted there by name in any order; a name not extracted and a name
// not attached leave pipes whose peers are closed.
func TestCrossProcessInvitation(t *testing.T) {
	b := newCrossBroker(t)
	c := b.c
	_, hs := b.spawn("invitee", spawnOptions{}, "alpha", "beta", "gamma")
	alpha, beta, gamma := hs[0], hs[1], hs[2]
	// The child writes each pipe's name into it.
	expectString(t, "gamma", recvString(t, c, gamma), "gamma")
	expectString(t, "alpha", recvString(t, c, alpha), "alpha")
	// beta was never extracted: the child's Close of the invitation closed
	// it.
	waitPeerClosed(t, c, beta)
	expectState(t, c, beta, HandleSignalPeerClosed, HandleSignalPeerClosed)
	expectState(t, c, alpha, HandleSignalWritable, HandleSignalReadable|HandleSignalWritable|HandleSignalPeerClosed)
	send(t, c, alpha, "hello alpha")
	send(t, c, gamma, "hello gamma")
	expectString(t, "report", recvString(t, c, alpha), "ok: hello alpha, hello gamma, missing pipe closed")
	closeAll(t, c, alpha, beta, gamma)
}

func childInvitee() {
	k := acceptCross()
	t, c := k.t, k.c
	gamma, r := k.inv.ExtractMessagePipe("gamma")
	ok(t, "Extract(gamma)", r)
	alpha, r := k.inv.ExtractMessagePipe("alpha")
	ok(t, "Extract(alpha)", r)
	_, r = k.inv.ExtractMessagePipe("alpha")
	expect(t, "Extract(alpha) again", r, ResultNotFound)
	missing, r := k.inv.ExtractMessagePipe("delta")
	ok(t, "Extract(delta)", r)
	k.inv.Close()
	_, r = k.inv.ExtractMessagePipe("beta")
	expect(t, "Extract(beta) after Close", r, ResultFailedPrecondition)

	send(t, c, gamma, "gamma")
	send(t, c, alpha, "alpha")
	waitPeerClosed(t, c, missing)
	expectState(t, c, missing, HandleSignalPeerClosed, HandleSignalPeerClosed)
	a := recvString(t, c, alpha)
	g := recvString(t, c, gamma)
	send(t, c, alpha, fmt.Sprintf("ok: %s, %s, missing pipe closed", a, g))
	waitPeerClosed(t, c, gamma)
	closeAll(t, c, missing, gamma)
	k.finish(alpha)
}

// bufferRounds is how many times parent and child take turns through
// shared memory in TestCrossProcessSharedBuffers.
const bufferRounds = 100

// Buffers sent to another process map the same memory, in both
// directions: a buffer made here and one made in the child, each written
// by both sides in turns, with a turn counter in the memory itself.
func TestCrossProcessSharedBuffers(t *testing.T) {
	b := newCrossBroker(t)
	c := b.c
	_, hs := b.spawn("buffers", spawnOptions{}, "control")
	control := hs[0]

	const size = 3*4096 + 5
	buf, r := c.CreateSharedBuffer(nil, size)
	ok(t, "CreateSharedBuffer", r)
	m, r := c.MapBuffer(buf, 0, size, 0)
	ok(t, "MapBuffer", r)
	fillPattern(m, 0)
	clear(m[4096 : 4096+16]) // the turn counter and value of takeTurns
	// The child gets a duplicate; the parent keeps its handle and mapping.
	dup, r := c.DuplicateBufferHandle(buf, nil)
	ok(t, "DuplicateBufferHandle", r)
	send(t, c, control, "parent's buffer", dup)

	// The child maps [4096, size) and finds the pattern there, then the
	// two sides take turns: each waits for the counter at offset 4096 to
	// be its turn, checks the other's last write and makes its own.
	expectString(t, "report", recvString(t, c, control), "pattern seen")
	takeTurns(t, m[4096:], 0)
	expectString(t, "report", recvString(t, c, control), "turns done")

	// Now a buffer made by the child.
	msg, hs := recv(t, c, control)
	expectString(t, "message", string(msg), "child's buffer")
	if len(hs) != 1 {
		t.Fatalf("%d handles", len(hs))
	}
	cb := hs[0]
	// Its size came along exactly.
	_, r = c.MapBuffer(cb, 0, 2*4096+1, 0)
	expect(t, "MapBuffer past the end", r, ResultInvalidArgument)
	cm, r := c.MapBuffer(cb, 4096, 4096, 0)
	ok(t, "MapBuffer", r)
	if !matchesPattern(cm[16:], 4096+16) {
		t.Fatal("the child's buffer does not hold the child's pattern")
	}
	takeTurns(t, cm, 1)
	expectString(t, "report", recvString(t, c, control), "turns done")
	ok(t, "UnmapBuffer", c.UnmapBuffer(cm))
	ok(t, "UnmapBuffer", c.UnmapBuffer(m))
	closeAll(t, c, buf, cb, control)
}

// takeTurns plays bufferRounds rounds in mem with the other process: the
// first 8 bytes are the turn number; on turn n (when n%2 == side) this
// side checks that bytes [8, 16) hold n-1 written by the other side, and
// writes n there and n+1 in the counter.
func takeTurns(t testing.TB, mem []byte, side uint64) {
	t.Helper()
	turn := (*uint64)(unsafe.Pointer(&mem[0]))
	value := mem[8:16]
	for n := side; n < 2*bufferRounds; n += 2 {
		deadline := time.Now().Add(crossTimeout)
		for spins := 0; atomic.LoadUint64(turn) != n; spins++ {
			if spins < 1000 {
				runtime.Gosched()
				continue
			}
			if time.Now().After(deadline) {
				t.Fatalf("turn %d never came (counter %d)", n, atomic.LoadUint64(turn))
			}
			time.Sleep(20 * time.Microsecond)
		}
		if n > 0 {
			if got := binary.LittleEndian.Uint64(value); got != n-1 {
				t.Fatalf("turn %d: the other side wrote %d", n, got)
			}
		}
		binary.LittleEndian.PutUint64(value, n)
		atomic.StoreUint64(turn, n+1)
	}
}

func childBuffers() {
	k := acceptCross()
	t, c := k.t, k.c
	control := k.extract("control")[0]
	msg, hs := recv(t, c, control)
	expectString(t, "message", string(msg), "parent's buffer")
	buf := hs[0]
	const size = 3*4096 + 5
	_, r := c.MapBuffer(buf, 0, size+1, 0)
	expect(t, "MapBuffer past the end", r, ResultInvalidArgument)
	m, r := c.MapBuffer(buf, 4096, size-4096, 0)
	ok(t, "MapBuffer", r)
	if !matchesPattern(m[16:], 4096+16) {
		t.Fatal("the parent's pattern is not there")
	}
	send(t, c, control, "pattern seen")
	takeTurns(t, m, 1)
	send(t, c, control, "turns done")
	ok(t, "UnmapBuffer", c.UnmapBuffer(m))
	// The buffer's fd is a writable region of the size sent.
	var ph PlatformHandle
	ph.StructSize = 16
	n, flags, r := c.UnwrapPlatformSharedBufferHandle(buf, &ph)
	ok(t, "UnwrapPlatformSharedBufferHandle", r)
	if n != size || flags != PlatformSharedBufferHandleFlagNone || ph.Type != PlatformHandleTypeFileDescriptor {
		t.Fatalf("unwrapped: %d bytes, flags %v, type %v", n, flags, ph.Type)
	}
	unix.Close(int(ph.Value))

	// A buffer of the child's own, sent to the parent.
	cb, r := c.CreateSharedBuffer(nil, 2*4096)
	ok(t, "CreateSharedBuffer", r)
	cm, r := c.MapBuffer(cb, 0, 2*4096, 0)
	ok(t, "MapBuffer", r)
	fillPattern(cm, 0)
	clear(cm[4096 : 4096+16])
	send(t, c, control, "child's buffer", cb)
	takeTurns(t, cm[4096:], 0)
	send(t, c, control, "turns done")
	ok(t, "UnmapBuffer", c.UnmapBuffer(cm))
	k.finish(control)
}

// Read-only duplicates are enforced by the kernel in the process that
// receives them: a child maps one, sees the parent's writes through it,
// and cannot write: the store faults, mprotect refuses, and the
// descriptor inside refuses a writable mapping and write(2).
func TestCrossProcessReadOnlyBuffer(t *testing.T) {
	b := newCrossBroker(t)
	c := b.c
	_, hs := b.spawn("readonly", spawnOptions{}, "control")
	control := hs[0]

	const size = 2 * 4096
	buf, r := c.CreateSharedBuffer(nil, size)
	ok(t, "CreateSharedBuffer", r)
	m, r := c.MapBuffer(buf, 0, size, 0)
	ok(t, "MapBuffer", r)
	copy(m, "version 1")
	ro, r := c.DuplicateBufferHandle(buf, &DuplicateBufferHandleOptions{StructSize: 8, Flags: DuplicateBufferHandleOptionsFlagReadOnly})
	ok(t, "DuplicateBufferHandle(READ_ONLY)", r)
	send(t, c, control, "read-only", ro)

	expectString(t, "report", recvString(t, c, control), "saw version 1")
	copy(m, "version 2")
	send(t, c, control, "updated")
	expectString(t, "report", recvString(t, c, control),
		"saw version 2; store faulted at the mapping; mprotect: permission denied; "+
			"unwrapped read-only; mmap writable: permission denied; write: bad file descriptor")
	if !bytes.HasPrefix(m, []byte("version 2")) {
		t.Fatalf("memory changed: %q", m[:9])
	}
	// The writable handle here still writes.
	copy(m, "version 3")
	ok(t, "UnmapBuffer", c.UnmapBuffer(m))
	closeAll(t, c, buf, control)
}

func childReadOnly() {
	k := acceptCross()
	t, c := k.t, k.c
	control := k.extract("control")[0]
	msg, hs := recv(t, c, control)
	expectString(t, "message", string(msg), "read-only")
	ro := hs[0]
	const size = 2 * 4096
	m, r := c.MapBuffer(ro, 0, size, 0)
	ok(t, "MapBuffer", r)
	if !bytes.HasPrefix(m, []byte("version 1")) {
		t.Fatalf("read %q", m[:9])
	}
	send(t, c, control, "saw version 1")
	expectString(t, "message", recvString(t, c, control), "updated")
	if !bytes.HasPrefix(m, []byte("version 2")) {
		t.Fatalf("read %q after the update", m[:9])
	}
	report := []string{"saw version 2"}

	// A store through the mapping faults; with panicOnFault the runtime
	// turns the SIGSEGV into a panic whose address is the byte written.
	fault := func() (addr uintptr) {
		old := debug.SetPanicOnFault(true)
		defer debug.SetPanicOnFault(old)
		defer func() {
			e := recover()
			if err, ok := e.(interface{ Addr() uintptr }); ok {
				addr = err.Addr()
				return
			}
			if e != nil {
				panic(e)
			}
		}()
		m[5] = 'X'
		return 0
	}()
	switch fault {
	case 0:
		t.Fatal("a store through a read-only mapping succeeded")
	case uintptr(unsafe.Pointer(&m[5])):
		report = append(report, "store faulted at the mapping")
	default:
		t.Fatalf("fault at %#x, mapping at %p", fault, &m[5])
	}
	// The kernel will not make the mapping writable either.
	err := unix.Mprotect(m, unix.PROT_READ|unix.PROT_WRITE)
	report = append(report, "mprotect: "+errText(err))
	ok(t, "UnmapBuffer", c.UnmapBuffer(m))

	// A duplicate of a read-only handle is read-only; its descriptor is
	// opened read-only.
	dup, r := c.DuplicateBufferHandle(ro, nil)
	ok(t, "DuplicateBufferHandle", r)
	ph := PlatformHandle{StructSize: 16}
	n, flags, r := c.UnwrapPlatformSharedBufferHandle(dup, &ph)
	ok(t, "UnwrapPlatformSharedBufferHandle", r)
	if n != size || flags != PlatformSharedBufferHandleFlagReadOnly {
		t.Fatalf("unwrapped %d bytes, flags %v", n, flags)
	}
	report = append(report, "unwrapped read-only")
	fd := int(ph.Value)
	if w, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err == nil {
		unix.Munmap(w)
		report = append(report, "mmap writable: succeeded")
	} else {
		report = append(report, "mmap writable: "+errText(err))
	}
	_, err = unix.Write(fd, []byte("X"))
	report = append(report, "write: "+errText(err))
	unix.Close(fd)
	closeAll(t, c, ro)
	send(t, c, control, strings.Join(report, "; "))
	k.finish(control)
}

// errText describes err for a report ("ok" for nil).
func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// The same store, in a child that does not recover: the process dies of
// the fault (SIGSEGV, SEGV_ACCERR: the page is mapped, the access is not
// allowed).
func TestCrossProcessReadOnlyBufferCrash(t *testing.T) {
	b := newCrossBroker(t)
	c := b.c
	child, hs := b.spawn("readonly-crash", spawnOptions{
		captureStderr: true,
		wantExit: func(err error) error {
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				return fmt.Errorf("exit %v, want status 2 from a fatal fault", err)
			}
			return nil
		},
	}, "control")
	control := hs[0]
	buf, r := c.CreateSharedBuffer(nil, 4096)
	ok(t, "CreateSharedBuffer", r)
	m, r := c.MapBuffer(buf, 0, 4096, 0)
	ok(t, "MapBuffer", r)
	copy(m, "untouchable")
	ro, r := c.DuplicateBufferHandle(buf, &DuplicateBufferHandleOptions{StructSize: 8, Flags: DuplicateBufferHandleOptionsFlagReadOnly})
	ok(t, "DuplicateBufferHandle(READ_ONLY)", r)
	send(t, c, control, "read-only", ro)
	expectString(t, "report", recvString(t, c, control), "about to write")
	send(t, c, control, "go ahead")
	_ = child.wait(t)
	stderr := child.stderr.String()
	if !strings.Contains(stderr, "unexpected fault address") || !strings.Contains(stderr, "signal SIGSEGV: segmentation violation code=0x2") {
		t.Fatalf("the child did not die of a protection fault; its stderr:\n%s", stderr)
	}
	if !bytes.HasPrefix(m, []byte("untouchable")) {
		t.Fatalf("memory changed: %q", m[:11])
	}
	// The child is gone: its end of control is closed.
	waitPeerClosed(t, c, control)
	ok(t, "UnmapBuffer", c.UnmapBuffer(m))
	closeAll(t, c, buf, control)
}

func childReadOnlyCrash() {
	k := acceptCross()
	t, c := k.t, k.c
	control := k.extract("control")[0]
	msg, hs := recv(t, c, control)
	expectString(t, "message", string(msg), "read-only")
	m, r := c.MapBuffer(hs[0], 0, 4096, 0)
	ok(t, "MapBuffer", r)
	if !bytes.HasPrefix(m, []byte("untouchable")) {
		t.Fatalf("read %q", m[:11])
	}
	send(t, c, control, "about to write")
	// The parent answers once it has read that, so nothing is lost when
	// this process dies.
	expectString(t, "message", recvString(t, c, control), "go ahead")
	m[0] = 'X' // faults
	runtime.KeepAlive(m)
	t.Fatal("the store did not fault")
}

// Platform handles cross processes as working descriptors, both ways: a
// pipe's write end and a file go to the child (the file is the same open
// file there: same inode, shared contents), and the child sends back the
// read end of a pipe of its own.
func TestCrossProcessPlatformHandles(t *testing.T) {
	b := newCrossBroker(t)
	c := b.c
	_, hs := b.spawn("fds", spawnOptions{}, "control")
	control := hs[0]

	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	readEnd := os.NewFile(uintptr(fds[0]), "pipe")
	defer readEnd.Close()
	f, err := os.CreateTemp(t.TempDir(), "platform-handle")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("written by the parent"), 0); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	fileFD, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	wrap := func(fd int) Handle {
		h, r := c.WrapPlatformHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeFileDescriptor, Value: uint64(fd)})
		ok(t, "WrapPlatformHandle", r)
		return h
	}
	pw, pf := wrap(fds[1]), wrap(fileFD)
	invalid, r := c.WrapPlatformHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeInvalid})
	ok(t, "WrapPlatformHandle(invalid)", r)
	send(t, c, control, fmt.Sprintf("%d %d", st.Dev, st.Ino), pw, pf, invalid)

	// The write end went (the only one), the child wrote and closed it.
	got, err := io.ReadAll(readEnd)
	if err != nil || string(got) != "the child writes into the parent's pipe" {
		t.Fatalf("pipe: %q, %v", got, err)
	}
	expectString(t, "report", recvString(t, c, control), "same file; cloexec; invalid stays invalid")
	buf := make([]byte, 64)
	n, err := f.ReadAt(buf, 4096)
	if (err != nil && err != io.EOF) || string(buf[:n]) != "written by the child" {
		t.Fatalf("file at 4096: %q, %v", buf[:n], err)
	}
	// The child's pipe.
	msg, hs := recv(t, c, control)
	expectString(t, "message", string(msg), "a pipe of mine")
	out := PlatformHandle{StructSize: 16}
	ok(t, "UnwrapPlatformHandle", c.UnwrapPlatformHandle(hs[0], &out))
	theirs := os.NewFile(uintptr(out.Value), "child's pipe")
	got, err = io.ReadAll(theirs)
	theirs.Close()
	if err != nil || string(got) != "the parent reads the child's pipe" {
		t.Fatalf("child's pipe: %q, %v", got, err)
	}
	closeAll(t, c, control)
}

func childFDs() {
	k := acceptCross()
	t, c := k.t, k.c
	control := k.extract("control")[0]
	msg, hs := recv(t, c, control)
	if len(hs) != 3 {
		t.Fatalf("%d handles", len(hs))
	}
	unwrap := func(h Handle) (PlatformHandleType, int) {
		out := PlatformHandle{StructSize: 16}
		ok(t, "UnwrapPlatformHandle", c.UnwrapPlatformHandle(h, &out))
		return out.Type, int(out.Value)
	}
	_, pw := unwrap(hs[0])
	if _, err := unix.Write(pw, []byte("the child writes into the parent's pipe")); err != nil {
		t.Fatalf("write: %v", err)
	}
	unix.Close(pw)

	var report []string
	_, ff := unwrap(hs[1])
	var st unix.Stat_t
	if err := unix.Fstat(ff, &st); err != nil {
		t.Fatalf("fstat: %v", err)
	}
	if fmt.Sprintf("%d %d", st.Dev, st.Ino) == string(msg) {
		report = append(report, "same file")
	} else {
		report = append(report, fmt.Sprintf("another file (%d %d, want %s)", st.Dev, st.Ino, msg))
	}
	if flags, err := unix.FcntlInt(uintptr(ff), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC != 0 {
		report = append(report, "cloexec")
	} else {
		report = append(report, fmt.Sprintf("fd flags %d, %v", flags, err))
	}
	if _, err := unix.Pwrite(ff, []byte("written by the child"), 4096); err != nil {
		t.Fatalf("pwrite: %v", err)
	}
	unix.Close(ff)
	if typ, _ := unwrap(hs[2]); typ == PlatformHandleTypeInvalid {
		report = append(report, "invalid stays invalid")
	}
	send(t, c, control, strings.Join(report, "; "))

	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		t.Fatalf("pipe: %v", err)
	}
	h, r := c.WrapPlatformHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeFileDescriptor, Value: uint64(fds[0])})
	ok(t, "WrapPlatformHandle", r)
	send(t, c, control, "a pipe of mine", h)
	if _, err := unix.Write(fds[1], []byte("the parent reads the child's pipe")); err != nil {
		t.Fatalf("write: %v", err)
	}
	unix.Close(fds[1])
	k.finish(control)
}
