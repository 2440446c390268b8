package mojo

import (
	"github.com/ipcz-go/ipcz-go/datapipe"
	"github.com/ipcz-go/ipcz-go/mojo/types"
	"github.com/ipcz-go/ipcz-go/watcher"
)

// Handle is a MojoHandle: a 32-bit value naming an object in a Core's
// handle table. Values may be reused after the handle is closed.
type Handle uint32

// HandleInvalid is MOJO_HANDLE_INVALID.
const HandleInvalid Handle = 0

// MessageHandle is a MojoMessageHandle: names a message object (from
// AllocMessage or ReadMessageNew) until it is freed or written.
type MessageHandle uintptr

// MessageHandleInvalid is MOJO_MESSAGE_HANDLE_INVALID.
const MessageHandleInvalid MessageHandle = 0

// TimeTicks is a MojoTimeTicks: microseconds of a monotonic clock.
type TimeTicks int64

// Deadline is a MojoDeadline (types.h defines it; no seed-era function
// takes one).
type Deadline uint64

// DeadlineIndefinite is MOJO_DEADLINE_INDEFINITE.
const DeadlineIndefinite Deadline = ^Deadline(0)

// Result is a MojoResult; it implements error. See the Result* constants.
type Result = types.Result

// The MOJO_RESULT_* values.
const (
	ResultOK                 = types.ResultOK
	ResultCancelled          = types.ResultCancelled
	ResultUnknown            = types.ResultUnknown
	ResultInvalidArgument    = types.ResultInvalidArgument
	ResultDeadlineExceeded   = types.ResultDeadlineExceeded
	ResultNotFound           = types.ResultNotFound
	ResultAlreadyExists      = types.ResultAlreadyExists
	ResultPermissionDenied   = types.ResultPermissionDenied
	ResultResourceExhausted  = types.ResultResourceExhausted
	ResultFailedPrecondition = types.ResultFailedPrecondition
	ResultAborted            = types.ResultAborted
	ResultOutOfRange         = types.ResultOutOfRange
	ResultUnimplemented      = types.ResultUnimplemented
	ResultInternal           = types.ResultInternal
	ResultUnavailable        = types.ResultUnavailable
	ResultDataLoss           = types.ResultDataLoss
	ResultBusy               = types.ResultBusy
	ResultShouldWait         = types.ResultShouldWait
)

// HandleSignals is a MojoHandleSignals bit set.
type HandleSignals = types.HandleSignals

// The MOJO_HANDLE_SIGNAL_* values.
const (
	HandleSignalNone            = types.HandleSignalNone
	HandleSignalReadable        = types.HandleSignalReadable
	HandleSignalWritable        = types.HandleSignalWritable
	HandleSignalPeerClosed      = types.HandleSignalPeerClosed
	HandleSignalNewDataReadable = types.HandleSignalNewDataReadable
)

// HandleSignalsState is a MojoHandleSignalsState.
type HandleSignalsState = types.HandleSignalsState

// WatcherNotificationFlags is a MojoWatcherNotificationFlags bit set.
type WatcherNotificationFlags = types.WatcherNotificationFlags

// The MOJO_WATCHER_NOTIFICATION_FLAG_* values.
const (
	WatcherNotificationFlagNone       = types.WatcherNotificationFlagNone
	WatcherNotificationFlagFromSystem = types.WatcherNotificationFlagFromSystem
)

// WatcherCallback is a MojoWatcherCallback (the guide calls it
// MojoWatcherNotificationCallback): context, result, signals state and
// flags of one notification.
type WatcherCallback = watcher.Callback

// PropertyType is a MojoPropertyType.
type PropertyType uint32

// PropertyTypeSyncCallAllowed is MOJO_PROPERTY_TYPE_SYNC_CALL_ALLOWED; its
// value is a bool.
const PropertyTypeSyncCallAllowed PropertyType = 0

// CreateMessagePipeOptionsFlags are MojoCreateMessagePipeOptionsFlags.
type CreateMessagePipeOptionsFlags uint32

// CreateMessagePipeOptionsFlagNone is
// MOJO_CREATE_MESSAGE_PIPE_OPTIONS_FLAG_NONE.
const CreateMessagePipeOptionsFlagNone CreateMessagePipeOptionsFlags = 0

// CreateMessagePipeOptions is MojoCreateMessagePipeOptions (ignored, as in
// 2017).
type CreateMessagePipeOptions struct {
	StructSize uint32
	Flags      CreateMessagePipeOptionsFlags
}

// WriteMessageFlags are MojoWriteMessageFlags.
type WriteMessageFlags uint32

// WriteMessageFlagNone is MOJO_WRITE_MESSAGE_FLAG_NONE (the guide's
// MOJO_WRITE_MESSAGE_NONE).
const WriteMessageFlagNone WriteMessageFlags = 0

// ReadMessageFlags are MojoReadMessageFlags.
type ReadMessageFlags uint32

const (
	ReadMessageFlagNone ReadMessageFlags = 0
	// ReadMessageFlagMayDiscard drops a message that does not fit.
	ReadMessageFlagMayDiscard ReadMessageFlags = 1 << 0
)

// AllocMessageFlags are MojoAllocMessageFlags.
type AllocMessageFlags uint32

// AllocMessageFlagNone is MOJO_ALLOC_MESSAGE_FLAG_NONE.
const AllocMessageFlagNone AllocMessageFlags = 0

