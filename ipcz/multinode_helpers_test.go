package ipcz_test

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/stretchr/testify/require"
)

// Shared helpers of the multinode_*_test.go files.

// gate sits between the driver and a node's activity handler for one
// transport. While paused it holds what the driver delivers (in order)
// and hands it on when resumed, so a test can stop one direction of one
// node link without blocking the driver, in every mode (in Sync mode the
// driver calls the handler from Transmit, so blocking is not an option).
// Like the Sync driver, whoever finds nobody delivering delivers the
// queue, so handler calls never overlap and stay in order.
type gate struct {
	transport ipcz.DriverHandle
	real      ipcz.ActivityHandler

	mu       sync.Mutex
	paused   bool
	draining bool
	queue    []gateEvent
	held     int // messages that were held while paused
}

type gateEvent struct {
	data    []byte
	handles []ipcz.DriverHandle
	flags   ipcz.TransportActivityFlags
}

func (g *gate) handle(data []byte, handles []ipcz.DriverHandle, flags ipcz.TransportActivityFlags) error {
	g.mu.Lock()
	if g.paused || g.draining || len(g.queue) > 0 {
		if g.paused && flags == 0 {
			g.held++
		}
		g.queue = append(g.queue, gateEvent{
			data:    append([]byte(nil), data...),
			handles: append([]ipcz.DriverHandle(nil), handles...),
			flags:   flags,
		})
		if g.paused || g.draining {
			g.mu.Unlock()
			return nil
		}
		g.draining = true
		g.mu.Unlock()
		g.drain()
		return nil
	}
	g.draining = true
	g.mu.Unlock()
	err := g.real(data, handles, flags)
	g.drain()
	return err
}

// drain delivers queued events until the queue is empty or the gate is
// paused. Preconditions: the caller set draining.
func (g *gate) drain() {
	g.mu.Lock()
	for len(g.queue) > 0 && !g.paused {
		ev := g.queue[0]
		g.queue = g.queue[1:]
		g.mu.Unlock()
		_ = g.real(ev.data, ev.handles, ev.flags)
		g.mu.Lock()
	}
	g.draining = false
	g.mu.Unlock()
}

func (g *gate) pause() {
	g.mu.Lock()
	g.paused = true
	g.mu.Unlock()
}

func (g *gate) resume() {
	g.mu.Lock()
	g.paused = false
	if g.draining || len(g.queue) == 0 {
		g.mu.Unlock()
		return
	}
	g.draining = true
	g.mu.Unlock()
	g.drain()
}

// heldMessages is how many messages arrived while the gate was paused.
func (g *gate) heldMessages() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held
}

// fail makes the transport look broken to the node, as a driver does when
// the connection drops: one TransportActivityError call, in order.
func (g *gate) fail() {
	_ = g.handle(nil, nil, ipcz.TransportActivityError)
}

// gateDriver is one node's view of the driver with a gate on every
// transport the node activates, recorded in activation order.
type gateDriver struct {
	nodeView

	mu           sync.Mutex
	gates        []*gate
	transmitHook func(transport ipcz.DriverHandle, data []byte)
	// pauseNew makes the gates of transports activated from now on start
	// paused.
	pauseNew bool
}

// setPauseNew sets whether transports activated from now on start with
// their gate paused.
func (g *gateDriver) setPauseNew(pause bool) {
	g.mu.Lock()
	g.pauseNew = pause
	g.mu.Unlock()
}

func newGateDriver(d *mnDriver, name string) *gateDriver {
	return &gateDriver{nodeView: d.forNode(name)}
}

// setTransmitHook installs a function called (on the transmitting
// goroutine, with no lock held) before each message the node transmits;
// it may block. nil removes it.
func (g *gateDriver) setTransmitHook(hook func(transport ipcz.DriverHandle, data []byte)) {
	g.mu.Lock()
	g.transmitHook = hook
	g.mu.Unlock()
}

func (g *gateDriver) Transmit(transport ipcz.DriverHandle, data []byte, handles []ipcz.DriverHandle) error {
	g.mu.Lock()
	hook := g.transmitHook
	g.mu.Unlock()
	if hook != nil {
		hook(transport, data)
	}
	return g.nodeView.Transmit(transport, data, handles)
}

