package ipcz_test

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/stretchr/testify/require"
)

// waitGoroutines waits until no more than n goroutines run, or fails
// with a dump after a bounded wait.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pairParcel is the parcel of pair i in direction dir.
func pairParcel(dir byte, i int) []byte {
	b := make([]byte, 9)
	b[0] = dir
	binary.LittleEndian.PutUint64(b[1:], uint64(i))
	return b
}

// TestStressManyPortalPairs: B opens 10,000 portal pairs and sends one
// end of each to the broker, in batches of 100 portals per parcel; every
// pair then carries one parcel each way.
// (A client that delegates allocation allocates nothing itself.) Then
// everything is closed: no router is left on either node, every driver
// object is released, and no goroutine is left behind.
func TestStressManyPortalPairs(t *testing.T) {
	const pairs, batch = 10000, 100
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		goroutines := runtime.NumGoroutine()
		objects := d.liveObjects()
		broker, err := ipcz.CreateNode(d.forNode("A"), 0, ipcz.CreateNodeAsBroker)
		require.NoError(t, err)
		clientDriver := d.forNode("B")
		client, err := ipcz.CreateNode(clientDriver, 0, 0)
		require.NoError(t, err)
		tb, tc := d.newTransportPair(t, true, false)
		bp, err := broker.ConnectNode(tb, 1, 0)
		require.NoError(t, err)
		cp, err := client.ConnectNode(tc, 1, d.clientFlags())
		require.NoError(t, err)
		toBroker, toClient := cp[0], bp[0]

		local := make([]*ipcz.Portal, 0, pairs)
		remote := make([]*ipcz.Portal, 0, pairs)
		for start := 0; start < pairs; start += batch {
			sent := make([]ipcz.Object, 0, batch)
			for i := start; i < start+batch; i++ {
				x, y, err := client.OpenPortals()
				require.NoError(t, err)
				local = append(local, x)
				sent = append(sent, y)
			}
			require.NoError(t, toBroker.Put(pairParcel('b', start), sent, nil))
		}
		for start := 0; start < pairs; start += batch {
			data, got := waitMessage(t, toClient)
			require.Equal(t, pairParcel('b', start), data)
			require.Len(t, got, batch)
			for _, o := range got {
				remote = append(remote, o.(*ipcz.Portal))
			}
		}
		for i := range pairs {
			require.NoError(t, local[i].Put(pairParcel('l', i), nil, nil))
			require.NoError(t, remote[i].Put(pairParcel('r', i), nil, nil))
		}
		for i := range pairs {
			data, _ := waitMessage(t, remote[i])
			require.Equal(t, pairParcel('l', i), data)
			data, _ = waitMessage(t, local[i])
			require.Equal(t, pairParcel('r', i), data)
		}
		eventually(t, "no proxies", func() bool {
			return broker.Stats().Proxies+client.Stats().Proxies == 0
		})
		require.Equal(t, pairs+1, client.Stats().RemoteRouters)
		require.Equal(t, pairs+1, broker.Stats().RemoteRouters)
		if d.delegatesAllocation() {
			// All the memory those routes needed came from the broker.
			require.Zero(t, clientDriver.AllocationCount())
		}

		for i := range pairs {
			if i%2 == 0 {
				require.NoError(t, local[i].Close())
			} else {
				require.NoError(t, remote[i].Close())
			}
		}
		for i := range pairs {
			p := remote[i]
			if i%2 != 0 {
				p = local[i]
			}
			waitStatus(t, p, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
			require.NoError(t, p.Close())
		}
		require.NoError(t, toBroker.Close())
		waitStatus(t, toClient, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
		require.NoError(t, toClient.Close())
		eventuallyf(t, func() bool {
			return broker.Stats().RemoteRouters+client.Stats().RemoteRouters == 0
		}, func() string {
			return fmt.Sprintf("routers left: broker %+v client %+v", broker.Stats(), client.Stats())
		})
		require.Equal(t, 1, client.Stats().Links)

		require.NoError(t, client.Close())
		require.NoError(t, broker.Close())
		waitGoroutines(t, goroutines)
		eventuallyf(t, func() bool { return d.liveObjects() == objects }, func() string {
			return fmt.Sprintf("driver objects: %+v, want %+v", d.liveObjects(), objects)
		})
	})
}

