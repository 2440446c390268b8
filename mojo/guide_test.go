package mojo

// Every snippet of the 2017 "Mojo C System API" guide, in order, with its
// documented results asserted. Names follow the headers (mojo.md §1.8):
// the guide's MOJO_WRITE_MESSAGE_NONE is WriteMessageFlagNone, its
// MOJO_READ_DATA_OUT_OF_RANGE is ResultOutOfRange, its
// MojoWrapPlatformSharedBuffer is WrapPlatformSharedBufferHandle.

import (
	"bytes"
	"encoding/binary"
	"runtime/debug"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// "Any MojoHandle may be closed by calling MojoClose": OK for a valid
// handle, INVALID_ARGUMENT otherwise.
func TestGuideClose(t *testing.T) {
	c := newCore(t)
	x, y := pipe(t, c)
	expect(t, "MojoClose(x)", c.Close(x), ResultOK)
	expect(t, "MojoClose(x) again", c.Close(x), ResultInvalidArgument)
	expect(t, "MojoClose(0)", c.Close(HandleInvalid), ResultInvalidArgument)
	expect(t, "MojoClose(bogus)", c.Close(0xdeadbeef), ResultInvalidArgument)
	closeAll(t, c, y)
}

// "Creating Message Pipes": OK and two valid handles.
func TestGuideCreateMessagePipe(t *testing.T) {
	c := newCore(t)
	a, b, r := c.CreateMessagePipe(nil)
	expect(t, "MojoCreateMessagePipe", r, ResultOK)
	if a == HandleInvalid || b == HandleInvalid || a == b {
		t.Fatalf("handles %d %d", a, b)
	}
	closeAll(t, c, a, b)
}

// "Allocating Messages", "Writing Messages", "Reading Messages".
func TestGuideMessages(t *testing.T) {
	c := newCore(t)
	a, b := pipe(t, c)

	// MojoAllocMessage(6, NULL, 0, NONE, &message) and MojoFreeMessage.
	message, r := c.AllocMessage(6, nil, AllocMessageFlagNone)
	expect(t, "MojoAllocMessage", r, ResultOK)
	expect(t, "MojoFreeMessage", c.FreeMessage(message), ResultOK)

	// Fill in a greeting and write it.
	message, r = c.AllocMessage(6, nil, AllocMessageFlagNone)
	ok(t, "MojoAllocMessage", r)
	buffer, r := c.GetMessageBuffer(message)
	expect(t, "MojoGetMessageBuffer", r, ResultOK)
	if len(buffer) != 6 || uintptr(unsafe.Pointer(&buffer[0]))%8 != 0 {
		t.Fatalf("buffer of %d bytes at %p", len(buffer), &buffer[0])
	}
	copy(buffer, "hello\x00")
	expect(t, "MojoWriteMessageNew", c.WriteMessageNew(a, message, WriteMessageFlagNone), ResultOK)
	// The write transferred ownership of the message.
	expect(t, "MojoFreeMessage after write", c.FreeMessage(message), ResultInvalidArgument)
	// "the message will arrive at b before the MojoWriteMessage call even
	// returns": b is readable now.
	if s := state(t, c, b); !s.Satisfies(HandleSignalReadable) {
		t.Fatalf("b not readable after write: %v", s)
	}

	// MojoReadMessageNew(b, &message, &num_bytes, NULL, NULL, NONE).
	message, numBytes, _, r := c.ReadMessageNew(b, nil, ReadMessageFlagNone)
	expect(t, "MojoReadMessageNew", r, ResultOK)
	if numBytes != 6 {
		t.Fatalf("num_bytes = %d", numBytes)
	}
	buffer, r = c.GetMessageBuffer(message)
	ok(t, "MojoGetMessageBuffer", r)
	if got := string(bytes.TrimRight(buffer, "\x00")); got != "hello" {
		t.Fatalf("Pipe says: %q", got)
	}
	ok(t, "MojoFreeMessage", c.FreeMessage(message))

	// Reading again: SHOULD_WAIT.
	_, _, _, r = c.ReadMessageNew(b, nil, ReadMessageFlagNone)
	expect(t, "MojoReadMessageNew on empty pipe", r, ResultShouldWait)
	closeAll(t, c, a, b)
}

// "Messages With Handles".
func TestGuideMessagesWithHandles(t *testing.T) {
	cr := newCore(t)
	a, b := pipe(t, cr)
	c, d := pipe(t, cr)

	// Allocate a message with an empty payload and c attached; this takes
	// ownership of c.
	message, r := cr.AllocMessage(0, []Handle{c}, AllocMessageFlagNone)
	expect(t, "MojoAllocMessage(0, &c, 1)", r, ResultOK)
	expect(t, "MojoClose(c) after attaching", cr.Close(c), ResultInvalidArgument)
	expect(t, "MojoWriteMessageNew", cr.WriteMessageNew(a, message, WriteMessageFlagNone), ResultOK)

	// num_handles = 1 before reading.
	e := make([]Handle, 1)
	message, numBytes, numHandles, r := cr.ReadMessageNew(b, e, ReadMessageFlagNone)
	expect(t, "MojoReadMessageNew", r, ResultOK)
	if numBytes != 0 || numHandles != 1 || e[0] == HandleInvalid {
		t.Fatalf("num_bytes %d num_handles %d e %d", numBytes, numHandles, e[0])
	}
	ok(t, "MojoFreeMessage", cr.FreeMessage(message))
	// e references the endpoint c referenced: its peer is d.
	ok(t, "write to d", cr.WriteMessage(d, []byte("via e"), nil, 0))
	buf := make([]byte, 16)
	n, _, r := cr.ReadMessage(e[0], buf, nil, 0)
	ok(t, "read from e", r)
	if string(buf[:n]) != "via e" {
		t.Fatalf("e read %q", buf[:n])
	}

	// Query for the sizes first: with num_bytes = num_handles = 0 a message
	// with handles gives RESOURCE_EXHAUSTED and both counts.
	x, y := pipe(t, cr)
	ok(t, "write 3 bytes + 2 handles", cr.WriteMessage(a, []byte("abc"), []Handle{x, y}, 0))
	_, numBytes, numHandles, r = cr.ReadMessageNew(b, nil, ReadMessageFlagNone)
	expect(t, "MojoReadMessageNew(num_handles=0)", r, ResultResourceExhausted)
	if numBytes != 3 || numHandles != 2 {
		t.Fatalf("sizes written back: %d bytes, %d handles", numBytes, numHandles)
	}
	two := make([]Handle, 2)
	message, _, _, r = cr.ReadMessageNew(b, two, ReadMessageFlagNone)
	ok(t, "MojoReadMessageNew with room", r)
	ok(t, "MojoFreeMessage", cr.FreeMessage(message))

	// An empty message with no handles: OK.
	ok(t, "write empty", cr.WriteMessage(a, nil, nil, 0))
	message, numBytes, numHandles, r = cr.ReadMessageNew(b, nil, ReadMessageFlagNone)
	expect(t, "MojoReadMessageNew of an empty message", r, ResultOK)
	if numBytes != 0 || numHandles != 0 {
		t.Fatalf("empty message: %d %d", numBytes, numHandles)
	}
	ok(t, "MojoFreeMessage", cr.FreeMessage(message))
	closeAll(t, cr, a, b, d, e[0], two[0], two[1])
	if cr.NumHandles() != 0 || cr.NumMessages() != 0 {
		t.Fatalf("leaked %d handles, %d messages", cr.NumHandles(), cr.NumMessages())
	}
}

// "Creating Data Pipes", "Immediate I/O".
func TestGuideDataPipeImmediate(t *testing.T) {
	c := newCore(t)
	producer, consumer, r := c.CreateDataPipe(nil)
	expect(t, "MojoCreateDataPipe(NULL)", r, ResultOK)

	n, r := c.WriteData(producer, []byte("datadatadata"), WriteDataFlagNone)
	expect(t, "MojoWriteData", r, ResultOK)
	if n != 12 {
		t.Fatalf("num_bytes = %d", n)
	}
	buffer := make([]byte, 64)
	n, r = c.ReadData(consumer, buffer, 64, ReadDataFlagNone)
	expect(t, "MojoReadData", r, ResultOK)
	if n != 12 || string(buffer[:n]) != "datadatadata" {
		t.Fatalf("read %d bytes %q", n, buffer[:n])
	}

	// "If the available capacity ... was less than the amount requested
	// this will copy what it can ... If no data could be copied this will
	// instead return MOJO_RESULT_SHOULD_WAIT."
	opts := &CreateDataPipeOptions{StructSize: 16, ElementNumBytes: 1, CapacityNumBytes: 8}
	p2, c2, r := c.CreateDataPipe(opts)
	ok(t, "MojoCreateDataPipe(capacity 8)", r)
	n, r = c.WriteData(p2, []byte("datadatadata"), WriteDataFlagNone)
	if r != ResultOK || n != 8 {
		t.Fatalf("partial write: %d %v", n, r)
	}
	_, r = c.WriteData(p2, []byte("more"), WriteDataFlagNone)
	expect(t, "MojoWriteData on a full pipe", r, ResultShouldWait)

	// Peek, query, discard, and ALL_OR_NONE (MOJO_RESULT_OUT_OF_RANGE).
	n, r = c.ReadData(c2, nil, 0, ReadDataFlagQuery)
	if r != ResultOK || n != 8 {
		t.Fatalf("query: %d %v", n, r)
	}
	peek := make([]byte, 4)
	n, r = c.ReadData(c2, peek, 4, ReadDataFlagPeek)
	if r != ResultOK || n != 4 || string(peek) != "data" {
		t.Fatalf("peek: %d %v %q", n, r, peek)
	}
	n, r = c.ReadData(c2, nil, 2, ReadDataFlagDiscard)
	if r != ResultOK || n != 2 {
		t.Fatalf("discard: %d %v", n, r)
	}
	_, r = c.ReadData(c2, make([]byte, 7), 7, ReadDataFlagAllOrNone)
	expect(t, "MojoReadData(ALL_OR_NONE, 7 of 6)", r, ResultOutOfRange)
	six := make([]byte, 6)
	n, r = c.ReadData(c2, six, 6, ReadDataFlagAllOrNone)
	if r != ResultOK || n != 6 || string(six) != "tadata" {
		t.Fatalf("all-or-none read: %d %v %q", n, r, six)
	}
	closeAll(t, c, producer, consumer, p2, c2)
}

// "Two-Phase I/O".
func TestGuideDataPipeTwoPhase(t *testing.T) {
	c := newCore(t)
	producer, consumer, r := c.CreateDataPipe(nil)
	ok(t, "MojoCreateDataPipe", r)

	buffer, r := c.BeginWriteData(producer, WriteDataFlagNone)
	expect(t, "MojoBeginWriteData", r, ResultOK)
	if len(buffer) < 1024 {
		t.Fatalf("two-phase write buffer of %d bytes", len(buffer))
	}
	copy(buffer, "hello\x00")
	expect(t, "MojoEndWriteData(6)", c.EndWriteData(producer, 6), ResultOK)

	rbuf, r := c.BeginReadData(consumer, ReadDataFlagNone)
	expect(t, "MojoBeginReadData", r, ResultOK) // "there is some data available"
	if got := string(bytes.TrimRight(rbuf, "\x00")); got != "hello" {
		t.Fatalf("Pipe says: %q", got)
	}
	expect(t, "MojoEndReadData(1)", c.EndReadData(consumer, 1), ResultOK)
	rbuf, r = c.BeginReadData(consumer, ReadDataFlagNone)
	ok(t, "MojoBeginReadData", r)
	if got := string(bytes.TrimRight(rbuf, "\x00")); got != "ello" {
		t.Fatalf("Pipe says: %q", got)
	}
	expect(t, "MojoEndReadData(5)", c.EndReadData(consumer, 5), ResultOK)
	closeAll(t, c, producer, consumer)
}

// "Creating Buffer Handles", "Mapping Buffers".
func TestGuideSharedBuffers(t *testing.T) {
	c := newCore(t)
	buffer, r := c.CreateSharedBuffer(nil, 4096)
	expect(t, "MojoCreateSharedBuffer(4096)", r, ResultOK)
	another, r := c.DuplicateBufferHandle(buffer, nil)
	expect(t, "MojoDuplicateBufferHandle", r, ResultOK)

	data, r := c.MapBuffer(buffer, 0, 64, MapBufferFlagNone)
	expect(t, "MojoMapBuffer(0, 64)", r, ResultOK)
	binary.NativeEndian.PutUint32(data, 42) // *(int*)data = 42
	// The duplicate names the same memory.
	view, r := c.MapBuffer(another, 0, 64, MapBufferFlagNone)
	ok(t, "MojoMapBuffer(another)", r)
	if binary.NativeEndian.Uint32(view) != 42 {
		t.Fatal("duplicate does not share the memory")
	}
	expect(t, "MojoUnmapBuffer", c.UnmapBuffer(data), ResultOK)
	ok(t, "MojoUnmapBuffer", c.UnmapBuffer(view))
	// "The allocated buffer remains valid as long as at least one shared
	// buffer handle exists to reference it."
	ok(t, "MojoClose(buffer)", c.Close(buffer))
	view, r = c.MapBuffer(another, 0, 4, MapBufferFlagNone)
	ok(t, "MojoMapBuffer after closing the original", r)
	if binary.NativeEndian.Uint32(view) != 42 {
		t.Fatal("memory lost with the first handle")
	}
	ok(t, "MojoUnmapBuffer", c.UnmapBuffer(view))
	closeAll(t, c, another)
}

// "Read-Only Handles": writing through a read-only mapping crashes. The
// test driver backs wrapped buffers with memfds and maps read-only
// handles PROT_READ, so the kernel faults the write (turned into a panic
// with SetPanicOnFault). The kernel-enforced test across processes comes
// with the multiprocess driver.
func TestGuideReadOnlyHandles(t *testing.T) {
	c := newCore(t)
	fd := newMemfd(t, 4096)
	buffer, r := c.WrapPlatformSharedBufferHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeFileDescriptor, Value: uint64(fd)}, 4096, 0)
	ok(t, "MojoWrapPlatformSharedBufferHandle", r)

	options := &DuplicateBufferHandleOptions{StructSize: 8, Flags: DuplicateBufferHandleOptionsFlagReadOnly}
	readOnlyBuffer, r := c.DuplicateBufferHandle(buffer, options)
	expect(t, "MojoDuplicateBufferHandle(READ_ONLY)", r, ResultOK)
	data, r := c.MapBuffer(readOnlyBuffer, 0, 64, MapBufferFlagNone)
	ok(t, "MojoMapBuffer(read_only_buffer)", r)

	crashed := func() (crashed bool) {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() { crashed = recover() != nil }()
		binary.NativeEndian.PutUint32(data, 42) // CRASH
		return false
	}()
	if !crashed {
		t.Fatal("writing through a read-only mapping did not fault")
	}
	ok(t, "MojoUnmapBuffer", c.UnmapBuffer(data))
	closeAll(t, c, buffer, readOnlyBuffer)
}

