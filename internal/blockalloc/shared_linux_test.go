package blockalloc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/internal/leakcheck"
	"github.com/ipcz-go/ipcz-go/internal/shm"
)

const childEnv = "BLOCKALLOC_TEST_CHILD"

// Geometry of the regions shared with the child process.
const (
	xprocBlocks    = 32
	xprocBlockSize = 64
	// The ownership table has one word per block (0 to xprocBlocks)
	// followed by a start barrier word.
	xprocBarrier = xprocBlocks + 1
)

// xprocIters is the number of steps of each worker in each process.
func xprocIters() int {
	if raceEnabled {
		return 10000
	}
	return 100000
}

// barrier announces this process is ready to run and waits (up to 10s)
// until both processes are, so that their workers overlap in time.
func barrier(word *uint32) error {
	atomic.AddUint32(word, 1)
	deadline := time.Now().Add(10 * time.Second)
	for atomic.LoadUint32(word) < 2 {
		if time.Now().After(deadline) {
			return errors.New("the other process never reached the start barrier")
		}
		time.Sleep(50 * time.Microsecond)
	}
	return nil
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "stress" {
		os.Exit(runChild())
	}
	leakcheck.WarmUpPoller()
	os.Exit(m.Run())
}

// runChild is the peer process of TestTwoProcesses: fd 3 is the allocator
// region and fd 4 the ownership table. It runs two stress workers with ids
// 101 and 102 against the parent's.
func runChild() int {
	a, view, err := attach(3)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_, table, err := attach(4)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	owners, err := ownerWords(table, a.NumBlocks())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	start, err := table.Uint32At(4 * xprocBarrier)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := barrier(start); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var wg sync.WaitGroup
	var failed atomic.Bool
	for id := uint32(101); id <= 102; id++ {
		wg.Go(func() {
			if err := stressWorker(a, view.Bytes(), id, xprocIters(), owners); err != nil {
				fmt.Fprintln(os.Stderr, err)
				failed.Store(true)
			}
		})
	}
	wg.Wait()
	if failed.Load() {
		return 1
	}
	return 0
}

// attach adopts fd, maps it writable and builds an allocator over it.
func attach(fd int) (*Allocator, *shm.Mapping, error) {
	r, err := shm.FromFD(fd)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	m, err := shm.Map(r, true)
	if err != nil {
		return nil, nil, err
	}
	a, err := New(m.Bytes(), xprocBlockSize)
	if err != nil {
		return nil, nil, err
	}
	return a, m, nil
}

func ownerWords(m *shm.Mapping, n int) ([]*uint32, error) {
	owners := make([]*uint32, n+1)
	for i := range owners {
		var err error
		if owners[i], err = m.Uint32At(4 * i); err != nil {
			return nil, err
		}
	}
	return owners, nil
}

func mapTwice(t *testing.T, size int) (*shm.Mapping, *shm.Mapping) {
	t.Helper()
	r, err := shm.Create("blockalloc-test", size)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m1, err := shm.Map(r, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m1.Unmap() })
	m2, err := shm.Map(r, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m2.Unmap() })
	return m1, m2
}

// TestTwoAllocatorsOverTwoMappings shares a region through two Allocator
// values over two separate mappings of one memfd, as two processes would.
func TestTwoAllocatorsOverTwoMappings(t *testing.T) {
	leakcheck.CheckFDs(t)
	const n, bs = 16, 128
	m1, m2 := mapTwice(t, (n+1)*bs)
	a1, err := New(m1.Bytes(), bs)
	if err != nil {
		t.Fatal(err)
	}
	a1.Init()
	a2, err := New(m2.Bytes(), bs)
	if err != nil {
		t.Fatal(err)
	}
	// Allocate on one side, free on the other.
	off, err := a1.Alloc()
	if off != bs || err != nil {
		t.Fatalf("a1.Alloc = %d, %v; want %d, nil", off, err, bs)
	}
	if off, err := a2.Alloc(); off != 2*bs || err != nil {
		t.Fatalf("a2.Alloc = %d, %v; want %d, nil", off, err, 2*bs)
	}
	if err := a2.Free(bs); err != nil {
		t.Fatal(err)
	}
	if off, err := a1.Alloc(); off != bs || err != nil {
		t.Fatalf("a1.Alloc after a2.Free = %d, %v; want %d, nil", off, err, bs)
	}
	for _, off := range []int{bs, 2 * bs} {
		if err := a1.Free(off); err != nil {
			t.Fatal(err)
		}
	}
	// Concurrent stress: four workers on each side.
	iters := 20000
	if raceEnabled {
		iters = 4000
	}
	allocs := []*Allocator{a1, a1, a1, a1, a2, a2, a2, a2}
	views := [][]byte{m1.Bytes(), m1.Bytes(), m1.Bytes(), m1.Bytes(), m2.Bytes(), m2.Bytes(), m2.Bytes(), m2.Bytes()}
	table := make([]uint32, n+1)
	owners := make([]*uint32, n+1)
	for i := range table {
		owners[i] = &table[i]
	}
	stressViews(t, allocs, views, owners, 1, iters)
	for _, a := range []*Allocator{a1, a2} {
		if c, err := a.CountFree(); c != n || err != nil {
			t.Fatalf("CountFree = %d, %v; want %d, nil", c, err, n)
		}
	}
}

