package multiprocess

import (
	"reflect"
	"runtime"
)

// readLoopName is the name runtime.Frame gives the reader goroutine's
// function.
var readLoopName = reflect.TypeFor[transport]().PkgPath() + ".(*transport).readLoop"

// onReaderGoroutine reports whether the calling goroutine is one of the
// driver's reader goroutines, that is, whether the caller runs inside an
// activity handler call. Such a goroutine was started with
// (*transport).readLoop, which is therefore its outermost frame (below
// runtime.goexit).
//
// It walks the whole stack and costs microseconds, so Transmit asks only
// when back-pressure would make it block.
func onReaderGoroutine() bool {
	pcs := make([]uintptr, 64)
	for {
		n := runtime.Callers(1, pcs)
		if n < len(pcs) {
			pcs = pcs[:n]
			break
		}
		pcs = make([]uintptr, 2*len(pcs))
	}
	frames := runtime.CallersFrames(pcs[max(0, len(pcs)-4):])
	for {
		f, more := frames.Next()
		if f.Function == readLoopName {
			return true
		}
		if !more {
			return false
		}
	}
}
