package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/multiprocess"
)

// session is a broker node in this process connected to a child node.
type session struct {
	broker *ipcz.Node
	portal *ipcz.Portal // the broker's initial portal to the child
	cmd    *exec.Cmd
}

// startSession spawns the child role and connects it, with the driver's
// fast path on or off in both processes.
func startSession(role string, fastPath bool) (*session, error) {
	fp := "off"
	if fastPath {
		fp = "on"
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	d := multiprocess.New(multiprocess.FastPath(fastPath))
	broker, err := ipcz.CreateNode(d, 0, ipcz.CreateNodeAsBroker)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), roleEnv+"="+role, multiprocess.FastPathEnv+"="+fp)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	transport, err := d.Spawn(cmd)
	if err != nil {
		broker.Close()
		return nil, err
	}
	portals, err := broker.ConnectNode(transport, 1, 0)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		broker.Close()
		return nil, err
	}
	return &session{broker: broker, portal: portals[0], cmd: cmd}, nil
}

// close closes the portal, which ends the child, and waits for it.
func (s *session) close() error {
	s.portal.Close()
	err := s.cmd.Wait()
	s.broker.Close()
	return err
}

// childSession is the child's side: its node and its portal to the
// parent.
func childSession() (*ipcz.Node, *multiprocess.Driver, *ipcz.Portal, error) {
	d := multiprocess.New()
	transport, err := d.TransportFromEnvironment()
	if err != nil {
		return nil, nil, nil, err
	}
	node, err := ipcz.CreateNode(d, 0, 0)
	if err != nil {
		return nil, nil, nil, err
	}
	portals, err := node.ConnectNode(transport, 1, ipcz.ConnectNodeToBroker)
	if err != nil {
		node.Close()
		return nil, nil, nil, err
	}
	return node, d, portals[0], nil
}

// watch calls f for every parcel that arrives on p, from a trap handler
// (or from watch itself for parcels already there), one at a time, and
// calls closed once p's peer is closed and every parcel was taken, or p
// is closed.
func watch(p *ipcz.Portal, f func(data []byte, objects []ipcz.Object), closed func()) {
	conditions := &ipcz.TrapConditions{Flags: ipcz.TrapAboveMinLocalParcels | ipcz.TrapPeerClosed}
	var handler ipcz.TrapHandler
	// Parcels are read into one reused buffer, as the raw socket baseline
	// reads into one: f must not keep data. The buffers start empty and
	// grow to the largest parcel seen, so that the pairs benchmark's
	// memory per pair is not mostly buffers.
	var buf []byte
	var objects []ipcz.Object
	arm := func() {
		for {
			for readInPlace {
				data, k, err := p.BeginGet(true, true)
				if err != nil {
					break
				}
				f(data, nil)
				if _, err := p.EndGet(len(data), k, 0); err != nil {
					break
				}
			}
			for !readInPlace {
				n, k, err := p.Get(0, buf, objects)
				if err == ipcz.ResourceExhausted {
					buf, objects = make([]byte, max(n, len(buf))), make([]ipcz.Object, max(k, len(objects)))
					continue
				}
				if err != nil {
					break
				}
				f(buf[:n], objects[:k])
			}
			_, status, err := p.Trap(conditions, handler, 0)
			switch {
			case err == nil:
				return
			case err == ipcz.FailedPrecondition && status.NumLocalParcels > 0:
				continue // a parcel came meanwhile
			default: // the peer is closed, or p is
				if closed != nil {
					closed()
				}
				return
			}
		}
	}
	handler = func(e *ipcz.TrapEvent) {
		if e.ConditionFlags&ipcz.TrapRemoved != 0 {
			if closed != nil {
				closed()
			}
			return
		}
		arm()
	}
	arm()
}

// untilClosed waits until p's peer is closed.
func untilClosed(p *ipcz.Portal, f func(data []byte, objects []ipcz.Object)) {
	done := make(chan struct{})
	var once atomic.Bool
	watch(p, f, func() {
		if !once.Swap(true) {
			close(done)
		}
	})
	<-done
}

