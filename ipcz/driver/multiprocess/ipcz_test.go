package multiprocess

import (
	"fmt"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/internal/leakcheck"
	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/stretchr/testify/require"
)

func init() {
	registerChild("node", childNode)
}

// getMessage polls p until a parcel arrives or the timeout passes.
func getMessage(p *ipcz.Portal, timeout time.Duration) ([]byte, []ipcz.Object, error) {
	deadline := time.Now().Add(timeout)
	for {
		data, objects, err := p.GetMessage()
		if err != ipcz.Unavailable || time.Now().After(deadline) {
			return data, objects, err
		}
		time.Sleep(time.Millisecond)
	}
}

// childNode is a non-broker ipcz node that connects to the parent's
// broker through the inherited transport, answers "ping" with "pong",
// writes through a boxed descriptor, and exits once the parent closes its
// portal.
func childNode() int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "node child: "+format+"\n", args...)
		return 3
	}
	d := New()
	transport, err := d.TransportFromEnvironment()
	if err != nil {
		return fail("TransportFromEnvironment: %v", err)
	}
	node, err := ipcz.CreateNode(d, 0, 0)
	if err != nil {
		return fail("CreateNode: %v", err)
	}
	portals, err := node.ConnectNode(transport, 1, ipcz.ConnectNodeToBroker)
	if err != nil {
		return fail("ConnectNode: %v", err)
	}
	p := portals[0]
	data, _, err := getMessage(p, 20*time.Second)
	if err != nil || string(data) != "ping" {
		return fail("ping: %q, %v", data, err)
	}
	if err := p.Put([]byte("pong"), nil, nil); err != nil {
		return fail("Put: %v", err)
	}
	data, objects, err := getMessage(p, 20*time.Second)
	if err != nil || string(data) != "a pipe" || len(objects) != 1 {
		return fail("box: %q, %d objects, %v", data, len(objects), err)
	}
	box, ok := objects[0].(*ipcz.Box)
	if !ok {
		return fail("not a box: %T", objects[0])
	}
	h, err := box.Unbox(0)
	if err != nil {
		return fail("Unbox: %v", err)
	}
	fd, err := d.UnwrapFileDescriptor(h)
	if err != nil {
		return fail("UnwrapFileDescriptor: %v", err)
	}
	f := os.NewFile(uintptr(fd), "pipe")
	_, err = f.Write([]byte("hello through a boxed pipe"))
	f.Close()
	if err != nil {
		return fail("write: %v", err)
	}
	if err := p.Put([]byte("done"), nil, nil); err != nil {
		return fail("Put: %v", err)
	}
	// Wait for the parent to close its portal.
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := p.QueryStatus()
		if err != nil {
			return fail("QueryStatus: %v", err)
		}
		if s.Flags&ipcz.PortalStatusPeerClosed != 0 {
			break
		}
		if time.Now().After(deadline) {
			return fail("the parent never closed its portal")
		}
		time.Sleep(time.Millisecond)
	}
	p.Close()
	node.Close()
	if !waitUntil(10*time.Second, func() bool { return d.RunningGoroutines() == 0 }) {
		return fail("%d driver goroutines still running", d.RunningGoroutines())
	}
	return 0
}

func TestIPCZNodesAcrossProcesses(t *testing.T) {
	fdsBefore := leakcheck.OpenFDs()
	d := New()
	broker, err := ipcz.CreateNode(d, 0, ipcz.CreateNodeAsBroker)
	require.NoError(t, err)
	transport := startChild(t, d, "node", nil)
	portals, err := broker.ConnectNode(transport, 1, 0)
	require.NoError(t, err)
	p := portals[0]

	require.NoError(t, p.Put([]byte("ping"), nil, nil))
	data, _, err := getMessage(p, 20*time.Second)
	require.NoError(t, err)
	require.Equal(t, "pong", string(data))

	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	defer pr.Close()
	fd, err := dupCloexec(int(pw.Fd()))
	require.NoError(t, err)
	pw.Close()
	h, err := d.WrapFileDescriptor(fd)
	require.NoError(t, err)
	box, err := broker.Box(h)
	require.NoError(t, err)
	require.NoError(t, p.Put([]byte("a pipe"), []ipcz.Object{box}, nil))
	data, _, err = getMessage(p, 20*time.Second)
	require.NoError(t, err)
	require.Equal(t, "done", string(data))
	got, err := io.ReadAll(pr) // the only writer was the child's copy
	require.NoError(t, err)
	require.Equal(t, "hello through a boxed pipe", string(got))

	require.NoError(t, p.Close())
	t.Cleanup(func() {
		require.NoError(t, broker.Close())
		ok := waitUntil(10*time.Second, func() bool {
			c := d.LiveObjects()
			return d.RunningGoroutines() == 0 && c.Total() == c.Mappings && slices.Equal(leakcheck.OpenFDs(), fdsBefore)
		})
		require.True(t, ok, "goroutines %d, objects %+v, fds before\n%safter\n%s", d.RunningGoroutines(),
			d.LiveObjects(), leakcheck.DescribeFDs(fdsBefore), leakcheck.DescribeFDs(leakcheck.OpenFDs()))
		// The ipcz core keeps the link's shared memory mapped after
		// Node.Close (see NodeLink.fail); that mapping is all that may be
		// left.
		require.LessOrEqual(t, d.LiveObjects().Mappings, 1)
	})
}

