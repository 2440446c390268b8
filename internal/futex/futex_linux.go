package futex

import (
	"os"

	"golang.org/x/sys/unix"
)

// Operations from <linux/futex.h>. FUTEX_PRIVATE_FLAG (128) is
// deliberately never or'ed in.
const (
	opWait = 0 // FUTEX_WAIT
	opWake = 1 // FUTEX_WAKE
)

// futexCall performs futex(addr, op, val, timeout) and maps the errors the
// API distinguishes. op never includes FUTEX_PRIVATE_FLAG: the word may be
// shared with another process. addr and timeout are addresses converted
// from pointers in the caller's argument list (see futex_unsafe.go).
//
//go:uintptrescapes
func futexCall(addr, op, val, timeout uintptr) (int, error) {
	r, _, errno := unix.Syscall6(unix.SYS_FUTEX, addr, op, val, timeout, 0, 0)
	switch errno {
	case 0:
		return int(r), nil
	case unix.EAGAIN:
		return 0, ErrValueChanged
	case unix.EINTR:
		return 0, ErrInterrupted
	case unix.ETIMEDOUT:
		return 0, ErrTimeout
	default:
		return 0, os.NewSyscallError("futex", errno)
	}
}
