package ipcz

import (
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// checkNoGoroutineLeak fails the test if goroutines started during it are
// still running shortly after it ends.
func checkNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines leaked:\n%s", n-before, buf[:runtime.Stack(buf, true)])
		}
	})
}

// TestConcurrentPutGet has several goroutines putting into one portal while
// several get from its peer: every parcel arrives exactly once, and each
// putter's parcels arrive in the order it put them.
func TestConcurrentPutGet(t *testing.T) {
	checkNoGoroutineLeak(t)
	const putters, getters = 4, 3
	perPutter := 20000
	if raceEnabled {
		perPutter = 3000
	}
	n, err := CreateNode(newTestDriver(), 0, 0)
	require.NoError(t, err)
	p, q, err := n.OpenPortals()
	require.NoError(t, err)

	var wg sync.WaitGroup
	for id := range putters {
		wg.Go(func() {
			buf := make([]byte, 12)
			for i := range perPutter {
				binary.LittleEndian.PutUint32(buf, uint32(id))
				binary.LittleEndian.PutUint64(buf[4:], uint64(i))
				if err := p.Put(buf, nil, nil); err != nil {
					t.Errorf("put: %v", err)
					return
				}
			}
		})
	}

	// Getters may interleave, so each records what it saw and order is
	// checked per getter (a getter sees one putter's parcels in order).
	var received atomic.Int64
	seen := make([][]atomic.Bool, putters)
	for i := range seen {
		seen[i] = make([]atomic.Bool, perPutter)
	}
	total := int64(putters * perPutter)
	var gwg sync.WaitGroup
	for range getters {
		gwg.Go(func() {
			last := make([]int64, putters)
			for i := range last {
				last[i] = -1
			}
			buf := make([]byte, 12)
			for received.Load() < total {
				nb, _, err := q.Get(0, buf, nil)
				if err == Unavailable {
					runtime.Gosched()
					continue
				}
				if err != nil {
					t.Errorf("get: %v", err)
					return
				}
				require.Equal(t, 12, nb)
				id := binary.LittleEndian.Uint32(buf)
				i := int64(binary.LittleEndian.Uint64(buf[4:]))
				if seen[id][i].Swap(true) {
					t.Errorf("parcel %d/%d received twice", id, i)
				}
				if i <= last[id] {
					t.Errorf("putter %d: parcel %d after %d", id, i, last[id])
				}
				last[id] = i
				received.Add(1)
			}
		})
	}
	wg.Wait()
	gwg.Wait()
	require.Equal(t, total, received.Load())
	s, err := q.QueryStatus()
	require.NoError(t, err)
	require.Equal(t, PortalStatus{}, s)
	require.NoError(t, p.Close())
	require.NoError(t, q.Close())
}

// TestConcurrentTrapsAndClose races trap installation, puts, gets and
// closure of both portals: every installed trap's handler runs exactly
// once (REMOVED at the latest), and nothing deadlocks.
func TestConcurrentTrapsAndClose(t *testing.T) {
	checkNoGoroutineLeak(t)
	rounds := 300
	if raceEnabled {
		rounds = 60
	}
	n, err := CreateNode(newTestDriver(), 0, 0)
	require.NoError(t, err)
	for range rounds {
		p, q, err := n.OpenPortals()
		require.NoError(t, err)
		var installed, fired atomic.Int64
		var wg sync.WaitGroup
		conds := &TrapConditions{
			Flags:           TrapNewLocalParcel | TrapAboveMinLocalParcels | TrapPeerClosed,
			MinLocalParcels: 3,
		}
		handler := func(e *TrapEvent) { fired.Add(1) }
		wg.Go(func() {
			for range 50 {
				if _, _, err := q.Trap(conds, handler, 0); err == nil {
					installed.Add(1)
				}
			}
		})
		wg.Go(func() {
			for range 50 {
				if p.Put([]byte{1}, nil, nil) != nil {
					return
				}
			}
		})
		wg.Go(func() {
			buf := make([]byte, 1)
			for range 50 {
				q.Get(0, buf, nil)
			}
		})
		wg.Go(func() {
			runtime.Gosched()
			p.Close()
		})
		wg.Wait()
		require.NoError(t, q.Close())
		require.Equal(t, installed.Load(), fired.Load())
	}
}

// TestConcurrentPortalTransfer sends portals through a pair while other
// goroutines use and close them: each transfer either moves the portal
// (the old handle dies) or leaves it with the caller.
func TestConcurrentPortalTransfer(t *testing.T) {
	checkNoGoroutineLeak(t)
	n, err := CreateNode(newTestDriver(), 0, 0)
	require.NoError(t, err)
	p, q, err := n.OpenPortals()
	require.NoError(t, err)
	rounds := 2000
	if raceEnabled {
		rounds = 300
	}
	for range rounds {
		x, y, err := n.OpenPortals()
		require.NoError(t, err)
		var wg sync.WaitGroup
		var putErr, closeErr error
		wg.Go(func() { putErr = p.Put(nil, []Object{x}, nil) })
		wg.Go(func() { closeErr = x.Close() })
		wg.Wait()
		// Exactly one of the two took x.
		require.True(t, (putErr == nil) != (closeErr == nil), "put %v, close %v", putErr, closeErr)
		if putErr == nil {
			_, objs, err := q.GetMessage()
			require.NoError(t, err)
			require.Len(t, objs, 1)
			moved := objs[0].(*Portal)
			require.NoError(t, y.Put([]byte("hi"), nil, nil))
			data, _, err := moved.GetMessage()
			require.NoError(t, err)
			require.Equal(t, "hi", string(data))
			require.NoError(t, moved.Close())
		} else {
			require.Equal(t, InvalidArgument, putErr)
		}
		s, err := y.QueryStatus()
		require.NoError(t, err)
		require.Equal(t, PortalStatusPeerClosed|PortalStatusDead, s.Flags)
		require.NoError(t, y.Close())
	}
}
