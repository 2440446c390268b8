package datapipe

import (
	"encoding/binary"
	"math"
	"sync/atomic"
	"testing"

	"github.com/ipcz-go/ipcz-go/mojo/types"
)

func TestValidPeer(t *testing.T) {
	o := Options{ElementNumBytes: 4, CapacityNumBytes: 64}
	cases := []struct {
		name         string
		producer     bool
		v, last, own uint64
		want         bool
	}{
		{"consumer: no change", false, 8, 8, 0, true},
		{"consumer: grows", false, 24, 8, 0, true},
		{"consumer: a full ring", false, 100, 36, 36, true},
		{"consumer: backwards", false, 4, 8, 0, false},
		{"consumer: mid-element", false, 10, 8, 0, false},
		{"consumer: more than a ring", false, 104, 36, 36, false},
		{"consumer: behind our read", false, 32, 32, 36, false},
		{"consumer: near the top", false, math.MaxUint64 &^ 3, 8, 0, false},
		{"producer: no change", true, 8, 8, 16, true},
		{"producer: grows to written", true, 16, 8, 16, true},
		{"producer: backwards", true, 4, 8, 16, false},
		{"producer: past written", true, 20, 8, 16, false},
		{"producer: mid-element", true, 10, 8, 16, false},
		{"producer: near the top", true, math.MaxUint64 &^ 3, 8, 16, false},
	}
	for _, c := range cases {
		if got := validPeer(c.producer, c.v, c.last, c.own, o); got != c.want {
			t.Errorf("%s: validPeer = %v, want %v", c.name, got, c.want)
		}
	}
}

// scribble stores v in the counter the peer of e reads, as a hostile peer
// sharing the region could.
func scribble(e *endpoint, v uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	atomic.StoreUint64(e.words.own, v)
}

var peerClosedOnly = types.HandleSignalsState{Satisfied: types.HandleSignalPeerClosed, Satisfiable: types.HandleSignalPeerClosed}

// A producer that scribbles its shared counter: the consumer marks it
// closed the first time it sees a value no honest producer stores, keeps
// what it had validated before (readable to the end) and never looks at
// the counter again.
func TestHostileProducerCounter(t *testing.T) {
	for name, v := range map[string]uint64{
		"backwards":         2,
		"mid-element":       7,
		"more than a ring":  4 + 8 + 2,
		"top":               math.MaxUint64,
		"top, whole":        math.MaxUint64 &^ 1,
		"behind the reader": 0,
	} {
		t.Run(name, func(t *testing.T) {
			n, _ := newNode(t)
			p, c := create(t, n, 2, 8)
			defer p.Close()
			defer c.Close()
			if _, r := p.WriteData([]byte("abcd"), 0); r != types.ResultOK {
				t.Fatal(r)
			}
			buf := make([]byte, 8)
			if _, r := c.ReadData(buf, 2, 0); r != types.ResultOK {
				t.Fatal(r)
			}
			scribble(&p.endpoint, v)
			s := c.SignalsState()
			want := types.HandleSignalsState{
				Satisfied:   types.HandleSignalReadable | types.HandleSignalPeerClosed,
				Satisfiable: types.HandleSignalReadable | types.HandleSignalPeerClosed,
			}
			if s != want {
				t.Fatalf("state %v, want %v", s, want)
			}
			// A valid counter afterwards is not trusted either.
			scribble(&p.endpoint, 8)
			k, r := c.ReadData(buf, 8, 0)
			if r != types.ResultOK || string(buf[:k]) != "cd" {
				t.Fatalf("read %q %v, want the validated \"cd\"", buf[:k], r)
			}
			_, r = c.ReadData(buf, 2, 0)
			expect(t, "ReadData after the end", r, types.ResultFailedPrecondition)
			_, r = c.BeginReadData(0)
			expect(t, "BeginReadData after the end", r, types.ResultFailedPrecondition)
			if s := c.SignalsState(); s != peerClosedOnly {
				t.Fatalf("state %v at the end", s)
			}
		})
	}
}

