// Package types holds the value types of the seed-era Mojo types.h that the
// mojo, datapipe and watcher packages share: result codes, handle signals,
// signals states and watcher notification flags. The values are those of
// the 2017 ABI (see docs in the mojo package); the mojo package re-exports
// every identifier, so applications never need to import this package.
//
// It is a leaf package (it imports only the standard library) so that the
// import graph stays one-way: mojo imports datapipe and watcher, and all
// three import types.
package types

import "strconv"

// Result is a MojoResult: an integer result code that implements error,
// like syscall.Errno. ResultOK is success; functions of the mojo packages
// return a Result directly (never wrapped), so callers compare with ==.
type Result uint32

// The MOJO_RESULT_* values of the seed-era types.h.
const (
	ResultOK                 Result = 0
	ResultCancelled          Result = 1
	ResultUnknown            Result = 2
	ResultInvalidArgument    Result = 3
	ResultDeadlineExceeded   Result = 4
	ResultNotFound           Result = 5
	ResultAlreadyExists      Result = 6
	ResultPermissionDenied   Result = 7
	ResultResourceExhausted  Result = 8
	ResultFailedPrecondition Result = 9
	ResultAborted            Result = 10
	ResultOutOfRange         Result = 11
	ResultUnimplemented      Result = 12
	ResultInternal           Result = 13
	ResultUnavailable        Result = 14
	ResultDataLoss           Result = 15
	ResultBusy               Result = 16
	ResultShouldWait         Result = 17
)

var resultNames = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "BUSY", "SHOULD_WAIT",
}

// String returns the name of the code as types.h spells it, without the
// MOJO_RESULT_ prefix.
func (r Result) String() string {
	if int(r) < len(resultNames) {
		return resultNames[r]
	}
	return "Result(" + strconv.FormatUint(uint64(r), 10) + ")"
}

// Error implements error.
func (r Result) Error() string { return "mojo: " + r.String() }

// Err returns nil for ResultOK and r otherwise, for callers that prefer
// Go's error convention.
func (r Result) Err() error {
	if r == ResultOK {
		return nil
	}
	return r
}

// HandleSignals is a MojoHandleSignals bit set.
type HandleSignals uint32

// The MOJO_HANDLE_SIGNAL_* values of the seed era (there is no PEER_REMOTE
// or QUOTA_EXCEEDED yet).
const (
	HandleSignalNone            HandleSignals = 0
	HandleSignalReadable        HandleSignals = 1 << 0
	HandleSignalWritable        HandleSignals = 1 << 1
	HandleSignalPeerClosed      HandleSignals = 1 << 2
	HandleSignalNewDataReadable HandleSignals = 1 << 3
)

// String lists the signals, as "READABLE|PEER_CLOSED" or "NONE".
func (s HandleSignals) String() string {
	if s == 0 {
		return "NONE"
	}
	names := [...]string{"READABLE", "WRITABLE", "PEER_CLOSED", "NEW_DATA_READABLE"}
	out := ""
	for i, n := range names {
		if s&(1<<i) != 0 {
			if out != "" {
				out += "|"
			}
			out += n
		}
	}
	if rest := s &^ 0xF; rest != 0 {
		if out != "" {
			out += "|"
		}
		out += "0x" + strconv.FormatUint(uint64(rest), 16)
	}
	return out
}

// HandleSignalsState is a MojoHandleSignalsState: the signals satisfied now
// and those that can still become satisfied. Satisfied is always a subset
// of Satisfiable, and a signal that leaves Satisfiable never returns.
type HandleSignalsState struct {
	Satisfied   HandleSignals
	Satisfiable HandleSignals
}

// Satisfies reports whether any of signals is satisfied.
func (s HandleSignalsState) Satisfies(signals HandleSignals) bool {
	return s.Satisfied&signals != 0
}

// CanSatisfy reports whether any of signals can still be satisfied.
func (s HandleSignalsState) CanSatisfy(signals HandleSignals) bool {
	return s.Satisfiable&signals != 0
}

// String formats the state as {satisfied satisfiable}.
func (s HandleSignalsState) String() string {
	return "{" + s.Satisfied.String() + " " + s.Satisfiable.String() + "}"
}

// WatcherNotificationFlags is a MojoWatcherNotificationFlags bit set.
type WatcherNotificationFlags uint32

const (
	WatcherNotificationFlagNone WatcherNotificationFlags = 0
	// WatcherNotificationFlagFromSystem is set when the notification is not
	// delivered at the tail of an API call made by the application on the
	// notifying goroutine (it came from another node's traffic, delivered
	// on a driver goroutine).
	WatcherNotificationFlagFromSystem WatcherNotificationFlags = 1 << 0
)
