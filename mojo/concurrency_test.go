package mojo

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func scaled(n int) int {
	if raceEnabled {
		return n / 4
	}
	return n
}

// Many writers and readers on one pipe, with a watcher counting readiness:
// every message arrives exactly once.
func TestConcurrentWritersReaders(t *testing.T) {
	c := newCore(t)
	a, b := pipe(t, c)
	const writers, readers = 4, 4
	perWriter := scaled(4000)

	var notified atomic.Int64
	var w Handle
	w, _ = c.CreateWatcher(func(ctx uintptr, r Result, _ HandleSignalsState, _ WatcherNotificationFlags) {
		if r == ResultOK {
			notified.Add(1)
		}
	})
	ok(t, "Watch", c.Watch(w, b, HandleSignalReadable, 1))

	seen := make([]atomic.Int32, writers*perWriter)
	var wg sync.WaitGroup
	var received atomic.Int64
	stop := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perWriter {
				id := uint32(i*perWriter + j)
				if r := c.WriteMessage(a, binary.LittleEndian.AppendUint32(nil, id), nil, 0); r != ResultOK {
					t.Errorf("WriteMessage: %v", r)
					return
				}
			}
		}()
	}
	var rg sync.WaitGroup
	for range readers {
		rg.Add(1)
		go func() {
			defer rg.Done()
			buf := make([]byte, 4)
			for {
				n, _, r := c.ReadMessage(b, buf, nil, 0)
				switch r {
				case ResultOK:
					if n != 4 {
						t.Errorf("message of %d bytes", n)
					}
					seen[binary.LittleEndian.Uint32(buf)].Add(1)
					received.Add(1)
				case ResultShouldWait:
					select {
					case <-stop:
						return
					default:
					}
					// Arming races with the other readers and writers; any
					// of OK and FAILED_PRECONDITION is fine.
					if r := c.ArmWatcher(w, nil, nil, nil, nil); r != ResultOK && r != ResultFailedPrecondition {
						t.Errorf("ArmWatcher: %v", r)
					}
				default:
					t.Errorf("ReadMessage: %v", r)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, "all messages", func() bool { return received.Load() == int64(writers*perWriter) })
	close(stop)
	rg.Wait()
	for i := range seen {
		if n := seen[i].Load(); n != 1 {
			t.Fatalf("message %d received %d times", i, n)
		}
	}
	closeAll(t, c, a, b, w)
	if c.NumHandles() != 0 {
		t.Fatalf("%d handles leaked", c.NumHandles())
	}
}

// Goroutines send, read, close and watch the same handles at random:
// every call returns one of its documented codes, no handle is used
// after it is gone, every watch gets exactly one CANCELLED, and nothing
// leaks once everything is closed.
func TestConcurrentChaos(t *testing.T) {
	c := newCore(t)
	const slots = 16
	var handles [slots]atomic.Uint32

	type watchState struct {
		mu        sync.Mutex
		cancelled int
		after     int // notifications after CANCELLED
	}
	var (
		wmu     sync.Mutex
		watches = map[uintptr]*watchState{}
		nextCtx atomic.Uintptr
	)
	callback := func(ctx uintptr, r Result, _ HandleSignalsState, _ WatcherNotificationFlags) {
		wmu.Lock()
		ws := watches[ctx]
		wmu.Unlock()
		ws.mu.Lock()
		defer ws.mu.Unlock()
		if ws.cancelled > 0 {
			ws.after++
		}
		if r == ResultCancelled {
			ws.cancelled++
		}
	}
	w, _ := c.CreateWatcher(callback)

	valid := map[Result]bool{ResultOK: true, ResultInvalidArgument: true, ResultBusy: true,
		ResultShouldWait: true, ResultFailedPrecondition: true, ResultResourceExhausted: true,
		ResultNotFound: true, ResultAlreadyExists: true}
	check := func(what string, r Result) {
		if !valid[r] {
			t.Errorf("%s: unexpected %v", what, r)
		}
	}

	iters := scaled(3000)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			buf := make([]byte, 16)
			hs := make([]Handle, 4)
			for range iters {
				i, j := rng.IntN(slots), rng.IntN(slots)
				h, h2 := Handle(handles[i].Load()), Handle(handles[j].Load())
				switch rng.IntN(9) {
				case 0: // refill a slot with a new pipe end (the other end in another slot)
					x, y, r := c.CreateMessagePipe(nil)
					check("CreateMessagePipe", r)
					if old := handles[i].Swap(uint32(x)); old != 0 {
						check("Close", c.Close(Handle(old)))
					}
					if old := handles[j].Swap(uint32(y)); old != 0 {
						check("Close", c.Close(Handle(old)))
					}
				case 1:
					check("WriteMessage", c.WriteMessage(h, []byte("data"), nil, 0))
				case 2: // send one handle over another
					if handles[j].CompareAndSwap(uint32(h2), 0) {
						r := c.WriteMessage(h, []byte("h"), []Handle{h2}, 0)
						check("WriteMessage(handle)", r)
						if r != ResultOK {
							if !handles[j].CompareAndSwap(0, uint32(h2)) {
								c.Close(h2)
							}
						}
					}
				case 3:
					_, nh, r := c.ReadMessage(h, buf, hs, ReadMessageFlagMayDiscard)
					check("ReadMessage", r)
					if r == ResultOK {
						for _, got := range hs[:nh] {
							placed := false
							for k := range slots {
								if handles[k].CompareAndSwap(0, uint32(got)) {
									placed = true
									break
								}
							}
							if !placed {
								check("Close(received)", c.Close(got))
							}
						}
					}
				case 4:
					if handles[i].CompareAndSwap(uint32(h), 0) && h != 0 {
						check("Close", c.Close(h))
					}
				case 5:
					ctx := nextCtx.Add(1)
					wmu.Lock()
					watches[ctx] = &watchState{}
					wmu.Unlock()
					r := c.Watch(w, h, HandleSignalReadable|HandleSignalPeerClosed, ctx)
					check("Watch", r)
					if r != ResultOK {
						wmu.Lock()
						delete(watches, ctx)
						wmu.Unlock()
					}
				case 6:
					check("CancelWatch", c.CancelWatch(w, uintptr(rng.IntN(int(nextCtx.Load())+1))))
				case 7:
					check("ArmWatcher", c.ArmWatcher(w, nil, nil, nil, nil))
				case 8:
					_, r := c.QueryHandleSignalsState(h)
					check("QueryHandleSignalsState", r)
				}
			}
		}()
	}
	wg.Wait()
	for i := range handles {
		if h := handles[i].Swap(0); h != 0 {
			ok(t, "final Close", c.Close(Handle(h)))
		}
	}
	ok(t, "close watcher", c.Close(w))
	if n := c.NumHandles(); n != 0 {
		t.Fatalf("%d handles leaked", n)
	}
	wmu.Lock()
	defer wmu.Unlock()
	for ctx, ws := range watches {
		if ws.cancelled != 1 || ws.after != 0 {
			t.Fatalf("watch %d: %d CANCELLED, %d notifications after it", ctx, ws.cancelled, ws.after)
		}
	}
}

