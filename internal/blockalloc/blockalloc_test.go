package blockalloc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func newAlloc(t testing.TB, numBlocks, blockSize int) (*Allocator, []byte) {
	t.Helper()
	region := alignedBytes((numBlocks + 1) * blockSize)
	a, err := New(region, blockSize)
	if err != nil {
		t.Fatal(err)
	}
	a.Init()
	return a, region
}

func TestNewValidates(t *testing.T) {
	buf := alignedBytes(1024)
	tests := []struct {
		name      string
		region    []byte
		blockSize int
	}{
		{"nil region", nil, 64},
		{"one block only", buf[:64], 64},
		{"less than two blocks", buf[:127], 64},
		{"block size zero", buf, 0},
		{"block size negative", buf, -8},
		{"block size 4", buf, 4},
		{"block size not multiple of 8", buf, 12},
		{"misaligned by 1", buf[1:], 64},
		{"misaligned by 4", buf[4:], 64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := New(tc.region, tc.blockSize)
			if !errors.Is(err, ErrInvalidRegion) || a != nil {
				t.Fatalf("New = %v, %v; want nil, ErrInvalidRegion", a, err)
			}
		})
	}
	a, err := New(buf[:1000], 64) // 15 whole blocks, 40 bytes unused
	if err != nil {
		t.Fatal(err)
	}
	if a.NumBlocks() != 14 || a.BlockSize() != 64 {
		t.Fatalf("NumBlocks, BlockSize = %d, %d; want 14, 64", a.NumBlocks(), a.BlockSize())
	}
	a, err = New(buf[8:], 8) // 8-aligned but not 16-aligned is fine
	if err != nil {
		t.Fatal(err)
	}
	if a.NumBlocks() != 126 {
		t.Fatalf("NumBlocks = %d, want 126", a.NumBlocks())
	}
}

func TestAllocAllThenExhausted(t *testing.T) {
	const n, bs = 8, 64
	a, _ := newAlloc(t, n, bs)
	if c, err := a.CountFree(); c != n || err != nil {
		t.Fatalf("CountFree = %d, %v; want %d, nil", c, err, n)
	}
	// A fresh list hands blocks out in address order.
	for i := 1; i <= n; i++ {
		off, err := a.Alloc()
		if err != nil {
			t.Fatalf("Alloc %d: %v", i, err)
		}
		if off != i*bs {
			t.Fatalf("Alloc %d = %d, want %d", i, off, i*bs)
		}
	}
	for range 3 {
		if off, err := a.Alloc(); err != ErrExhausted || off != 0 {
			t.Fatalf("Alloc on empty list = %d, %v; want 0, ErrExhausted", off, err)
		}
	}
	if c, err := a.CountFree(); c != 0 || err != nil {
		t.Fatalf("CountFree = %d, %v; want 0, nil", c, err)
	}
	// Free and reallocate: LIFO.
	for _, off := range []int{3 * bs, 7 * bs, 1 * bs} {
		if err := a.Free(off); err != nil {
			t.Fatalf("Free(%d): %v", off, err)
		}
	}
	if c, err := a.CountFree(); c != 3 || err != nil {
		t.Fatalf("CountFree = %d, %v; want 3, nil", c, err)
	}
	for _, want := range []int{1 * bs, 7 * bs, 3 * bs} {
		off, err := a.Alloc()
		if err != nil || off != want {
			t.Fatalf("Alloc = %d, %v; want %d, nil", off, err, want)
		}
	}
	if _, err := a.Alloc(); err != ErrExhausted {
		t.Fatalf("Alloc = %v, want ErrExhausted", err)
	}
	// Free everything, in a scrambled order, and get every block back.
	for _, i := range []int{5, 2, 8, 1, 4, 7, 3, 6} {
		if err := a.Free(i * bs); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[int]bool{}
	for range n {
		off, err := a.Alloc()
		if err != nil {
			t.Fatal(err)
		}
		if seen[off] {
			t.Fatalf("offset %d handed out twice", off)
		}
		seen[off] = true
	}
	if len(seen) != n {
		t.Fatalf("got %d distinct blocks, want %d", len(seen), n)
	}
}

func TestZeroedRegionIsFullFreeList(t *testing.T) {
	const n, bs = 5, 16
	a, err := New(alignedBytes((n+1)*bs+7), bs) // no Init
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if off, err := a.Alloc(); off != i*bs || err != nil {
			t.Fatalf("Alloc = %d, %v; want %d, nil", off, err, i*bs)
		}
	}
	if _, err := a.Alloc(); err != ErrExhausted {
		t.Fatalf("Alloc = %v, want ErrExhausted", err)
	}
}

