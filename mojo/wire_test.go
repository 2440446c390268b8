package mojo

import (
	"encoding/binary"
	"testing"

	"github.com/ipcz-go/ipcz-go/datapipe"
)

// FuzzDecodeHeader feeds arbitrary headers and object counts to the
// decoder of messages from other nodes: it must never panic, and what it
// accepts must be self-consistent.
func FuzzDecodeHeader(f *testing.F) {
	valid := make([]byte, 8+8+8+datapipe.SnapshotSize+8)
	binary.LittleEndian.PutUint32(valid[0:], 2)
	binary.LittleEndian.PutUint32(valid[4:], 8+8+8+datapipe.SnapshotSize)
	binary.LittleEndian.PutUint32(valid[8:], uint32(wireMessagePipe))
	binary.LittleEndian.PutUint32(valid[16:], uint32(wireDataPipeConsumer))
	binary.LittleEndian.PutUint32(valid[20:], datapipe.SnapshotSize)
	f.Add(valid, 3)
	f.Add([]byte{1, 0, 0, 0, 16, 0, 0, 0, 5, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 1)
	f.Add([]byte{}, 1)
	f.Add([]byte{255, 255, 255, 255, 255, 255, 255, 255}, 4)
	f.Fuzz(func(t *testing.T, data []byte, numObjects int) {
		if numObjects < 0 || numObjects > 1<<12 {
			return
		}
		ins, payload, ok := decodeHeader(data, numObjects)
		if !ok {
			return
		}
		used := 0
		for _, in := range ins {
			if in.first != used {
				t.Fatalf("objects out of order")
			}
			used += in.count
		}
		if used != numObjects && !(used == 0 && numObjects == 1) {
			t.Fatalf("accepted %d objects for %d", used, numObjects)
		}
		if len(payload) > len(data) {
			t.Fatal("payload beyond data")
		}
	})
}

// The header round-trips.
func TestHeaderRoundTrip(t *testing.T) {
	shm := make([]byte, 16)
	binary.LittleEndian.PutUint64(shm, 4096)
	ph := make([]byte, 8)
	binary.LittleEndian.PutUint32(ph, uint32(PlatformHandleTypeFileDescriptor))
	inv := make([]byte, 8)
	snap := make([]byte, datapipe.SnapshotSize)
	outs := []outgoing{
		{kind: wireMessagePipe},
		{kind: wireDataPipeProducer, fields: snap},
		{kind: wireSharedBuffer, fields: shm},
		{kind: wirePlatformHandle, fields: ph},
		{kind: wirePlatformHandle, fields: inv},
	}
	size := headerSize(outs)
	data := make([]byte, size+5)
	copy(data[size:], "hello")
	encodeHeader(data[:size], outs)
	ins, payload, ok := decodeHeader(data, 1+2+1+1)
	if !ok || string(payload) != "hello" || len(ins) != len(outs) {
		t.Fatalf("decode: %v %q %d", ok, payload, len(ins))
	}
	wantCounts := []int{1, 2, 1, 1, 0}
	for i, in := range ins {
		if in.kind != outs[i].kind || string(in.fields) != string(outs[i].fields) || in.count != wantCounts[i] {
			t.Fatalf("descriptor %d: %+v", i, in)
		}
	}
	// Wrong object counts are malformed.
	for _, n := range []int{0, 4, 6} {
		if _, _, ok := decodeHeader(data, n); ok {
			t.Fatalf("accepted %d objects", n)
		}
	}
	// Only invalid platform handles: exactly one placeholder object.
	outs = outs[4:]
	size = headerSize(outs)
	data = make([]byte, size)
	encodeHeader(data, outs)
	if _, _, ok := decodeHeader(data, 1); !ok {
		t.Fatal("placeholder refused")
	}
	if _, _, ok := decodeHeader(data, 2); ok {
		t.Fatal("two placeholders accepted")
	}
}
