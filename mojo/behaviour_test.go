package mojo

// mojo.md §1.10, the 2017 reference implementation's behaviour, row by row.

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Row "time".
func TestBehaviourTime(t *testing.T) {
	prev := GetTimeTicksNow()
	if prev == 0 {
		t.Fatal("MojoGetTimeTicksNow returned 0")
	}
	for range 1000 {
		now := GetTimeTicksNow()
		if now < prev {
			t.Fatalf("time went backwards: %d after %d", now, prev)
		}
		prev = now
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	if d := ts.Nano()/1000 - int64(GetTimeTicksNow()); d < -1_000_000 || d > 1_000_000 {
		t.Fatalf("ticks are %dµs away from CLOCK_MONOTONIC", d)
	}
}

// Row "close / query".
func TestBehaviourCloseQuery(t *testing.T) {
	c := newCore(t)
	expect(t, "Close(0)", c.Close(HandleInvalid), ResultInvalidArgument)
	expect(t, "Close(unknown)", c.Close(12345), ResultInvalidArgument)
	_, r := c.QueryHandleSignalsState(HandleInvalid)
	expect(t, "Query(0)", r, ResultInvalidArgument)
	_, r = c.QueryHandleSignalsState(777)
	expect(t, "Query(unknown)", r, ResultInvalidArgument)
	// Handles without signals report none.
	buf, _ := c.CreateSharedBuffer(nil, 8)
	w, _ := c.CreateWatcher(func(uintptr, Result, HandleSignalsState, WatcherNotificationFlags) {})
	ph, _ := c.WrapPlatformHandle(&PlatformHandle{StructSize: 16})
	for _, h := range []Handle{buf, w, ph} {
		expectState(t, c, h, 0, 0)
	}
	closeAll(t, c, buf, w, ph)
}

// Row "options structs".
func TestBehaviourOptionsStructs(t *testing.T) {
	c := newCore(t)
	// struct_size < 4: INVALID_ARGUMENT.
	_, r := c.CreateSharedBuffer(&CreateSharedBufferOptions{StructSize: 3}, 8)
	expect(t, "CreateSharedBuffer(struct_size 3)", r, ResultInvalidArgument)
	b, r := c.CreateSharedBuffer(nil, 8)
	ok(t, "CreateSharedBuffer", r)
	_, r = c.DuplicateBufferHandle(b, &DuplicateBufferHandleOptions{StructSize: 0})
	expect(t, "DuplicateBufferHandle(struct_size 0)", r, ResultInvalidArgument)
	// struct_size that does not reach flags: the default (unknown bits
	// are not even read).
	h, r := c.CreateSharedBuffer(&CreateSharedBufferOptions{StructSize: 4, Flags: 0xff}, 8)
	ok(t, "CreateSharedBuffer(struct_size 4, junk flags)", r)
	d, r := c.DuplicateBufferHandle(b, &DuplicateBufferHandleOptions{StructSize: 4, Flags: 0xff})
	ok(t, "DuplicateBufferHandle(struct_size 4, junk flags)", r)
	// Unknown flag bits: UNIMPLEMENTED.
	_, r = c.CreateSharedBuffer(&CreateSharedBufferOptions{StructSize: 8, Flags: 1}, 8)
	expect(t, "CreateSharedBuffer(unknown flag)", r, ResultUnimplemented)
	_, r = c.DuplicateBufferHandle(b, &DuplicateBufferHandleOptions{StructSize: 8, Flags: 2})
	expect(t, "DuplicateBufferHandle(unknown flag)", r, ResultUnimplemented)
	// A bigger struct is fine.
	h2, r := c.CreateSharedBuffer(&CreateSharedBufferOptions{StructSize: 64}, 8)
	ok(t, "CreateSharedBuffer(struct_size 64)", r)
	// MojoCreateDataPipe demands exactly 16.
	for _, size := range []uint32{0, 8, 15, 17, 32} {
		_, _, r := c.CreateDataPipe(&CreateDataPipeOptions{StructSize: size, ElementNumBytes: 1})
		expect(t, "CreateDataPipe(struct_size)", r, ResultInvalidArgument)
	}
	_, _, r = c.CreateDataPipe(&CreateDataPipeOptions{StructSize: 16, Flags: 1, ElementNumBytes: 1})
	expect(t, "CreateDataPipe(unknown flag)", r, ResultUnimplemented)
	// MojoCreateMessagePipe ignores its options.
	x, y, r := c.CreateMessagePipe(&CreateMessagePipeOptions{StructSize: 1, Flags: 0xffff})
	ok(t, "CreateMessagePipe(junk options)", r)
	closeAll(t, c, b, h, d, h2, x, y)
}

// Row "message-pipe signals": before and after the peer closes, with and
// without queued messages; never PEER_REMOTE (bit 4).
func TestBehaviourMessagePipeSignals(t *testing.T) {
	c := newCore(t)
	a, b := pipe(t, c)
	rwp := HandleSignalReadable | HandleSignalWritable | HandleSignalPeerClosed
	expectState(t, c, a, HandleSignalWritable, rwp)
	ok(t, "write", c.WriteMessage(b, []byte("1"), nil, 0))
	ok(t, "write", c.WriteMessage(b, []byte("2"), nil, 0))
	expectState(t, c, a, HandleSignalReadable|HandleSignalWritable, rwp)
	ok(t, "close b", c.Close(b))
	rp := HandleSignalReadable | HandleSignalPeerClosed
	expectState(t, c, a, rp, rp)
	_, _, r := c.ReadMessage(a, make([]byte, 1), nil, 0)
	ok(t, "read", r)
	expectState(t, c, a, rp, rp)
	_, _, r = c.ReadMessage(a, make([]byte, 1), nil, 0)
	ok(t, "read", r)
	expectState(t, c, a, HandleSignalPeerClosed, HandleSignalPeerClosed)
	// Once unsatisfiable, never satisfiable again.
	for range 3 {
		s := state(t, c, a)
		if s.Satisfiable&(HandleSignalReadable|HandleSignalWritable) != 0 {
			t.Fatalf("signal came back: %v", s)
		}
	}
	closeAll(t, c, a)
}

// Row "MojoWriteMessage".
func TestBehaviourWriteMessage(t *testing.T) {
	c := newCore(t)
	a, b := pipe(t, c)
	x, y := pipe(t, c)

	// More than 1,048,576 handles: RESOURCE_EXHAUSTED.
	expect(t, "WriteMessage(too many handles)", c.WriteMessage(a, nil, make([]Handle, MaxHandlesPerMessage+1), 0), ResultResourceExhausted)

	// An invalid handle: the call fails and the caller keeps every handle.
	expect(t, "WriteMessage(x, bogus)", c.WriteMessage(a, []byte("m"), []Handle{x, 999}, 0), ResultInvalidArgument)
	// A handle listed twice is busy the second time.
	expect(t, "WriteMessage(x, x)", c.WriteMessage(a, []byte("m"), []Handle{x, x}, 0), ResultBusy)
	// The pipe itself, or its peer: INVALID_ARGUMENT.
	expect(t, "WriteMessage(a, [a])", c.WriteMessage(a, nil, []Handle{a}, 0), ResultInvalidArgument)
	expect(t, "WriteMessage(a, [b])", c.WriteMessage(a, nil, []Handle{b}, 0), ResultInvalidArgument)
	// A watcher never travels.
	w, _ := c.CreateWatcher(func(uintptr, Result, HandleSignalsState, WatcherNotificationFlags) {})
	expect(t, "WriteMessage(a, [watcher])", c.WriteMessage(a, nil, []Handle{x, w}, 0), ResultInvalidArgument)
	// A data pipe in a two-phase operation is busy.
	p, cons, _ := c.CreateDataPipe(nil)
	_, r := c.BeginWriteData(p, 0)
	ok(t, "BeginWriteData", r)
	expect(t, "WriteMessage(a, [producer in two-phase])", c.WriteMessage(a, nil, []Handle{x, p}, 0), ResultBusy)
	ok(t, "EndWriteData", c.EndWriteData(p, 0))
	// Nothing was sent, and every handle is still usable.
	_, _, r = c.ReadMessage(b, nil, nil, 0)
	expect(t, "read b", r, ResultShouldWait)
	for _, h := range []Handle{x, y, a, b, w, p, cons} {
		if _, r := c.QueryHandleSignalsState(h); r != ResultOK {
			t.Fatalf("handle %d lost: %v", h, r)
		}
	}

	// Peer closed: FAILED_PRECONDITION, and the attached handle stays.
	ok(t, "close b", c.Close(b))
	expect(t, "WriteMessage to a closed peer", c.WriteMessage(a, []byte("m"), nil, 0), ResultFailedPrecondition)
	expect(t, "WriteMessage to a closed peer with x", c.WriteMessage(a, []byte("m"), []Handle{x}, 0), ResultFailedPrecondition)
	ok(t, "x still ours", c.WriteMessage(x, []byte("ok"), nil, 0))

	// Not a pipe: INVALID_ARGUMENT.
	expect(t, "WriteMessage(watcher)", c.WriteMessage(w, nil, nil, 0), ResultInvalidArgument)
	expect(t, "WriteMessage(0)", c.WriteMessage(0, nil, nil, 0), ResultInvalidArgument)
	closeAll(t, c, a, x, y, w, p, cons)
}

// Row "MojoWriteMessageNew".
func TestBehaviourWriteMessageNew(t *testing.T) {
	c := newCore(t)
	a, b := pipe(t, c)
	x, y := pipe(t, c)

	// A bad pipe handle: INVALID_ARGUMENT, and the message (with x) is
	// gone anyway.
	m, r := c.AllocMessage(4, []Handle{x}, 0)
	ok(t, "AllocMessage", r)
	expect(t, "WriteMessageNew(bad pipe)", c.WriteMessageNew(999, m, 0), ResultInvalidArgument)
	expect(t, "FreeMessage after failed write", c.FreeMessage(m), ResultInvalidArgument)
	expectState(t, c, y, HandleSignalPeerClosed, HandleSignalPeerClosed)

	// Peer closed: FAILED_PRECONDITION, message consumed.
	m, _ = c.AllocMessage(1, nil, 0)
	ok(t, "close b", c.Close(b))
	expect(t, "WriteMessageNew to closed peer", c.WriteMessageNew(a, m, 0), ResultFailedPrecondition)
	expect(t, "FreeMessage", c.FreeMessage(m), ResultInvalidArgument)
	// An unknown message handle.
	expect(t, "WriteMessageNew(bogus message)", c.WriteMessageNew(a, 12345, 0), ResultInvalidArgument)
	closeAll(t, c, a, y)
}

// Row "MojoReadMessage".
func TestBehaviourReadMessage(t *testing.T) {
	c := newCore(t)
	a, b := pipe(t, c)
	_, _, r := c.ReadMessage(b, nil, nil, 0)
	expect(t, "empty queue", r, ResultShouldWait)

	// Too small: RESOURCE_EXHAUSTED with the sizes; the message stays.
	x, y := pipe(t, c)
	ok(t, "write", c.WriteMessage(a, []byte("hello"), []Handle{x}, 0))
	n, nh, r := c.ReadMessage(b, make([]byte, 2), make([]Handle, 1), 0)
	if r != ResultResourceExhausted || n != 5 || nh != 1 {
		t.Fatalf("small bytes: %d %d %v", n, nh, r)
	}
	n, nh, r = c.ReadMessage(b, make([]byte, 5), nil, 0)
	if r != ResultResourceExhausted || n != 5 || nh != 1 {
		t.Fatalf("no handle room: %d %d %v", n, nh, r)
	}
	buf, hs := make([]byte, 5), make([]Handle, 1)
	n, nh, r = c.ReadMessage(b, buf, hs, 0)
	if r != ResultOK || n != 5 || nh != 1 || string(buf) != "hello" {
		t.Fatalf("read: %d %d %v %q", n, nh, r, buf)
	}
	ok(t, "moved pipe works", c.WriteMessage(hs[0], []byte("!"), nil, 0))
	if s := state(t, c, y); !s.Satisfies(HandleSignalReadable) {
		t.Fatal("moved pipe's peer not readable")
	}

	// Without handles too.
	ok(t, "write", c.WriteMessage(a, []byte("0123456789"), nil, 0))
	n, nh, r = c.ReadMessage(b, make([]byte, 3), nil, 0)
	if r != ResultResourceExhausted || n != 10 || nh != 0 {
		t.Fatalf("small: %d %d %v", n, nh, r)
	}
	// MAY_DISCARD drops it (and its handles).
	u, v := pipe(t, c)
	ok(t, "write", c.WriteMessage(a, []byte("dropped"), []Handle{u}, 0))
	ok(t, "write", c.WriteMessage(a, []byte("next"), nil, 0))
	n, nh, r = c.ReadMessage(b, make([]byte, 3), nil, ReadMessageFlagMayDiscard)
	if r != ResultResourceExhausted || n != 10 || nh != 0 {
		t.Fatalf("discard 1: %d %d %v", n, nh, r)
	}
	n, nh, r = c.ReadMessage(b, nil, nil, ReadMessageFlagMayDiscard)
	if r != ResultResourceExhausted || n != 7 || nh != 1 {
		t.Fatalf("discard 2: %d %d %v", n, nh, r)
	}
	expectState(t, c, v, HandleSignalPeerClosed, HandleSignalPeerClosed)
	buf = make([]byte, 8)
	n, _, r = c.ReadMessage(b, buf, nil, ReadMessageFlagMayDiscard)
	if r != ResultOK || string(buf[:n]) != "next" {
		t.Fatalf("after discards: %q %v", buf[:n], r)
	}

	// Empty queue and peer closed: FAILED_PRECONDITION.
	ok(t, "close a", c.Close(a))
	_, _, r = c.ReadMessage(b, nil, nil, 0)
	expect(t, "empty and peer closed", r, ResultFailedPrecondition)
	_, _, _, r = c.ReadMessageNew(b, nil, 0)
	expect(t, "ReadMessageNew empty and peer closed", r, ResultFailedPrecondition)
	_, _, r = c.ReadMessage(v, nil, nil, 0)
	expect(t, "read v (peer discarded)", r, ResultFailedPrecondition)
	buffer, _ := c.CreateSharedBuffer(nil, 1)
	_, _, r = c.ReadMessage(buffer, nil, nil, 0)
	expect(t, "ReadMessage(buffer)", r, ResultInvalidArgument)
	closeAll(t, c, b, hs[0], y, v, buffer)
}

// Row "MojoReadMessageNew": num_bytes is output only; handle capacity is
// checked; the message is owned and freed with FreeMessage.
func TestBehaviourReadMessageNew(t *testing.T) {
	c := newCore(t)
	a, b := pipe(t, c)
	payload := make([]byte, 1000)
	for i := range payload {
		payload[i] = byte(i)
	}
	ok(t, "write", c.WriteMessage(a, payload, nil, 0))
	m, n, nh, r := c.ReadMessageNew(b, nil, 0)
	if r != ResultOK || n != 1000 || nh != 0 {
		t.Fatalf("read: %d %d %v", n, nh, r)
	}
	buf, _ := c.GetMessageBuffer(m)
	if string(buf) != string(payload) || uintptr(unsafe.Pointer(&buf[0]))%8 != 0 {
		t.Fatal("payload differs or is misaligned")
	}
	// A read message can be written on again.
	ok(t, "forward", c.WriteMessageNew(b, m, 0))
	m, n, _, r = c.ReadMessageNew(a, nil, 0)
	if r != ResultOK || n != 1000 {
		t.Fatalf("forwarded: %d %v", n, r)
	}
	ok(t, "FreeMessage", c.FreeMessage(m))
	expect(t, "FreeMessage twice", c.FreeMessage(m), ResultInvalidArgument)

	x, y := pipe(t, c)
	ok(t, "write", c.WriteMessage(a, []byte("h"), []Handle{x}, 0))
	_, n, nh, r = c.ReadMessageNew(b, nil, 0)
	if r != ResultResourceExhausted || n != 1 || nh != 1 {
		t.Fatalf("no handle room: %d %d %v", n, nh, r)
	}
	_, n, nh, r = c.ReadMessageNew(b, nil, ReadMessageFlagMayDiscard)
	if r != ResultResourceExhausted || n != 1 || nh != 1 {
		t.Fatalf("discard: %d %d %v", n, nh, r)
	}
	_, _, _, r = c.ReadMessageNew(b, nil, 0)
	expect(t, "queue empty after discard", r, ResultShouldWait)
	expectState(t, c, y, HandleSignalPeerClosed, HandleSignalPeerClosed)
	closeAll(t, c, a, b, y)
}

// Row "AllocMessage".
func TestBehaviourAllocMessage(t *testing.T) {
	c := newCore(t)
	x, y := pipe(t, c)
	// Handles pass into the message only on success.
	_, r := c.AllocMessage(0, []Handle{x, 4242}, 0)
	expect(t, "AllocMessage(x, bogus)", r, ResultInvalidArgument)
	_, r = c.AllocMessage(0, []Handle{x, x}, 0)
	expect(t, "AllocMessage(x, x)", r, ResultBusy)
	ok(t, "x still ours", c.WriteMessage(x, []byte("."), nil, 0))
	_, r = c.AllocMessage(0, make([]Handle, MaxHandlesPerMessage+1), 0)
	expect(t, "AllocMessage(too many)", r, ResultResourceExhausted)
	_, r = c.AllocMessage(maxMessageBytes+1, nil, 0)
	expect(t, "AllocMessage(too big)", r, ResultResourceExhausted)
	// 8-byte-aligned payloads, of every small size.
	for n := range uint32(40) {
		m, r := c.AllocMessage(n, nil, 0)
		ok(t, "AllocMessage", r)
		buf, r := c.GetMessageBuffer(m)
		ok(t, "GetMessageBuffer", r)
		if uint32(len(buf)) != n || (n > 0 && uintptr(unsafe.Pointer(&buf[0]))%8 != 0) {
			t.Fatalf("payload of %d: len %d", n, len(buf))
		}
		ok(t, "FreeMessage", c.FreeMessage(m))
	}
	// With handles, freeing the message closes them.
	m, r := c.AllocMessage(3, []Handle{x}, 0)
	ok(t, "AllocMessage(x)", r)
	buf, _ := c.GetMessageBuffer(m)
	if len(buf) != 3 || uintptr(unsafe.Pointer(&buf[0]))%8 != 0 {
		t.Fatal("payload with handles misaligned")
	}
	ok(t, "FreeMessage", c.FreeMessage(m))
	expectState(t, c, y, HandleSignalReadable|HandleSignalPeerClosed, HandleSignalReadable|HandleSignalPeerClosed)
	_, r = c.GetMessageBuffer(m)
	expect(t, "GetMessageBuffer(freed)", r, ResultInvalidArgument)
	expect(t, "FreeMessage(0)", c.FreeMessage(0), ResultInvalidArgument)
	closeAll(t, c, y)
}

// Row "data pipes".
func TestBehaviourDataPipes(t *testing.T) {
	c := newCore(t)
	p, cons, r := c.CreateDataPipe(nil)
	ok(t, "CreateDataPipe", r)
	// Defaults: 1-byte elements, 65,536 bytes.
	big := make([]byte, 70000)
	n, r := c.WriteData(p, big, 0)
	if r != ResultOK || n != 65536 {
		t.Fatalf("default capacity: wrote %d %v", n, r)
	}
	n, r = c.ReadData(cons, nil, 65536, ReadDataFlagDiscard)
	if r != ResultOK || n != 65536 {
		t.Fatalf("discard: %d %v", n, r)
	}
	closeAll(t, c, p, cons)

	p, cons, _ = c.CreateDataPipe(nil)
	// Initial signals.
	expectState(t, c, cons, 0, HandleSignalReadable|HandleSignalPeerClosed|HandleSignalNewDataReadable)
	expectState(t, c, p, HandleSignalWritable, HandleSignalWritable|HandleSignalPeerClosed)
	// After a write: R|NDR.
	_, r = c.WriteData(p, []byte("abcd"), 0)
	ok(t, "WriteData", r)
	expectState(t, c, cons, HandleSignalReadable|HandleSignalNewDataReadable,
		HandleSignalReadable|HandleSignalPeerClosed|HandleSignalNewDataReadable)
	// Producer closes with data left: R|PC, NDR drops out.
	ok(t, "close producer", c.Close(p))
	expectState(t, c, cons, HandleSignalReadable|HandleSignalPeerClosed, HandleSignalReadable|HandleSignalPeerClosed)
	buf := make([]byte, 4)
	n, r = c.ReadData(cons, buf, 4, 0)
	if r != ResultOK || string(buf[:n]) != "abcd" {
		t.Fatalf("read after producer closed: %q %v", buf[:n], r)
	}
	// Drained: PC only.
	expectState(t, c, cons, HandleSignalPeerClosed, HandleSignalPeerClosed)
	_, r = c.ReadData(cons, buf, 4, 0)
	expect(t, "read drained pipe", r, ResultFailedPrecondition)
	closeAll(t, c, cons)

	// Consumer closes: the producer sees PC only and cannot write.
	p, cons, _ = c.CreateDataPipe(nil)
	ok(t, "close consumer", c.Close(cons))
	expectState(t, c, p, HandleSignalPeerClosed, HandleSignalPeerClosed)
	_, r = c.WriteData(p, []byte("x"), 0)
	expect(t, "write to closed consumer", r, ResultFailedPrecondition)
	_, r = c.BeginWriteData(p, 0)
	expect(t, "BeginWriteData to closed consumer", r, ResultFailedPrecondition)
	closeAll(t, c, p)

	// ALL_OR_NONE that can't be met: OUT_OF_RANGE, both ways.
	opts := &CreateDataPipeOptions{StructSize: 16, ElementNumBytes: 2, CapacityNumBytes: 8}
	p, cons, r = c.CreateDataPipe(opts)
	ok(t, "CreateDataPipe(2, 8)", r)
	_, r = c.WriteData(p, make([]byte, 10), WriteDataFlagAllOrNone)
	expect(t, "WriteData(ALL_OR_NONE, 10 > 8)", r, ResultOutOfRange)
	_, r = c.WriteData(p, make([]byte, 3), 0)
	expect(t, "WriteData(3 bytes of 2-byte elements)", r, ResultInvalidArgument)
	n, r = c.WriteData(p, []byte("abcdef"), WriteDataFlagAllOrNone)
	if r != ResultOK || n != 6 {
		t.Fatalf("write 6: %d %v", n, r)
	}
	_, r = c.ReadData(cons, make([]byte, 8), 8, ReadDataFlagAllOrNone)
	expect(t, "ReadData(ALL_OR_NONE, 8 > 6)", r, ResultOutOfRange)
	_, r = c.ReadData(cons, make([]byte, 3), 3, 0)
	expect(t, "ReadData(3 bytes of 2-byte elements)", r, ResultInvalidArgument)

	// Two-phase in progress: BUSY for everything else on that end.
	wbuf, r := c.BeginWriteData(p, 0)
	if r != ResultOK || len(wbuf) != 2 {
		t.Fatalf("BeginWriteData: %d %v", len(wbuf), r)
	}
	_, r = c.BeginWriteData(p, 0)
	expect(t, "BeginWriteData during two-phase", r, ResultBusy)
	_, r = c.WriteData(p, []byte("zz"), 0)
	expect(t, "WriteData during two-phase", r, ResultBusy)
	expectState(t, c, p, 0, HandleSignalWritable|HandleSignalPeerClosed) // not writable meanwhile
	copy(wbuf, "gh")
	expect(t, "EndWriteData(3)", c.EndWriteData(p, 3), ResultInvalidArgument) // ends it anyway
	expect(t, "EndWriteData without Begin", c.EndWriteData(p, 0), ResultFailedPrecondition)
	// BeginWriteData with ALL_OR_NONE: INVALID_ARGUMENT.
	_, r = c.BeginWriteData(p, WriteDataFlagAllOrNone)
	expect(t, "BeginWriteData(ALL_OR_NONE)", r, ResultInvalidArgument)
	// BeginReadData accepts no flags.
	for _, f := range []ReadDataFlags{ReadDataFlagAllOrNone, ReadDataFlagDiscard, ReadDataFlagQuery, ReadDataFlagPeek} {
		_, r = c.BeginReadData(cons, f)
		expect(t, "BeginReadData(flag)", r, ResultInvalidArgument)
	}
	rbuf, r := c.BeginReadData(cons, 0)
	if r != ResultOK || string(rbuf) != "abcdef" {
		t.Fatalf("BeginReadData: %q %v", rbuf, r)
	}
	_, r = c.ReadData(cons, make([]byte, 2), 2, 0)
	expect(t, "ReadData during two-phase", r, ResultBusy)
	_, r = c.BeginReadData(cons, 0)
	expect(t, "BeginReadData during two-phase", r, ResultBusy)
	expectState(t, c, cons, 0, HandleSignalReadable|HandleSignalPeerClosed|HandleSignalNewDataReadable)
	expect(t, "EndReadData(7)", c.EndReadData(cons, 7), ResultInvalidArgument)
	expect(t, "EndReadData without Begin", c.EndReadData(cons, 0), ResultFailedPrecondition)

	// Invalid flag combinations.
	_, r = c.ReadData(cons, nil, 0, ReadDataFlagQuery|ReadDataFlagPeek)
	expect(t, "QUERY|PEEK", r, ResultInvalidArgument)
	_, r = c.ReadData(cons, nil, 0, ReadDataFlagQuery|ReadDataFlagDiscard)
	expect(t, "QUERY|DISCARD", r, ResultInvalidArgument)
	_, r = c.ReadData(cons, nil, 2, ReadDataFlagDiscard|ReadDataFlagPeek)
	expect(t, "DISCARD|PEEK", r, ResultInvalidArgument)
	n, r = c.ReadData(cons, nil, 0, ReadDataFlagQuery|ReadDataFlagAllOrNone)
	if r != ResultOK || n != 6 {
		t.Fatalf("QUERY: %d %v", n, r)
	}
	// Wrong kinds.
	_, r = c.WriteData(cons, []byte("xx"), 0)
	expect(t, "WriteData(consumer)", r, ResultInvalidArgument)
	_, r = c.ReadData(p, make([]byte, 2), 2, 0)
	expect(t, "ReadData(producer)", r, ResultInvalidArgument)
	closeAll(t, c, p, cons)

	// Capacity validation.
	_, _, r = c.CreateDataPipe(&CreateDataPipeOptions{StructSize: 16, ElementNumBytes: 0})
	expect(t, "element size 0", r, ResultInvalidArgument)
	_, _, r = c.CreateDataPipe(&CreateDataPipeOptions{StructSize: 16, ElementNumBytes: 4, CapacityNumBytes: 10})
	expect(t, "capacity not a multiple", r, ResultInvalidArgument)
	p, cons, r = c.CreateDataPipe(&CreateDataPipeOptions{StructSize: 16, ElementNumBytes: 3})
	ok(t, "element 3, default capacity", r)
	n, r = c.WriteData(p, make([]byte, 3*30000), 0)
	if r != ResultOK || n != 65535 {
		t.Fatalf("default capacity for 3-byte elements: %d %v", n, r)
	}
	closeAll(t, c, p, cons)
}

// NEW_DATA_READABLE latches on new data and clears on the next read,
// two-phase read or query.
func TestBehaviourNewDataReadable(t *testing.T) {
	c := newCore(t)
	p, cons, _ := c.CreateDataPipe(nil)
	all := HandleSignalReadable | HandleSignalPeerClosed | HandleSignalNewDataReadable
	write := func() {
		t.Helper()
		_, r := c.WriteData(p, []byte("0123"), 0)
		ok(t, "WriteData", r)
	}
	write()
	expectState(t, c, cons, HandleSignalReadable|HandleSignalNewDataReadable, all)
	_, r := c.ReadData(cons, make([]byte, 1), 1, 0)
	ok(t, "read 1", r)
	expectState(t, c, cons, HandleSignalReadable, all)
	write()
	expectState(t, c, cons, HandleSignalReadable|HandleSignalNewDataReadable, all)
	_, r = c.ReadData(cons, nil, 0, ReadDataFlagQuery)
	ok(t, "query", r)
	expectState(t, c, cons, HandleSignalReadable, all)
	write()
	_, r = c.BeginReadData(cons, 0)
	ok(t, "BeginReadData", r)
	ok(t, "EndReadData", c.EndReadData(cons, 0))
	expectState(t, c, cons, HandleSignalReadable, all)
	closeAll(t, c, p, cons)
}

// Two-phase operations across the end of the ring, and partial ends.
func TestBehaviourDataPipeWrapAround(t *testing.T) {
	c := newCore(t)
	p, cons, _ := c.CreateDataPipe(&CreateDataPipeOptions{StructSize: 16, ElementNumBytes: 1, CapacityNumBytes: 10})
	n, _ := c.WriteData(p, []byte("0123456"), 0)
	if n != 7 {
		t.Fatal(n)
	}
	buf := make([]byte, 5)
	n, _ = c.ReadData(cons, buf, 5, 0)
	if string(buf[:n]) != "01234" {
		t.Fatal(string(buf))
	}
	// Write offset 7, 8 free: the span stops at the end of the ring.
	w, r := c.BeginWriteData(p, 0)
	if r != ResultOK || len(w) != 3 {
		t.Fatalf("span %d %v", len(w), r)
	}
	copy(w, "789")
	ok(t, "EndWriteData(2) (partial)", c.EndWriteData(p, 2))
	w, r = c.BeginWriteData(p, 0)
	if r != ResultOK || len(w) != 1 {
		t.Fatalf("span %d %v", len(w), r)
	}
	copy(w, "9")
	ok(t, "EndWriteData(1)", c.EndWriteData(p, 1))
	// Immediate write wraps.
	n, r = c.WriteData(p, []byte("ABCDEFG"), 0)
	if r != ResultOK || n != 5 {
		t.Fatalf("wrapping write %d %v", n, r)
	}
	// Read it all back through the wrap: "56789" + "ABCDE".
	all := make([]byte, 10)
	n, r = c.ReadData(cons, all, 10, ReadDataFlagPeek)
	if r != ResultOK || string(all[:n]) != "56789ABCDE" {
		t.Fatalf("peek %q %v", all[:n], r)
	}
	rb, r := c.BeginReadData(cons, 0)
	if r != ResultOK || string(rb) != "56789" {
		t.Fatalf("read span %q %v", rb, r)
	}
	ok(t, "EndReadData(3)", c.EndReadData(cons, 3))
	rb, _ = c.BeginReadData(cons, 0)
	if string(rb) != "89" {
		t.Fatalf("read span %q", rb)
	}
	ok(t, "EndReadData(2)", c.EndReadData(cons, 2))
	rb, _ = c.BeginReadData(cons, 0)
	if string(rb) != "ABCDE" {
		t.Fatalf("read span %q", rb)
	}
	ok(t, "EndReadData(5)", c.EndReadData(cons, 5))
	_, r = c.BeginReadData(cons, 0)
	expect(t, "BeginReadData on an empty pipe", r, ResultShouldWait)
	closeAll(t, c, p, cons)
}

// Row "shared buffers".
func TestBehaviourSharedBuffers(t *testing.T) {
	c := newCore(t)
	_, r := c.CreateSharedBuffer(nil, 0)
	expect(t, "CreateSharedBuffer(0)", r, ResultInvalidArgument)
	_, r = c.CreateSharedBuffer(nil, MaxSharedBufferBytes+1)
	expect(t, "CreateSharedBuffer(> 1 GiB)", r, ResultResourceExhausted)

	b, _ := c.CreateSharedBuffer(nil, 100)
	whole, r := c.MapBuffer(b, 0, 100, 0)
	ok(t, "MapBuffer(0, 100)", r)
	for i := range whole {
		whole[i] = byte(i)
	}
	// Exactly at the offset asked.
	part, r := c.MapBuffer(b, 37, 10, 0)
	ok(t, "MapBuffer(37, 10)", r)
	if len(part) != 10 || part[0] != 37 || part[9] != 46 {
		t.Fatalf("mapping at 37: %v", part)
	}
	// Out of range or empty: INVALID_ARGUMENT.
	for _, rg := range [][2]uint64{{0, 0}, {0, 101}, {100, 1}, {101, 0}, {50, 51}, {1 << 63, 1 << 63}} {
		_, r := c.MapBuffer(b, rg[0], rg[1], 0)
		expect(t, "MapBuffer out of range", r, ResultInvalidArgument)
	}
	// Unmap wants the same pointer.
	expect(t, "UnmapBuffer(inside)", c.UnmapBuffer(part[1:]), ResultInvalidArgument)
	expect(t, "UnmapBuffer(empty)", c.UnmapBuffer(nil), ResultInvalidArgument)
	// A mapping outlives the handle.
	ok(t, "Close(b)", c.Close(b))
	if part[3] != 40 {
		t.Fatal("mapping changed")
	}
	ok(t, "UnmapBuffer(part)", c.UnmapBuffer(part))
	expect(t, "UnmapBuffer(part) again", c.UnmapBuffer(part), ResultInvalidArgument)
	ok(t, "UnmapBuffer(whole)", c.UnmapBuffer(whole))

	// A read-only duplicate may fail with FAILED_PRECONDITION: a driver
	// without read-only memory cannot make one.
	plain := newPlainCore(t)
	pb, _ := plain.CreateSharedBuffer(nil, 64)
	_, r = plain.DuplicateBufferHandle(pb, &DuplicateBufferHandleOptions{StructSize: 8, Flags: DuplicateBufferHandleOptionsFlagReadOnly})
	expect(t, "read-only duplicate without driver support", r, ResultFailedPrecondition)
	closeAll(t, plain, pb)

	// Read-only duplicates stay read-only, and travel as such.
	b, _ = c.CreateSharedBuffer(nil, 64)
	ro, r := c.DuplicateBufferHandle(b, &DuplicateBufferHandleOptions{StructSize: 8, Flags: DuplicateBufferHandleOptionsFlagReadOnly})
	ok(t, "read-only duplicate", r)
	ro2, r := c.DuplicateBufferHandle(ro, nil)
	ok(t, "duplicate of read-only", r)
	if rb, _ := c.buffer(ro2); !rb.readOnly {
		t.Fatal("duplicate of a read-only handle is writable")
	}
	x, y := pipe(t, c)
	ok(t, "send read-only buffer", c.WriteMessage(x, nil, []Handle{ro2}, 0))
	hs := make([]Handle, 1)
	_, _, r = c.ReadMessage(y, nil, hs, 0)
	ok(t, "receive", r)
	if rb, _ := c.buffer(hs[0]); rb == nil || !rb.readOnly || rb.size != 64 {
		t.Fatal("received buffer is not read-only")
	}
	// Wrong kinds.
	_, r = c.MapBuffer(x, 0, 1, 0)
	expect(t, "MapBuffer(pipe)", r, ResultInvalidArgument)
	_, r = c.DuplicateBufferHandle(x, nil)
	expect(t, "DuplicateBufferHandle(pipe)", r, ResultInvalidArgument)
	closeAll(t, c, b, ro, hs[0], x, y)
}

// Row "platform handles".
func TestBehaviourPlatformHandles(t *testing.T) {
	c := newCore(t)
	fd := newMemfd(t, 1)
	defer unix.Close(fd)
	for _, size := range []uint32{0, 8, 15, 17, 24} {
		_, r := c.WrapPlatformHandle(&PlatformHandle{StructSize: size, Type: PlatformHandleTypeFileDescriptor, Value: uint64(fd)})
		expect(t, "Wrap(struct_size)", r, ResultInvalidArgument)
	}
	_, r := c.WrapPlatformHandle(nil)
	expect(t, "Wrap(nil)", r, ResultInvalidArgument)
	for _, typ := range []PlatformHandleType{PlatformHandleTypeMachPort, PlatformHandleTypeWindowsHandle, 9} {
		_, r := c.WrapPlatformHandle(&PlatformHandle{StructSize: 16, Type: typ, Value: 1})
		expect(t, "Wrap(foreign type)", r, ResultInvalidArgument)
	}
	_, r = c.WrapPlatformHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeFileDescriptor, Value: 1 << 40})
	expect(t, "Wrap(fd out of range)", r, ResultInvalidArgument)

	// Type INVALID wraps an invalid handle; it unwraps as INVALID.
	inv, r := c.WrapPlatformHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeInvalid})
	ok(t, "Wrap(INVALID)", r)
	out := PlatformHandle{StructSize: 16, Type: 77, Value: 5}
	ok(t, "Unwrap(INVALID)", c.UnwrapPlatformHandle(inv, &out))
	if out.Type != PlatformHandleTypeInvalid {
		t.Fatalf("unwrapped type %d", out.Type)
	}

	// Unwrap checks the output struct_size, and always consumes.
	dup, _ := unix.Dup(fd)
	h, r := c.WrapPlatformHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeFileDescriptor, Value: uint64(dup)})
	ok(t, "Wrap(fd)", r)
	expect(t, "Unwrap(struct_size 8)", c.UnwrapPlatformHandle(h, &PlatformHandle{StructSize: 8}), ResultInvalidArgument)
	expect(t, "Close after failed Unwrap", c.Close(h), ResultInvalidArgument)
	if _, err := unix.FcntlInt(uintptr(dup), unix.F_GETFD, 0); err == nil {
		t.Fatal("fd of a consumed handle still open")
	}
	// A wrong-kind handle is consumed too.
	x, y := pipe(t, c)
	expect(t, "Unwrap(pipe)", c.UnwrapPlatformHandle(x, &PlatformHandle{StructSize: 16}), ResultInvalidArgument)
	expect(t, "pipe consumed", c.Close(x), ResultInvalidArgument)
	expectState(t, c, y, HandleSignalPeerClosed, HandleSignalPeerClosed)
	expect(t, "Unwrap(0)", c.UnwrapPlatformHandle(0, &PlatformHandle{StructSize: 16}), ResultInvalidArgument)

	// A driver that cannot carry fds.
	plain := newPlainCore(t)
	_, r = plain.WrapPlatformHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeFileDescriptor, Value: uint64(fd)})
	expect(t, "Wrap(fd) without FileDescriptorDriver", r, ResultUnimplemented)
	_, r = plain.WrapPlatformSharedBufferHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeFileDescriptor, Value: uint64(fd)}, 1, 0)
	expect(t, "WrapSharedBuffer without driver support", r, ResultUnimplemented)

	// Shared buffer wrapping checks.
	_, r = c.WrapPlatformSharedBufferHandle(&PlatformHandle{StructSize: 12, Type: PlatformHandleTypeFileDescriptor, Value: uint64(fd)}, 1, 0)
	expect(t, "WrapSharedBuffer(struct_size)", r, ResultInvalidArgument)
	_, r = c.WrapPlatformSharedBufferHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeFileDescriptor, Value: uint64(fd)}, 0, 0)
	expect(t, "WrapSharedBuffer(0 bytes)", r, ResultInvalidArgument)
	_, r = c.WrapPlatformSharedBufferHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeInvalid}, 1, 0)
	expect(t, "WrapSharedBuffer(INVALID)", r, ResultUnknown)
	_, r = c.WrapPlatformSharedBufferHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeFileDescriptor, Value: uint64(fd)}, 4096, 0)
	expect(t, "WrapSharedBuffer(too small a file)", r, ResultUnknown)
	b, _ := c.CreateSharedBuffer(nil, 8)
	_, _, r = c.UnwrapPlatformSharedBufferHandle(b, &PlatformHandle{StructSize: 4})
	expect(t, "UnwrapSharedBuffer(struct_size)", r, ResultInvalidArgument)
	expect(t, "buffer consumed", c.Close(b), ResultInvalidArgument)
	_, _, r = c.UnwrapPlatformSharedBufferHandle(y, &PlatformHandle{StructSize: 16})
	expect(t, "UnwrapSharedBuffer(pipe)", r, ResultInvalidArgument)
	expect(t, "pipe consumed", c.Close(y), ResultInvalidArgument)
}