// CreateDataPipeOptionsFlags are MojoCreateDataPipeOptionsFlags.
type CreateDataPipeOptionsFlags = datapipe.CreateFlags

// CreateDataPipeOptionsFlagNone is MOJO_CREATE_DATA_PIPE_OPTIONS_FLAG_NONE.
const CreateDataPipeOptionsFlagNone = datapipe.CreateFlagNone

// CreateDataPipeOptions is MojoCreateDataPipeOptions; StructSize must be
// exactly 16.
type CreateDataPipeOptions struct {
	StructSize       uint32
	Flags            CreateDataPipeOptionsFlags
	ElementNumBytes  uint32
	CapacityNumBytes uint32
}

// WriteDataFlags are MojoWriteDataFlags.
type WriteDataFlags = datapipe.WriteFlags

// The MOJO_WRITE_DATA_FLAG_* values.
const (
	WriteDataFlagNone      = datapipe.WriteFlagNone
	WriteDataFlagAllOrNone = datapipe.WriteFlagAllOrNone
)

// ReadDataFlags are MojoReadDataFlags.
type ReadDataFlags = datapipe.ReadFlags

// The MOJO_READ_DATA_FLAG_* values.
const (
	ReadDataFlagNone      = datapipe.ReadFlagNone
	ReadDataFlagAllOrNone = datapipe.ReadFlagAllOrNone
	ReadDataFlagDiscard   = datapipe.ReadFlagDiscard
	ReadDataFlagQuery     = datapipe.ReadFlagQuery
	ReadDataFlagPeek      = datapipe.ReadFlagPeek
)

// CreateSharedBufferOptionsFlags are MojoCreateSharedBufferOptionsFlags.
type CreateSharedBufferOptionsFlags uint32

// CreateSharedBufferOptionsFlagNone is
// MOJO_CREATE_SHARED_BUFFER_OPTIONS_FLAG_NONE.
const CreateSharedBufferOptionsFlagNone CreateSharedBufferOptionsFlags = 0

// CreateSharedBufferOptions is MojoCreateSharedBufferOptions.
type CreateSharedBufferOptions struct {
	StructSize uint32
	Flags      CreateSharedBufferOptionsFlags
}

// DuplicateBufferHandleOptionsFlags are
// MojoDuplicateBufferHandleOptionsFlags.
type DuplicateBufferHandleOptionsFlags uint32

const (
	DuplicateBufferHandleOptionsFlagNone DuplicateBufferHandleOptionsFlags = 0
	// DuplicateBufferHandleOptionsFlagReadOnly makes a duplicate that
	// can only be mapped for reading.
	DuplicateBufferHandleOptionsFlagReadOnly DuplicateBufferHandleOptionsFlags = 1 << 0
)

// DuplicateBufferHandleOptions is MojoDuplicateBufferHandleOptions.
type DuplicateBufferHandleOptions struct {
	StructSize uint32
	Flags      DuplicateBufferHandleOptionsFlags
}

// MapBufferFlags are MojoMapBufferFlags.
type MapBufferFlags uint32

// MapBufferFlagNone is MOJO_MAP_BUFFER_FLAG_NONE.
const MapBufferFlagNone MapBufferFlags = 0

// PlatformHandleType is a MojoPlatformHandleType.
type PlatformHandleType uint32

// The MOJO_PLATFORM_HANDLE_TYPE_* values.
const (
	PlatformHandleTypeInvalid        PlatformHandleType = 0
	PlatformHandleTypeFileDescriptor PlatformHandleType = 1
	PlatformHandleTypeMachPort       PlatformHandleType = 2
	PlatformHandleTypeWindowsHandle  PlatformHandleType = 3
)

// PlatformHandle is MojoPlatformHandle; StructSize must be 16
// (PlatformHandleStructSize).
type PlatformHandle struct {
	StructSize uint32
	Type       PlatformHandleType
	Value      uint64
}

// PlatformHandleStructSize is sizeof(struct MojoPlatformHandle).
const PlatformHandleStructSize = 16

// PlatformSharedBufferHandleFlags are MojoPlatformSharedBufferHandleFlags.
type PlatformSharedBufferHandleFlags uint32

const (
	PlatformSharedBufferHandleFlagNone     PlatformSharedBufferHandleFlags = 0
	PlatformSharedBufferHandleFlagReadOnly PlatformSharedBufferHandleFlags = 1 << 0
)

// Struct sizes of the options structs (their C sizeof).
const (
	CreateMessagePipeOptionsStructSize     = 8
	CreateDataPipeOptionsStructSize        = 16
	CreateSharedBufferOptionsStructSize    = 8
	DuplicateBufferHandleOptionsStructSize = 8
)

// Limits.
const (
	// MaxHandlesPerMessage is the 2017 limit on handles in one message;
	// more gives ResourceExhausted.
	MaxHandlesPerMessage = 1024 * 1024
	// MaxSharedBufferBytes is the largest shared buffer; more gives
	// ResourceExhausted.
	MaxSharedBufferBytes = 1 << 30
	// maxObjectsPerMessage is the most ipcz objects one parcel may carry
	// across nodes (ipcz's unexported maxObjectsPerParcel): a message
	// whose handles need more gives ResourceExhausted.
	maxObjectsPerMessage = 1 << 12
)
