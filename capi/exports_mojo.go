package capi

// The 33 functions of the 2017 Mojo C system API, exported under their
// public names. The preamble includes the public headers, so cgo's
// prototypes are checked against them (see capi.h).

/*
#cgo CFLAGS: -I${SRCDIR} -I${SRCDIR}/../include
#cgo CFLAGS: -Werror=incompatible-pointer-types -Werror=implicit-function-declaration
#include "capi.h"
*/
import "C"

import (
	"unsafe"

	"github.com/ipcz-go/ipcz-go/mojo"
)

// Results as C values.
const (
	mojoOK              = C.MojoResult(C.MOJO_RESULT_OK)
	mojoInvalidArgument = C.MojoResult(C.MOJO_RESULT_INVALID_ARGUMENT)
	mojoInternal        = C.MojoResult(C.MOJO_RESULT_INTERNAL)
	mojoResExhausted    = C.MojoResult(C.MOJO_RESULT_RESOURCE_EXHAUSTED)
	mojoFailedPrecond   = C.MojoResult(C.MOJO_RESULT_FAILED_PRECONDITION)
)

// Pins of memory C holds (see pinTable).
var (
	// msgPins: message payloads between MojoGetMessageBuffer and the
	// message's write or free.
	msgPins pinTable[mojo.MessageHandle]
	// dataPins: two-phase data pipe buffers between Begin and End (or the
	// handle's close).
	dataPins pinTable[mojo.Handle]
	// mapPins: MojoMapBuffer views until MojoUnmapBuffer.
	mapPins pinTable[uintptr]
)

//export MojoGetTimeTicksNow
func MojoGetTimeTicksNow() (t C.MojoTimeTicks) {
	defer func() {
		if recover() != nil {
			t = 1
		}
	}()
	return C.MojoTimeTicks(mojo.GetTimeTicksNow())
}

//export MojoClose
func MojoClose(handle C.MojoHandle) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	r = C.MojoResult(c.Close(mojo.Handle(handle)))
	if r == mojoOK {
		dataPins.release(mojo.Handle(handle))
	}
	return r
}

//export MojoQueryHandleSignalsState
func MojoQueryHandleSignalsState(handle C.MojoHandle, signalsState *C.struct_MojoHandleSignalsState) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	s, res := c.QueryHandleSignalsState(mojo.Handle(handle))
	if res != mojo.ResultOK {
		return C.MojoResult(res)
	}
	if signalsState == nil {
		return mojoInvalidArgument
	}
	signalsState.satisfied_signals = C.MojoHandleSignals(s.Satisfied)
	signalsState.satisfiable_signals = C.MojoHandleSignals(s.Satisfiable)
	return mojoOK
}

//export MojoGetProperty
func MojoGetProperty(typ C.MojoPropertyType, value unsafe.Pointer) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if value == nil {
		return mojoInvalidArgument
	}
	var b bool
	if res := c.GetProperty(mojo.PropertyType(typ), &b); res != mojo.ResultOK {
		return C.MojoResult(res)
	}
	// The value is a C++ bool: one byte, 0 or 1.
	*(*C.uchar)(value) = 0
	if b {
		*(*C.uchar)(value) = 1
	}
	return mojoOK
}

//export MojoCreateMessagePipe
func MojoCreateMessagePipe(options C.capi_const_mp_options_ptr, handle0, handle1 *C.MojoHandle) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if handle0 == nil || handle1 == nil {
		return mojoInvalidArgument
	}
	// Options are ignored, as in 2017.
	a, b, res := c.CreateMessagePipe(nil)
	if res == mojo.ResultOK {
		*handle0, *handle1 = C.MojoHandle(a), C.MojoHandle(b)
	}
	return C.MojoResult(res)
}

//export MojoWriteMessage
func MojoWriteMessage(handle C.MojoHandle, bytes C.capi_const_void_ptr, numBytes C.uint32_t, handles C.capi_const_mojo_handle_ptr, numHandles C.uint32_t, flags C.MojoWriteMessageFlags) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if (numBytes > 0 && bytes == nil) || (numHandles > 0 && handles == nil) {
		return mojoInvalidArgument
	}
	return C.MojoResult(c.WriteMessage(mojo.Handle(handle), cBytes(unsafe.Pointer(bytes), numBytes),
		cHandles(unsafe.Pointer(handles), numHandles), mojo.WriteMessageFlags(flags)))
}