// Row "watchers".
func TestBehaviourWatchers(t *testing.T) {
	c := newCore(t)
	_, r := c.CreateWatcher(nil)
	expect(t, "CreateWatcher(nil)", r, ResultInvalidArgument)

	var rec recorder
	w, _ := c.CreateWatcher(rec.callback)
	a, b := pipe(t, c)
	x, y := pipe(t, c)
	buffer, _ := c.CreateSharedBuffer(nil, 8)

	expect(t, "Arm with no watches", c.ArmWatcher(w, nil, nil, nil, nil), ResultNotFound)
	ok(t, "Watch(a, 1)", c.Watch(w, a, HandleSignalReadable, 1))
	expect(t, "Watch(x, 1): same context", c.Watch(w, x, HandleSignalReadable, 1), ResultAlreadyExists)
	expect(t, "Watch(a, 2): same handle", c.Watch(w, a, HandleSignalWritable, 2), ResultAlreadyExists)
	expect(t, "Watch(buffer)", c.Watch(w, buffer, HandleSignalReadable, 3), ResultInvalidArgument)
	expect(t, "Watch(watcher)", c.Watch(w, w, HandleSignalReadable, 3), ResultInvalidArgument)
	expect(t, "Watch(0)", c.Watch(w, 0, HandleSignalReadable, 3), ResultInvalidArgument)
	expect(t, "Watch on a non-watcher", c.Watch(a, x, HandleSignalReadable, 3), ResultInvalidArgument)
	expect(t, "CancelWatch(unknown)", c.CancelWatch(w, 99), ResultNotFound)
	expect(t, "CancelWatch on a non-watcher", c.CancelWatch(a, 1), ResultInvalidArgument)

	// num_ready_contexts non-null but an array null: INVALID_ARGUMENT.
	n := uint32(1)
	expect(t, "Arm(n, nil...)", c.ArmWatcher(w, &n, nil, make([]Result, 1), make([]HandleSignalsState, 1)), ResultInvalidArgument)
	expect(t, "Arm(n, ..., nil)", c.ArmWatcher(w, &n, make([]uintptr, 1), make([]Result, 1), nil), ResultInvalidArgument)

	// Signals NONE never arms: always ready as FAILED_PRECONDITION.
	ok(t, "Watch(x, NONE)", c.Watch(w, x, HandleSignalNone, 2))
	n = 2
	ctxs, res, sts := make([]uintptr, 2), make([]Result, 2), make([]HandleSignalsState, 2)
	expect(t, "Arm with a NONE watch", c.ArmWatcher(w, &n, ctxs, res, sts), ResultFailedPrecondition)
	if n != 1 || ctxs[0] != 2 || res[0] != ResultFailedPrecondition || sts[0] != state(t, c, x) {
		t.Fatalf("ready: %d %v %v %v", n, ctxs[:n], res[:n], sts[:n])
	}
	ok(t, "CancelWatch(2)", c.CancelWatch(w, 2))
	if ns := rec.take(); len(ns) != 1 || ns[0] != (notification{2, ResultCancelled, HandleSignalsState{}, 0}) {
		t.Fatalf("cancel: %v", ns)
	}

	// Watching a pipe for WRITABLE never arms either (it is writable).
	ok(t, "Watch(y, WRITABLE)", c.Watch(w, y, HandleSignalWritable, 3))
	expect(t, "Arm with a writable watch", c.ArmWatcher(w, nil, nil, nil, nil), ResultFailedPrecondition)
	ok(t, "CancelWatch(3)", c.CancelWatch(w, 3))
	rec.take()

	// Disarm before notifying: the callback sees a disarmed watcher and
	// can re-arm once the condition is gone.
	ok(t, "Arm", c.ArmWatcher(w, nil, nil, nil, nil))
	var armInCallback Result = 100
	w2, _ := c.CreateWatcher(func(ctx uintptr, r Result, _ HandleSignalsState, _ WatcherNotificationFlags) {
		if r == ResultOK {
			armInCallback = c.ArmWatcher(Handle(ctx), nil, nil, nil, nil)
		}
	})
	ok(t, "Watch(w2, b)", c.Watch(w2, b, HandleSignalReadable, uintptr(w2)))
	ok(t, "Arm(w2)", c.ArmWatcher(w2, nil, nil, nil, nil))
	ok(t, "write to b", c.WriteMessage(a, []byte("x"), nil, 0))
	// The callback ran before WriteMessage returned, found the watcher
	// disarmed and b readable, so arming failed.
	expect(t, "Arm inside the callback", armInCallback, ResultFailedPrecondition)
	closeAll(t, c, w2)

	// FROM_SYSTEM is clear for notifications caused by our own calls.
	ok(t, "write to a", c.WriteMessage(b, []byte("y"), nil, 0))
	ns := rec.take()
	if len(ns) != 1 || ns[0].context != 1 || ns[0].result != ResultOK || ns[0].flags != 0 {
		t.Fatalf("notifications %v", ns)
	}
	closeAll(t, c, a, b, x, y, buffer, w)
}

