package mojo

import (
	"fmt"
	"testing"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/inprocess"
)

var benchSizes = []int{64, 4096}

// BenchmarkMessagePipeWriteRead is one MojoWriteMessage and one
// MojoReadMessage of a handle-less message through an in-process pipe.
// Compare with BenchmarkIpczPutGet, the same through bare ipcz portals.
func BenchmarkMessagePipeWriteRead(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			c := newCore(b)
			x, y := pipe(b, c)
			data := make([]byte, size)
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if r := c.WriteMessage(x, data, nil, 0); r != ResultOK {
					b.Fatal(r)
				}
				if _, _, r := c.ReadMessage(y, buf, nil, 0); r != ResultOK {
					b.Fatal(r)
				}
			}
		})
	}
}

// BenchmarkIpczPutGet is the baseline of BenchmarkMessagePipeWriteRead:
// ipcz Put and Get on a local portal pair (as ipcz's own
// BenchmarkLocalPutGet).
func BenchmarkIpczPutGet(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			n, err := ipcz.CreateNode(inprocess.New(inprocess.Sync), 0, 0)
			if err != nil {
				b.Fatal(err)
			}
			p, q, _ := n.OpenPortals()
			data := make([]byte, size)
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Put(data, nil, nil); err != nil {
					b.Fatal(err)
				}
				if _, _, err := q.Get(0, buf, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMessageObjectWriteRead is AllocMessage, GetMessageBuffer and a
// copy in, WriteMessageNew, ReadMessageNew, GetMessageBuffer and a copy
// out, and FreeMessage.
func BenchmarkMessageObjectWriteRead(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			c := newCore(b)
			x, y := pipe(b, c)
			data := make([]byte, size)
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				m, _ := c.AllocMessage(uint32(size), nil, 0)
				mb, _ := c.GetMessageBuffer(m)
				copy(mb, data)
				if r := c.WriteMessageNew(x, m, 0); r != ResultOK {
					b.Fatal(r)
				}
				m, _, _, r := c.ReadMessageNew(y, nil, 0)
				if r != ResultOK {
					b.Fatal(r)
				}
				mb, _ = c.GetMessageBuffer(m)
				copy(buf, mb)
				c.FreeMessage(m)
			}
		})
	}
}

// BenchmarkMessagePipeWithHandle sends and receives one message carrying
// one message pipe handle, back and forth.
func BenchmarkMessagePipeWithHandle(b *testing.B) {
	c := newCore(b)
	x, y := pipe(b, c)
	h, other := pipe(b, c)
	defer c.Close(other)
	data := make([]byte, 64)
	buf := make([]byte, 64)
	hs := make([]Handle, 1)
	b.ReportAllocs()
	for b.Loop() {
		if r := c.WriteMessage(x, data, []Handle{h}, 0); r != ResultOK {
			b.Fatal(r)
		}
		if _, _, r := c.ReadMessage(y, buf, hs, 0); r != ResultOK {
			b.Fatal(r)
		}
		h = hs[0]
	}
}

// BenchmarkDataPipeThroughput writes and reads 64 KiB chunks through an
// in-process data pipe of 64 KiB (one write, one read per op). Compare
// with BenchmarkMemcpy64KiB: two copies of 64 KiB.
func BenchmarkDataPipeThroughput(b *testing.B) {
	const chunk = 64 * 1024
	c := newCore(b)
	p, cons, r := c.CreateDataPipe(nil)
	if r != ResultOK {
		b.Fatal(r)
	}
	data := make([]byte, chunk)
	buf := make([]byte, chunk)
	b.SetBytes(chunk)
	b.ReportAllocs()
	for b.Loop() {
		if n, r := c.WriteData(p, data, WriteDataFlagAllOrNone); r != ResultOK || n != chunk {
			b.Fatal(n, r)
		}
		if n, r := c.ReadData(cons, buf, chunk, ReadDataFlagAllOrNone); r != ResultOK || n != chunk {
			b.Fatal(n, r)
		}
	}
}

// BenchmarkDataPipeTwoPhaseThroughput is BenchmarkDataPipeThroughput with
// two-phase writes and reads (one copy in, one copy out).
func BenchmarkDataPipeTwoPhaseThroughput(b *testing.B) {
	const chunk = 64 * 1024
	c := newCore(b)
	p, cons, _ := c.CreateDataPipe(nil)
	data := make([]byte, chunk)
	buf := make([]byte, chunk)
	b.SetBytes(chunk)
	b.ReportAllocs()
	for b.Loop() {
		w, r := c.BeginWriteData(p, 0)
		if r != ResultOK {
			b.Fatal(r)
		}
		n := copy(w, data)
		c.EndWriteData(p, uint32(n))
		rd, r := c.BeginReadData(cons, 0)
		if r != ResultOK {
			b.Fatal(r)
		}
		copy(buf, rd)
		c.EndReadData(cons, uint32(len(rd)))
	}
}

// BenchmarkMemcpy64KiB is the baseline of the data pipe benchmarks: the
// two 64 KiB copies a write and a read must make.
func BenchmarkMemcpy64KiB(b *testing.B) {
	const chunk = 64 * 1024
	data := make([]byte, chunk)
	ring := make([]byte, chunk)
	buf := make([]byte, chunk)
	b.SetBytes(chunk)
	for b.Loop() {
		copy(ring, data)
		copy(buf, ring)
	}
}