//export MojoWriteMessageNew
func MojoWriteMessageNew(handle C.MojoHandle, message C.MojoMessageHandle, flags C.MojoWriteMessageFlags) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	r = C.MojoResult(c.WriteMessageNew(mojo.Handle(handle), mojo.MessageHandle(message), mojo.WriteMessageFlags(flags)))
	// The message is consumed whatever the result (an unknown message
	// holds no pin).
	msgPins.release(mojo.MessageHandle(message))
	return r
}

//export MojoReadMessage
func MojoReadMessage(handle C.MojoHandle, bytes unsafe.Pointer, numBytes *C.uint32_t, handles *C.MojoHandle, numHandles *C.uint32_t, flags C.MojoReadMessageFlags) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	var bcap, hcap C.uint32_t
	if numBytes != nil {
		bcap = *numBytes
	}
	if numHandles != nil {
		hcap = *numHandles
	}
	if (bcap > 0 && bytes == nil) || (hcap > 0 && handles == nil) {
		return mojoInvalidArgument
	}
	nb, nh, res := c.ReadMessage(mojo.Handle(handle), cBytes(bytes, bcap),
		cHandles(unsafe.Pointer(handles), hcap), mojo.ReadMessageFlags(flags))
	if res == mojo.ResultOK || res == mojo.ResultResourceExhausted {
		if numBytes != nil {
			*numBytes = C.uint32_t(nb)
		}
		if numHandles != nil {
			*numHandles = C.uint32_t(nh)
		}
	}
	return C.MojoResult(res)
}

//export MojoReadMessageNew
func MojoReadMessageNew(handle C.MojoHandle, message *C.MojoMessageHandle, numBytes *C.uint32_t, handles *C.MojoHandle, numHandles *C.uint32_t, flags C.MojoReadMessageFlags) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	var hcap C.uint32_t
	if numHandles != nil {
		hcap = *numHandles
	}
	if message == nil || (hcap > 0 && handles == nil) {
		return mojoInvalidArgument
	}
	m, nb, nh, res := c.ReadMessageNew(mojo.Handle(handle), cHandles(unsafe.Pointer(handles), hcap), mojo.ReadMessageFlags(flags))
	if res == mojo.ResultOK {
		*message = C.MojoMessageHandle(m)
	}
	if res == mojo.ResultOK || res == mojo.ResultResourceExhausted {
		if numBytes != nil {
			*numBytes = C.uint32_t(nb)
		}
		if numHandles != nil {
			*numHandles = C.uint32_t(nh)
		}
	}
	return C.MojoResult(res)
}

//export MojoFuseMessagePipes
func MojoFuseMessagePipes(handle0, handle1 C.MojoHandle) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	return C.MojoResult(c.FuseMessagePipes(mojo.Handle(handle0), mojo.Handle(handle1)))
}

//export MojoAllocMessage
func MojoAllocMessage(numBytes C.uint32_t, handles C.capi_const_mojo_handle_ptr, numHandles C.uint32_t, flags C.MojoAllocMessageFlags, message *C.MojoMessageHandle) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if message == nil || (numHandles > 0 && handles == nil) {
		return mojoInvalidArgument
	}
	m, res := c.AllocMessage(uint32(numBytes), cHandles(unsafe.Pointer(handles), numHandles), mojo.AllocMessageFlags(flags))
	if res == mojo.ResultOK {
		*message = C.MojoMessageHandle(m)
	}
	return C.MojoResult(res)
}

//export MojoFreeMessage
func MojoFreeMessage(message C.MojoMessageHandle) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	r = C.MojoResult(c.FreeMessage(mojo.MessageHandle(message)))
	if r == mojoOK {
		msgPins.release(mojo.MessageHandle(message))
	}
	return r
}

//export MojoGetMessageBuffer
func MojoGetMessageBuffer(message C.MojoMessageHandle, buffer *unsafe.Pointer) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if buffer == nil {
		return mojoInvalidArgument
	}
	b, res := c.GetMessageBuffer(mojo.MessageHandle(message))
	if res != mojo.ResultOK {
		return C.MojoResult(res)
	}
	if len(b) == 0 {
		storePointer(unsafe.Pointer(buffer), unsafe.Pointer(&C.capi_empty_payload))
		return mojoOK
	}
	msgPins.pin(mojo.MessageHandle(message), b)
	storePointer(unsafe.Pointer(buffer), unsafe.Pointer(unsafe.SliceData(b)))
	return mojoOK
}