// TestIPCZIntroductionInProcess runs three nodes in one process over this
// driver's socketpairs. A portal moved from one non-broker through the
// broker to the other makes the broker introduce them: it creates a
// transport pair with CreateTransports and sends one serialized end to
// each, and the route then goes over that direct link. Boxed descriptors
// then travel over it.
func TestIPCZIntroductionInProcess(t *testing.T) {
	fdsBefore := leakcheck.OpenFDs()
	d := New()
	broker, err := ipcz.CreateNode(d, 0, ipcz.CreateNodeAsBroker)
	require.NoError(t, err)
	var nodes []*ipcz.Node
	var toNode, toBroker []*ipcz.Portal
	for range 2 {
		node, err := ipcz.CreateNode(d, 0, 0)
		require.NoError(t, err)
		tb, tn, err := d.NewTransportPair()
		require.NoError(t, err)
		bp, err := broker.ConnectNode(tb, 1, 0)
		require.NoError(t, err)
		np, err := node.ConnectNode(tn, 1, ipcz.ConnectNodeToBroker)
		require.NoError(t, err)
		nodes, toNode, toBroker = append(nodes, node), append(toNode, bp[0]), append(toBroker, np[0])
	}
	next := func(p *ipcz.Portal) ([]byte, []ipcz.Object) {
		t.Helper()
		data, objs, err := getMessage(p, 20*time.Second)
		require.NoError(t, err)
		return data, objs
	}

	p, q, err := nodes[0].OpenPortals()
	require.NoError(t, err)
	require.NoError(t, toBroker[0].Put(nil, []ipcz.Object{q}, nil))
	_, objs := next(toNode[0])
	require.NoError(t, toNode[1].Put(nil, objs, nil))
	_, objs = next(toBroker[1])
	q = objs[0].(*ipcz.Portal)
	for i := range 20 {
		require.NoError(t, p.Put([]byte(fmt.Sprint("ping", i)), nil, nil))
		data, _ := next(q)
		require.Equal(t, fmt.Sprint("ping", i), string(data))
		require.NoError(t, q.Put([]byte(fmt.Sprint("pong", i)), nil, nil))
		data, _ = next(p)
		require.Equal(t, fmt.Sprint("pong", i), string(data))
	}
	require.True(t, waitUntil(10*time.Second, func() bool {
		return broker.Stats().Proxies == 0 && slices.Contains(nodes[0].Stats().LinkedNodes, nodes[1].Name())
	}), "the non-brokers were not introduced")

	for i := range 5 {
		pr, pw, err := os.Pipe()
		require.NoError(t, err)
		fd, err := dupCloexec(int(pw.Fd()))
		require.NoError(t, err)
		pw.Close()
		h, err := d.WrapFileDescriptor(fd)
		require.NoError(t, err)
		box, err := nodes[0].Box(h)
		require.NoError(t, err)
		require.NoError(t, p.Put([]byte{byte(i)}, []ipcz.Object{box}, nil))
		_, objs := next(q)
		h, err = objs[0].(*ipcz.Box).Unbox(0)
		require.NoError(t, err)
		fd, err = d.UnwrapFileDescriptor(h)
		require.NoError(t, err)
		w := os.NewFile(uintptr(fd), "w")
		_, err = w.Write([]byte{byte(i)})
		require.NoError(t, err)
		w.Close()
		got, err := io.ReadAll(pr)
		require.NoError(t, err)
		require.Equal(t, []byte{byte(i)}, got)
		pr.Close()
	}

	require.NoError(t, p.Close())
	require.NoError(t, q.Close())
	for _, n := range nodes {
		require.NoError(t, n.Close())
	}
	require.NoError(t, broker.Close())
	require.True(t, waitUntil(10*time.Second, func() bool {
		c := d.LiveObjects()
		return d.RunningGoroutines() == 0 && c.Total() == c.Mappings && slices.Equal(leakcheck.OpenFDs(), fdsBefore)
	}), "goroutines %d, objects %+v, fds before\n%safter\n%s", d.RunningGoroutines(), d.LiveObjects(),
		leakcheck.DescribeFDs(fdsBefore), leakcheck.DescribeFDs(leakcheck.OpenFDs()))
	// As in TestIPCZNodesAcrossProcesses, the core keeps each link's
	// shared memory mapped after Node.Close.
	t.Logf("objects left: %+v", d.LiveObjects())
}
