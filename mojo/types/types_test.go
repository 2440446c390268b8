package types

import (
	"errors"
	"testing"
)

// The values are those of the seed-era types.h.
func TestValues(t *testing.T) {
	results := map[Result]uint32{
		ResultOK: 0, ResultCancelled: 1, ResultUnknown: 2, ResultInvalidArgument: 3,
		ResultDeadlineExceeded: 4, ResultNotFound: 5, ResultAlreadyExists: 6,
		ResultPermissionDenied: 7, ResultResourceExhausted: 8, ResultFailedPrecondition: 9,
		ResultAborted: 10, ResultOutOfRange: 11, ResultUnimplemented: 12, ResultInternal: 13,
		ResultUnavailable: 14, ResultDataLoss: 15, ResultBusy: 16, ResultShouldWait: 17,
	}
	for r, v := range results {
		if uint32(r) != v {
			t.Errorf("%v = %d, want %d", r, uint32(r), v)
		}
	}
	if HandleSignalReadable != 1 || HandleSignalWritable != 2 || HandleSignalPeerClosed != 4 ||
		HandleSignalNewDataReadable != 8 || WatcherNotificationFlagFromSystem != 1 {
		t.Error("signal or flag values differ from types.h")
	}
}

func TestStrings(t *testing.T) {
	if ResultShouldWait.String() != "SHOULD_WAIT" || Result(99).String() != "Result(99)" {
		t.Error(ResultShouldWait.String(), Result(99).String())
	}
	var err error = ResultBusy
	if err.Error() != "mojo: BUSY" || !errors.Is(err, ResultBusy) || ResultOK.Err() != nil || ResultBusy.Err() != ResultBusy {
		t.Error("error behaviour")
	}
	if s := (HandleSignalReadable | HandleSignalPeerClosed | 32).String(); s != "READABLE|PEER_CLOSED|0x20" {
		t.Error(s)
	}
	st := HandleSignalsState{Satisfied: HandleSignalWritable, Satisfiable: HandleSignalWritable | HandleSignalReadable}
	if !st.Satisfies(HandleSignalWritable|HandleSignalPeerClosed) || st.Satisfies(HandleSignalReadable) ||
		!st.CanSatisfy(HandleSignalReadable) || st.CanSatisfy(HandleSignalPeerClosed) || st.String() != "{WRITABLE READABLE|WRITABLE}" {
		t.Error(st)
	}
}