// A consumer that scribbles its shared counter: the producer marks it
// closed and fails every write from then on.
func TestHostileConsumerCounter(t *testing.T) {
	for name, v := range map[string]uint64{
		"backwards":     2,
		"mid-element":   5,
		"past written":  10,
		"top":           math.MaxUint64,
		"top, whole":    math.MaxUint64 &^ 1,
		"far past ring": 1 << 40,
	} {
		t.Run(name, func(t *testing.T) {
			n, _ := newNode(t)
			p, c := create(t, n, 2, 8)
			defer p.Close()
			defer c.Close()
			if _, r := p.WriteData([]byte("abcdef"), 0); r != types.ResultOK {
				t.Fatal(r)
			}
			buf := make([]byte, 8)
			if _, r := c.ReadData(buf, 4, 0); r != types.ResultOK {
				t.Fatal(r)
			}
			if _, r := p.WriteData([]byte("gh"), 0); r != types.ResultOK {
				t.Fatal(r)
			}
			scribble(&c.endpoint, v)
			if s := p.SignalsState(); s != peerClosedOnly {
				t.Fatalf("state %v, want %v", s, peerClosedOnly)
			}
			scribble(&c.endpoint, 6) // valid, too late
			_, r := p.WriteData([]byte("ij"), 0)
			expect(t, "WriteData", r, types.ResultFailedPrecondition)
			_, r = p.BeginWriteData(0)
			expect(t, "BeginWriteData", r, types.ResultFailedPrecondition)
		})
	}
}

// Waiting flags full of garbage cost wake-ups, nothing else.
func TestHostileWaitingFlags(t *testing.T) {
	n, _ := newNode(t)
	p, c := create(t, n, 1, 8)
	defer p.Close()
	defer c.Close()
	atomic.StoreUint32(p.words.peerWaiting, math.MaxUint32)
	atomic.StoreUint32(c.words.peerWaiting, 0x80000000)
	buf := make([]byte, 8)
	for i := range 20 {
		if k, r := p.WriteData([]byte("xyz"), 0); r != types.ResultOK || k != 3 {
			t.Fatalf("write %d: %d %v", i, k, r)
		}
		if k, r := c.ReadData(buf, 8, 0); r != types.ResultOK || string(buf[:k]) != "xyz" {
			t.Fatalf("read %d: %q %v", i, buf[:k], r)
		}
		atomic.StoreUint32(p.words.peerWaiting, uint32(i)*0x9e3779b9)
	}
}

// FuzzSharedWords runs a script of operations on both ends of a pipe,
// interleaved with scribbles of the shared words: nothing panics, and
// each end's bookkeeping stays inside the ring.
func FuzzSharedWords(f *testing.F) {
	f.Add([]byte{0, 6, 1, 4, 2, 9, 0, 3, 1, 8})
	f.Add([]byte{0, 8, 3, 255, 1, 8, 4, 2, 5, 7, 6, 1})
	f.Add([]byte{4, 4, 0, 2, 5, 3, 1, 2, 7, 7, 2, 2})
	f.Fuzz(func(t *testing.T, script []byte) {
		n, _ := newNode(t)
		p, c := create(t, n, 2, 16)
		defer p.Close()
		defer c.Close()
		data := []byte("0123456789abcdef")
		buf := make([]byte, 16)
		for i := 0; i+1 < len(script); i += 2 {
			op, arg := script[i]%8, script[i+1]
			switch op {
			case 0:
				p.WriteData(data[:arg%17], WriteFlags(arg>>7))
			case 1:
				c.ReadData(buf, uint32(arg%17), ReadFlags(arg>>5))
			case 2:
				if span, r := p.BeginWriteData(0); r == types.ResultOK {
					p.EndWriteData(min(uint32(arg%17), uint32(len(span))))
				}
			case 3:
				if span, r := c.BeginReadData(0); r == types.ResultOK {
					c.EndReadData(min(uint32(arg%17), uint32(len(span))))
				}
			case 4:
				scribble(&p.endpoint, uint64(arg)<<(arg%64))
			case 5:
				scribble(&c.endpoint, uint64(arg)<<(arg%64))
			case 6:
				p.SignalsState()
				c.SignalsState()
			case 7:
				var w [8]byte
				binary.LittleEndian.PutUint64(w[:], uint64(arg)*0x0101010101010101)
				atomic.StoreUint32(p.words.peerWaiting, binary.LittleEndian.Uint32(w[:]))
				atomic.StoreUint32(c.words.peerWaiting, binary.LittleEndian.Uint32(w[4:]))
			}
			for _, e := range []*endpoint{&p.endpoint, &c.endpoint} {
				e.mu.Lock()
				if e.count > e.opts.CapacityNumBytes || e.offset >= e.opts.CapacityNumBytes ||
					uint64(e.offset) != e.pos%uint64(e.opts.CapacityNumBytes) {
					t.Fatalf("bookkeeping out of the ring: pos %d peer %d offset %d count %d", e.pos, e.peerPos, e.offset, e.count)
				}
				e.mu.Unlock()
			}
		}
	})
}