// ipczPingPong returns the median round trip of a size-byte parcel.
func ipczPingPong(fastPath bool, size, n int) (time.Duration, error) {
	s, err := startSession("ipcz-pingpong", fastPath)
	if err != nil {
		return 0, err
	}
	p := s.portal
	buf := make([]byte, size)
	warm := n / 10
	times := make([]time.Duration, 0, n)
	done := make(chan error, 2)
	closed := func() { done <- errors.New("the child went away") }
	switch *wait {
	case "trap":
		// The next ping goes from the handler that got the pong.
		i := 0
		var start time.Time
		watch(p, func([]byte, []ipcz.Object) {
			if i >= warm {
				times = append(times, time.Since(start))
			}
			i++
			if i == warm+n {
				done <- nil
				return
			}
			start = time.Now()
			if err := p.Put(buf, nil, nil); err != nil {
				done <- err
			}
		}, closed)
		start = time.Now()
		if err := p.Put(buf, nil, nil); err != nil {
			return 0, err
		}
		err = <-done
	case "chan":
		pong := make(chan struct{}, 1)
		watch(p, func([]byte, []ipcz.Object) { pong <- struct{}{} }, closed)
		for i := range warm + n {
			start := time.Now()
			if err = p.Put(buf, nil, nil); err != nil {
				break
			}
			select {
			case <-pong:
			case err = <-done:
			}
			if err != nil {
				break
			}
			if i >= warm {
				times = append(times, time.Since(start))
			}
		}
	default:
		err = fmt.Errorf("bad -wait %q", *wait)
	}
	if cerr := s.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	return median(times), nil
}

func ipczPingPongChild() error {
	node, _, p, err := childSession()
	if err != nil {
		return err
	}
	defer node.Close()
	untilClosed(p, func(data []byte, _ []ipcz.Object) {
		if err := p.Put(data, nil, nil); err != nil {
			fmt.Fprintln(os.Stderr, "child: Put:", err)
		}
	})
	return nil
}

// Bulk flow control: the receiver acknowledges every bulkAckEvery
// parcels, and the sender keeps at most bulkWindow unacknowledged.
const (
	bulkAckEvery = 16
	bulkWindow   = 64
)

// readInPlace makes watch read parcels with BeginGet/EndGet, handing f
// the parcel's own bytes (in the node pair's shared memory when it came
// through it) and no objects. Set in the child of a two-phase bulk run.
var readInPlace = os.Getenv(inPlaceEnv) != ""

// inPlaceEnv tells the bulk child to read in place.
const inPlaceEnv = "IPCZ_BENCH_IN_PLACE"

// ipczBulk returns the bytes per second of n one-way parcels of size
// bytes. With twoPhase the sender writes each parcel in place
// (BeginPut/EndPut) and the receiver reads it in place (BeginGet/EndGet):
// the bytes are written once, into the node pair's shared memory, and
// never copied.
func ipczBulk(fastPath, twoPhase bool, size, n int) (float64, error) {
	n = max(bulkAckEvery, n/bulkAckEvery*bulkAckEvery)
	if twoPhase {
		os.Setenv(inPlaceEnv, "1")
		defer os.Unsetenv(inPlaceEnv)
	}
	s, err := startSession("ipcz-bulk", fastPath)
	if err != nil {
		return 0, err
	}
	p := s.portal
	acks := make(chan struct{}, n/bulkAckEvery+bulkWindow)
	gone := make(chan struct{}, 2)
	watch(p, func([]byte, []ipcz.Object) { acks <- struct{}{} }, func() { gone <- struct{}{} })
	buf := make([]byte, size)
	put := func(data []byte) error { return p.Put(data, nil, nil) }
	if twoPhase {
		put = func(data []byte) error {
			out, err := p.BeginPut(len(data), 0, nil)
			if err != nil {
				return err
			}
			copy(out, data) // producing the parcel's bytes
			return p.EndPut(len(data), nil, 0)
		}
	}
	send := func(count int) error {
		acked := 0
		for sent := 0; sent < count || acked < count; {
			if sent < count && sent-acked < bulkWindow {
				if err := put(buf); err != nil {
					return err
				}
				sent++
				continue
			}
			select {
			case <-acks:
				acked += bulkAckEvery
			case <-gone:
				return errors.New("the child went away")
			}
		}
		return nil
	}
	err = send(4 * bulkWindow) // warm-up: the pools grow
	var elapsed time.Duration
	if err == nil {
		start := time.Now()
		err = send(n)
		elapsed = time.Since(start)
	}
	if os.Getenv("IPCZ_BENCH_DEBUG") != "" {
		st := s.broker.Stats()
		fmt.Printf("  (broker: %d parcels sent, %d bytes inline, %d bytes through shared memory)\n",
			st.ParcelsSent, st.ParcelBytesInline, st.ParcelBytesShared)
	}
	if cerr := s.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	return float64(size) * float64(n) / elapsed.Seconds(), nil
}

func ipczBulkChild() error {
	node, _, p, err := childSession()
	if err != nil {
		return err
	}
	defer node.Close()
	got := 0
	untilClosed(p, func([]byte, []ipcz.Object) {
		got++
		if got%bulkAckEvery == 0 {
			if err := p.Put([]byte{1}, nil, nil); err != nil {
				fmt.Fprintln(os.Stderr, "child: Put:", err)
			}
		}
	})
	return nil
}

