package capi

// The constants and layouts capi relies on, as the C compiler sees them in
// the public headers (cABI) and as the Go packages capi converts from
// define them (goABI). capi converts results, flags and signals by plain
// casts and reinterprets a few arrays in place, so each pair must be equal;
// capi's tests also compare both with compat's reference manifests.

/*
#cgo CFLAGS: -I${SRCDIR} -I${SRCDIR}/../include
#include "capi.h"

static size_t capi_align_signals_state(void) { return _Alignof(struct MojoHandleSignalsState); }
static size_t capi_align_dup_options(void) { return _Alignof(struct MojoDuplicateBufferHandleOptions); }
static size_t capi_align_dp_options(void) { return _Alignof(struct MojoCreateDataPipeOptions); }
static size_t capi_align_sb_options(void) { return _Alignof(struct MojoCreateSharedBufferOptions); }
static size_t capi_align_platform_handle(void) { return _Alignof(struct MojoPlatformHandle); }
*/
import "C"

import (
	"unsafe"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/mojo"
)

// constantPair is one constant: its value in the headers and on the Go
// side.
type constantPair struct{ c, goValue uint64 }

// abiConstants lists every constant capi uses, by its C name.
func abiConstants() map[string]constantPair {
	return map[string]constantPair{
		"MOJO_HANDLE_INVALID":                                 {uint64(C.MOJO_HANDLE_INVALID), uint64(mojo.HandleInvalid)},
		"MOJO_MESSAGE_HANDLE_INVALID":                         {uint64(C.MOJO_MESSAGE_HANDLE_INVALID), uint64(mojo.MessageHandleInvalid)},
		"MOJO_RESULT_OK":                                      {uint64(C.MOJO_RESULT_OK), uint64(mojo.ResultOK)},
		"MOJO_RESULT_CANCELLED":                               {uint64(C.MOJO_RESULT_CANCELLED), uint64(mojo.ResultCancelled)},
		"MOJO_RESULT_UNKNOWN":                                 {uint64(C.MOJO_RESULT_UNKNOWN), uint64(mojo.ResultUnknown)},
		"MOJO_RESULT_INVALID_ARGUMENT":                        {uint64(C.MOJO_RESULT_INVALID_ARGUMENT), uint64(mojo.ResultInvalidArgument)},
		"MOJO_RESULT_DEADLINE_EXCEEDED":                       {uint64(C.MOJO_RESULT_DEADLINE_EXCEEDED), uint64(mojo.ResultDeadlineExceeded)},
		"MOJO_RESULT_NOT_FOUND":                               {uint64(C.MOJO_RESULT_NOT_FOUND), uint64(mojo.ResultNotFound)},
		"MOJO_RESULT_ALREADY_EXISTS":                          {uint64(C.MOJO_RESULT_ALREADY_EXISTS), uint64(mojo.ResultAlreadyExists)},
		"MOJO_RESULT_PERMISSION_DENIED":                       {uint64(C.MOJO_RESULT_PERMISSION_DENIED), uint64(mojo.ResultPermissionDenied)},
		"MOJO_RESULT_RESOURCE_EXHAUSTED":                      {uint64(C.MOJO_RESULT_RESOURCE_EXHAUSTED), uint64(mojo.ResultResourceExhausted)},
		"MOJO_RESULT_FAILED_PRECONDITION":                     {uint64(C.MOJO_RESULT_FAILED_PRECONDITION), uint64(mojo.ResultFailedPrecondition)},
		"MOJO_RESULT_ABORTED":                                 {uint64(C.MOJO_RESULT_ABORTED), uint64(mojo.ResultAborted)},
		"MOJO_RESULT_OUT_OF_RANGE":                            {uint64(C.MOJO_RESULT_OUT_OF_RANGE), uint64(mojo.ResultOutOfRange)},
		"MOJO_RESULT_UNIMPLEMENTED":                           {uint64(C.MOJO_RESULT_UNIMPLEMENTED), uint64(mojo.ResultUnimplemented)},
		"MOJO_RESULT_INTERNAL":                                {uint64(C.MOJO_RESULT_INTERNAL), uint64(mojo.ResultInternal)},
		"MOJO_RESULT_UNAVAILABLE":                             {uint64(C.MOJO_RESULT_UNAVAILABLE), uint64(mojo.ResultUnavailable)},
		"MOJO_RESULT_DATA_LOSS":                               {uint64(C.MOJO_RESULT_DATA_LOSS), uint64(mojo.ResultDataLoss)},
		"MOJO_RESULT_BUSY":                                    {uint64(C.MOJO_RESULT_BUSY), uint64(mojo.ResultBusy)},
		"MOJO_RESULT_SHOULD_WAIT":                             {uint64(C.MOJO_RESULT_SHOULD_WAIT), uint64(mojo.ResultShouldWait)},
		"MOJO_DEADLINE_INDEFINITE":                            {uint64(C.MOJO_DEADLINE_INDEFINITE), uint64(mojo.DeadlineIndefinite)},
		"MOJO_HANDLE_SIGNAL_NONE":                             {uint64(C.MOJO_HANDLE_SIGNAL_NONE), uint64(mojo.HandleSignalNone)},
		"MOJO_HANDLE_SIGNAL_READABLE":                         {uint64(C.MOJO_HANDLE_SIGNAL_READABLE), uint64(mojo.HandleSignalReadable)},
		"MOJO_HANDLE_SIGNAL_WRITABLE":                         {uint64(C.MOJO_HANDLE_SIGNAL_WRITABLE), uint64(mojo.HandleSignalWritable)},
		"MOJO_HANDLE_SIGNAL_PEER_CLOSED":                      {uint64(C.MOJO_HANDLE_SIGNAL_PEER_CLOSED), uint64(mojo.HandleSignalPeerClosed)},
		"MOJO_HANDLE_SIGNAL_NEW_DATA_READABLE":                {uint64(C.MOJO_HANDLE_SIGNAL_NEW_DATA_READABLE), uint64(mojo.HandleSignalNewDataReadable)},
		"MOJO_WATCHER_NOTIFICATION_FLAG_NONE":                 {uint64(C.MOJO_WATCHER_NOTIFICATION_FLAG_NONE), uint64(mojo.WatcherNotificationFlagNone)},
		"MOJO_WATCHER_NOTIFICATION_FLAG_FROM_SYSTEM":          {uint64(C.MOJO_WATCHER_NOTIFICATION_FLAG_FROM_SYSTEM), uint64(mojo.WatcherNotificationFlagFromSystem)},
		"MOJO_PROPERTY_TYPE_SYNC_CALL_ALLOWED":                {uint64(C.MOJO_PROPERTY_TYPE_SYNC_CALL_ALLOWED), uint64(mojo.PropertyTypeSyncCallAllowed)},
		"MOJO_WRITE_MESSAGE_FLAG_NONE":                        {uint64(C.MOJO_WRITE_MESSAGE_FLAG_NONE), uint64(mojo.WriteMessageFlagNone)},
		"MOJO_READ_MESSAGE_FLAG_NONE":                         {uint64(C.MOJO_READ_MESSAGE_FLAG_NONE), uint64(mojo.ReadMessageFlagNone)},
		"MOJO_READ_MESSAGE_FLAG_MAY_DISCARD":                  {uint64(C.MOJO_READ_MESSAGE_FLAG_MAY_DISCARD), uint64(mojo.ReadMessageFlagMayDiscard)},
		"MOJO_ALLOC_MESSAGE_FLAG_NONE":                        {uint64(C.MOJO_ALLOC_MESSAGE_FLAG_NONE), uint64(mojo.AllocMessageFlagNone)},
		"MOJO_CREATE_DATA_PIPE_OPTIONS_FLAG_NONE":             {uint64(C.MOJO_CREATE_DATA_PIPE_OPTIONS_FLAG_NONE), uint64(mojo.CreateDataPipeOptionsFlagNone)},
		"MOJO_WRITE_DATA_FLAG_NONE":                           {uint64(C.MOJO_WRITE_DATA_FLAG_NONE), uint64(mojo.WriteDataFlagNone)},
		"MOJO_WRITE_DATA_FLAG_ALL_OR_NONE":                    {uint64(C.MOJO_WRITE_DATA_FLAG_ALL_OR_NONE), uint64(mojo.WriteDataFlagAllOrNone)},
		"MOJO_READ_DATA_FLAG_NONE":                            {uint64(C.MOJO_READ_DATA_FLAG_NONE), uint64(mojo.ReadDataFlagNone)},
		"MOJO_READ_DATA_FLAG_ALL_OR_NONE":                     {uint64(C.MOJO_READ_DATA_FLAG_ALL_OR_NONE), uint64(mojo.ReadDataFlagAllOrNone)},
		"MOJO_READ_DATA_FLAG_DISCARD":                         {uint64(C.MOJO_READ_DATA_FLAG_DISCARD), uint64(mojo.ReadDataFlagDiscard)},
		"MOJO_READ_DATA_FLAG_QUERY":                           {uint64(C.MOJO_READ_DATA_FLAG_QUERY), uint64(mojo.ReadDataFlagQuery)},
		"MOJO_READ_DATA_FLAG_PEEK":                            {uint64(C.MOJO_READ_DATA_FLAG_PEEK), uint64(mojo.ReadDataFlagPeek)},
		"MOJO_CREATE_SHARED_BUFFER_OPTIONS_FLAG_NONE":         {uint64(C.MOJO_CREATE_SHARED_BUFFER_OPTIONS_FLAG_NONE), uint64(mojo.CreateSharedBufferOptionsFlagNone)},
		"MOJO_DUPLICATE_BUFFER_HANDLE_OPTIONS_FLAG_NONE":      {uint64(C.MOJO_DUPLICATE_BUFFER_HANDLE_OPTIONS_FLAG_NONE), uint64(mojo.DuplicateBufferHandleOptionsFlagNone)},
		"MOJO_DUPLICATE_BUFFER_HANDLE_OPTIONS_FLAG_READ_ONLY": {uint64(C.MOJO_DUPLICATE_BUFFER_HANDLE_OPTIONS_FLAG_READ_ONLY), uint64(mojo.DuplicateBufferHandleOptionsFlagReadOnly)},
		"MOJO_MAP_BUFFER_FLAG_NONE":                           {uint64(C.MOJO_MAP_BUFFER_FLAG_NONE), uint64(mojo.MapBufferFlagNone)},
		"MOJO_PLATFORM_HANDLE_TYPE_INVALID":                   {uint64(C.MOJO_PLATFORM_HANDLE_TYPE_INVALID), uint64(mojo.PlatformHandleTypeInvalid)},
		"MOJO_PLATFORM_HANDLE_TYPE_FILE_DESCRIPTOR":           {uint64(C.MOJO_PLATFORM_HANDLE_TYPE_FILE_DESCRIPTOR), uint64(mojo.PlatformHandleTypeFileDescriptor)},
		"MOJO_PLATFORM_HANDLE_TYPE_MACH_PORT":                 {uint64(C.MOJO_PLATFORM_HANDLE_TYPE_MACH_PORT), uint64(mojo.PlatformHandleTypeMachPort)},
		"MOJO_PLATFORM_HANDLE_TYPE_WINDOWS_HANDLE":            {uint64(C.MOJO_PLATFORM_HANDLE_TYPE_WINDOWS_HANDLE), uint64(mojo.PlatformHandleTypeWindowsHandle)},
		"MOJO_PLATFORM_SHARED_BUFFER_HANDLE_FLAG_NONE":        {uint64(C.MOJO_PLATFORM_SHARED_BUFFER_HANDLE_FLAG_NONE), uint64(mojo.PlatformSharedBufferHandleFlagNone)},
		"MOJO_PLATFORM_SHARED_BUFFER_HANDLE_FLAG_READ_ONLY":   {uint64(C.MOJO_PLATFORM_SHARED_BUFFER_HANDLE_FLAG_READ_ONLY), uint64(mojo.PlatformSharedBufferHandleFlagReadOnly)},

		"IPCZ_NO_FLAGS":                            {uint64(C.IPCZ_NO_FLAGS), 0},
		"IPCZ_INVALID_HANDLE":                      {uint64(C.IPCZ_INVALID_HANDLE), 0},
		"IPCZ_INVALID_DRIVER_HANDLE":               {uint64(C.IPCZ_INVALID_DRIVER_HANDLE), uint64(ipcz.InvalidDriverHandle)},
		"IPCZ_RESULT_OK":                           {uint64(C.IPCZ_RESULT_OK), uint64(ipcz.OK)},
		"IPCZ_RESULT_CANCELLED":                    {uint64(C.IPCZ_RESULT_CANCELLED), uint64(ipcz.Cancelled)},
		"IPCZ_RESULT_UNKNOWN":                      {uint64(C.IPCZ_RESULT_UNKNOWN), uint64(ipcz.Unknown)},
		"IPCZ_RESULT_INVALID_ARGUMENT":             {uint64(C.IPCZ_RESULT_INVALID_ARGUMENT), uint64(ipcz.InvalidArgument)},
		"IPCZ_RESULT_DEADLINE_EXCEEDED":            {uint64(C.IPCZ_RESULT_DEADLINE_EXCEEDED), uint64(ipcz.DeadlineExceeded)},
		"IPCZ_RESULT_NOT_FOUND":                    {uint64(C.IPCZ_RESULT_NOT_FOUND), uint64(ipcz.NotFound)},
		"IPCZ_RESULT_ALREADY_EXISTS":               {uint64(C.IPCZ_RESULT_ALREADY_EXISTS), uint64(ipcz.AlreadyExists)},
		"IPCZ_RESULT_PERMISSION_DENIED":            {uint64(C.IPCZ_RESULT_PERMISSION_DENIED), uint64(ipcz.PermissionDenied)},
		"IPCZ_RESULT_RESOURCE_EXHAUSTED":           {uint64(C.IPCZ_RESULT_RESOURCE_EXHAUSTED), uint64(ipcz.ResourceExhausted)},
		"IPCZ_RESULT_FAILED_PRECONDITION":          {uint64(C.IPCZ_RESULT_FAILED_PRECONDITION), uint64(ipcz.FailedPrecondition)},
		"IPCZ_RESULT_ABORTED":                      {uint64(C.IPCZ_RESULT_ABORTED), uint64(ipcz.Aborted)},
		"IPCZ_RESULT_OUT_OF_RANGE":                 {uint64(C.IPCZ_RESULT_OUT_OF_RANGE), uint64(ipcz.OutOfRange)},
		"IPCZ_RESULT_UNIMPLEMENTED":                {uint64(C.IPCZ_RESULT_UNIMPLEMENTED), uint64(ipcz.Unimplemented)},
		"IPCZ_RESULT_INTERNAL":                     {uint64(C.IPCZ_RESULT_INTERNAL), uint64(ipcz.Internal)},
		"IPCZ_RESULT_UNAVAILABLE":                  {uint64(C.IPCZ_RESULT_UNAVAILABLE), uint64(ipcz.Unavailable)},
		"IPCZ_RESULT_DATA_LOSS":                    {uint64(C.IPCZ_RESULT_DATA_LOSS), uint64(ipcz.DataLoss)},
		"IPCZ_TRANSPORT_ACTIVITY_ERROR":            {uint64(C.IPCZ_TRANSPORT_ACTIVITY_ERROR), uint64(ipcz.TransportActivityError)},
		"IPCZ_TRANSPORT_ACTIVITY_DEACTIVATED":      {uint64(C.IPCZ_TRANSPORT_ACTIVITY_DEACTIVATED), uint64(ipcz.TransportActivityDeactivated)},
		"IPCZ_CREATE_NODE_AS_BROKER":               {uint64(C.IPCZ_CREATE_NODE_AS_BROKER), uint64(ipcz.CreateNodeAsBroker)},
		"IPCZ_CONNECT_NODE_TO_BROKER":              {uint64(C.IPCZ_CONNECT_NODE_TO_BROKER), uint64(ipcz.ConnectNodeToBroker)},
		"IPCZ_CONNECT_NODE_INHERIT_BROKER":         {uint64(C.IPCZ_CONNECT_NODE_INHERIT_BROKER), uint64(ipcz.ConnectNodeInheritBroker)},
		"IPCZ_CONNECT_NODE_SHARE_BROKER":           {uint64(C.IPCZ_CONNECT_NODE_SHARE_BROKER), uint64(ipcz.ConnectNodeShareBroker)},
		"IPCZ_CONNECT_NODE_TO_ALLOCATION_DELEGATE": {uint64(C.IPCZ_CONNECT_NODE_TO_ALLOCATION_DELEGATE), uint64(ipcz.ConnectNodeToAllocationDelegate)},
		"IPCZ_BEGIN_PUT_ALLOW_PARTIAL":             {uint64(C.IPCZ_BEGIN_PUT_ALLOW_PARTIAL), uint64(ipcz.BeginPutAllowPartial)},
		"IPCZ_END_PUT_ABORT":                       {uint64(C.IPCZ_END_PUT_ABORT), uint64(ipcz.EndPutAbort)},
		"IPCZ_GET_PARTIAL":                         {uint64(C.IPCZ_GET_PARTIAL), uint64(ipcz.GetPartial)},
		"IPCZ_END_GET_ABORT":                       {uint64(C.IPCZ_END_GET_ABORT), uint64(ipcz.EndGetAbort)},
		"IPCZ_UNBOX_PEEK":                          {uint64(C.IPCZ_UNBOX_PEEK), uint64(ipcz.UnboxPeek)},
		"IPCZ_PORTAL_STATUS_PEER_CLOSED":           {uint64(C.IPCZ_PORTAL_STATUS_PEER_CLOSED), uint64(ipcz.PortalStatusPeerClosed)},
		"IPCZ_PORTAL_STATUS_DEAD":                  {uint64(C.IPCZ_PORTAL_STATUS_DEAD), uint64(ipcz.PortalStatusDead)},
		"IPCZ_TRAP_REMOVED":                        {uint64(C.IPCZ_TRAP_REMOVED), uint64(ipcz.TrapRemoved)},
		"IPCZ_TRAP_PEER_CLOSED":                    {uint64(C.IPCZ_TRAP_PEER_CLOSED), uint64(ipcz.TrapPeerClosed)},
		"IPCZ_TRAP_DEAD":                           {uint64(C.IPCZ_TRAP_DEAD), uint64(ipcz.TrapDead)},
		"IPCZ_TRAP_ABOVE_MIN_LOCAL_PARCELS":        {uint64(C.IPCZ_TRAP_ABOVE_MIN_LOCAL_PARCELS), uint64(ipcz.TrapAboveMinLocalParcels)},
		"IPCZ_TRAP_ABOVE_MIN_LOCAL_BYTES":          {uint64(C.IPCZ_TRAP_ABOVE_MIN_LOCAL_BYTES), uint64(ipcz.TrapAboveMinLocalBytes)},
		"IPCZ_TRAP_BELOW_MAX_REMOTE_PARCELS":       {uint64(C.IPCZ_TRAP_BELOW_MAX_REMOTE_PARCELS), uint64(ipcz.TrapBelowMaxRemoteParcels)},
		"IPCZ_TRAP_BELOW_MAX_REMOTE_BYTES":         {uint64(C.IPCZ_TRAP_BELOW_MAX_REMOTE_BYTES), uint64(ipcz.TrapBelowMaxRemoteBytes)},
		"IPCZ_TRAP_NEW_LOCAL_PARCEL":               {uint64(C.IPCZ_TRAP_NEW_LOCAL_PARCEL), uint64(ipcz.TrapNewLocalParcel)},
		"IPCZ_TRAP_CONSUMED_REMOTE_PARCEL":         {uint64(C.IPCZ_TRAP_CONSUMED_REMOTE_PARCEL), uint64(ipcz.TrapConsumedRemoteParcel)},
	}
}