func (g *gateDriver) ActivateTransport(transport ipcz.DriverHandle, handler ipcz.ActivityHandler) error {
	gt := &gate{transport: transport, real: handler}
	g.mu.Lock()
	gt.paused = g.pauseNew
	g.gates = append(g.gates, gt)
	g.mu.Unlock()
	return g.nodeView.ActivateTransport(transport, gt.handle)
}

// activations returns the gates of every transport activated so far.
func (g *gateDriver) activations() []*gate {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*gate(nil), g.gates...)
}

func (g *gateDriver) gateFor(transport ipcz.DriverHandle) *gate {
	for _, gt := range g.activations() {
		if gt.transport == transport {
			return gt
		}
	}
	return nil
}

func (g *gateDriver) resumeAll() {
	for _, gt := range g.activations() {
		gt.resume()
	}
}

// mnNet is a broker (node 0, "A") and non-brokers (nodes 1.., "B", "C",
// ...), each non-broker with one initial portal pair to the broker and
// each node with its own gated driver view. ch builds direct routes
// between any two nodes on demand.
type mnNet struct {
	t     *testing.T
	d     *mnDriver
	nodes []*ipcz.Node
	drv   []*gateDriver
	// transport[i][j] is node i's transport to node j, once known.
	transport map[[2]int]ipcz.DriverHandle
	// chans[{i,j}] is node i's end of a route whose other end is on j.
	chans map[[2]int]*ipcz.Portal
}

func nodeLetter(i int) string { return string(rune('A' + i)) }

// newMNNet makes a broker and n non-brokers connected to it.
func newMNNet(t *testing.T, d *mnDriver, n int) *mnNet {
	t.Helper()
	net := &mnNet{
		t:         t,
		d:         d,
		transport: make(map[[2]int]ipcz.DriverHandle),
		chans:     make(map[[2]int]*ipcz.Portal),
	}
	net.drv = append(net.drv, newGateDriver(d, "A"))
	broker, err := ipcz.CreateNode(net.drv[0], 0, ipcz.CreateNodeAsBroker)
	require.NoError(t, err)
	net.nodes = append(net.nodes, broker)
	for i := 1; i <= n; i++ {
		gd := newGateDriver(d, nodeLetter(i))
		node, err := ipcz.CreateNode(gd, 0, 0)
		require.NoError(t, err)
		net.drv = append(net.drv, gd)
		net.nodes = append(net.nodes, node)
		tb, tn := d.newTransportPair(t, true, false)
		bp, err := broker.ConnectNode(tb, 1, 0)
		require.NoError(t, err)
		np, err := node.ConnectNode(tn, 1, d.clientFlags())
		require.NoError(t, err)
		net.transport[[2]int{0, i}] = tb
		net.transport[[2]int{i, 0}] = tn
		net.chans[[2]int{0, i}] = bp[0]
		net.chans[[2]int{i, 0}] = np[0]
	}
	t.Cleanup(net.close)
	// Every handshake is done once each initial route has carried a
	// parcel both ways.
	for i := 1; i <= n; i++ {
		pingPong(t, net.chans[[2]int{0, i}], net.chans[[2]int{i, 0}], "connected")
	}
	return net
}

// close resumes every gate (so nothing stays held) and closes the nodes.
func (net *mnNet) close() {
	for _, gd := range net.drv {
		gd.resumeAll()
	}
	for _, n := range net.nodes[1:] {
		n.Close()
	}
	net.nodes[0].Close()
}

func (net *mnNet) broker() *ipcz.Node { return net.nodes[0] }