// "Wrapping Basic Handle Types": the Mojo handle owns the fd; unwrapping
// gives it back.
func TestGuideWrapPlatformHandle(t *testing.T) {
	c := newCore(t)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	fd := p[1]

	platformHandle := PlatformHandle{StructSize: 16, Type: PlatformHandleTypeFileDescriptor, Value: uint64(fd)}
	handle, r := c.WrapPlatformHandle(&platformHandle)
	expect(t, "MojoWrapPlatformHandle", r, ResultOK)

	out := PlatformHandle{StructSize: 16}
	expect(t, "MojoUnwrapPlatformHandle", c.UnwrapPlatformHandle(handle, &out), ResultOK)
	if out.Type != PlatformHandleTypeFileDescriptor {
		t.Fatalf("type %d", out.Type)
	}
	got := int(out.Value)
	if _, err := unix.Write(got, []byte("x")); err != nil {
		t.Fatalf("unwrapped fd does not work: %v", err)
	}
	unix.Close(got)
	expect(t, "MojoClose(unwrapped handle)", c.Close(handle), ResultInvalidArgument)

	// Closing the Mojo handle closes the fd.
	var q [2]int
	if err := unix.Pipe2(q[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(q[0])
	handle, r = c.WrapPlatformHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeFileDescriptor, Value: uint64(q[1])})
	ok(t, "MojoWrapPlatformHandle", r)
	ok(t, "MojoClose", c.Close(handle))
	if _, err := unix.FcntlInt(uintptr(q[1]), unix.F_GETFD, 0); err == nil {
		t.Fatal("fd still open after MojoClose")
	}
}

