package datapipe

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/inprocess"
	"github.com/ipcz-go/ipcz-go/mojo/types"
)

func newNode(t testing.TB) (*ipcz.Node, *inprocess.Driver) {
	t.Helper()
	d := inprocess.New(inprocess.Sync)
	n, err := ipcz.CreateNode(d, 0, ipcz.CreateNodeAsBroker)
	if err != nil {
		t.Fatal(err)
	}
	return n, d
}

func create(t testing.TB, n *ipcz.Node, elem, capacity uint32) (*Producer, *Consumer) {
	t.Helper()
	o, r := ValidateOptions(Options{ElementNumBytes: elem, CapacityNumBytes: capacity})
	if r != types.ResultOK {
		t.Fatal(r)
	}
	p, c, r := Create(n, o)
	if r != types.ResultOK {
		t.Fatal(r)
	}
	return p, c
}

func expect(t testing.TB, what string, got, want types.Result) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func TestValidateOptions(t *testing.T) {
	cases := []struct {
		in   Options
		want Options
		r    types.Result
	}{
		{Options{ElementNumBytes: 1}, Options{ElementNumBytes: 1, CapacityNumBytes: 65536}, types.ResultOK},
		{Options{ElementNumBytes: 3}, Options{ElementNumBytes: 3, CapacityNumBytes: 65535}, types.ResultOK},
		{Options{ElementNumBytes: 100000}, Options{ElementNumBytes: 100000, CapacityNumBytes: 100000}, types.ResultOK},
		{Options{ElementNumBytes: 4, CapacityNumBytes: 12}, Options{ElementNumBytes: 4, CapacityNumBytes: 12}, types.ResultOK},
		{Options{ElementNumBytes: 0}, Options{}, types.ResultInvalidArgument},
		{Options{ElementNumBytes: 4, CapacityNumBytes: 10}, Options{}, types.ResultInvalidArgument},
		{Options{ElementNumBytes: 1, CapacityNumBytes: MaxCapacity + 1}, Options{}, types.ResultResourceExhausted},
		{Options{Flags: 1, ElementNumBytes: 1}, Options{}, types.ResultUnimplemented},
	}
	for _, c := range cases {
		got, r := ValidateOptions(c.in)
		if r != c.r || got != c.want {
			t.Errorf("ValidateOptions(%+v) = %+v, %v; want %+v, %v", c.in, got, r, c.want, c.r)
		}
	}
}

// Bytes and counts through a small ring, across its end, with every kind
// of read.
func TestRing(t *testing.T) {
	n, _ := newNode(t)
	p, c := create(t, n, 2, 8)
	w := func(s string) uint32 {
		t.Helper()
		k, r := p.WriteData([]byte(s), 0)
		expect(t, "WriteData", r, types.ResultOK)
		return k
	}
	if w("abcdef") != 6 {
		t.Fatal("short write")
	}
	buf := make([]byte, 8)
	k, r := c.ReadData(buf, 4, 0)
	if r != types.ResultOK || string(buf[:k]) != "abcd" {
		t.Fatalf("read %q %v", buf[:k], r)
	}
	if w("ghijkl") != 6 { // wraps: 2 at the end, 4 at the start
		t.Fatal("short wrapping write")
	}
	k, r = c.ReadData(buf, 8, ReadFlagPeek)
	if r != types.ResultOK || string(buf[:k]) != "efghijkl" {
		t.Fatalf("peek %q %v", buf[:k], r)
	}
	k, r = c.ReadData(nil, 2, ReadFlagDiscard)
	if r != types.ResultOK || k != 2 {
		t.Fatalf("discard %d %v", k, r)
	}
	k, r = c.ReadData(nil, 0, ReadFlagQuery)
	if r != types.ResultOK || k != 6 {
		t.Fatalf("query %d %v", k, r)
	}
	k, r = c.ReadData(buf, 6, ReadFlagAllOrNone)
	if r != types.ResultOK || string(buf[:k]) != "ghijkl" {
		t.Fatalf("read %q %v", buf[:k], r)
	}
	_, r = c.ReadData(buf, 2, 0)
	expect(t, "empty", r, types.ResultShouldWait)
	_, r = c.ReadData(buf[:1], 2, 0)
	expect(t, "elements too short", r, types.ResultInvalidArgument)
	expect(t, "Close", p.Close(), types.ResultOK)
	expect(t, "Close again", p.Close(), types.ResultInvalidArgument)
	_, r = c.ReadData(buf, 2, 0)
	expect(t, "drained and closed", r, types.ResultFailedPrecondition)
	expect(t, "Close consumer", c.Close(), types.ResultOK)
}

// A hostile producer: anything but a well-formed count marks the peer
// closed, permanently.
func TestHostileCounts(t *testing.T) {
	bad := map[string][]byte{
		"short":        {1, 0},
		"long":         {1, 0, 0, 0, 0},
		"overflow":     binary.LittleEndian.AppendUint32(nil, 9),
		"not elements": binary.LittleEndian.AppendUint32(nil, 3),
	}
	for name, parcel := range bad {
		t.Run(name, func(t *testing.T) {
			n, _ := newNode(t)
			p, c := create(t, n, 2, 8)
			// The producer's portal is where its counts go out from.
			if err := p.Portal().Put(parcel, nil, nil); err != nil {
				t.Fatal(err)
			}
			s := c.SignalsState()
			want := types.HandleSignalsState{Satisfied: types.HandleSignalPeerClosed, Satisfiable: types.HandleSignalPeerClosed}
			if s != want {
				t.Fatalf("state %v, want %v", s, want)
			}
			// A valid count afterwards changes nothing.
			if _, r := p.WriteData([]byte("ab"), 0); r != types.ResultOK {
				t.Fatal(r)
			}
			if s := c.SignalsState(); s != want {
				t.Fatalf("state %v after a valid count", s)
			}
			p.Close()
			c.Close()
		})
	}
}