// TestTwoProcesses runs stress workers in this process and in a child
// process at the same time, over one region, with the ownership table in
// a second shared region so that a block handed to both processes at once
// is caught.
func TestTwoProcesses(t *testing.T) {
	leakcheck.CheckFDs(t)
	region, err := shm.Create("blockalloc-region", (xprocBlocks+1)*xprocBlockSize)
	if err != nil {
		t.Fatal(err)
	}
	defer region.Close()
	table, err := shm.Create("blockalloc-owners", 4*(xprocBarrier+1))
	if err != nil {
		t.Fatal(err)
	}
	defer table.Close()
	rm, err := shm.Map(region, true)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Unmap()
	tm, err := shm.Map(table, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Unmap()
	a, err := New(rm.Bytes(), xprocBlockSize)
	if err != nil {
		t.Fatal(err)
	}
	a.Init()
	owners, err := ownerWords(tm, a.NumBlocks())
	if err != nil {
		t.Fatal(err)
	}

	var files []*os.File
	for _, r := range []*shm.Region{region, table} {
		d, err := r.Dup()
		if err != nil {
			t.Fatal(err)
		}
		f := os.NewFile(uintptr(d.FD()), "region") // owns d's fd
		defer f.Close()
		files = append(files, f)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=stress", "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.ExtraFiles = files
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start, err := tm.Uint32At(4 * xprocBarrier)
	if err != nil {
		t.Fatal(err)
	}
	if err := barrier(start); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("%v\n%s", err, out.String())
	}
	allocs := []*Allocator{a, a}
	views := [][]byte{rm.Bytes(), rm.Bytes()}
	stressViews(t, allocs, views, owners, 1, xprocIters())
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	if c, err := a.CountFree(); c != xprocBlocks || err != nil {
		t.Fatalf("CountFree = %d, %v; want %d, nil", c, err, xprocBlocks)
	}
}

// lockedBuffer collects a child's output from exec's copying goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte // guarded by mu
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// TestHostilePeerScribbles lets a "peer" goroutine write random garbage
// through a second mapping while workers allocate and free through the
// first: every result must be an error of this package or a valid offset.
func TestHostilePeerScribbles(t *testing.T) {
	leakcheck.CheckFDs(t)
	const n, bs = 32, 64
	m1, m2 := mapTwice(t, (n+1)*bs)
	a, err := New(m1.Bytes(), bs)
	if err != nil {
		t.Fatal(err)
	}
	a.Init()
	peer := m2.Bytes()
	var stop atomic.Bool
	var peerWrites atomic.Int64
	var peerWG, wg sync.WaitGroup
	peerWG.Go(func() {
		rng := rand.New(rand.NewPCG(1, 2))
		for !stop.Load() {
			peerWrites.Add(1)
			if rng.IntN(2) == 0 {
				// A random byte anywhere.
				peer[rng.IntN(len(peer))] = byte(rng.Uint32())
			} else {
				// A plausible next field: a small relative index, some
				// valid, some just out of range.
				b := 1 + rng.IntN(n)
				binary.NativeEndian.PutUint32(peer[b*bs:], uint32(int32(rng.IntN(2*n+4)-n-2)))
			}
			if rng.IntN(256) == 0 {
				// Now and then point the head back at block 1, so that
				// allocations keep following the garbage next fields.
				clear(peer[:8])
			}
			if rng.IntN(64) == 0 {
				time.Sleep(time.Microsecond)
			}
		}
	})
	var counts [4]atomic.Int64 // ok, exhausted, corrupt, contended
	for w := range 3 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			var held []int
			// Run at least 20000 steps and until the peer has written
			// 50000 times, so that both overlap (bounded by 5M steps).
			for i := 0; i < 5_000_000 && (i < 20000 || peerWrites.Load() < 50000); i++ {
				if i%1024 == 0 {
					runtime.Gosched()
				}
				if len(held) == 0 || (len(held) < 8 && rng.IntN(2) == 0) {
					off, err := a.Alloc()
					switch {
					case err == nil:
						if off < bs || off > n*bs || off%bs != 0 {
							t.Errorf("Alloc returned bad offset %d", off)
							return
						}
						held = append(held, off)
						counts[0].Add(1)
					case err == ErrExhausted:
						counts[1].Add(1)
					case errors.Is(err, ErrCorrupt):
						counts[2].Add(1)
					case err == ErrContended:
						counts[3].Add(1)
					default:
						t.Errorf("Alloc: unexpected error %v", err)
						return
					}
				} else {
					off := held[len(held)-1]
					held = held[:len(held)-1]
					err := a.Free(off)
					if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrDoubleFree) && err != ErrContended {
						t.Errorf("Free(%d): unexpected error %v", off, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	peerWG.Wait()
	t.Logf("alloc outcomes: ok %d, exhausted %d, corrupt %d, contended %d",
		counts[0].Load(), counts[1].Load(), counts[2].Load(), counts[3].Load())
	if counts[0].Load() == 0 || counts[2].Load() == 0 {
		t.Errorf("want both successful and corrupt allocations under a scribbling peer")
	}
}