// TestStressManyPortalsBetweenNonBrokers: B sends one end of each of
// 3,000 pairs to C over their direct link, more routes than the node
// pair's primary buffer has linkStates for, so the pool must grow (or, when
// the driver cannot pass memory between two non-brokers, cope without).
// Every route still settles (no proxy left) and still enforces put limits
// against the other node, which needs the route's link state.
func TestStressManyPortalsBetweenNonBrokers(t *testing.T) {
	const pairs, batch = 3000, 100
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 2)
		const b, c = 1, 2
		out, in := net.ch(b, c), net.ch(c, b)
		local := make([]*ipcz.Portal, 0, pairs)
		remote := make([]*ipcz.Portal, 0, pairs)
		for start := 0; start < pairs; start += batch {
			sent := make([]ipcz.Object, 0, batch)
			for range batch {
				x, y, err := net.nodes[b].OpenPortals()
				require.NoError(t, err)
				local = append(local, x)
				sent = append(sent, y)
			}
			require.NoError(t, out.Put(pairParcel('b', start), sent, nil))
		}
		for start := 0; start < pairs; start += batch {
			data, got := waitMessage(t, in)
			require.Equal(t, pairParcel('b', start), data)
			require.Len(t, got, batch)
			for _, o := range got {
				remote = append(remote, o.(*ipcz.Portal))
			}
		}
		net.requireNoProxiesEventually()
		// Every route gets its link state, if not at once then once the
		// pool has grown: then a put with limits counts against the other
		// node's queue.
		limits := &ipcz.PutLimits{MaxQueuedParcels: 1, MaxQueuedBytes: 100}
		for i := range pairs {
			require.NoError(t, local[i].Put(pairParcel('l', i), nil, limits))
			require.NoError(t, remote[i].Put(pairParcel('r', i), nil, limits))
		}
		for i := range pairs {
			for _, p := range []*ipcz.Portal{local[i], remote[i]} {
				eventuallyf(t, func() bool { return statusOfPortal(t, p).NumRemoteParcels == 1 }, func() string {
					return fmt.Sprintf("pair %d: no remote queue state: %+v", i, statusOfPortal(t, p))
				})
				require.Equal(t, ipcz.ResourceExhausted, p.Put(pairParcel('x', i), nil, limits), "pair %d", i)
			}
		}
		for i := range pairs {
			data, _ := waitMessage(t, remote[i])
			require.Equal(t, pairParcel('l', i), data)
			data, _ = waitMessage(t, local[i])
			require.Equal(t, pairParcel('r', i), data)
		}
		for i := range pairs {
			require.NoError(t, local[i].Close())
			require.NoError(t, remote[i].Close())
		}
	})
}

// getWithin polls p for a parcel for up to 10 s.
func getWithin(p *ipcz.Portal) ([]byte, []ipcz.Object, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, objects, err := p.GetMessage()
		if err != ipcz.Unavailable {
			return data, objects, err
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("timed out waiting for a parcel")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// checkSeq returns an error unless data is parcel seq of stream.
func checkSeq(data []byte, stream byte, seq uint64) error {
	if len(data) < 9 || data[0] != stream || binary.LittleEndian.Uint64(data[1:]) != seq {
		return fmt.Errorf("stream %q: want parcel %d, got %q", stream, seq, data)
	}
	return nil
}

// TestStressConcurrentMoves: eight workers at once each make routes
// between the broker and three non-brokers, move one end five hops over
// their own channels while the other end keeps putting, then check every
// parcel both ways and close. Everything arrives exactly once and in
// order, and in the end no proxy or router is left.
func TestStressConcurrentMoves(t *testing.T) {
	const workers, hops = 8, 5
	rounds := 20
	if raceOn {
		rounds = 6
	}
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 3)
		for i := 1; i <= 3; i++ {
			for j := i + 1; j <= 3; j++ {
				net.ch(i, j)
			}
		}
		// Each worker has its own route between every two nodes.
		type chans map[[2]int]*ipcz.Portal
		own := make([]chans, workers)
		for w := range own {
			own[w] = make(chans)
			for i := range net.nodes {
				for j := i + 1; j < len(net.nodes); j++ {
					x, y, err := net.nodes[i].OpenPortals()
					require.NoError(t, err)
					own[w][[2]int{i, j}] = x
					own[w][[2]int{j, i}] = net.send(i, j, y)
				}
			}
		}
		net.requireNoProxiesEventually()
		baseline := net.remoteRouters()

		errs := make(chan error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				errs <- func() error {
					ch := own[w]
					for round := range rounds {
						home := (w + round) % len(net.nodes)
						p, q, err := net.nodes[home].OpenPortals()
						if err != nil {
							return err
						}
						var pSent, qSent uint64
						at := home
						for hop := range hops {
							next := (at + 1 + (w+hop+round)%3) % len(net.nodes)
							for range 5 {
								if err := p.Put(seqParcel('p', pSent, 12), nil, nil); err != nil {
									return fmt.Errorf("put p: %w", err)
								}
								pSent++
							}
							if err := ch[[2]int{at, next}].Put([]byte("q"), []ipcz.Object{q}, nil); err != nil {
								return fmt.Errorf("send q: %w", err)
							}
							_, objects, err := getWithin(ch[[2]int{next, at}])
							if err != nil {
								return fmt.Errorf("receive q: %w", err)
							}
							if len(objects) != 1 {
								return fmt.Errorf("got %d objects", len(objects))
							}
							q = objects[0].(*ipcz.Portal)
							at = next
							if err := q.Put(seqParcel('q', qSent, 12), nil, nil); err != nil {
								return fmt.Errorf("put q: %w", err)
							}
							qSent++
						}
						for i := range pSent {
							data, _, err := getWithin(q)
							if err != nil {
								return err
							}
							if err := checkSeq(data, 'p', i); err != nil {
								return err
							}
						}
						for i := range qSent {
							data, _, err := getWithin(p)
							if err != nil {
								return err
							}
							if err := checkSeq(data, 'q', i); err != nil {
								return err
							}
						}
						if err := p.Close(); err != nil {
							return err
						}
						if _, _, err := getWithin(q); err != ipcz.NotFound {
							return fmt.Errorf("after the peer closed: %v", err)
						}
						if err := q.Close(); err != nil {
							return err
						}
					}
					return nil
				}()
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		net.requireNoProxiesEventually()
		net.requireRemoteRoutersEventually(baseline)
	})
}
