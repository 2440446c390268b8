// Command ipczdemo shows ipcz at work: first on one node (a portal pair,
// a trap, a portal moved through a portal, two routes merged), then across
// three processes. The demo process is the broker; it starts two copies of
// itself as nodes B and C. B makes a portal pair and sends one end to the
// broker, which passes it on to C. The route B–broker–C then settles into
// a direct link between B and C, which the broker introduced to each
// other, and C sends B a pipe through it, which B writes into.
package main

import (
	"fmt"
	"log"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/inprocess"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/multiprocess"
)

// roleEnv names the role of a child process of the demo.
const roleEnv = "IPCZ_DEMO_ROLE"

func main() {
	log.SetFlags(0)
	var err error
	switch role := os.Getenv(roleEnv); role {
	case "":
		err = runBroker()
	case "B":
		err = runB()
	case "C":
		err = runC()
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// receive waits for the next parcel on p, sleeping on a trap rather than
// polling.
func receive(p *ipcz.Portal) ([]byte, []ipcz.Object, error) {
	for {
		data, objects, err := p.GetMessage()
		if err != ipcz.Unavailable {
			return data, objects, err
		}
		woken := make(chan struct{}, 1)
		conditions := &ipcz.TrapConditions{Flags: ipcz.TrapNewLocalParcel | ipcz.TrapPeerClosed}
		_, _, err = p.Trap(conditions, func(*ipcz.TrapEvent) { woken <- struct{}{} }, 0)
		switch err {
		case nil:
			select {
			case <-woken:
			case <-time.After(10 * time.Second):
				return nil, nil, fmt.Errorf("timed out waiting for a parcel")
			}
		case ipcz.FailedPrecondition:
			// Something happened between the get and the trap: look again.
		default:
			return nil, nil, err
		}
	}
}

func runBroker() error {
	if err := singleNode(); err != nil {
		return err
	}
	fmt.Println()
	return threeProcesses()
}

// singleNode shows the portal API on one node.
func singleNode() error {
	fmt.Println("== one node ==")
	node, err := ipcz.CreateNode(inprocess.New(inprocess.Sync), 0, ipcz.CreateNodeAsBroker)
	if err != nil {
		return err
	}
	defer node.Close()
	alice, bob, err := node.OpenPortals()
	if err != nil {
		return err
	}
	conditions := &ipcz.TrapConditions{Flags: ipcz.TrapNewLocalParcel}
	_, _, err = bob.Trap(conditions, func(e *ipcz.TrapEvent) {
		fmt.Printf("trap fired on bob: %d parcel(s), %d byte(s) waiting\n",
			e.Status.NumLocalParcels, e.Status.NumLocalBytes)
	}, 0)
	if err != nil {
		return err
	}
	if err := alice.Put([]byte("hello from alice"), nil, nil); err != nil {
		return err
	}
	msg, _, err := bob.GetMessage()
	if err != nil {
		return err
	}
	fmt.Printf("bob got %q\n", msg)

	carol, dave, _ := node.OpenPortals()
	if err := alice.Put(nil, []ipcz.Object{dave}, nil); err != nil {
		return err
	}
	_, objects, err := bob.GetMessage()
	if err != nil {
		return err
	}
	moved := objects[0].(*ipcz.Portal)
	carol.Put([]byte("through a moved portal"), nil, nil)
	msg, _, _ = moved.GetMessage()
	fmt.Printf("the portal bob received got %q\n", msg)

	erin, frank, _ := node.OpenPortals()
	gina, hank, _ := node.OpenPortals()
	erin.Put([]byte("put before the merge"), nil, nil)
	if err := ipcz.MergePortals(frank, gina); err != nil {
		return err
	}
	msg, _, _ = hank.GetMessage()
	fmt.Printf("after merging frank with gina, hank got %q from erin\n", msg)
	erin.Close()
	status, _ := hank.QueryStatus()
	fmt.Printf("erin closed: hank sees peer closed=%v, dead=%v\n",
		status.Flags&ipcz.PortalStatusPeerClosed != 0, status.Flags&ipcz.PortalStatusDead != 0)
	for _, p := range []*ipcz.Portal{alice, bob, carol, moved, hank} {
		p.Close()
	}
	return nil
}

// threeProcesses runs the broker side of the cross-process demo.
func threeProcesses() error {
	fmt.Println("== three processes ==")
	d := multiprocess.New()
	broker, err := ipcz.CreateNode(d, 0, ipcz.CreateNodeAsBroker)
	if err != nil {
		return err
	}
	defer broker.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	children := map[string]*exec.Cmd{}
	portals := map[string]*ipcz.Portal{}
	for _, role := range []string{"B", "C"} {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), roleEnv+"="+role)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		transport, err := d.Spawn(cmd)
		if err != nil {
			return err
		}
		p, err := broker.ConnectNode(transport, 1, 0)
		if err != nil {
			return err
		}
		children[role], portals[role] = cmd, p[0]
	}

	// B sends one end of its new pair; the broker passes it on to C.
	_, objects, err := receive(portals["B"])
	if err != nil {
		return err
	}
	fmt.Printf("broker: got a portal from B (pid %d), passing it to C (pid %d)\n",
		children["B"].Process.Pid, children["C"].Process.Pid)
	if err := portals["C"].Put(nil, objects, nil); err != nil {
		return err
	}

	// Both report once their conversation is over.
	for _, role := range []string{"B", "C"} {
		report, _, err := receive(portals[role])
		if err != nil {
			return err
		}
		fmt.Printf("broker: %s reports: %s\n", role, report)
	}
	// The proxy the move left here goes once both ends have told it the
	// last parcel it will forward, which may come after the reports.
	stats := broker.Stats()
	waited := time.Duration(0)
	for stats.Proxies > 0 && waited < 5*time.Second {
		time.Sleep(time.Millisecond)
		waited += time.Millisecond
		stats = broker.Stats()
	}
	fmt.Printf("broker: proxies left here: %d (after %v); parcels received from nodes: %d\n", stats.Proxies, waited, stats.ParcelsReceived)
	for role, p := range portals {
		p.Close()
		if err := children[role].Wait(); err != nil {
			return fmt.Errorf("%s: %v", role, err)
		}
	}
	fmt.Println("done")
	return nil
}

