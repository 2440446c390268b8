package ipcz

import "strconv"

// Result is an ipcz result code. Its values are those of IpczResult in
// ipcz.h. A Result other than OK is an error; OK is never returned as an
// error (functions return nil instead), so `err == nil` means success.
type Result int32

// The result codes of ipcz.h, with the same values.
const (
	OK                 Result = 0
	Cancelled          Result = 1
	Unknown            Result = 2
	InvalidArgument    Result = 3
	DeadlineExceeded   Result = 4
	NotFound           Result = 5
	AlreadyExists      Result = 6
	PermissionDenied   Result = 7
	ResourceExhausted  Result = 8
	FailedPrecondition Result = 9
	Aborted            Result = 10
	OutOfRange         Result = 11
	Unimplemented      Result = 12
	Internal           Result = 13
	Unavailable        Result = 14
	DataLoss           Result = 15
)

var resultNames = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS",
}

// String returns the name of the code as ipcz.h spells it, without the
// IPCZ_RESULT_ prefix.
func (r Result) String() string {
	if r >= 0 && int(r) < len(resultNames) {
		return resultNames[r]
	}
	return "Result(" + strconv.Itoa(int(r)) + ")"
}

// Error implements error.
func (r Result) Error() string { return "ipcz: " + r.String() }

// Err returns nil for OK and r otherwise. Use it wherever a Result read
// from outside Go (a C driver, a wire message) becomes an error.
func (r Result) Err() error {
	if r == OK {
		return nil
	}
	return r
}

// ResultOf maps an error to the Result that describes it: nil is OK, a
// Result (possibly wrapped) is itself, and anything else is Unknown.
func ResultOf(err error) Result {
	if err == nil {
		return OK
	}
	for e := err; e != nil; {
		if r, ok := e.(Result); ok {
			return r
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	return Unknown
}