// pairsResult is what the pairs benchmark measures.
type pairsResult struct {
	total, setup, trips   time.Duration
	parentHeap, childHeap float64 // bytes per pair
	parentRSS, childRSS   float64
}

// memUse returns the Go heap in use and the resident set size of this
// process, after a collection.
func memUse() (heap, rss uint64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f, err := os.Open("/proc/self/status")
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				rss = kb << 10
			}
		}
	}
	return ms.HeapInuse, rss
}

// pairsBatch is how many portals travel in one parcel.
const pairsBatch = 1000

// ipczPairs opens n pairs, sends one end of each to the child, which
// echoes the one parcel each gets, and measures time and memory.
func ipczPairs(fastPath bool, n int) (res pairsResult, err error) {
	s, err := startSession("ipcz-pairs", fastPath)
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := s.close(); err == nil {
			err = cerr
		}
	}()
	p := s.portal
	replies := make(chan []byte, 16)
	gone := make(chan struct{}, 2)
	watch(p, func(data []byte, _ []ipcz.Object) { replies <- append([]byte(nil), data...) }, func() { gone <- struct{}{} })
	reply := func() ([]byte, error) {
		select {
		case r := <-replies:
			return r, nil
		case <-gone:
			return nil, errors.New("the child went away")
		case <-time.After(5 * time.Minute):
			return nil, errors.New("timed out")
		}
	}
	childMem := func() (heap, rss uint64, err error) {
		if err := p.Put([]byte("mem"), nil, nil); err != nil {
			return 0, 0, err
		}
		r, err := reply()
		if err != nil || len(r) != 16 {
			return 0, 0, fmt.Errorf("memory report: %q, %v", r, err)
		}
		return binary.LittleEndian.Uint64(r), binary.LittleEndian.Uint64(r[8:]), nil
	}

	heap0, rss0 := memUse()
	cheap0, crss0, err := childMem()
	if err != nil {
		return res, err
	}

	start := time.Now()
	ends := make([]*ipcz.Portal, 0, n)
	for len(ends) < n {
		k := min(pairsBatch, n-len(ends))
		objects := make([]ipcz.Object, 0, k)
		for range k {
			a, b, err := s.broker.OpenPortals()
			if err != nil {
				return res, err
			}
			ends = append(ends, a)
			objects = append(objects, b)
		}
		if err := p.Put([]byte("ends"), objects, nil); err != nil {
			return res, err
		}
	}
	// The child acknowledges each batch once it watches every end.
	for range (n + pairsBatch - 1) / pairsBatch {
		if _, err := reply(); err != nil {
			return res, err
		}
	}
	res.setup = time.Since(start)

	var back atomic.Int64
	allBack := make(chan struct{})
	msg := []byte("round trip")
	for _, a := range ends {
		watch(a, func([]byte, []ipcz.Object) {
			if back.Add(1) == int64(n) {
				close(allBack)
			}
		}, nil)
		if err := a.Put(msg, nil, nil); err != nil {
			return res, err
		}
	}
	select {
	case <-allBack:
	case <-gone:
		return res, errors.New("the child went away")
	}
	res.total = time.Since(start)
	res.trips = res.total - res.setup

	heap1, rss1 := memUse()
	cheap1, crss1, err := childMem()
	if err != nil {
		return res, err
	}
	per := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(n) }
	res.parentHeap, res.parentRSS = per(heap0, heap1), per(rss0, rss1)
	res.childHeap, res.childRSS = per(cheap0, cheap1), per(crss0, crss1)
	for _, a := range ends {
		a.Close()
	}
	return res, nil
}

func ipczPairsChild() error {
	node, _, p, err := childSession()
	if err != nil {
		return err
	}
	defer node.Close()
	var ends []*ipcz.Portal
	untilClosed(p, func(data []byte, objects []ipcz.Object) {
		switch string(data) {
		case "mem":
			heap, rss := memUse()
			r := binary.LittleEndian.AppendUint64(nil, heap)
			r = binary.LittleEndian.AppendUint64(r, rss)
			p.Put(r, nil, nil)
		case "ends":
			for _, o := range objects {
				e, ok := o.(*ipcz.Portal)
				if !ok {
					continue
				}
				ends = append(ends, e)
				watch(e, func(data []byte, _ []ipcz.Object) { e.Put(data, nil, nil) }, nil)
			}
			p.Put([]byte("ok"), nil, nil)
		}
	})
	for _, e := range ends {
		e.Close()
	}
	return nil
}