// connectChild connects a child node to the demo's broker.
func connectChild() (*ipcz.Node, *multiprocess.Driver, *ipcz.Portal, error) {
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
		return nil, nil, nil, err
	}
	return node, d, portals[0], nil
}

// waitDirect bounces parcels over p until this node keeps no proxy and has
// a link of its own to the node named peer.
func waitDirect(node *ipcz.Node, p *ipcz.Portal, peer ipcz.NodeName) error {
	for range 1000 {
		stats := node.Stats()
		direct := stats.Proxies == 0
		linked := false
		for _, n := range stats.LinkedNodes {
			linked = linked || n == peer
		}
		if direct && linked {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("the route did not become direct")
}

// runB is node B: it makes the pair and talks to C through it.
func runB() error {
	node, d, toBroker, err := connectChild()
	if err != nil {
		return err
	}
	defer node.Close()
	mine, theirs, err := node.OpenPortals()
	if err != nil {
		return err
	}
	if err := toBroker.Put(nil, []ipcz.Object{theirs}, nil); err != nil {
		return err
	}
	if err := mine.Put([]byte("hello, this is B"), nil, nil); err != nil {
		return err
	}
	msg, objects, err := receive(mine)
	if err != nil {
		return err
	}
	var cName ipcz.NodeName
	fmt.Sscanf(string(msg), "hello B, this is C %x %x", &cName.High, &cName.Low)
	if err := waitDirect(node, mine, cName); err != nil {
		return err
	}
	// C sent the write end of a pipe in a box: write through it.
	h, err := objects[0].(*ipcz.Box).Unbox(0)
	if err != nil {
		return err
	}
	fd, err := d.UnwrapFileDescriptor(h)
	if err != nil {
		return err
	}
	syscall.Write(fd, []byte("written by B into C's pipe"))
	syscall.Close(fd)
	if err := mine.Put([]byte("wrote it"), nil, nil); err != nil {
		return err
	}
	return toBroker.Put([]byte(fmt.Sprintf("talked to C over a direct link (%d link(s), %d proxies here)",
		node.Stats().Links, node.Stats().Proxies)), nil, nil)
}

// runC is node C: it receives the portal and answers B.
func runC() error {
	node, d, toBroker, err := connectChild()
	if err != nil {
		return err
	}
	defer node.Close()
	_, objects, err := receive(toBroker)
	if err != nil {
		return err
	}
	toB := objects[0].(*ipcz.Portal)
	msg, _, err := receive(toB)
	if err != nil {
		return err
	}
	fmt.Printf("C: got %q\n", msg)
	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil {
		return err
	}
	h, err := d.WrapFileDescriptor(fds[1])
	if err != nil {
		return err
	}
	box, err := node.Box(h)
	if err != nil {
		return err
	}
	name := node.Name()
	reply := fmt.Sprintf("hello B, this is C %x %x", name.High, name.Low)
	if err := toB.Put([]byte(reply), []ipcz.Object{box}, nil); err != nil {
		return err
	}
	if _, _, err := receive(toB); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, _ := syscall.Read(fds[0], buf)
	syscall.Close(fds[0])
	fmt.Printf("C: read %q from its pipe\n", buf[:n])
	return toBroker.Put([]byte("read what B wrote into the pipe it was sent"), nil, nil)
}