// "Wrapping Shared Buffer Handles": a shared memory fd becomes a buffer
// handle and back.
func TestGuideWrapSharedBuffer(t *testing.T) {
	c := newCore(t)
	fd := newMemfd(t, 8192)
	h, r := c.WrapPlatformSharedBufferHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeFileDescriptor, Value: uint64(fd)}, 8192, PlatformSharedBufferHandleFlagNone)
	ok(t, "MojoWrapPlatformSharedBufferHandle", r)
	m, r := c.MapBuffer(h, 4096, 16, 0)
	ok(t, "MojoMapBuffer", r)
	copy(m, "shared")

	ph := PlatformHandle{StructSize: 16}
	size, flags, r := c.UnwrapPlatformSharedBufferHandle(h, &ph)
	ok(t, "MojoUnwrapPlatformSharedBufferHandle", r)
	if size != 8192 || flags != PlatformSharedBufferHandleFlagNone || ph.Type != PlatformHandleTypeFileDescriptor {
		t.Fatalf("unwrapped %d %d %+v", size, flags, ph)
	}
	got := make([]byte, 6)
	if _, err := unix.Pread(int(ph.Value), got, 4096); err != nil || string(got) != "shared" {
		t.Fatalf("fd contents %q %v", got, err)
	}
	unix.Close(int(ph.Value))
	ok(t, "MojoUnmapBuffer (mapping outlived the handle)", c.UnmapBuffer(m))
}