func TestSnapshotValidation(t *testing.T) {
	good := Snapshot{Producer: true, Options: Options{ElementNumBytes: 4, CapacityNumBytes: 64}, Position: 1 << 40, PeerPosition: 1<<40 - 60}
	if s, r := DecodeSnapshot(good.Encode()); r != types.ResultOK || s != good {
		t.Fatalf("round trip: %+v %v", s, r)
	}
	consumer := Snapshot{Options: good.Options, Position: 8, PeerPosition: 72}
	if s, r := DecodeSnapshot(consumer.Encode()); r != types.ResultOK || s != consumer {
		t.Fatalf("round trip: %+v %v", s, r)
	}
	mutate := func(s Snapshot, f func(b []byte)) []byte {
		b := s.Encode()
		f(b)
		return b
	}
	put32 := func(off int, v uint32) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint32(b[off:], v) }
	}
	put64 := func(off int, v uint64) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint64(b[off:], v) }
	}
	bad := [][]byte{
		nil,
		good.Encode()[:SnapshotSize-1],
		append(good.Encode(), 0),
		mutate(good, put32(0, 3)),                  // kind
		mutate(good, put32(4, 1)),                  // flags
		mutate(good, put32(8, 0)),                  // element 0
		mutate(good, put32(12, 0)),                 // capacity 0
		mutate(good, put32(12, 66)),                // capacity not elements
		mutate(good, put32(12, 1<<31)),             // capacity too big
		mutate(good, put64(16, 1<<40+2)),           // position mid-element
		mutate(good, put64(24, 1<<40-62)),          // peer position mid-element
		mutate(good, put64(24, 1<<40-68)),          // more than a ring written
		mutate(good, put64(24, 1<<40+4)),           // read past written
		mutate(consumer, put64(24, 4)),             // read past written
		mutate(consumer, put64(24, 76)),            // more than a ring written
		mutate(consumer, put64(16, 1<<63)),         // read past written
		mutate(good, put64(16, ^uint64(0)&^3)),     // more than a ring written
		mutate(consumer, put64(24, ^uint64(0)&^3)), // more than a ring written
	}
	for i, b := range bad {
		if _, r := DecodeSnapshot(b); r != types.ResultInvalidArgument {
			t.Errorf("case %d accepted", i)
		}
	}
}

// move sends an endpoint's transit through a local portal pair and
// rebuilds it, as the mojo package does with a message.
func move(t *testing.T, n *ipcz.Node, tr *Transit) (*Producer, *Consumer) {
	t.Helper()
	x, y, _ := n.OpenPortals()
	if err := x.Put(tr.Snapshot().Encode(), tr.Objects(), nil); err != nil {
		t.Fatal(err)
	}
	tr.Complete()
	data, objs, err := y.GetMessage()
	if err != nil || len(objs) != 2 {
		t.Fatalf("GetMessage: %v %d", err, len(objs))
	}
	p, c, r := Deserialize(n, data, objs[0].(*ipcz.Box), objs[1].(*ipcz.Portal))
	expect(t, "Deserialize", r, types.ResultOK)
	x.Close()
	y.Close()
	return p, c
}

// Moving either end keeps its place in the stream, and the moved end
// takes in what the peer did meanwhile.
func TestTransit(t *testing.T) {
	n, d := newNode(t)
	p, c := create(t, n, 1, 8)
	p.WriteData([]byte("012345"), 0)
	buf := make([]byte, 8)
	c.ReadData(buf, 4, 0) // "0123"; the producer has not looked yet

	tr, r := p.BeginTransit()
	expect(t, "BeginTransit", r, types.ResultOK)
	if s := tr.Snapshot(); s.Position != 6 || s.PeerPosition != 0 {
		t.Fatalf("producer snapshot %+v", s)
	}
	_, r = p.WriteData([]byte("x"), 0)
	expect(t, "WriteData in transit", r, types.ResultInvalidArgument)
	p2, _ := move(t, n, tr)
	k, r := p2.WriteData([]byte("6789ab"), 0) // 2 + 4 (read meanwhile) free
	if r != types.ResultOK || k != 6 {
		t.Fatalf("moved producer wrote %d %v", k, r)
	}

	_, err := c.BeginReadData(0)
	expect(t, "BeginReadData", err, types.ResultOK)
	_, r = c.BeginTransit()
	expect(t, "BeginTransit during two-phase", r, types.ResultBusy)
	expect(t, "EndReadData", c.EndReadData(0), types.ResultOK)
	tr, r = c.BeginTransit()
	expect(t, "BeginTransit", r, types.ResultOK)
	// Cancelled: the consumer works on.
	tr.Cancel()
	k, r = c.ReadData(buf, 1, 0)
	if r != types.ResultOK || string(buf[:k]) != "4" {
		t.Fatalf("after cancel: %q %v", buf[:k], r)
	}
	tr, _ = c.BeginTransit()
	_, c2 := move(t, n, tr)
	k, r = c2.ReadData(buf, 8, 0)
	if r != types.ResultOK || !bytes.Equal(buf[:k], []byte("56789ab")) {
		t.Fatalf("moved consumer read %q %v", buf[:k], r)
	}
	p2.Close()
	c2.Close()
	if got := d.LiveObjects(); got.Memories != 0 || got.Mappings != 0 {
		t.Fatalf("driver objects left: %+v", got)
	}
}