// layout is a struct's size and alignment.
type layout struct{ size, align int64 }

// abiStructs gives the C layout of every struct and table capi reads or
// writes, by name.
func abiStructs() map[string]layout {
	return map[string]layout{
		"IpczAPI":                          {C.sizeof_struct_IpczAPI, 8},
		"IpczDriver":                       {C.sizeof_struct_IpczDriver, 8},
		"IpczSharedMemoryInfo":             {C.sizeof_struct_IpczSharedMemoryInfo, 8},
		"IpczPutLimits":                    {C.sizeof_struct_IpczPutLimits, 8},
		"IpczPutOptions":                   {C.sizeof_struct_IpczPutOptions, 8},
		"IpczBeginPutOptions":              {C.sizeof_struct_IpczBeginPutOptions, 8},
		"IpczPortalStatus":                 {C.sizeof_struct_IpczPortalStatus, 8},
		"IpczTrapConditions":               {C.sizeof_struct_IpczTrapConditions, 8},
		"IpczTrapEvent":                    {C.sizeof_struct_IpczTrapEvent, 8},
		"MojoHandleSignalsState":           {C.sizeof_struct_MojoHandleSignalsState, int64(C.capi_align_signals_state())},
		"MojoCreateDataPipeOptions":        {C.sizeof_struct_MojoCreateDataPipeOptions, int64(C.capi_align_dp_options())},
		"MojoCreateSharedBufferOptions":    {C.sizeof_struct_MojoCreateSharedBufferOptions, int64(C.capi_align_sb_options())},
		"MojoDuplicateBufferHandleOptions": {C.sizeof_struct_MojoDuplicateBufferHandleOptions, int64(C.capi_align_dup_options())},
		"MojoPlatformHandle":               {C.sizeof_struct_MojoPlatformHandle, int64(C.capi_align_platform_handle())},
	}
}

// reinterpretations lists the Go types capi reads C memory as, with the
// size of the C type they stand for: they must match exactly.
func reinterpretations() map[string][2]uintptr {
	return map[string][2]uintptr{
		"MojoHandle as mojo.Handle":                         {C.sizeof_MojoHandle, unsafe.Sizeof(mojo.Handle(0))},
		"MojoResult as mojo.Result":                         {C.sizeof_MojoResult, unsafe.Sizeof(mojo.Result(0))},
		"MojoHandleSignalsState as mojo.HandleSignalsState": {C.sizeof_struct_MojoHandleSignalsState, unsafe.Sizeof(mojo.HandleSignalsState{})},
		"uintptr_t as uintptr":                              {C.sizeof_uintptr_t, unsafe.Sizeof(uintptr(0))},
		"uint32_t as uint32":                                {C.sizeof_uint32_t, unsafe.Sizeof(uint32(0))},
		"IpczDriverHandle as ipcz.DriverHandle":             {C.sizeof_IpczDriverHandle, unsafe.Sizeof(ipcz.DriverHandle(0))},
		"MojoMessageHandle as mojo.MessageHandle":           {C.sizeof_MojoMessageHandle, unsafe.Sizeof(mojo.MessageHandle(0))},
	}
}