// "Signals": the three signal tables of the guide.
func TestGuideSignals(t *testing.T) {
	c := newCore(t)
	a, b := pipe(t, c)
	// Both ends start out the same.
	for _, h := range []Handle{a, b} {
		expectState(t, c, h, HandleSignalWritable,
			HandleSignalReadable|HandleSignalWritable|HandleSignalPeerClosed)
	}
	// Writing to b makes a readable as well.
	ok(t, "write b", c.WriteMessage(b, []byte("x"), nil, 0))
	expectState(t, c, a, HandleSignalReadable|HandleSignalWritable,
		HandleSignalReadable|HandleSignalWritable|HandleSignalPeerClosed)
	// Closing b: readable and peer-closed.
	ok(t, "close b", c.Close(b))
	expectState(t, c, a, HandleSignalReadable|HandleSignalPeerClosed,
		HandleSignalReadable|HandleSignalPeerClosed)
	// Reading the last message: only peer-closed.
	_, _, r := c.ReadMessage(a, make([]byte, 1), nil, 0)
	ok(t, "read", r)
	expectState(t, c, a, HandleSignalPeerClosed, HandleSignalPeerClosed)
	closeAll(t, c, a)
}

// "Creating a Watcher", "Adding a Handle to a Watcher", "Arming a
// Watcher", with the notification before MojoWriteMessage returns.
func TestGuideWatcher(t *testing.T) {
	c := newCore(t)
	var rec recorder
	w, r := c.CreateWatcher(rec.callback)
	expect(t, "MojoCreateWatcher", r, ResultOK)

	a, b := pipe(t, c)
	const context = 1234
	expect(t, "MojoWatch(w, a, READABLE, 1234)", c.Watch(w, a, HandleSignalReadable, context), ResultOK)
	expect(t, "MojoArmWatcher", c.ArmWatcher(w, nil, nil, nil, nil), ResultOK)
	if ns := rec.take(); len(ns) != 0 {
		t.Fatalf("notified before any write: %v", ns)
	}

	ok(t, "MojoWriteMessage(b)", c.WriteMessage(b, nil, nil, WriteMessageFlagNone))
	ns := rec.take()
	want := notification{context, ResultOK, state(t, c, a), WatcherNotificationFlagNone}
	if len(ns) != 1 || ns[0] != want {
		t.Fatalf("notifications %v, want [%v]", ns, want)
	}

	// The watcher disarmed itself: another write notifies nothing.
	ok(t, "MojoWriteMessage(b)", c.WriteMessage(b, nil, nil, WriteMessageFlagNone))
	if ns := rec.take(); len(ns) != 0 {
		t.Fatalf("notified while disarmed: %v", ns)
	}

	// Arming fails while a is readable, and reports it.
	numReadyContexts := uint32(4)
	readyContexts := make([]uintptr, 4)
	readyResults := make([]Result, 4)
	readyStates := make([]HandleSignalsState, 4)
	expect(t, "MojoArmWatcher with a readable", c.ArmWatcher(w, &numReadyContexts, readyContexts, readyResults, readyStates), ResultFailedPrecondition)
	if numReadyContexts != 1 || readyContexts[0] != 1234 || readyResults[0] != ResultOK || readyStates[0] != state(t, c, a) {
		t.Fatalf("ready: %d %v %v %v", numReadyContexts, readyContexts[0], readyResults[0], readyStates[0])
	}

	// "If b were instead closed": FAILED_PRECONDITION.
	for {
		_, _, r := c.ReadMessage(a, nil, nil, 0)
		if r != ResultOK {
			break
		}
	}
	ok(t, "MojoArmWatcher", c.ArmWatcher(w, nil, nil, nil, nil))
	ok(t, "MojoClose(b)", c.Close(b))
	ns = rec.take()
	if len(ns) != 1 || ns[0].context != context || ns[0].result != ResultFailedPrecondition ||
		ns[0].state != (HandleSignalsState{Satisfied: HandleSignalPeerClosed, Satisfiable: HandleSignalPeerClosed}) {
		t.Fatalf("after closing b: %v", ns)
	}
	closeAll(t, c, a, w)
	ns = rec.take()
	if len(ns) != 1 || ns[0].result != ResultCancelled {
		t.Fatalf("closing a: %v", ns)
	}
}

