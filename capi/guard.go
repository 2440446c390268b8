package capi

/*
#cgo CFLAGS: -I${SRCDIR} -I${SRCDIR}/../include
#include "capi.h"
*/
import "C"

import (
	"fmt"
	"os"
	"runtime/debug"
	"sync/atomic"
	"unsafe"

	"github.com/ipcz-go/ipcz-go/mojo"
)

// A panic must never unwind into C (it would abort the host program), so
// every export defers one of these guards: it recovers, writes the panic
// and its stack to stderr, and makes the export answer INTERNAL.

func guardMojo(r *C.MojoResult) {
	if e := recover(); e != nil {
		reportPanic(e)
		*r = C.MOJO_RESULT_INTERNAL
	}
}

func guardIpcz(r *C.IpczResult) {
	if e := recover(); e != nil {
		reportPanic(e)
		*r = C.IPCZ_RESULT_INTERNAL
	}
}

// panics counts recovered panics (for tests).
var panics atomic.Int64

func reportPanic(e any) {
	panics.Add(1)
	fmt.Fprintf(os.Stderr, "libmojo: recovered panic (the call returns INTERNAL): %v\n%s", e, debug.Stack())
}

// testPanic, when set, makes every export that checks it panic (tests of
// the guards).
var testPanic atomic.Bool

func checkTestPanic() {
	if testPanic.Load() {
		panic("capi: test panic")
	}
}

// storePointer writes p into a pointer-sized out-parameter in C memory
// (a `void**` and the like). It stores the address as an integer on
// purpose: a store through a Go pointer-typed lvalue runs the garbage
// collector's write barrier, which reads the slot's old contents as a
// pointer, and an out-parameter in C memory holds garbage, possibly a
// stale pointer to a freed Go object from an earlier call, which the
// collector would then mark ("found pointer to free object"). Never write
// pointers into C memory any other way.
func storePointer(dst, p unsafe.Pointer) {
	*(*uintptr)(dst) = uintptr(p)
}

// cBytes views n bytes of C memory at p as a slice (nil if p is nil). The
// slice is only used during the call.
func cBytes(p unsafe.Pointer, n C.uint32_t) []byte {
	if p == nil {
		return nil
	}
	return unsafe.Slice((*byte)(p), int(n))
}

// cHandles views n MojoHandles at p as a slice (nil if p is nil).
func cHandles(p unsafe.Pointer, n C.uint32_t) []mojo.Handle {
	if p == nil {
		return nil
	}
	return unsafe.Slice((*mojo.Handle)(p), int(n))
}