//export MojoNotifyBadMessage
func MojoNotifyBadMessage(message C.MojoMessageHandle, err C.capi_const_char_ptr, errNumBytes C.size_t) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if (errNumBytes > 0 && err == nil) || errNumBytes > maxCount {
		return mojoInvalidArgument
	}
	var text string
	if errNumBytes > 0 {
		text = string(unsafe.Slice((*byte)(unsafe.Pointer(err)), int(errNumBytes)))
	}
	return C.MojoResult(c.NotifyBadMessage(mojo.MessageHandle(message), text))
}

//export MojoCreateDataPipe
func MojoCreateDataPipe(options C.capi_const_dp_options_ptr, producer, consumer *C.MojoHandle) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if producer == nil || consumer == nil {
		return mojoInvalidArgument
	}
	var opts *mojo.CreateDataPipeOptions
	if options != nil {
		if uintptr(unsafe.Pointer(options))%8 != 0 {
			return mojoInvalidArgument
		}
		opts = &mojo.CreateDataPipeOptions{StructSize: uint32(options.struct_size)}
		// Only a complete struct is valid; read nothing past struct_size.
		if opts.StructSize == mojo.CreateDataPipeOptionsStructSize {
			opts.Flags = mojo.CreateDataPipeOptionsFlags(options.flags)
			opts.ElementNumBytes = uint32(options.element_num_bytes)
			opts.CapacityNumBytes = uint32(options.capacity_num_bytes)
		}
	}
	p, q, res := c.CreateDataPipe(opts)
	if res == mojo.ResultOK {
		*producer, *consumer = C.MojoHandle(p), C.MojoHandle(q)
	}
	return C.MojoResult(res)
}

//export MojoWriteData
func MojoWriteData(producer C.MojoHandle, elements C.capi_const_void_ptr, numBytes *C.uint32_t, flags C.MojoWriteDataFlags) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if numBytes == nil || (*numBytes > 0 && elements == nil) {
		return mojoInvalidArgument
	}
	n, res := c.WriteData(mojo.Handle(producer), cBytes(unsafe.Pointer(elements), *numBytes), mojo.WriteDataFlags(flags))
	if res == mojo.ResultOK {
		*numBytes = C.uint32_t(n)
	}
	return C.MojoResult(res)
}

//export MojoBeginWriteData
func MojoBeginWriteData(producer C.MojoHandle, buffer *unsafe.Pointer, bufferNumBytes *C.uint32_t, flags C.MojoWriteDataFlags) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if buffer == nil || bufferNumBytes == nil {
		return mojoInvalidArgument
	}
	b, res := c.BeginWriteData(mojo.Handle(producer), mojo.WriteDataFlags(flags))
	if res != mojo.ResultOK {
		return C.MojoResult(res)
	}
	dataPins.lend(mojo.Handle(producer), b, unsafe.Pointer(buffer))
	*bufferNumBytes = C.uint32_t(len(b))
	return mojoOK
}

//export MojoEndWriteData
func MojoEndWriteData(producer C.MojoHandle, numBytesWritten C.uint32_t) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	r = C.MojoResult(c.EndWriteData(mojo.Handle(producer), uint32(numBytesWritten)))
	// Every outcome ends the two-phase write, or finds none in progress.
	dataPins.release(mojo.Handle(producer))
	return r
}

//export MojoReadData
func MojoReadData(consumer C.MojoHandle, elements unsafe.Pointer, numBytes *C.uint32_t, flags C.MojoReadDataFlags) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if numBytes == nil {
		return mojoInvalidArgument
	}
	n := *numBytes
	noCopy := mojo.ReadDataFlags(flags)&(mojo.ReadDataFlagQuery|mojo.ReadDataFlagDiscard) != 0
	if n > 0 && elements == nil && !noCopy {
		return mojoInvalidArgument
	}
	var buf []byte
	if elements != nil && !noCopy {
		buf = cBytes(elements, n)
	}
	got, res := c.ReadData(mojo.Handle(consumer), buf, uint32(n), mojo.ReadDataFlags(flags))
	if res == mojo.ResultOK {
		*numBytes = C.uint32_t(got)
	}
	return C.MojoResult(res)
}

//export MojoBeginReadData
func MojoBeginReadData(consumer C.MojoHandle, buffer C.capi_const_void_ptr_ptr, bufferNumBytes *C.uint32_t, flags C.MojoReadDataFlags) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if buffer == nil || bufferNumBytes == nil {
		return mojoInvalidArgument
	}
	b, res := c.BeginReadData(mojo.Handle(consumer), mojo.ReadDataFlags(flags))
	if res != mojo.ResultOK {
		return C.MojoResult(res)
	}
	dataPins.lend(mojo.Handle(consumer), b, unsafe.Pointer(buffer))
	*bufferNumBytes = C.uint32_t(len(b))
	return mojoOK
}

