package ipcz

import (
	"fmt"
	"testing"
)

func benchSizes() []int { return []int{64, 4096} }

// BenchmarkLocalPutGet measures one Put and one Get of a parcel through a
// local portal pair.
func BenchmarkLocalPutGet(b *testing.B) {
	for _, size := range benchSizes() {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			n, _ := CreateNode(newTestDriver(), 0, 0)
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

// BenchmarkChannelSendReceive is the baseline for BenchmarkLocalPutGet: a
// buffered Go channel send and receive of a copied parcel-sized slice.
func BenchmarkChannelSendReceive(b *testing.B) {
	for _, size := range benchSizes() {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			ch := make(chan []byte, 1)
			data := make([]byte, size)
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				ch <- append([]byte(nil), data...)
				copy(buf, <-ch)
			}
		})
	}
}

// BenchmarkLocalTrap measures installing a NEW_LOCAL_PARCEL trap, a Put
// that fires it, the handler running, and the Get the handler prompts.
func BenchmarkLocalTrap(b *testing.B) {
	n, _ := CreateNode(newTestDriver(), 0, 0)
	p, q, _ := n.OpenPortals()
	data := make([]byte, 64)
	buf := make([]byte, 64)
	fired := 0
	handler := func(*TrapEvent) { fired++ }
	conds := &TrapConditions{Flags: TrapNewLocalParcel}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := q.Trap(conds, handler, 0); err != nil {
			b.Fatal(err)
		}
		if err := p.Put(data, nil, nil); err != nil {
			b.Fatal(err)
		}
		if _, _, err := q.Get(0, buf, nil); err != nil {
			b.Fatal(err)
		}
	}
	if fired != b.N {
		b.Fatalf("handler ran %d times, want %d", fired, b.N)
	}
}