// "Cancelling a Watch": each of the three ways gives one CANCELLED,
// armed or not.
func TestGuideCancelWatch(t *testing.T) {
	for _, how := range []string{"close a", "close w", "cancel"} {
		for _, armed := range []bool{false, true} {
			c := newCore(t)
			var rec recorder
			w, _ := c.CreateWatcher(rec.callback)
			a, b := pipe(t, c)
			ok(t, "MojoWatch", c.Watch(w, a, HandleSignalReadable, 1234))
			if armed {
				ok(t, "MojoArmWatcher", c.ArmWatcher(w, nil, nil, nil, nil))
			}
			switch how {
			case "close a":
				ok(t, "MojoClose(a)", c.Close(a))
			case "close w":
				ok(t, "MojoClose(w)", c.Close(w))
			case "cancel":
				expect(t, "MojoCancelWatch(w, 1234)", c.CancelWatch(w, 1234), ResultOK)
			}
			ns := rec.take()
			want := notification{1234, ResultCancelled, HandleSignalsState{}, WatcherNotificationFlagNone}
			if len(ns) != 1 || ns[0] != want {
				t.Fatalf("%s (armed %v): %v", how, armed, ns)
			}
			// Nothing follows the cancellation.
			_ = c.WriteMessage(b, nil, nil, 0)
			c.Close(a)
			c.Close(w)
			c.Close(b)
			if ns := rec.take(); len(ns) != 0 {
				t.Fatalf("%s: notified after CANCELLED: %v", how, ns)
			}
		}
	}
}

