package mojo

// The package-level functions are the 33 functions of the seed-era C API,
// one to one, on the default core (Init). The C exports call them; Go
// programs may too. Each is the Core method of the same name: see it for
// the contract and result codes. Calling one before Init panics (a Go
// programming error; the C layer checks Default first).

// Close is MojoClose.
func Close(h Handle) Result { return core().Close(h) }

// QueryHandleSignalsState is MojoQueryHandleSignalsState.
func QueryHandleSignalsState(h Handle) (HandleSignalsState, Result) {
	return core().QueryHandleSignalsState(h)
}

// GetProperty is MojoGetProperty.
func GetProperty(t PropertyType, value any) Result { return core().GetProperty(t, value) }

// CreateMessagePipe is MojoCreateMessagePipe.
func CreateMessagePipe(options *CreateMessagePipeOptions) (Handle, Handle, Result) {
	return core().CreateMessagePipe(options)
}

// WriteMessage is MojoWriteMessage.
func WriteMessage(h Handle, bytes []byte, handles []Handle, flags WriteMessageFlags) Result {
	return core().WriteMessage(h, bytes, handles, flags)
}

// WriteMessageNew is MojoWriteMessageNew.
func WriteMessageNew(h Handle, msg MessageHandle, flags WriteMessageFlags) Result {
	return core().WriteMessageNew(h, msg, flags)
}

// ReadMessage is MojoReadMessage.
func ReadMessage(h Handle, bytes []byte, handles []Handle, flags ReadMessageFlags) (numBytes, numHandles uint32, r Result) {
	return core().ReadMessage(h, bytes, handles, flags)
}

// ReadMessageNew is MojoReadMessageNew.
func ReadMessageNew(h Handle, handles []Handle, flags ReadMessageFlags) (msg MessageHandle, numBytes, numHandles uint32, r Result) {
	return core().ReadMessageNew(h, handles, flags)
}

// FuseMessagePipes is MojoFuseMessagePipes.
func FuseMessagePipes(h0, h1 Handle) Result { return core().FuseMessagePipes(h0, h1) }

// AllocMessage is MojoAllocMessage.
func AllocMessage(numBytes uint32, handles []Handle, flags AllocMessageFlags) (MessageHandle, Result) {
	return core().AllocMessage(numBytes, handles, flags)
}

// FreeMessage is MojoFreeMessage.
func FreeMessage(msg MessageHandle) Result { return core().FreeMessage(msg) }

// GetMessageBuffer is MojoGetMessageBuffer.
func GetMessageBuffer(msg MessageHandle) ([]byte, Result) { return core().GetMessageBuffer(msg) }

// NotifyBadMessage is MojoNotifyBadMessage.
func NotifyBadMessage(msg MessageHandle, err string) Result { return core().NotifyBadMessage(msg, err) }

// CreateDataPipe is MojoCreateDataPipe.
func CreateDataPipe(options *CreateDataPipeOptions) (producer, consumer Handle, r Result) {
	return core().CreateDataPipe(options)
}

// WriteData is MojoWriteData.
func WriteData(h Handle, elements []byte, flags WriteDataFlags) (uint32, Result) {
	return core().WriteData(h, elements, flags)
}

// BeginWriteData is MojoBeginWriteData.
func BeginWriteData(h Handle, flags WriteDataFlags) ([]byte, Result) {
	return core().BeginWriteData(h, flags)
}

// EndWriteData is MojoEndWriteData.
func EndWriteData(h Handle, numBytesWritten uint32) Result {
	return core().EndWriteData(h, numBytesWritten)
}

// ReadData is MojoReadData.
func ReadData(h Handle, elements []byte, numBytes uint32, flags ReadDataFlags) (uint32, Result) {
	return core().ReadData(h, elements, numBytes, flags)
}

// BeginReadData is MojoBeginReadData.
func BeginReadData(h Handle, flags ReadDataFlags) ([]byte, Result) {
	return core().BeginReadData(h, flags)
}

// EndReadData is MojoEndReadData.
func EndReadData(h Handle, numBytesRead uint32) Result { return core().EndReadData(h, numBytesRead) }

// CreateSharedBuffer is MojoCreateSharedBuffer.
func CreateSharedBuffer(options *CreateSharedBufferOptions, numBytes uint64) (Handle, Result) {
	return core().CreateSharedBuffer(options, numBytes)
}

// DuplicateBufferHandle is MojoDuplicateBufferHandle.
func DuplicateBufferHandle(h Handle, options *DuplicateBufferHandleOptions) (Handle, Result) {
	return core().DuplicateBufferHandle(h, options)
}

// MapBuffer is MojoMapBuffer.
func MapBuffer(h Handle, offset, numBytes uint64, flags MapBufferFlags) ([]byte, Result) {
	return core().MapBuffer(h, offset, numBytes, flags)
}

// UnmapBuffer is MojoUnmapBuffer.
func UnmapBuffer(buffer []byte) Result { return core().UnmapBuffer(buffer) }

// WrapPlatformHandle is MojoWrapPlatformHandle.
func WrapPlatformHandle(ph *PlatformHandle) (Handle, Result) { return core().WrapPlatformHandle(ph) }

// UnwrapPlatformHandle is MojoUnwrapPlatformHandle.
func UnwrapPlatformHandle(h Handle, ph *PlatformHandle) Result {
	return core().UnwrapPlatformHandle(h, ph)
}

// WrapPlatformSharedBufferHandle is MojoWrapPlatformSharedBufferHandle.
func WrapPlatformSharedBufferHandle(ph *PlatformHandle, numBytes uint64, flags PlatformSharedBufferHandleFlags) (Handle, Result) {
	return core().WrapPlatformSharedBufferHandle(ph, numBytes, flags)
}

// UnwrapPlatformSharedBufferHandle is MojoUnwrapPlatformSharedBufferHandle.
func UnwrapPlatformSharedBufferHandle(h Handle, ph *PlatformHandle) (uint64, PlatformSharedBufferHandleFlags, Result) {
	return core().UnwrapPlatformSharedBufferHandle(h, ph)
}

// CreateWatcher is MojoCreateWatcher.
func CreateWatcher(callback WatcherCallback) (Handle, Result) { return core().CreateWatcher(callback) }

// Watch is MojoWatch.
func Watch(w, h Handle, signals HandleSignals, context uintptr) Result {
	return core().Watch(w, h, signals, context)
}

// CancelWatch is MojoCancelWatch.
func CancelWatch(w Handle, context uintptr) Result { return core().CancelWatch(w, context) }

// ArmWatcher is MojoArmWatcher.
func ArmWatcher(w Handle, numReadyContexts *uint32, readyContexts []uintptr, readyResults []Result, readySignalsStates []HandleSignalsState) Result {
	return core().ArmWatcher(w, numReadyContexts, readyContexts, readyResults, readySignalsStates)
}
