package ipcz_test

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/internal/leakcheck"
	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/multiprocess"
	"github.com/stretchr/testify/require"
)

// Cross-process tests: the test binary re-executes itself as a child node
// (TestCrossProcessHelper runs the role named in crossChildEnv and exits),
// connected to a broker in the test process over the multiprocess driver.

// crossChildEnv names the role a re-executed test binary plays.
const crossChildEnv = "IPCZ_CROSSPROCESS_CHILD"

// crossRoles are the child roles, by name. Each runs with its node, its
// driver and its portal to the broker, and returns an exit status.
var crossRoles = map[string]func(c *crossKid) int{}

func registerCrossRole(name string, f func(c *crossKid) int) {
	if _, dup := crossRoles[name]; dup {
		panic("duplicate cross-process role " + name)
	}
	crossRoles[name] = f
}

// TestCrossProcessHelper is not a test: it is how a child runs.
func TestCrossProcessHelper(t *testing.T) {
	role := os.Getenv(crossChildEnv)
	if role == "" {
		t.Skip("runs only in a child process of the cross-process tests")
	}
	os.Exit(runCrossKid(role))
}

// crossKid is a child node's kit.
type crossKid struct {
	role   string
	node   *ipcz.Node
	d      *multiprocess.Driver
	broker *ipcz.Portal // initial portal to the broker
	// socketFD is the descriptor of the transport to the broker (for
	// roles that abuse it).
	socketFD int
}

func runCrossKid(role string) int {
	f := crossRoles[role]
	if f == nil {
		fmt.Fprintf(os.Stderr, "unknown cross-process role %q\n", role)
		return 2
	}
	k := &crossKid{role: role, d: multiprocess.New(multiprocess.FastPath(true))}
	fmt.Sscan(os.Getenv(multiprocess.TransportFDEnv), &k.socketFD)
	transport, err := k.d.TransportFromEnvironment()
	if err != nil {
		k.fatalf("TransportFromEnvironment: %v", err)
	}
	k.node, err = ipcz.CreateNode(k.d, 0, 0)
	if err != nil {
		k.fatalf("CreateNode: %v", err)
	}
	portals, err := k.node.ConnectNode(transport, 1, ipcz.ConnectNodeToBroker)
	if err != nil {
		k.fatalf("ConnectNode: %v", err)
	}
	k.broker = portals[0]
	code := f(k)
	k.node.Close()
	return code
}

func (k *crossKid) fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "child %s (pid %d): %s\n", k.role, os.Getpid(), fmt.Sprintf(format, args...))
	os.Exit(3)
}

// recv waits for the next parcel on p (20 s at most).
func (k *crossKid) recv(p *ipcz.Portal) ([]byte, []ipcz.Object) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		data, objects, err := p.GetMessage()
		if err == nil {
			return data, objects
		}
		if err != ipcz.Unavailable {
			k.fatalf("GetMessage: %v", err)
		}
		if time.Now().After(deadline) {
			k.fatalf("timed out waiting for a parcel")
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// expect receives a parcel on p and requires its data.
func (k *crossKid) expect(p *ipcz.Portal, want string) []ipcz.Object {
	data, objects := k.recv(p)
	if string(data) != want {
		k.fatalf("got %q, want %q", data, want)
	}
	return objects
}

// put sends a parcel on p.
func (k *crossKid) put(p *ipcz.Portal, data string, objects ...ipcz.Object) {
	if err := p.Put([]byte(data), objects, nil); err != nil {
		k.fatalf("Put %q: %v", data, err)
	}
}

// untilPeerClosed waits (20 s at most) until p's peer is closed,
// discarding parcels.
func (k *crossKid) untilPeerClosed(p *ipcz.Portal) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		for {
			_, objects, err := p.GetMessage()
			if err != nil {
				break
			}
			for _, o := range objects {
				o.Close()
			}
		}
		s, err := p.QueryStatus()
		if err != nil || s.Flags&ipcz.PortalStatusPeerClosed != 0 {
			return
		}
		if time.Now().After(deadline) {
			k.fatalf("the peer never closed")
		}
		time.Sleep(time.Millisecond)
	}
}