// Arming reports up to the capacity, rotating the start between calls.
func TestBehaviourArmRotation(t *testing.T) {
	c := newCore(t)
	w, _ := c.CreateWatcher(func(uintptr, Result, HandleSignalsState, WatcherNotificationFlags) {})
	var ends []Handle
	for i := range 5 {
		a, b := pipe(t, c)
		ends = append(ends, a, b)
		ok(t, "Watch", c.Watch(w, a, HandleSignalReadable, uintptr(10+i)))
		if i != 2 { // watch 12 is not ready
			ok(t, "write", c.WriteMessage(b, nil, nil, 0))
		}
	}
	arm := func(capacity uint32) []uintptr {
		t.Helper()
		n := capacity
		ctxs := make([]uintptr, capacity)
		expect(t, "Arm", c.ArmWatcher(w, &n, ctxs, make([]Result, capacity), make([]HandleSignalsState, capacity)), ResultFailedPrecondition)
		return ctxs[:n]
	}
	got := [][]uintptr{arm(2), arm(2), arm(2), arm(10), arm(1), arm(0)}
	want := [][]uintptr{{10, 11}, {13, 14}, {10, 11}, {13, 14, 10, 11}, {13}, {}}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("arm %d: %v, want %v", i, got[i], want[i])
		}
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("arm %d: %v, want %v", i, got[i], want[i])
			}
		}
	}
	// Without room, FAILED_PRECONDITION and nothing else.
	expect(t, "Arm(nil)", c.ArmWatcher(w, nil, nil, nil, nil), ResultFailedPrecondition)
	ends = append(ends, w)
	closeAll(t, c, ends...)
}

// Row "property".
func TestBehaviourProperty(t *testing.T) {
	c := newCore(t)
	v := false
	ok(t, "GetProperty(SYNC_CALL_ALLOWED)", c.GetProperty(PropertyTypeSyncCallAllowed, &v))
	if !v {
		t.Fatal("SYNC_CALL_ALLOWED is false by default")
	}
	expect(t, "GetProperty(1)", c.GetProperty(1, &v), ResultInvalidArgument)
	expect(t, "GetProperty(nil)", c.GetProperty(PropertyTypeSyncCallAllowed, nil), ResultInvalidArgument)
	var i int
	expect(t, "GetProperty(*int)", c.GetProperty(PropertyTypeSyncCallAllowed, &i), ResultInvalidArgument)
	ok(t, "SetProperty(false)", c.SetProperty(PropertyTypeSyncCallAllowed, false))
	ok(t, "GetProperty", c.GetProperty(PropertyTypeSyncCallAllowed, &v))
	if v {
		t.Fatal("SetProperty had no effect")
	}
}