func TestInitResets(t *testing.T) {
	const n, bs = 4, 32
	a, region := newAlloc(t, n, bs)
	for range 3 {
		if _, err := a.Alloc(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range region {
		region[i] = 0xFF // scribble over everything, payload included
	}
	a.Init()
	if c, err := a.CountFree(); c != n || err != nil {
		t.Fatalf("CountFree after Init = %d, %v; want %d, nil", c, err, n)
	}
	if off, err := a.Alloc(); off != bs || err != nil {
		t.Fatalf("Alloc after Init = %d, %v; want %d, nil", off, err, bs)
	}
}

func TestFreeValidatesOffset(t *testing.T) {
	const n, bs = 4, 64
	a, _ := newAlloc(t, n, bs)
	for _, off := range []int{0, -64, -1, 1, 63, 65, 100, (n + 1) * bs, (n + 2) * bs, 1 << 40, -1 << 40} {
		if err := a.Free(off); !errors.Is(err, ErrInvalidOffset) {
			t.Errorf("Free(%d) = %v, want ErrInvalidOffset", off, err)
		}
	}
	if c, err := a.CountFree(); c != n || err != nil {
		t.Fatalf("rejected frees changed the list: CountFree = %d, %v", c, err)
	}
	off, err := a.Alloc()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Free(off); err != nil {
		t.Fatal(err)
	}
	if err := a.Free(off); !errors.Is(err, ErrDoubleFree) {
		t.Fatalf("second Free(%d) = %v, want ErrDoubleFree", off, err)
	}
	if c, err := a.CountFree(); c != n || err != nil {
		t.Fatalf("CountFree = %d, %v; want %d, nil", c, err, n)
	}
}

// TestConcurrentNoDoubleHandout runs allocators in several goroutines
// over one region (on the Go heap, so the race detector sees every
// access) and checks with an ownership table that no block is ever held
// by two goroutines, and that each owner's payload survives untouched.
func TestConcurrentNoDoubleHandout(t *testing.T) {
	const n, bs, workers = 16, 64, 8
	iters := 50000
	if raceEnabled {
		iters = 5000
	}
	a, region := newAlloc(t, n, bs)
	allocs := make([]*Allocator, workers)
	for i := range allocs {
		var err error
		// Several Allocator values over the same memory, as several
		// processes would have.
		if allocs[i], err = New(region, bs); err != nil {
			t.Fatal(err)
		}
	}
	stressShared(t, allocs, region, iters)
	if c, err := a.CountFree(); c != n || err != nil {
		t.Fatalf("after stress CountFree = %d, %v; want %d, nil", c, err, n)
	}
}

// stressShared runs one stress worker per allocator, all over the same
// region, with an ownership table on the Go heap.
func stressShared(t *testing.T, allocs []*Allocator, region []byte, iters int) {
	t.Helper()
	views := make([][]byte, len(allocs))
	for i := range views {
		views[i] = region
	}
	table := make([]uint32, allocs[0].NumBlocks()+1)
	owners := make([]*uint32, len(table))
	for i := range table {
		owners[i] = &table[i]
	}
	stressViews(t, allocs, views, owners, 1, iters)
}

// stressViews runs worker i on allocs[i], writing payloads through
// views[i] (its view of the region), with ids firstID, firstID+1, ...
func stressViews(t *testing.T, allocs []*Allocator, views [][]byte, owners []*uint32, firstID uint32, iters int) {
	t.Helper()
	setYieldHook(t)
	var wg sync.WaitGroup
	errs := make(chan error, len(allocs))
	for i, a := range allocs {
		wg.Go(func() { errs <- stressWorker(a, views[i], firstID+uint32(i), iters, owners) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// setYieldHook makes allocators yield now and then between reading the
// head and swapping it, so that other workers run inside that window (two
// CPUs rarely overlap in a window of a few nanoseconds otherwise).
func setYieldHook(t *testing.T) {
	testHookBeforeCAS = func() {
		if rand.IntN(4) == 0 {
			runtime.Gosched()
		}
	}
	t.Cleanup(func() { testHookBeforeCAS = nil })
}

// stressWorker allocates and frees at random, holding up to 8 blocks, and
// frees everything at the end. owners[b] is an ownership word for block b
// shared by all workers (possibly in shared memory, across processes): 0
// when free, else the holder's id. A block handed out while another
// worker holds it, or a payload changed while held, is reported.
func stressWorker(a *Allocator, view []byte, id uint32, iters int, owners []*uint32) error {
	bs, n := a.BlockSize(), a.NumBlocks()
	rng := rand.New(rand.NewPCG(uint64(id), 42))
	var held []int
	release := func(off int) error {
		// The payload (past the 8 bytes a stale reader may read) must
		// still say who owns the block.
		for i := 8; i+4 <= bs; i += 4 {
			if got := binary.LittleEndian.Uint32(view[off+i:]); got != id<<16|uint32(off) {
				return fmt.Errorf("worker %d: block %d payload overwritten: %#x", id, off, got)
			}
		}
		if !atomic.CompareAndSwapUint32(owners[off/bs], id, 0) {
			return fmt.Errorf("worker %d: block %d owner changed while held", id, off)
		}
		if err := a.Free(off); err != nil {
			return fmt.Errorf("worker %d: Free(%d): %w", id, off, err)
		}
		return nil
	}
	for range iters {
		if len(held) < 8 && (len(held) == 0 || rng.IntN(2) == 0) {
			off, err := a.Alloc()
			if err == ErrExhausted {
				continue
			}
			if err != nil {
				return fmt.Errorf("worker %d: Alloc: %w", id, err)
			}
			if off < bs || off > n*bs || off%bs != 0 {
				return fmt.Errorf("worker %d: Alloc returned bad offset %d", id, off)
			}
			if prev := atomic.SwapUint32(owners[off/bs], id); prev != 0 {
				return fmt.Errorf("block %d handed to worker %d while held by worker %d", off, id, prev)
			}
			for i := 8; i+4 <= bs; i += 4 {
				binary.LittleEndian.PutUint32(view[off+i:], id<<16|uint32(off))
			}
			held = append(held, off)
		} else {
			k := rng.IntN(len(held))
			off := held[k]
			held[k] = held[len(held)-1]
			held = held[:len(held)-1]
			if err := release(off); err != nil {
				return err
			}
		}
	}
	for _, off := range held {
		if err := release(off); err != nil {
			return err
		}
	}
	return nil
}

// TestABAIsPrevented replays the ABA interleaving step by step: an
// allocator reads the head (first block b, next c), then others pop b and
// c and push b back, so the head again names b but b's successor is no
// longer c. The stale swap must fail even though the index matches.
func TestABAIsPrevented(t *testing.T) {
	const n, bs = 4, 64
	a, _ := newAlloc(t, n, bs)
	h := a.mem.load64(0)
	b := first(h)
	c, ok := a.next(b)
	if b != 1 || c != 2 || !ok {
		t.Fatalf("fresh list: first %d next %d ok %v; want 1 2 true", b, c, ok)
	}
	// Others: pop 1, pop 2, push 1.
	if off, err := a.Alloc(); off != bs || err != nil {
		t.Fatal(off, err)
	}
	if off, err := a.Alloc(); off != 2*bs || err != nil {
		t.Fatal(off, err)
	}
	if err := a.Free(bs); err != nil {
		t.Fatal(err)
	}
	if got := first(a.mem.load64(0)); got != b {
		t.Fatalf("head names %d, want %d again", got, b)
	}
	// The stale swap would hand out block 1 and make block 2 (which is
	// allocated) the head. It must fail.
	if a.mem.cas64(0, h, makeHead(h, c)) {
		t.Fatal("stale compare-and-swap succeeded: ABA not prevented")
	}
	if c, err := a.CountFree(); c != n-1 || err != nil {
		t.Fatalf("CountFree = %d, %v; want %d, nil", c, err, n-1)
	}
}

// TestContendedGivesUp plays a peer that changes the head between every
// read and swap: Alloc and Free must give up after maxAttempts tries
// instead of looping forever.
func TestContendedGivesUp(t *testing.T) {
	const n, bs = 4, 64
	a, region := newAlloc(t, n, bs)
	calls := 0
	testHookBeforeCAS = func() {
		calls++
		// Bump the tag only: the list stays valid but every swap fails.
		binary.NativeEndian.PutUint64(region, binary.NativeEndian.Uint64(region)+1<<32)
	}
	defer func() { testHookBeforeCAS = nil }()
	if off, err := a.Alloc(); err != ErrContended || off != 0 {
		t.Fatalf("Alloc = %d, %v; want 0, ErrContended", off, err)
	}
	if calls != maxAttempts {
		t.Fatalf("Alloc tried %d times, want %d", calls, maxAttempts)
	}
	calls = 0
	if err := a.Free(2 * bs); err != ErrContended {
		t.Fatalf("Free = %v, want ErrContended", err)
	}
	if calls != maxAttempts {
		t.Fatalf("Free tried %d times, want %d", calls, maxAttempts)
	}
	testHookBeforeCAS = nil
	if off, err := a.Alloc(); off != bs || err != nil {
		t.Fatalf("Alloc once the peer stops = %d, %v; want %d, nil", off, err, bs)
	}
}

// TestCorruptHead checks the exact outcome for a head outside the list.
func TestCorruptHead(t *testing.T) {
	const n, bs = 4, 64
	a, region := newAlloc(t, n, bs)
	// first - 1 = n+1, so first = n+2: past the end marker.
	binary.NativeEndian.PutUint64(region, uint64(n+1))
	if _, err := a.Alloc(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Alloc = %v, want ErrCorrupt", err)
	}
	if err := a.Free(bs); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Free = %v, want ErrCorrupt", err)
	}
	if _, err := a.CountFree(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("CountFree = %v, want ErrCorrupt", err)
	}
	binary.NativeEndian.PutUint64(region, 0xFFFFFFFF_FFFFFFFF)
	if _, err := a.Alloc(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Alloc with all-ones head = %v, want ErrCorrupt", err)
	}
	// A head saying "empty" is believed.
	binary.NativeEndian.PutUint64(region, uint64(n))
	if _, err := a.Alloc(); err != ErrExhausted {
		t.Fatalf("Alloc = %v, want ErrExhausted", err)
	}
}

func TestCorruptNext(t *testing.T) {
	const n, bs = 4, 64
	for _, rel := range []int32{-2, -3, n, n + 1, 1 << 30, -1 << 31} {
		a, region := newAlloc(t, n, bs)
		// Block 1 is first; make its next point outside [1, n+1].
		binary.NativeEndian.PutUint32(region[bs:], uint32(rel))
		if _, err := a.Alloc(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("rel %d: Alloc = %v, want ErrCorrupt", rel, err)
		}
		if _, err := a.CountFree(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("rel %d: CountFree = %v, want ErrCorrupt", rel, err)
		}
	}
}

// TestCycleIsBounded makes block 1 its own successor. Alloc cannot tell
// (the peer could do the same by freeing a block it holds), so it keeps
// handing out block 1, but nothing loops and CountFree reports the cycle.
func TestCycleIsBounded(t *testing.T) {
	const n, bs = 4, 64
	a, region := newAlloc(t, n, bs)
	binary.NativeEndian.PutUint32(region[bs:], uint32(0xFFFFFFFF)) // next = 1 + 1 - 1 = 1
	for range 3 {
		if off, err := a.Alloc(); off != bs || err != nil {
			t.Fatalf("Alloc = %d, %v; want %d, nil", off, err, bs)
		}
	}
	if _, err := a.CountFree(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("CountFree = %v, want ErrCorrupt", err)
	}
}

// TestRandomCorruptionBetweenOperations writes random garbage into the
// region between operations and checks that every result is an error or
// a valid offset.
func TestRandomCorruptionBetweenOperations(t *testing.T) {
	for _, bs := range []int{8, 16, 64} {
		const n = 16
		a, region := newAlloc(t, n, bs)
		rng := rand.New(rand.NewPCG(uint64(bs), 7))
		var held []int
		for i := range 20000 {
			switch rng.IntN(4) {
			case 0: // garbage somewhere, sometimes a plausible small value
				pos := rng.IntN(len(region)-3) &^ 3
				v := rng.Uint32()
				if rng.IntN(2) == 0 {
					v = uint32(rng.IntN(2*n+4)) - uint32(n+2)
				}
				binary.NativeEndian.PutUint32(region[pos:], v)
			case 1:
				off, err := a.Alloc()
				checkAllocResult(t, a, off, err)
				if err == nil {
					held = append(held, off)
				}
			case 2:
				if len(held) > 0 {
					k := rng.IntN(len(held))
					checkFreeResult(t, a.Free(held[k]))
					held = append(held[:k], held[k+1:]...)
				}
			case 3:
				checkFreeResult(t, a.Free(rng.IntN((n+3)*bs)-bs))
			}
			if i%100 == 0 {
				if c, err := a.CountFree(); err == nil && (c < 0 || c > n) {
					t.Fatalf("CountFree = %d outside [0, %d]", c, n)
				}
			}
		}
	}
}

func checkAllocResult(t testing.TB, a *Allocator, off int, err error) {
	t.Helper()
	if err != nil {
		if off != 0 {
			t.Fatalf("Alloc returned offset %d with error %v", off, err)
		}
		if err != ErrExhausted && !errors.Is(err, ErrCorrupt) && err != ErrContended {
			t.Fatalf("Alloc returned unexpected error %v", err)
		}
		return
	}
	bs := a.BlockSize()
	if off < bs || off > a.NumBlocks()*bs || off%bs != 0 {
		t.Fatalf("Alloc returned offset %d outside [%d, %d] or not a multiple of %d", off, bs, a.NumBlocks()*bs, bs)
	}
}

func checkFreeResult(t testing.TB, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrInvalidOffset) &&
		!errors.Is(err, ErrDoubleFree) && err != ErrContended {
		t.Fatalf("Free returned unexpected error %v", err)
	}
}

func BenchmarkAllocFree(b *testing.B) {
	a, _ := newAlloc(b, 64, 64)
	for b.Loop() {
		off, err := a.Alloc()
		if err != nil {
			b.Fatal(err)
		}
		if err := a.Free(off); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAllocFreeParallel has GOMAXPROCS goroutines contend on one
// free list.
func BenchmarkAllocFreeParallel(b *testing.B) {
	a, _ := newAlloc(b, 256, 64)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			off, err := a.Alloc()
			if err != nil {
				b.Error(err)
				return
			}
			if err := a.Free(off); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
