package mojo

import (
	"testing"

	"golang.org/x/sys/unix"
)

// The package-level functions reach the default core, one to one.
func TestPackageLevelFunctions(t *testing.T) {
	c := newCore(t)
	SetDefault(c)
	defer SetDefault(nil)
	if Default() != c {
		t.Fatal("Default")
	}
	if err := Init(newTestDriver(0), true); err != ResultAlreadyExists {
		t.Fatalf("Init with a default core: %v", err)
	}

	a, b, r := CreateMessagePipe(nil)
	ok(t, "CreateMessagePipe", r)
	ok(t, "WriteMessage", WriteMessage(a, []byte("x"), nil, 0))
	n, _, r := ReadMessage(b, make([]byte, 1), nil, 0)
	if r != ResultOK || n != 1 {
		t.Fatal(r)
	}
	m, r := AllocMessage(2, nil, 0)
	ok(t, "AllocMessage", r)
	buf, r := GetMessageBuffer(m)
	ok(t, "GetMessageBuffer", r)
	copy(buf, "hi")
	ok(t, "WriteMessageNew", WriteMessageNew(a, m, 0))
	m, n, _, r = ReadMessageNew(b, nil, 0)
	if r != ResultOK || n != 2 {
		t.Fatal(r)
	}
	ok(t, "NotifyBadMessage", NotifyBadMessage(m, "test"))
	ok(t, "FreeMessage", FreeMessage(m))
	s, r := QueryHandleSignalsState(a)
	if r != ResultOK || !s.Satisfies(HandleSignalWritable) {
		t.Fatal(s, r)
	}
	var v bool
	ok(t, "GetProperty", GetProperty(PropertyTypeSyncCallAllowed, &v))

	p, cons, r := CreateDataPipe(nil)
	ok(t, "CreateDataPipe", r)
	_, r = WriteData(p, []byte("abc"), 0)
	ok(t, "WriteData", r)
	wb, r := BeginWriteData(p, 0)
	ok(t, "BeginWriteData", r)
	wb[0] = 'd'
	ok(t, "EndWriteData", EndWriteData(p, 1))
	rb := make([]byte, 2)
	_, r = ReadData(cons, rb, 2, 0)
	ok(t, "ReadData", r)
	got, r := BeginReadData(cons, 0)
	if r != ResultOK || string(rb)+string(got) != "abcd" {
		t.Fatal(string(rb), string(got), r)
	}
	ok(t, "EndReadData", EndReadData(cons, 2))

	sb, r := CreateSharedBuffer(nil, 16)
	ok(t, "CreateSharedBuffer", r)
	sb2, r := DuplicateBufferHandle(sb, nil)
	ok(t, "DuplicateBufferHandle", r)
	mm, r := MapBuffer(sb2, 8, 8, 0)
	ok(t, "MapBuffer", r)
	ok(t, "UnmapBuffer", UnmapBuffer(mm))

	ph, r := WrapPlatformHandle(&PlatformHandle{StructSize: 16})
	ok(t, "WrapPlatformHandle", r)
	ok(t, "UnwrapPlatformHandle", UnwrapPlatformHandle(ph, &PlatformHandle{StructSize: 16}))
	fd := newMemfd(t, 64)
	wsb, r := WrapPlatformSharedBufferHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeFileDescriptor, Value: uint64(fd)}, 64, 0)
	ok(t, "WrapPlatformSharedBufferHandle", r)
	out := PlatformHandle{StructSize: 16}
	size, _, r := UnwrapPlatformSharedBufferHandle(wsb, &out)
	if r != ResultOK || size != 64 {
		t.Fatal(size, r)
	}
	unix.Close(int(out.Value))

	var rec recorder
	w, r := CreateWatcher(rec.callback)
	ok(t, "CreateWatcher", r)
	ok(t, "Watch", Watch(w, b, HandleSignalReadable, 1))
	ok(t, "ArmWatcher", ArmWatcher(w, nil, nil, nil, nil))
	ok(t, "CancelWatch", CancelWatch(w, 1))
	x, y, _ := CreateMessagePipe(nil)
	u, z, _ := CreateMessagePipe(nil)
	ok(t, "FuseMessagePipes", FuseMessagePipes(y, u))
	for _, h := range []Handle{a, b, x, z, p, cons, sb, sb2, w} {
		ok(t, "Close", Close(h))
	}
	if c.NumHandles() != 0 || c.NumMessages() != 0 {
		t.Fatalf("leaked %d handles, %d messages", c.NumHandles(), c.NumMessages())
	}
}