// "Practical Watch Context Usage": one watcher per end of a pipe counts
// the messages that end receives; closing either end cancels both watches.
func TestGuideWatcherCountsMessages(t *testing.T) {
	c := newCore(t)

	type watchedHandleState struct {
		watcher      Handle
		handle       Handle
		messageCount int
		freed        bool
	}
	states := map[uintptr]*watchedHandleState{}

	onNotification := func(context uintptr, result Result, _ HandleSignalsState, _ WatcherNotificationFlags) {
		state := states[context]
		if result == ResultCancelled {
			// Cancellation is always the last notification.
			state.freed = true
			return
		}
		if result == ResultFailedPrecondition {
			c.CancelWatch(state.watcher, context)
			return
		}
		for c.ArmWatcher(state.watcher, nil, nil, nil, nil) == ResultFailedPrecondition {
			msg, _, _, rv := c.ReadMessageNew(state.handle, nil, ReadMessageFlagMayDiscard)
			if rv == ResultOK {
				state.messageCount++
				c.FreeMessage(msg)
			} else if rv == ResultFailedPrecondition {
				c.CancelWatch(state.watcher, context)
				return
			}
		}
	}

	a, b := pipe(t, c)
	aWatcher, r := c.CreateWatcher(onNotification)
	ok(t, "MojoCreateWatcher", r)
	bWatcher, r := c.CreateWatcher(onNotification)
	ok(t, "MojoCreateWatcher", r)
	aState := &watchedHandleState{watcher: aWatcher, handle: a}
	bState := &watchedHandleState{watcher: bWatcher, handle: b}
	states[1], states[2] = aState, bState

	ok(t, "MojoWatch(a)", c.Watch(aWatcher, a, HandleSignalReadable, 1))
	ok(t, "MojoWatch(b)", c.Watch(bWatcher, b, HandleSignalReadable, 2))
	ok(t, "MojoArmWatcher(a)", c.ArmWatcher(aWatcher, nil, nil, nil, nil))
	ok(t, "MojoArmWatcher(b)", c.ArmWatcher(bWatcher, nil, nil, nil, nil))

	for range 5 {
		ok(t, "write a", c.WriteMessage(a, []byte("to b"), nil, 0))
	}
	for range 3 {
		ok(t, "write b", c.WriteMessage(b, []byte("to a"), nil, 0))
	}
	if bState.messageCount != 5 || aState.messageCount != 3 {
		t.Fatalf("counts: a %d, b %d", aState.messageCount, bState.messageCount)
	}
	// Closing a cancels a's watch (closure) and b's (its watcher sees b
	// can no longer be read and cancels).
	ok(t, "MojoClose(a)", c.Close(a))
	if !aState.freed || !bState.freed {
		t.Fatalf("freed: a %v, b %v", aState.freed, bState.freed)
	}
	closeAll(t, c, b, aWatcher, bWatcher)
}