//export MojoEndReadData
func MojoEndReadData(consumer C.MojoHandle, numBytesRead C.uint32_t) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	r = C.MojoResult(c.EndReadData(mojo.Handle(consumer), uint32(numBytesRead)))
	dataPins.release(mojo.Handle(consumer))
	return r
}

//export MojoCreateSharedBuffer
func MojoCreateSharedBuffer(options C.capi_const_sb_options_ptr, numBytes C.uint64_t, sharedBufferHandle *C.MojoHandle) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if sharedBufferHandle == nil {
		return mojoInvalidArgument
	}
	var opts *mojo.CreateSharedBufferOptions
	if options != nil {
		if uintptr(unsafe.Pointer(options))%8 != 0 {
			return mojoInvalidArgument
		}
		opts = &mojo.CreateSharedBufferOptions{StructSize: uint32(options.struct_size)}
		if opts.StructSize >= 8 {
			opts.Flags = mojo.CreateSharedBufferOptionsFlags(options.flags)
		}
	}
	h, res := c.CreateSharedBuffer(opts, uint64(numBytes))
	if res == mojo.ResultOK {
		*sharedBufferHandle = C.MojoHandle(h)
	}
	return C.MojoResult(res)
}

//export MojoDuplicateBufferHandle
func MojoDuplicateBufferHandle(bufferHandle C.MojoHandle, options C.capi_const_dup_options_ptr, newBufferHandle *C.MojoHandle) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if newBufferHandle == nil {
		return mojoInvalidArgument
	}
	var opts *mojo.DuplicateBufferHandleOptions
	if options != nil {
		if uintptr(unsafe.Pointer(options))%4 != 0 {
			return mojoInvalidArgument
		}
		opts = &mojo.DuplicateBufferHandleOptions{StructSize: uint32(options.struct_size)}
		if opts.StructSize >= 8 {
			opts.Flags = mojo.DuplicateBufferHandleOptionsFlags(options.flags)
		}
	}
	h, res := c.DuplicateBufferHandle(mojo.Handle(bufferHandle), opts)
	if res == mojo.ResultOK {
		*newBufferHandle = C.MojoHandle(h)
	}
	return C.MojoResult(res)
}

//export MojoMapBuffer
func MojoMapBuffer(bufferHandle C.MojoHandle, offset, numBytes C.uint64_t, buffer *unsafe.Pointer, flags C.MojoMapBufferFlags) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if buffer == nil {
		return mojoInvalidArgument
	}
	b, res := c.MapBuffer(mojo.Handle(bufferHandle), uint64(offset), uint64(numBytes), mojo.MapBufferFlags(flags))
	if res != mojo.ResultOK {
		return C.MojoResult(res)
	}
	p := bytesPtr(b)
	mapPins.pin(uintptr(p), b)
	storePointer(unsafe.Pointer(buffer), p)
	return mojoOK
}

//export MojoUnmapBuffer
func MojoUnmapBuffer(buffer unsafe.Pointer) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if buffer == nil {
		return mojoInvalidArgument
	}
	// The Go API identifies a mapping by the address of its first byte.
	r = C.MojoResult(c.UnmapBuffer(unsafe.Slice((*byte)(buffer), 1)))
	if r == mojoOK {
		mapPins.release(uintptr(buffer))
	}
	return r
}

// platformHandleIn reads a MojoPlatformHandle: nil if p is nil; the
// struct_size is read first and the other fields only if it is 16 (the
// Go side rejects any other size).
func platformHandleIn(p *C.struct_MojoPlatformHandle) *mojo.PlatformHandle {
	if p == nil {
		return nil
	}
	ph := &mojo.PlatformHandle{StructSize: uint32(p.struct_size)}
	if ph.StructSize == mojo.PlatformHandleStructSize {
		ph.Type = mojo.PlatformHandleType(p._type)
		ph.Value = uint64(p.value)
	}
	return ph
}

//export MojoWrapPlatformHandle
func MojoWrapPlatformHandle(platformHandle C.capi_const_platform_handle_ptr, mojoHandle *C.MojoHandle) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if platformHandle == nil || mojoHandle == nil {
		return mojoInvalidArgument
	}
	h, res := c.WrapPlatformHandle(platformHandleIn((*C.struct_MojoPlatformHandle)(unsafe.Pointer(platformHandle))))
	if res == mojo.ResultOK {
		*mojoHandle = C.MojoHandle(h)
	}
	return C.MojoResult(res)
}