// ch returns node i's end of a direct route to node j, building it the
// first time: the broker opens a pair and sends one end to each node, and
// the proxies it leaves are bypassed, which introduces i and j. It also
// records which transport of each node leads to the other.
func (net *mnNet) ch(i, j int) *ipcz.Portal {
	t := net.t
	t.Helper()
	require.NotEqual(t, i, j)
	if p := net.chans[[2]int{i, j}]; p != nil {
		return p
	}
	require.NotZero(t, i)
	require.NotZero(t, j)
	beforeI := len(net.drv[i].activations())
	beforeJ := len(net.drv[j].activations())
	x, y, err := net.broker().OpenPortals()
	require.NoError(t, err)
	require.NoError(t, net.ch(0, i).Put([]byte("ch"), []ipcz.Object{x}, nil))
	require.NoError(t, net.ch(0, j).Put([]byte("ch"), []ipcz.Object{y}, nil))
	pi := recvPortal(t, net.ch(i, 0), "ch")
	pj := recvPortal(t, net.ch(j, 0), "ch")
	pingPong(t, pi, pj, fmt.Sprintf("ch %d-%d", i, j))
	eventually(t, "a direct route", func() bool { return net.totalProxies() == 0 })
	require.Contains(t, net.nodes[i].Stats().LinkedNodes, net.nodes[j].Name())
	if _, ok := net.transport[[2]int{i, j}]; !ok {
		ai, aj := net.drv[i].activations(), net.drv[j].activations()
		require.Len(t, ai, beforeI+1, "node %s activated one transport", nodeLetter(i))
		require.Len(t, aj, beforeJ+1, "node %s activated one transport", nodeLetter(j))
		net.transport[[2]int{i, j}] = ai[beforeI].transport
		net.transport[[2]int{j, i}] = aj[beforeJ].transport
	}
	net.chans[[2]int{i, j}] = pi
	net.chans[[2]int{j, i}] = pj
	return pi
}

// gate returns the gate on node i's transport to node j (which carries
// what j sends to i).
func (net *mnNet) gate(i, j int) *gate {
	h, ok := net.transport[[2]int{i, j}]
	require.True(net.t, ok, "no transport known from %s to %s", nodeLetter(i), nodeLetter(j))
	g := net.drv[i].gateFor(h)
	require.NotNil(net.t, g)
	return g
}

// send moves portal p from node i to node j over ch(i, j) and returns it
// as it arrived on j.
func (net *mnNet) send(i, j int, p *ipcz.Portal) *ipcz.Portal {
	net.t.Helper()
	tag := fmt.Sprintf("move %s->%s", nodeLetter(i), nodeLetter(j))
	require.NoError(net.t, net.ch(i, j).Put([]byte(tag), []ipcz.Object{p}, nil))
	return recvPortal(net.t, net.ch(j, i), tag)
}

func (net *mnNet) totalProxies() int {
	n := 0
	for _, node := range net.nodes {
		n += node.Stats().Proxies
	}
	return n
}

func (net *mnNet) requireNoProxiesEventually() {
	net.t.Helper()
	eventually(net.t, "every proxy bypassed", func() bool { return net.totalProxies() == 0 })
}

// eventuallyf is eventually with a failure message computed at the end.
func eventuallyf(t *testing.T, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg())
		}
		time.Sleep(time.Millisecond)
	}
}

// remoteRouters returns each node's count of routers with remote links.
func (net *mnNet) remoteRouters() []int {
	counts := make([]int, len(net.nodes))
	for i, n := range net.nodes {
		counts[i] = n.Stats().RemoteRouters
	}
	return counts
}

// requireRemoteRoutersEventually waits until every node has exactly the
// given count of routers with remote links.
func (net *mnNet) requireRemoteRoutersEventually(want []int) {
	net.t.Helper()
	eventuallyf(net.t, func() bool {
		return slices.Equal(net.remoteRouters(), want)
	}, func() string {
		return fmt.Sprintf("routers with remote links per node: %v, want %v", net.remoteRouters(), want)
	})
}

// recvPortal waits for a parcel carrying exactly one portal and tag.
func recvPortal(t *testing.T, on *ipcz.Portal, tag string) *ipcz.Portal {
	t.Helper()
	data, objects := waitMessage(t, on)
	require.Equal(t, tag, string(data))
	require.Len(t, objects, 1)
	p, ok := objects[0].(*ipcz.Portal)
	require.True(t, ok, "got %T", objects[0])
	return p
}

// seqParcel encodes a sequence number and a stream tag, padded to size
// (at least 9) with bytes derived from both.
func seqParcel(stream byte, seq uint64, size int) []byte {
	if size < 9 {
		size = 9
	}
	b := make([]byte, size)
	b[0] = stream
	binary.LittleEndian.PutUint64(b[1:], seq)
	for i := 9; i < size; i++ {
		b[i] = byte(seq) + byte(i)
	}
	return b
}

