package multiprocess

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ipcz-go/ipcz-go/internal/shm"
	"github.com/stretchr/testify/require"
)

// ringMappings counts this process's mappings of rings.
func ringMappings() int {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		panic(err)
	}
	return strings.Count(string(b), "memfd:ipcz-ring")
}

// testRing returns a producer and a consumer of one new ring, each with
// its own mapping, unmapped at cleanup.
func testRing(t testing.TB, capacity uint64) (*producer, *consumer) {
	t.Helper()
	r, region, err := newRing(capacity)
	require.NoError(t, err)
	defer region.Close()
	c, err := mapRing(region, capacity)
	require.NoError(t, err)
	t.Cleanup(func() {
		r.unmap()
		c.unmap()
	})
	return &producer{r: r}, &consumer{r: c}
}

func TestRingRoundTripWithWrap(t *testing.T) {
	p, c := testRing(t, minRingCapacity)
	rng := rand.New(rand.NewPCG(1, 1))
	var buf []byte
	next := uint64(0)
	for seq := uint64(0); seq < 5000; {
		// Fill the ring with records of random sizes, then drain it.
		written := 0
		for {
			n := rng.IntN(maxRecordData(minRingCapacity) + 1)
			ok, bad := p.write(seq, pattern(n, seq))
			require.False(t, bad)
			if !ok {
				break
			}
			seq++
			written++
		}
		require.NotZero(t, written)
		for {
			s, ok, err := c.peek()
			require.NoError(t, err)
			if !ok {
				break
			}
			require.Equal(t, next, s)
			buf = c.take(buf)
			want := pattern(len(buf), next)
			require.True(t, bytes.Equal(want, buf), "record %d", next)
			next++
		}
		require.Equal(t, seq, next)
	}
	// Too large for the ring: refused, not bad.
	ok, bad := p.write(next, make([]byte, maxRecordData(minRingCapacity)+1))
	require.False(t, ok)
	require.False(t, bad)
}

func TestRingRejectsCorruptWords(t *testing.T) {
	type corruption struct {
		name string
		do   func(w *ringWords, tail uint64)
	}
	cases := []corruption{
		{"tail past capacity", func(w *ringWords, tail uint64) { atomic.StoreUint64(w.tail, tail+w.capacity+recordAlign) }},
		{"tail behind head", func(w *ringWords, tail uint64) { atomic.StoreUint64(w.tail, 0) }},
		{"tail misaligned", func(w *ringWords, tail uint64) { atomic.StoreUint64(w.tail, tail+1) }},
		{"length past tail", func(w *ringWords, tail uint64) {
			binary.LittleEndian.PutUint32(w.area[tail%w.capacity:], 200)
			atomic.StoreUint64(w.tail, tail+recordSize(16))
		}},
		{"length past limit", func(w *ringWords, tail uint64) {
			binary.LittleEndian.PutUint32(w.area[tail%w.capacity:], 0xffffffff)
			atomic.StoreUint64(w.tail, tail+w.capacity)
		}},
		{"reserved word", func(w *ringWords, tail uint64) {
			binary.LittleEndian.PutUint32(w.area[tail%w.capacity+4:], 1)
			atomic.StoreUint64(w.tail, tail+recordSize(0))
		}},
	}
	for _, cc := range cases {
		t.Run(cc.name, func(t *testing.T) {
			p, c := testRing(t, minRingCapacity)
			// Some honest traffic first, so that head and tail are not 0.
			for i := range 3 {
				ok, _ := p.write(uint64(i), []byte("honest"))
				require.True(t, ok)
				_, ok, err := c.peek()
				require.NoError(t, err)
				require.True(t, ok)
				c.take(nil)
			}
			cc.do(&p.r.w, p.tail)
			_, _, err := c.peek()
			require.ErrorIs(t, err, errRingCorrupt)
		})
	}
	t.Run("head corrupt (producer side)", func(t *testing.T) {
		p, _ := testRing(t, minRingCapacity)
		for _, head := range []uint64{1, 1 << 40, 3} {
			atomic.StoreUint64(p.r.w.head, head)
			_, bad := p.write(0, []byte("x"))
			require.True(t, bad, "head %d", head)
		}
	})
}

// FuzzRingConsumer fills a ring with arbitrary bytes (the words and the
// records, as a hostile producer could) and consumes it: the consumer
// must never panic, never hand out more than the ring holds, and stop at
// the first corrupt record.
func FuzzRingConsumer(f *testing.F) {
	honest := func() []byte {
		b := make([]byte, ringHeaderSize+minRingCapacity)
		w := ringWords{area: b[ringHeaderSize:], capacity: minRingCapacity}
		var tail uint64
		for i := range 5 {
			msg := []byte(strings.Repeat("m", i*7))
			binary.LittleEndian.PutUint32(w.area[tail:], uint32(len(msg)))
			binary.LittleEndian.PutUint64(w.area[tail+8:], uint64(i))
			copy(w.area[tail+recordHeaderSize:], msg)
			tail += recordSize(len(msg))
		}
		binary.LittleEndian.PutUint64(b[ringTailOff:], tail)
		return b[:int(tail)+ringHeaderSize]
	}()
	f.Add(honest)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, contents []byte) {
		region, err := shm.Create("ipcz-ring", ringHeaderSize+minRingCapacity)
		require.NoError(t, err)
		defer region.Close()
		r, err := mapRing(region, minRingCapacity)
		require.NoError(t, err)
		defer r.unmap()
		copy(r.m.Bytes(), contents)
		c := &consumer{r: r}
		var buf []byte
		total := uint64(0)
		for range 2 * minRingCapacity / recordHeaderSize {
			_, ok, err := c.peek()
			if err != nil || !ok {
				break
			}
			buf = c.take(buf)
			total += recordSize(len(buf))
			require.LessOrEqual(t, total, uint64(minRingCapacity))
		}
	})
}