//export MojoUnwrapPlatformHandle
func MojoUnwrapPlatformHandle(mojoHandle C.MojoHandle, platformHandle *C.struct_MojoPlatformHandle) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	ph := platformHandleIn(platformHandle)
	res := c.UnwrapPlatformHandle(mojo.Handle(mojoHandle), ph)
	if res == mojo.ResultOK {
		platformHandle._type = C.MojoPlatformHandleType(ph.Type)
		platformHandle.value = C.uint64_t(ph.Value)
	}
	return C.MojoResult(res)
}

//export MojoWrapPlatformSharedBufferHandle
func MojoWrapPlatformSharedBufferHandle(platformHandle C.capi_const_platform_handle_ptr, numBytes C.size_t, flags C.MojoPlatformSharedBufferHandleFlags, mojoHandle *C.MojoHandle) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if platformHandle == nil || mojoHandle == nil {
		return mojoInvalidArgument
	}
	h, res := c.WrapPlatformSharedBufferHandle(platformHandleIn((*C.struct_MojoPlatformHandle)(unsafe.Pointer(platformHandle))),
		uint64(numBytes), mojo.PlatformSharedBufferHandleFlags(flags))
	if res == mojo.ResultOK {
		*mojoHandle = C.MojoHandle(h)
	}
	return C.MojoResult(res)
}

//export MojoUnwrapPlatformSharedBufferHandle
func MojoUnwrapPlatformSharedBufferHandle(mojoHandle C.MojoHandle, platformHandle *C.struct_MojoPlatformHandle, numBytes *C.size_t, flags *C.MojoPlatformSharedBufferHandleFlags) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	ph := platformHandleIn(platformHandle)
	n, f, res := c.UnwrapPlatformSharedBufferHandle(mojo.Handle(mojoHandle), ph)
	if res != mojo.ResultOK {
		return C.MojoResult(res)
	}
	platformHandle._type = C.MojoPlatformHandleType(ph.Type)
	platformHandle.value = C.uint64_t(ph.Value)
	if numBytes != nil {
		*numBytes = C.size_t(n)
	}
	if flags != nil {
		*flags = C.MojoPlatformSharedBufferHandleFlags(f)
	}
	return mojoOK
}

//export MojoCreateWatcher
func MojoCreateWatcher(callback C.MojoWatcherCallback, watcherHandle *C.MojoHandle) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if callback == nil || watcherHandle == nil {
		return mojoInvalidArgument
	}
	h, res := c.CreateWatcher(watcherCallback(callback))
	if res == mojo.ResultOK {
		*watcherHandle = C.MojoHandle(h)
	}
	return C.MojoResult(res)
}

//export MojoWatch
func MojoWatch(watcherHandle, handle C.MojoHandle, signals C.MojoHandleSignals, context C.uintptr_t) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	return C.MojoResult(c.Watch(mojo.Handle(watcherHandle), mojo.Handle(handle), mojo.HandleSignals(signals), uintptr(context)))
}

//export MojoCancelWatch
func MojoCancelWatch(watcherHandle C.MojoHandle, context C.uintptr_t) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	return C.MojoResult(c.CancelWatch(mojo.Handle(watcherHandle), uintptr(context)))
}

//export MojoArmWatcher
func MojoArmWatcher(watcherHandle C.MojoHandle, numReadyContexts *C.uint32_t, readyContexts *C.uintptr_t, readyResults *C.MojoResult, readySignalsStates *C.struct_MojoHandleSignalsState) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	var (
		n        *uint32
		contexts []uintptr
		results  []mojo.Result
		states   []mojo.HandleSignalsState
	)
	if numReadyContexts != nil {
		n = (*uint32)(unsafe.Pointer(numReadyContexts))
		capacity := int(*numReadyContexts)
		if readyContexts != nil {
			contexts = unsafe.Slice((*uintptr)(unsafe.Pointer(readyContexts)), capacity)
		}
		if readyResults != nil {
			results = unsafe.Slice((*mojo.Result)(unsafe.Pointer(readyResults)), capacity)
		}
		if readySignalsStates != nil {
			states = unsafe.Slice((*mojo.HandleSignalsState)(unsafe.Pointer(readySignalsStates)), capacity)
		}
	}
	return C.MojoResult(c.ArmWatcher(mojo.Handle(watcherHandle), n, contexts, results, states))
}