// seqParcelError describes how data differs from parcel seq of stream,
// or returns "" if it is that parcel. It is cheap: it runs per parcel.
func seqParcelError(data []byte, stream byte, seq uint64) string {
	if len(data) < 9 {
		return fmt.Sprintf("stream %q: parcel %d too short: %q", stream, seq, data)
	}
	if data[0] != stream {
		return fmt.Sprintf("stream %q: parcel %d is from stream %q", stream, seq, data[0])
	}
	if got := binary.LittleEndian.Uint64(data[1:]); got != seq {
		return fmt.Sprintf("stream %q: got parcel %d, want %d", stream, got, seq)
	}
	for i := 9; i < len(data); i++ {
		if data[i] != byte(seq)+byte(i) {
			return fmt.Sprintf("stream %q: parcel %d corrupt at byte %d", stream, seq, i)
		}
	}
	return ""
}

// checkSeqParcel requires data to be parcel seq of stream.
func checkSeqParcel(t *testing.T, data []byte, stream byte, seq uint64) {
	if msg := seqParcelError(data, stream, seq); msg != "" {
		t.Helper()
		t.Fatal(msg)
	}
}

// seqReader reads one stream of sequence-numbered parcels from a portal,
// checking that each arrives exactly once and in order.
type seqReader struct {
	stream byte
	next   uint64
}

// drain takes every parcel available now and returns how many it took.
func (r *seqReader) drain(t *testing.T, p *ipcz.Portal) int {
	n := 0
	for {
		data, objects, err := p.GetMessage()
		if err == ipcz.Unavailable || err == ipcz.NotFound {
			return n
		}
		if err != nil || len(objects) != 0 {
			t.Helper()
			t.Fatalf("stream %q, parcel %d: err %v, %d objects", r.stream, r.next, err, len(objects))
		}
		if msg := seqParcelError(data, r.stream, r.next); msg != "" {
			t.Helper()
			t.Fatal(msg)
		}
		r.next++
		n++
	}
}

// readUntil reads until the stream has reached count parcels.
func (r *seqReader) readUntil(t *testing.T, p *ipcz.Portal, count uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for r.next < count {
		if r.drain(t, p) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("stream %q: timed out at %d of %d parcels", r.stream, r.next, count)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
}

// readN reads exactly n parcels, one at a time.
func (r *seqReader) readN(t *testing.T, p *ipcz.Portal, n int) {
	t.Helper()
	for range n {
		data, objects := waitMessage(t, p)
		require.Empty(t, objects)
		checkSeqParcel(t, data, r.stream, r.next)
		r.next++
	}
}

// trapEvents installs a trap on p whose events go to the returned
// channel. The trap must install.
func trapEvents(t *testing.T, p *ipcz.Portal, c ipcz.TrapConditions) <-chan ipcz.TrapEvent {
	t.Helper()
	ch := make(chan ipcz.TrapEvent, 1)
	_, _, err := p.Trap(&c, func(e *ipcz.TrapEvent) { ch <- *e }, 42)
	require.NoError(t, err)
	return ch
}

// waitTrap waits for one event.
func waitTrap(t *testing.T, ch <-chan ipcz.TrapEvent) ipcz.TrapEvent {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a trap event")
		return ipcz.TrapEvent{}
	}
}

// requireNoTrap checks that no event comes within a short while.
func requireNoTrap(t *testing.T, ch <-chan ipcz.TrapEvent) {
	t.Helper()
	select {
	case e := <-ch:
		t.Fatalf("unexpected trap event %+v", e)
	case <-time.After(20 * time.Millisecond):
	}
}

// statusOfPortal queries p's status.
func statusOfPortal(t *testing.T, p *ipcz.Portal) ipcz.PortalStatus {
	t.Helper()
	s, err := p.QueryStatus()
	require.NoError(t, err)
	return s
}

// waitLocalParcels waits until p has exactly n parcels queued.
func waitLocalParcels(t *testing.T, p *ipcz.Portal, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d parcels queued", n), func() bool {
		return statusOfPortal(t, p).NumLocalParcels >= n
	})
	require.Equal(t, n, statusOfPortal(t, p).NumLocalParcels)
}
