//go:build linux

package futex

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// wait converts its pointers to addresses for futexCall. Each conversion
// is written in futexCall's argument list, and futexCall is marked
// //go:uintptrescapes, so the compiler keeps the pointed-to memory alive
// and off the goroutine stack (where it could move) for the whole call.
func wait(addr *uint32, val uint32, timeout time.Duration) error {
	if timeout < 0 {
		_, err := futexCall(uintptr(unsafe.Pointer(addr)), opWait, uintptr(val), 0)
		return err
	}
	ts := unix.NsecToTimespec(int64(timeout))
	_, err := futexCall(uintptr(unsafe.Pointer(addr)), opWait, uintptr(val), uintptr(unsafe.Pointer(&ts)))
	return err
}

func wake(addr *uint32, n int) (int, error) {
	return futexCall(uintptr(unsafe.Pointer(addr)), opWake, uintptr(n), 0)
}