// crossNet is a broker in the test process and its child nodes.
type crossNet struct {
	t      *testing.T
	d      *multiprocess.Driver
	broker *ipcz.Node
}

// newCrossNet makes a broker node over a new multiprocess driver; at
// cleanup it closes the broker and checks that the driver's goroutines
// are gone and nothing but node memory mappings is left.
func newCrossNet(t *testing.T) *crossNet {
	t.Helper()
	d := multiprocess.New(multiprocess.FastPath(true))
	broker, err := ipcz.CreateNode(d, 0, ipcz.CreateNodeAsBroker)
	require.NoError(t, err)
	fds := leakcheck.OpenFDs()
	t.Cleanup(func() {
		require.NoError(t, broker.Close())
		eventually(t, "the broker's driver to wind down", func() bool {
			c := d.LiveObjects()
			return d.RunningGoroutines() == 0 && c.Total() == c.Mappings && slices.Equal(leakcheck.OpenFDs(), fds)
		})
	})
	return &crossNet{t: t, d: d, broker: broker}
}

// crossChild is a child node process.
type crossChild struct {
	cmd    *exec.Cmd
	portal *ipcz.Portal // the broker's portal to it
	exited chan error
}

// spawn starts a child node playing role and connects it to the broker.
// At cleanup it waits for the child to exit, and requires success unless
// killed.
func (n *crossNet) spawn(role string, killed bool) *crossChild {
	t := n.t
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrossProcessHelper$")
	// GORACE: the race detector otherwise sleeps a second at exit.
	cmd.Env = append(os.Environ(), crossChildEnv+"="+role, "GORACE=atexit_sleep_ms=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	transport, err := n.d.Spawn(cmd)
	require.NoError(t, err)
	c := &crossChild{cmd: cmd, exited: make(chan error, 1)}
	go func() { c.exited <- cmd.Wait() }()
	portals, err := n.broker.ConnectNode(transport, 1, 0)
	require.NoError(t, err)
	c.portal = portals[0]
	t.Cleanup(func() {
		c.portal.Close()
		var err error
		select {
		case err = <-c.exited:
			c.exited <- err
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("child %s did not exit", role)
			return
		}
		if killed {
			return
		}
		require.NoError(t, err, "child %s", role)
	})
	return c
}

// kill sends SIGKILL to the child and waits for it to die.
func (c *crossChild) kill(t *testing.T) {
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGKILL))
	err := <-c.exited
	c.exited <- err
}

// drainUntilDead takes parcels from p until it is dead (peer closed, no
// parcel left), requiring that PEER_CLOSED was seen first.
func drainUntilDead(t *testing.T, p *ipcz.Portal) (parcels int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, objects, err := p.GetMessage()
		if err == nil {
			parcels++
			for _, o := range objects {
				o.Close()
			}
			continue
		}
		s, qerr := p.QueryStatus()
		require.NoError(t, qerr)
		if s.Flags&ipcz.PortalStatusDead != 0 {
			require.NotZero(t, s.Flags&ipcz.PortalStatusPeerClosed, "dead without peer closed")
			require.Equal(t, ipcz.NotFound, err)
			return parcels
		}
		if time.Now().After(deadline) {
			t.Fatalf("the portal never died: %+v", s)
		}
		time.Sleep(time.Millisecond)
	}
}

// nameString formats a node name for a parcel.
func nameString(n ipcz.NodeName) string { return fmt.Sprintf("%x.%x", n.High, n.Low) }

// hasName reports whether names contains the name nameString made s of.
func hasName(names []ipcz.NodeName, s string) bool {
	return slices.ContainsFunc(names, func(n ipcz.NodeName) bool { return nameString(n) == s })
}

// field returns the value of key in a parcel of "key=value" words.
func field(data []byte, key string) string {
	for _, w := range strings.Fields(string(data)) {
		if v, ok := strings.CutPrefix(w, key+"="); ok {
			return v
		}
	}
	return ""
}

// eventuallyDo polls cond until it holds or 10 s pass, then fails with
// what describe says.
func eventuallyDo(t *testing.T, what string, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, describe())
		}
		time.Sleep(time.Millisecond)
	}
}
