package ipcz_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/internal/leakcheck"
	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/stretchr/testify/require"
)

func init() {
	registerCrossRole("echo", crossEcho)
	registerCrossRole("route-b", crossRouteB)
	registerCrossRole("route-c", crossRouteC)
	registerCrossRole("memory", crossMemory)
	registerCrossRole("mover", crossMover)
	registerCrossRole("chatter", crossChatter)
	registerCrossRole("holder", crossHolder)
}

// crossPattern is size bytes that depend on seed.
func crossPattern(size int, seed byte) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = seed + byte(i*7) + byte(i>>8)
	}
	return b
}

// crossEcho sends back every parcel, with its objects, until the broker
// closes its portal; a parcel "close" makes it close its portal instead.
func crossEcho(k *crossKid) int {
	for {
		data, objects, err := k.broker.GetMessage()
		switch err {
		case nil:
		case ipcz.Unavailable:
			time.Sleep(100 * time.Microsecond)
			continue
		default:
			return 0 // NotFound: the broker closed its portal
		}
		if string(data) == "close" {
			k.broker.Close()
			return 0
		}
		if err := k.broker.Put(data, objects, nil); err != nil {
			k.fatalf("Put: %v", err)
		}
	}
}

// TestCrossProcessParcelsBothWays connects a child node and bounces
// parcels of every size class through it: inline, in node-pair shared
// memory, and larger than any block.
func TestCrossProcessParcelsBothWays(t *testing.T) {
	net := newCrossNet(t)
	c := net.spawn("echo", false)
	sizes := []int{0, 1, 100, 129, 4096, 60000, 300 << 10}
	for round := range 3 {
		for i, size := range sizes {
			want := crossPattern(size, byte(round*10+i))
			require.NoError(t, c.portal.Put(want, nil, nil))
		}
		for i, size := range sizes {
			data, objects := waitMessage(t, c.portal)
			require.Empty(t, objects)
			require.True(t, bytes.Equal(crossPattern(size, byte(round*10+i)), data), "size %d", size)
		}
	}
	s := net.broker.Stats()
	require.NotZero(t, s.ParcelBytesShared, "no parcel data went through shared memory")
	require.Equal(t, s.ParcelsSent, s.ParcelsReceived)

	// Closure from the child's side: PEER_CLOSED, then DEAD once drained.
	require.NoError(t, c.portal.Put([]byte("last"), nil, nil))
	require.NoError(t, c.portal.Put([]byte("close"), nil, nil))
	data, _ := waitMessage(t, c.portal)
	require.Equal(t, "last", string(data))
	waitStatus(t, c.portal, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
}

// TestCrossProcessBoxesAndMoves sends portals and boxed descriptors to a
// child and back: a portal whose other end stays here carries parcels
// after the round trip, and a pipe boxed here is written through after
// visiting the other process.
func TestCrossProcessBoxesAndMoves(t *testing.T) {
	net := newCrossNet(t)
	c := net.spawn("echo", false)
	for i := range 5 {
		x, y, err := net.broker.OpenPortals()
		require.NoError(t, err)
		require.NoError(t, x.Put([]byte("queued before the move"), nil, nil))
		pr, pw, err := os.Pipe()
		require.NoError(t, err)
		fd, err := syscall.Dup(int(pw.Fd()))
		require.NoError(t, err)
		pw.Close()
		h, err := net.d.WrapFileDescriptor(fd)
		require.NoError(t, err)
		box, err := net.broker.Box(h)
		require.NoError(t, err)
		require.NoError(t, c.portal.Put([]byte{byte(i)}, []ipcz.Object{y, box}, nil))
		data, objects := waitMessage(t, c.portal)
		require.Equal(t, []byte{byte(i)}, data)
		require.Len(t, objects, 2)
		back := objects[0].(*ipcz.Portal)
		got, _ := waitMessage(t, back)
		require.Equal(t, "queued before the move", string(got))
		pingPong(t, x, back, strconv.Itoa(i))
		h, err = objects[1].(*ipcz.Box).Unbox(0)
		require.NoError(t, err)
		fd, err = net.d.UnwrapFileDescriptor(h)
		require.NoError(t, err)
		w := os.NewFile(uintptr(fd), "pipe")
		_, err = w.Write([]byte("still a pipe"))
		require.NoError(t, err)
		w.Close()
		b, err := io.ReadAll(pr)
		require.NoError(t, err)
		require.Equal(t, "still a pipe", string(b))
		pr.Close()
		require.NoError(t, x.Close())
		waitStatus(t, back, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
		require.NoError(t, back.Close())
	}
	eventually(t, "no proxies", func() bool { return net.broker.Stats().Proxies == 0 })
}

// crossRouteB makes a portal pair, sends one end to the broker (which
// passes it to C), answers C's pings, writes into the pipe C boxes for it,
// and reports its view of the route to the broker.
func crossRouteB(k *crossKid) int {
	mine, theirs, err := k.node.OpenPortals()
	if err != nil {
		k.fatalf("OpenPortals: %v", err)
	}
	k.put(k.broker, "theirs", theirs)
	for {
		data, objects := k.recv(mine)
		switch {
		case bytes.HasPrefix(data, []byte("ping")):
			k.put(mine, "pong"+string(data[4:]))
		case string(data) == "pipe":
			h, err := objects[0].(*ipcz.Box).Unbox(0)
			if err != nil {
				k.fatalf("Unbox: %v", err)
			}
			fd, err := k.d.UnwrapFileDescriptor(h)
			if err != nil {
				k.fatalf("UnwrapFileDescriptor: %v", err)
			}
			f := os.NewFile(uintptr(fd), "pipe")
			if _, err := f.Write([]byte("written by B")); err != nil {
				k.fatalf("write: %v", err)
			}
			f.Close()
			k.put(mine, "wrote")
		case bytes.HasPrefix(data, []byte("c=")):
			// C's name: report whether B links to C directly.
			k.expect(k.broker, "report")
			s := k.node.Stats()
			k.put(k.broker, fmt.Sprintf("linked=%v proxies=%d", hasName(s.LinkedNodes, string(data[2:])), s.Proxies))
			k.untilPeerClosed(k.broker)
			mine.Close()
			return 0
		default:
			k.fatalf("unexpected %q", data)
		}
	}
}

// crossRouteC gets B's portal from the broker, pings B until the route is
// direct, tells the broker, pings B again once told to go, sends B a pipe
// to write into and reports what it read.
func crossRouteC(k *crossKid) int {
	objects := k.expect(k.broker, "from b")
	toB := objects[0].(*ipcz.Portal)
	ping := func(i int) {
		k.put(toB, fmt.Sprint("ping", i))
		k.expect(toB, fmt.Sprint("pong", i))
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		ping(i)
		s := k.node.Stats()
		if s.Proxies == 0 && len(s.LinkedNodes) == 2 {
			break
		}
		if time.Now().After(deadline) {
			k.fatalf("the route did not become direct: %+v", s)
		}
		time.Sleep(time.Millisecond)
	}
	k.put(k.broker, "direct")
	k.expect(k.broker, "go")
	for i := range 50 {
		ping(1000 + i)
	}
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC); err != nil {
		k.fatalf("pipe: %v", err)
	}
	h, err := k.d.WrapFileDescriptor(fds[1])
	if err != nil {
		k.fatalf("WrapFileDescriptor: %v", err)
	}
	box, err := k.node.Box(h)
	if err != nil {
		k.fatalf("Box: %v", err)
	}
	k.put(toB, "pipe", box)
	k.expect(toB, "wrote")
	buf := make([]byte, 64)
	n, err := syscall.Read(fds[0], buf)
	syscall.Close(fds[0])
	if err != nil || string(buf[:n]) != "written by B" {
		k.fatalf("read %q, %v", buf[:n], err)
	}
	k.put(toB, "c="+nameString(k.node.Name()))
	k.put(k.broker, "done")
	k.untilPeerClosed(k.broker)
	toB.Close()
	return 0
}

// TestCrossProcessRouteBecomesDirect is the B→A→C scenario across three
// processes: B sends one end of a pair to the broker A, which passes it to
// C. The route settles into a direct link between B and C that the broker
// introduced; afterwards the broker carries none of its parcels, and a
// pipe that C boxes arrives in B as a working descriptor.
func TestCrossProcessRouteBecomesDirect(t *testing.T) {
	net := newCrossNet(t)
	b := net.spawn("route-b", false)
	c := net.spawn("route-c", false)
	data, objects := waitMessage(t, b.portal)
	require.Equal(t, "theirs", string(data))
	require.NoError(t, c.portal.Put([]byte("from b"), objects, nil))
	data, _ = waitMessage(t, c.portal)
	require.Equal(t, "direct", string(data))
	eventually(t, "no proxy on the broker", func() bool { return net.broker.Stats().Proxies == 0 })

	before := net.broker.Stats()
	require.NoError(t, c.portal.Put([]byte("go"), nil, nil))
	data, _ = waitMessage(t, c.portal)
	require.Equal(t, "done", string(data))
	after := net.broker.Stats()
	// 52 round trips and a boxed descriptor went B↔C meanwhile; the
	// broker saw only C's "done".
	require.Equal(t, before.ParcelsSent+1, after.ParcelsSent, "the broker forwarded parcels")
	require.Equal(t, before.ParcelsReceived+1, after.ParcelsReceived, "the broker received route parcels")

	require.NoError(t, b.portal.Put([]byte("report"), nil, nil))
	data, _ = waitMessage(t, b.portal)
	require.Equal(t, "true", field(data, "linked"), "B has no link of its own to C: %s", data)
	require.Equal(t, "0", field(data, "proxies"), "%s", data)
}

// crossMemory maps a region the broker boxed, checks the broker's writes,
// writes its own, and checks the broker's later write.
func crossMemory(k *crossKid) int {
	objects := k.expect(k.broker, "region")
	h, err := objects[0].(*ipcz.Box).Unbox(0)
	if err != nil {
		k.fatalf("Unbox: %v", err)
	}
	m, b, err := k.d.MapSharedMemory(h)
	if err != nil {
		k.fatalf("MapSharedMemory: %v", err)
	}
	k.d.Close(h)
	half := len(b) / 2
	if !bytes.Equal(b[:half], crossPattern(half, 1)) {
		k.fatalf("the broker's writes are not visible")
	}
	copy(b[half:], crossPattern(half, 2))
	k.put(k.broker, "written")
	k.expect(k.broker, "check")
	if b[0] != 0xEE {
		k.fatalf("the broker's later write is not visible")
	}
	k.d.Close(m)
	k.put(k.broker, "ok")
	k.untilPeerClosed(k.broker)
	return 0
}

// TestCrossProcessSharedMemory: a region mapped in two processes sees
// each other's writes.
func TestCrossProcessSharedMemory(t *testing.T) {
	net := newCrossNet(t)
	c := net.spawn("memory", false)
	const size = 1 << 20
	mem, err := net.d.AllocateSharedMemory(size)
	require.NoError(t, err)
	m, b, err := net.d.MapSharedMemory(mem)
	require.NoError(t, err)
	defer net.d.Close(m)
	copy(b, crossPattern(size/2, 1))
	box, err := net.broker.Box(mem)
	require.NoError(t, err)
	require.NoError(t, c.portal.Put([]byte("region"), []ipcz.Object{box}, nil))
	data, _ := waitMessage(t, c.portal)
	require.Equal(t, "written", string(data))
	require.True(t, bytes.Equal(crossPattern(size/2, 2), b[size/2:]), "the child's writes are not visible")
	b[0] = 0xEE
	require.NoError(t, c.portal.Put([]byte("check"), nil, nil))
	data, _ = waitMessage(t, c.portal)
	require.Equal(t, "ok", string(data))
}

// crossMover receives a portal, reads a numbered stream from it while
// the broker keeps writing, and sends the portal back mid-stream.
func crossMover(k *crossKid) int {
	for {
		data, objects := k.recv(k.broker)
		if string(data) == "done" {
			k.untilPeerClosed(k.broker)
			return 0
		}
		p := objects[0].(*ipcz.Portal)
		n, _ := strconv.Atoi(string(data))
		for range n {
			got, _ := k.recv(p)
			k.put(p, "ack "+string(got))
		}
		k.put(k.broker, "back", p)
	}
}

// TestCrossProcessMovingPortalKeepsOrder moves one end of a route back
// and forth between the processes while parcels flow in both directions:
// every parcel arrives once and in order, and the route ends with no
// proxy.
func TestCrossProcessMovingPortalKeepsOrder(t *testing.T) {
	net := newCrossNet(t)
	c := net.spawn("mover", false)
	x, y, err := net.broker.OpenPortals()
	require.NoError(t, err)
	seq, acked := 0, 0
	for round := range 6 {
		const perRound = 20
		require.NoError(t, c.portal.Put([]byte(strconv.Itoa(perRound)), []ipcz.Object{y}, nil))
		for range perRound {
			require.NoError(t, x.Put([]byte(strconv.Itoa(seq)), nil, nil))
			seq++
		}
		for range perRound {
			data, _ := waitMessage(t, x)
			require.Equal(t, "ack "+strconv.Itoa(acked), string(data), "round %d", round)
			acked++
		}
		data, objects := waitMessage(t, c.portal)
		require.Equal(t, "back", string(data))
		y = objects[0].(*ipcz.Portal)
		pingPong(t, x, y, strconv.Itoa(round))
	}
	require.NoError(t, c.portal.Put([]byte("done"), nil, nil))
	eventually(t, "no proxies", func() bool { return net.broker.Stats().Proxies == 0 })
	require.NoError(t, y.Close())
	waitStatus(t, x, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
	require.NoError(t, x.Close())
}

// crossChatter gets a portal to B from the broker (routed through it,
// then direct) and, once told, sends parcels to both B and the broker
// as fast as it can, until it is killed.
func crossChatter(k *crossKid) int {
	objects := k.expect(k.broker, "to b")
	toB := objects[0].(*ipcz.Portal)
	for i := 0; ; i++ {
		msg := []byte(fmt.Sprint("chatter ", i))
		if i%3 == 0 {
			msg = crossPattern(2000, byte(i)) // through shared memory
		}
		if err := toB.Put(msg, nil, nil); err != nil {
			k.fatalf("Put: %v", err)
		}
		if err := k.broker.Put(msg, nil, nil); err != nil {
			k.fatalf("Put: %v", err)
		}
		if i%16 == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
}

// crossHolder records its driver goroutines and descriptors, takes a
// portal from the broker and reads it until it is dead (requiring
// PEER_CLOSED first), closes it, checks that the goroutines and
// descriptors of the link that died are gone, reports, and then echoes.
func crossHolder(k *crossKid) int {
	k.expect(k.broker, "up")
	k.put(k.broker, "up")
	goroutines, fds := k.d.RunningGoroutines(), len(leakcheck.OpenFDs())
	objects := k.expect(k.broker, "hold")
	p := objects[0].(*ipcz.Portal)
	n, sawPeerClosed := 0, false
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, _, err := p.GetMessage()
		if err == nil {
			if n++; n == 50 {
				k.put(k.broker, "flowing")
			}
			continue
		}
		s, _ := p.QueryStatus()
		if s.Flags&ipcz.PortalStatusPeerClosed != 0 {
			sawPeerClosed = true
		}
		if s.Flags&ipcz.PortalStatusDead != 0 {
			break
		}
		if time.Now().After(deadline) {
			k.fatalf("the portal never died (%d parcels)", n)
		}
		time.Sleep(100 * time.Microsecond)
	}
	p.Close()
	clean := false
	for range 10000 {
		if k.d.RunningGoroutines() == goroutines && len(leakcheck.OpenFDs()) == fds {
			clean = true
			break
		}
		time.Sleep(time.Millisecond)
	}
	k.put(k.broker, fmt.Sprintf("held n=%d peerclosed=%v clean=%v goroutines=%d/%d fds=%d/%d", n, sawPeerClosed, clean,
		k.d.RunningGoroutines(), goroutines, len(leakcheck.OpenFDs()), fds))
	return crossEcho(k)
}

// TestCrossProcessKilledChild kills a child with SIGKILL in the middle of
// its traffic to the broker and to another child B (over a link of their
// own): both see PEER_CLOSED, then DEAD once they took what had arrived;
// the broker and B go on working, and neither has a descriptor or driver
// goroutine left from the dead child.
func TestCrossProcessKilledChild(t *testing.T) {
	net := newCrossNet(t)
	b := net.spawn("holder", false)
	pingPongEcho(t, b.portal, "up") // B's link is all set up
	fdsBefore := leakcheck.OpenFDs()
	goroutinesBefore := net.d.RunningGoroutines()
	victim := net.spawn("chatter", true)

	x, y, err := net.broker.OpenPortals()
	require.NoError(t, err)
	require.NoError(t, b.portal.Put([]byte("hold"), []ipcz.Object{x}, nil))
	require.NoError(t, victim.portal.Put([]byte("to b"), []ipcz.Object{y}, nil))
	// Mid-traffic: B is reading the victim's stream, and so is the
	// broker.
	for {
		if data, _, err := b.portal.GetMessage(); err == nil {
			require.Equal(t, "flowing", string(data))
			break
		}
		victim.portal.GetMessage()
	}
	victim.kill(t)
	drainUntilDead(t, victim.portal)
	require.NoError(t, victim.portal.Close())
	data, _ := waitMessage(t, b.portal)
	require.Equal(t, "true", field(data, "peerclosed"), "%s", data)
	require.Equal(t, "true", field(data, "clean"), "B kept something of the dead link: %s", data)

	// The broker and the other child are fine.
	for i := range 20 {
		pingPongEcho(t, b.portal, strconv.Itoa(i))
	}
	eventuallyDo(t, "the dead child's descriptors and goroutines to go", func() bool {
		return net.d.RunningGoroutines() == goroutinesBefore && len(leakcheck.OpenFDs()) == len(fdsBefore)
	}, func() string {
		return fmt.Sprintf("goroutines %d (before %d), descriptors before\n%safter\n%s, objects %+v",
			net.d.RunningGoroutines(), goroutinesBefore, leakcheck.DescribeFDs(fdsBefore), leakcheck.DescribeFDs(leakcheck.OpenFDs()), net.d.LiveObjects())
	})
}

// pingPongEcho sends tag to an echo child and requires it back.
func pingPongEcho(t *testing.T, p *ipcz.Portal, tag string) {
	t.Helper()
	require.NoError(t, p.Put([]byte(tag), nil, nil))
	data, _ := waitMessage(t, p)
	require.Equal(t, tag, string(data))
}
