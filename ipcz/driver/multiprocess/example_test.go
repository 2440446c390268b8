package multiprocess_test

import (
	"fmt"
	"log"
	"os"
	"os/exec"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/multiprocess"
)

// exampleChildEnv makes the test binary run exampleChild instead of the
// tests: Example starts the binary itself as its child process.
const exampleChildEnv = "MULTIPROCESS_EXAMPLE_CHILD"

func init() {
	if os.Getenv(exampleChildEnv) == "1" {
		if err := exampleChild(); err != nil {
			log.Fatal(err)
		}
		os.Exit(0)
	}
}

// exampleChild is the child's program: a non-broker node that connects to
// the parent's broker through the transport it inherited, says hello, and
// waits until the parent hangs up.
func exampleChild() error {
	d := multiprocess.New()
	transport, err := d.TransportFromEnvironment()
	if err != nil {
		return err
	}
	node, err := ipcz.CreateNode(d, 0, 0)
	if err != nil {
		return err
	}
	defer node.Close()
	portals, err := node.ConnectNode(transport, 1, ipcz.ConnectNodeToBroker)
	if err != nil {
		return err
	}
	if err := portals[0].Put([]byte("hello from the child"), nil, nil); err != nil {
		return err
	}
	_, err = nextParcel(portals[0]) // NotFound once the parent closes its portal
	if err != ipcz.NotFound {
		return fmt.Errorf("expected the parent to hang up, got %v", err)
	}
	return nil
}

// nextParcel waits for a parcel on p and returns its data. It returns
// NotFound once p's peer is closed and nothing is left to get.
func nextParcel(p *ipcz.Portal) ([]byte, error) {
	for {
		data, _, err := p.GetMessage()
		if err != ipcz.Unavailable {
			return data, err
		}
		ready := make(chan struct{})
		conditions := &ipcz.TrapConditions{Flags: ipcz.TrapAboveMinLocalParcels | ipcz.TrapDead}
		_, _, err = p.Trap(conditions, func(*ipcz.TrapEvent) { close(ready) }, 0)
		switch err {
		case nil:
			<-ready
		case ipcz.FailedPrecondition: // a parcel came (or the peer left) meanwhile
		default:
			return nil, err
		}
	}
}

// A parent process runs the broker node and starts a child process as a
// non-broker node: Spawn hands the child one end of a new socketpair (an
// inherited descriptor named by IPCZ_TRANSPORT_FD) and returns the other
// end, which the broker connects over. Here the child is the test binary
// itself, made to run exampleChild by an environment variable.
func Example() {
	d := multiprocess.New()
	broker, err := ipcz.CreateNode(d, 0, ipcz.CreateNodeAsBroker)
	if err != nil {
		log.Fatal(err)
	}
	defer broker.Close()

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), exampleChildEnv+"=1")
	cmd.Stderr = os.Stderr
	transport, err := d.Spawn(cmd) // starts the child
	if err != nil {
		log.Fatal(err)
	}
	portals, err := broker.ConnectNode(transport, 1, 0)
	if err != nil {
		log.Fatal(err)
	}
	data, err := nextParcel(portals[0])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(data))

	portals[0].Close() // the child sees its peer closed and exits
	if err := cmd.Wait(); err != nil {
		log.Fatal(err)
	}
	// Output: hello from the child
}