// Several writers and readers share one data pipe of 8-byte elements:
// every token arrives exactly once.
func TestConcurrentDataPipe(t *testing.T) {
	c := newCore(t)
	p, cons, r := c.CreateDataPipe(&CreateDataPipeOptions{StructSize: 16, ElementNumBytes: 8, CapacityNumBytes: 8 * 64})
	ok(t, "CreateDataPipe", r)
	const writers, readers = 3, 3
	perWriter := scaled(20000)
	seen := make([]atomic.Int32, writers*perWriter)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perWriter; {
				var tokens []byte
				for k := j; k < min(j+5, perWriter); k++ {
					tokens = binary.LittleEndian.AppendUint64(tokens, uint64(i*perWriter+k))
				}
				if j%3 == 0 {
					// Two-phase now and then.
					buf, r := c.BeginWriteData(p, 0)
					if r == ResultBusy || r == ResultShouldWait {
						continue
					}
					if r != ResultOK {
						t.Errorf("BeginWriteData: %v", r)
						return
					}
					n := min(len(buf), len(tokens)) &^ 7
					copy(buf, tokens[:n])
					if r := c.EndWriteData(p, uint32(n)); r != ResultOK {
						t.Errorf("EndWriteData: %v", r)
					}
					j += n / 8
					continue
				}
				n, r := c.WriteData(p, tokens, 0)
				switch r {
				case ResultOK:
					j += int(n) / 8
				case ResultShouldWait, ResultBusy:
					time.Sleep(time.Microsecond)
				default:
					t.Errorf("WriteData: %v", r)
					return
				}
			}
		}()
	}
	var total atomic.Int64
	var rg sync.WaitGroup
	done := make(chan struct{})
	for range readers {
		rg.Add(1)
		go func() {
			defer rg.Done()
			buf := make([]byte, 8*7)
			for {
				n, r := c.ReadData(cons, buf, uint32(len(buf)), 0)
				switch r {
				case ResultOK:
					for k := 0; k < int(n); k += 8 {
						seen[binary.LittleEndian.Uint64(buf[k:])].Add(1)
					}
					total.Add(int64(n / 8))
				case ResultShouldWait, ResultBusy:
					select {
					case <-done:
						return
					default:
						time.Sleep(time.Microsecond)
					}
				default:
					t.Errorf("ReadData: %v", r)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, "all tokens", func() bool { return total.Load() == int64(writers*perWriter) })
	close(done)
	rg.Wait()
	for i := range seen {
		if n := seen[i].Load(); n != 1 {
			t.Fatalf("token %d seen %d times", i, n)
		}
	}
	closeAll(t, c, p, cons)
}

// Sending a handle races with closing it: exactly one of them wins.
func TestConcurrentSendAndClose(t *testing.T) {
	c := newCore(t)
	a, b := pipe(t, c)
	for range scaled(2000) {
		x, y := pipe(t, c)
		var wg sync.WaitGroup
		var sent, closed Result
		wg.Add(2)
		go func() { defer wg.Done(); sent = c.WriteMessage(a, nil, []Handle{x}, 0) }()
		go func() { defer wg.Done(); closed = c.Close(x) }()
		wg.Wait()
		switch {
		case sent == ResultOK && (closed == ResultInvalidArgument || closed == ResultBusy):
			hs := readHandles(t, c, b, 1)
			closeAll(t, c, hs[0])
		case closed == ResultOK && (sent == ResultInvalidArgument || sent == ResultBusy):
		default:
			t.Fatalf("send %v, close %v", sent, closed)
		}
		closeAll(t, c, y)
	}
	closeAll(t, c, a, b)
	if n := c.NumHandles(); n != 0 {
		t.Fatalf("%d handles leaked", n)
	}
}
