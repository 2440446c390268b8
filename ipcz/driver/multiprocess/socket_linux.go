package multiprocess

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Every system call of the package is in this file.

// closeFD closes fd, ignoring errors (EINTR on close still closes the
// descriptor on Linux, and nothing else can be done about the others).
func closeFD(fd int) {
	if fd >= 0 {
		_ = unix.Close(fd)
	}
}

// closeFDs closes every descriptor in fds.
func closeFDs(fds []int) {
	for _, fd := range fds {
		closeFD(fd)
	}
}

// fdIsOpen reports whether fd names an open descriptor of this process.
func fdIsOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// dupCloexec duplicates fd; the copy is close-on-exec.
func dupCloexec(fd int) (int, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("fcntl(F_DUPFD_CLOEXEC)", err)
	}
	return nfd, nil
}

// socketPair makes a connected pair of Unix stream sockets, non-blocking
// and close-on-exec.
func socketPair() (int, int, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, os.NewSyscallError("socketpair", err)
	}
	return fds[0], fds[1], nil
}

// checkStreamSocket returns an error unless fd is a Unix-domain stream
// socket. It does not change fd.
func checkStreamSocket(fd int) error {
	domain, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return os.NewSyscallError("getsockopt(SO_DOMAIN)", err)
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return os.NewSyscallError("getsockopt(SO_TYPE)", err)
	}
	if domain != unix.AF_UNIX || typ != unix.SOCK_STREAM {
		return fmt.Errorf("multiprocess: descriptor %d is not a Unix stream socket (domain %d, type %d)", fd, domain, typ)
	}
	return nil
}

// prepareSocket makes fd non-blocking and close-on-exec, as a transport's
// socket must be before the Go poller adopts it.
func prepareSocket(fd int) error {
	if err := unix.SetNonblock(fd, true); err != nil {
		return os.NewSyscallError("fcntl(O_NONBLOCK)", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return os.NewSyscallError("fcntl(F_SETFD)", err)
	}
	return nil
}

// setBlocking clears O_NONBLOCK on fd.
func setBlocking(fd int) error {
	if err := unix.SetNonblock(fd, false); err != nil {
		return os.NewSyscallError("fcntl(O_NONBLOCK)", err)
	}
	return nil
}

// errWouldBlock reports a send or receive that would have blocked.
var errWouldBlock = unix.EAGAIN

// sendChunk sends the concatenation of bufs with fds attached, without
// blocking and without raising SIGPIPE. On Linux a stream socket either
// takes the descriptors with at least one byte or takes nothing. It
// returns errWouldBlock when nothing could be sent.
func sendChunk(fd int, bufs [][]byte, fds []int) (int, error) {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	for {
		n, err := unix.SendmsgBuffers(fd, bufs, oob, nil, unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT)
		switch err {
		case nil:
			return n, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, errWouldBlock
		}
		return 0, os.NewSyscallError("sendmsg", err)
	}
}

// oobSpace is the control buffer size for one recvmsg: room for
// fdsPerSendmsg descriptors. A peer that attaches more to one sendmsg
// makes the kernel truncate the control data (and close the excess
// descriptors itself), which recvChunk reports as malformed.
var oobSpace = unix.CmsgSpace(fdsPerSendmsg * 4)

// recvChunk receives into buf without blocking. The descriptors that came
// with the bytes are appended to fds (they are close-on-exec). It returns
// io.EOF at end of stream, errWouldBlock if nothing is there, and
// errMalformed, with every received descriptor already closed, if the
// control data is not what an honest peer sends.
func recvChunk(fd int, buf, oob []byte, fds []int) (int, []int, error) {
	for {
		n, oobn, flags, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
		switch err {
		case nil:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, fds, errWouldBlock
		default:
			return 0, fds, os.NewSyscallError("recvmsg", err)
		}
		if oobn == 0 && flags&unix.MSG_CTRUNC == 0 {
			if n == 0 {
				return 0, fds, io.EOF
			}
			return n, fds, nil
		}
		got, ok := parseRights(oob[:oobn])
		if !ok || flags&unix.MSG_CTRUNC != 0 || n == 0 {
			closeFDs(got)
			return 0, fds, errMalformed
		}
		return n, append(fds, got...), nil
	}
}

// parseRights extracts the descriptors of the SCM_RIGHTS messages in oob.
// ok is false if oob holds anything else or cannot be parsed; the
// descriptors found are returned either way, for the caller to close.
func parseRights(oob []byte) (fds []int, ok bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		// Unparseable control data: nothing we can find to close safely.
		return nil, false
	}
	ok = true
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			ok = false
			continue
		}
		got, err := unix.ParseUnixRights(m)
		if err != nil {
			ok = false
			continue
		}
		fds = append(fds, got...)
	}
	return fds, ok
}

// errMalformed is what the frame decoder and the receive path report for
// traffic no honest peer sends.
var errMalformed = errors.New("multiprocess: malformed traffic from peer")

// yield lets other goroutines of this process run before the caller polls
// again, and, if osToo, other threads of this processor (a peer process
// that shares it).
func yield(osToo bool) {
	runtime.Gosched()
	if osToo {
		_, _, _ = unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
	}
}

// currentCPU returns the processor the calling thread runs on.
func currentCPU() (uint32, bool) {
	var cpu uint32
	_, _, errno := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0)
	return cpu, errno == 0
}
