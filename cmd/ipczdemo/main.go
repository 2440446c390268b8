// Command ipczdemo shows ipcz at work on one node: a portal pair, a trap
// that wakes a reader, a portal sent through another portal, and two
// routes merged into one.
package main

import (
	"fmt"
	"log"
	"os"

	"github.com/ipcz-go/ipcz-go/ipcz"
)

// demoDriver is the smallest driver a single node needs: it only closes
// boxed objects. Transports and shared memory are not used on one node.
type demoDriver struct{ ipcz.Driver }

func (demoDriver) Close(ipcz.DriverHandle) error { return nil }

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	node, err := ipcz.CreateNode(demoDriver{}, 0, ipcz.CreateNodeAsBroker)
	if err != nil {
		return err
	}
	defer node.Close()

	// 1. A pair of portals and a trap that fires when a parcel arrives.
	alice, bob, err := node.OpenPortals()
	if err != nil {
		return err
	}
	arrived := make(chan struct{}, 1)
	_, _, err = bob.Trap(&ipcz.TrapConditions{Flags: ipcz.TrapNewLocalParcel},
		func(e *ipcz.TrapEvent) {
			fmt.Printf("trap fired: %d parcel(s), %d byte(s) waiting\n",
				e.Status.NumLocalParcels, e.Status.NumLocalBytes)
			arrived <- struct{}{}
		}, 0)
	if err != nil {
		return err
	}
	if err := alice.Put([]byte("hello from alice"), nil, nil); err != nil {
		return err
	}
	<-arrived
	msg, _, err := bob.GetMessage()
	if err != nil {
		return err
	}
	fmt.Printf("bob got %q\n", msg)

	// 2. Send a portal through a portal: the receiver talks to its peer.
	carol, dave, err := node.OpenPortals()
	if err != nil {
		return err
	}
	if err := alice.Put([]byte("here is a portal"), []ipcz.Object{dave}, nil); err != nil {
		return err
	}
	_, objects, err := bob.GetMessage()
	if err != nil {
		return err
	}
	received := objects[0].(*ipcz.Portal)
	if err := carol.Put([]byte("through a moved portal"), nil, nil); err != nil {
		return err
	}
	msg, _, err = received.GetMessage()
	if err != nil {
		return err
	}
	fmt.Printf("moved portal got %q\n", msg)

	// 3. Merge two routes: erin-frank and gina-hank become erin-hank.
	erin, frank, _ := node.OpenPortals()
	gina, hank, _ := node.OpenPortals()
	if err := erin.Put([]byte("sent before the merge"), nil, nil); err != nil {
		return err
	}
	if err := ipcz.MergePortals(frank, gina); err != nil {
		return err
	}
	msg, _, err = hank.GetMessage()
	if err != nil {
		return err
	}
	fmt.Printf("after merging, hank got %q\n", msg)

	// 4. Closure travels the route: hank sees its peer closed, then dead.
	erin.Close()
	status, _ := hank.QueryStatus()
	fmt.Printf("after erin closed, hank's status: peer closed=%v dead=%v\n",
		status.Flags&ipcz.PortalStatusPeerClosed != 0, status.Flags&ipcz.PortalStatusDead != 0)

	for _, p := range []*ipcz.Portal{alice, bob, carol, received, hank} {
		p.Close()
	}
	fmt.Fprintln(os.Stdout, "done")
	return nil
}
