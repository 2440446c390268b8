package multiprocess

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/ipcz-go/ipcz-go/ipcz"
)

// TransportFDEnv is the environment variable through which Spawn tells a
// child process which inherited descriptor is its end of the transport;
// TransportFromEnvironment reads it.
const TransportFDEnv = "IPCZ_TRANSPORT_FD"

// NewSocketPair makes a connected pair of Unix stream sockets, both
// close-on-exec and in blocking mode, as *os.File. Either can be given to
// a child through exec.Cmd.ExtraFiles and adopted there with
// NewTransportFromFD, or adopted here with NewTransportFromFile.
func NewSocketPair() (a, b *os.File, err error) {
	fa, fb, err := socketPair()
	if err != nil {
		return nil, nil, err
	}
	if err := errors.Join(setBlocking(fa), setBlocking(fb)); err != nil {
		closeFD(fa)
		closeFD(fb)
		return nil, nil, err
	}
	return os.NewFile(uintptr(fa), "ipcz-socket"), os.NewFile(uintptr(fb), "ipcz-socket"), nil
}

// NewTransportFromFD adopts fd, which must be a Unix-domain stream socket
// (typically one end of a socketpair inherited from the parent), as an
// idle transport: ready for ActivateTransport, usually through
// ipcz.Node.ConnectNode. It makes the descriptor non-blocking and
// close-on-exec. On success the transport owns fd; on error the caller
// keeps it.
//
// Errors wrap ipcz.InvalidArgument if fd is not such a socket.
func (d *Driver) NewTransportFromFD(fd int) (ipcz.DriverHandle, error) {
	if fd < 0 {
		return 0, fmt.Errorf("%w: invalid descriptor %d", ipcz.InvalidArgument, fd)
	}
	if err := checkStreamSocket(fd); err != nil {
		return 0, fmt.Errorf("%w: %w", ipcz.InvalidArgument, err)
	}
	if err := prepareSocket(fd); err != nil {
		return 0, fmt.Errorf("%w: %w", ipcz.InvalidArgument, err)
	}
	return d.mu.Insert(newTransport(d, fd)), nil
}

// NewTransportFromFile is NewTransportFromFD for a socket held in an
// *os.File, which it closes: the transport owns a duplicate of the
// descriptor. The file is closed on error too.
func (d *Driver) NewTransportFromFile(f *os.File) (ipcz.DriverHandle, error) {
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ipcz.InvalidArgument, err)
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(raw uintptr) { fd, dupErr = dupCloexec(int(raw)) }); err != nil {
		return 0, fmt.Errorf("%w: %w", ipcz.InvalidArgument, err)
	}
	if dupErr != nil {
		return 0, dupErr
	}
	h, err := d.NewTransportFromFD(fd)
	if err != nil {
		closeFD(fd)
	}
	return h, err
}

// Spawn starts cmd as a child process that is to become an ipcz node. It
// makes a socketpair, passes one end to the child as an extra file (after
// any already in cmd.ExtraFiles) and names its descriptor number in the
// child's environment as TransportFDEnv; the child adopts it with
// TransportFromEnvironment. Spawn returns the parent's end as an idle
// transport, to be given to the parent node's ConnectNode. The caller
// still owns cmd: it must Wait for it.
//
// If cmd.Env is nil the child gets this process's environment; any
// TransportFDEnv already there is replaced.
func (d *Driver) Spawn(cmd *exec.Cmd) (ipcz.DriverHandle, error) {
	if cmd.Process != nil {
		return 0, errors.New("multiprocess: Spawn: command already started")
	}
	parent, child, err := socketPair()
	if err != nil {
		return 0, err
	}
	// The child gets its end in blocking mode, as programs expect of an
	// inherited descriptor (TransportFromEnvironment makes it
	// non-blocking again). It is close-on-exec here; os/exec dup2s it into
	// place in the child, which clears that flag there only.
	if err := setBlocking(child); err != nil {
		closeFD(parent)
		closeFD(child)
		return 0, err
	}
	childFile := os.NewFile(uintptr(child), "ipcz-transport-child")
	childFD := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, childFile)
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	env = withoutEnv(env, TransportFDEnv)
	cmd.Env = append(env, TransportFDEnv+"="+strconv.Itoa(childFD))
	err = cmd.Start()
	childFile.Close()
	if err != nil {
		closeFD(parent)
		return 0, err
	}
	return d.mu.Insert(newTransport(d, parent)), nil
}

// withoutEnv returns env without the entries for key.
func withoutEnv(env []string, key string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// TransportFromEnvironment is the child's side of Spawn: it adopts the
// inherited socket that TransportFDEnv names as an idle transport (see
// NewTransportFromFD) and removes the variable from the environment, so
// that the child's own children do not see it.
func (d *Driver) TransportFromEnvironment() (ipcz.DriverHandle, error) {
	v, ok := os.LookupEnv(TransportFDEnv)
	if !ok {
		return 0, fmt.Errorf("multiprocess: %s is not set", TransportFDEnv)
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return 0, fmt.Errorf("%w: %s=%q is not an inherited descriptor", ipcz.InvalidArgument, TransportFDEnv, v)
	}
	h, err := d.NewTransportFromFD(fd)
	if err != nil {
		return 0, err
	}
	os.Unsetenv(TransportFDEnv)
	return h, nil
}
