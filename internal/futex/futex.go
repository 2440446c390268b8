//go:build linux

package futex

import (
	"errors"
	"math"
	"sync/atomic"
	"time"
)

// Forever, passed as a timeout, makes Wait and WaitSpin sleep with no
// time limit. Any negative timeout means the same.
const Forever time.Duration = -1

// WakeAll, passed as n to Wake, wakes every waiter.
const WakeAll = math.MaxInt32

// Outcomes of a wait other than a wakeup. ErrValueChanged and
// ErrInterrupted are normal: like a nil return, they mean "re-read the
// word" (see Retry). ErrTimeout means the time limit expired. Any other
// error is a failure of the system call (for example EFAULT for an
// unmapped address or EINVAL for a misaligned one), wrapped in an
// *os.SyscallError.
var (
	// ErrValueChanged is returned when the word did not hold the expected
	// value when the wait began (EAGAIN from the kernel), or, for WaitSpin,
	// when the spinning phase saw it change.
	ErrValueChanged = errors.New("futex: value changed")
	// ErrInterrupted is returned when a signal interrupted the sleep
	// (EINTR).
	ErrInterrupted = errors.New("futex: interrupted")
	// ErrTimeout is returned when the timeout expired (ETIMEDOUT).
	ErrTimeout = errors.New("futex: timed out")
)

// Retry reports whether err is a normal end of a wait after which the
// caller should re-read the word and maybe wait again: nil (woken),
// ErrValueChanged or ErrInterrupted. It is false for ErrTimeout and for
// failures.
func Retry(err error) bool {
	return err == nil || err == ErrValueChanged || err == ErrInterrupted
}

// Wait sleeps until the 32-bit word at addr is woken by Wake, provided it
// still holds val when the sleep begins; the check and the sleep are one
// atomic step in the kernel, so a Wake issued after the word changed is
// never lost.
//
// It returns nil when woken (possibly spuriously), ErrValueChanged if the
// word did not hold val, ErrInterrupted on a signal, and ErrTimeout once
// timeout has elapsed. A negative timeout (Forever) means no limit; a zero
// timeout returns ErrTimeout at once if the word holds val. The timeout is
// measured on the monotonic clock and is not adjusted on ErrInterrupted:
// a caller with a deadline computes the remaining time itself.
//
// The sleep blocks an OS thread, not a P: other goroutines keep running.
func Wait(addr *uint32, val uint32, timeout time.Duration) error {
	return wait(addr, val, timeout)
}

// Wake wakes up to n waiters sleeping on the word at addr (WakeAll for
// all) and returns how many it woke. n <= 0 wakes nobody and makes no
// system call. A count of 0 is normal: nobody was asleep.
func Wake(addr *uint32, n int) (int, error) {
	if n <= 0 {
		return 0, nil
	}
	if n > WakeAll {
		n = WakeAll
	}
	return wake(addr, n)
}

// WaitSpin is Wait preceded by a polling phase: it loads the word with
// atomic loads up to spins times and returns ErrValueChanged as soon as it
// no longer holds val, without entering the kernel. If the word still
// holds val after spins loads, it calls Wait(addr, val, timeout); the
// timeout bounds only that sleeping phase.
//
// Spinning pays off when the peer usually changes the word within a few
// microseconds and a CPU is free to spin on (each iteration is one load,
// a nanosecond or so; a few thousand iterations cover the typical cost of
// a sleep and wakeup). With spins <= 0 it is exactly Wait. Spinning holds
// a P, so keep spins small when GOMAXPROCS is 1.
func WaitSpin(addr *uint32, val uint32, spins int, timeout time.Duration) error {
	for range spins {
		if atomic.LoadUint32(addr) != val {
			return ErrValueChanged
		}
	}
	return wait(addr, val, timeout)
}
