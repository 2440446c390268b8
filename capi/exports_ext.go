package capi

// Extensions (include/ipcz/ipcz_go_ext.h, include/mojo/ext/invitation.h)
// and the entries of the built-in driver tables. The public extension
// names are checked against their headers as the Mojo functions are; the
// driver entries (capi_drv_*, taking the driver id first) are called by
// the per-driver C wrappers in api.c.

/*
#cgo CFLAGS: -I${SRCDIR} -I${SRCDIR}/../include
#cgo CFLAGS: -Werror=incompatible-pointer-types -Werror=implicit-function-declaration
#include "capi.h"
*/
import "C"

import (
	"os"
	"unsafe"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/multiprocess"
	"github.com/ipcz-go/ipcz-go/mojo"
)

// ---- ipcz extensions ----

//export IpczGoGetDriver
func IpczGoGetDriver(driverID C.IpczGoDriverId, flags C.uint32_t, options C.capi_const_void_ptr, driver C.capi_const_driver_ptr_ptr) (r C.IpczResult) {
	defer guardIpcz(&r)
	if driver == nil || flags != 0 || options != nil || builtinDriver(uint32(driverID)) == nil {
		return ipczInvalidArgument
	}
	storePointer(unsafe.Pointer(driver), unsafe.Pointer(&C.capi_builtin_drivers[driverID]))
	return ipczOK
}

//export IpczGoCreateTransportPair
func IpczGoCreateTransportPair(driverID C.IpczGoDriverId, flags C.uint32_t, options C.capi_const_void_ptr, transport0, transport1 *C.IpczDriverHandle) (r C.IpczResult) {
	defer guardIpcz(&r)
	if transport0 == nil || transport1 == nil || flags != 0 || options != nil {
		return ipczInvalidArgument
	}
	var a, b ipcz.DriverHandle
	switch id := uint32(driverID); id {
	case driverMultiprocess:
		var err error
		if a, b, err = multiprocessDriver().NewTransportPair(); err != nil {
			return ipczResult(err)
		}
	case driverInprocess, driverInprocessAsyn:
		builtinDriver(id)
		a, b = ipDrivers[id].NewTransportPair(false, false)
	default:
		return ipczInvalidArgument
	}
	*transport0, *transport1 = C.IpczDriverHandle(a), C.IpczDriverHandle(b)
	return ipczOK
}

//export IpczGoTransportFromFD
func IpczGoTransportFromFD(fd C.int, flags C.uint32_t, options C.capi_const_void_ptr, transport *C.IpczDriverHandle) (r C.IpczResult) {
	defer guardIpcz(&r)
	if transport == nil || flags != 0 || options != nil {
		return ipczInvalidArgument
	}
	t, err := multiprocessDriver().NewTransportFromFD(int(fd))
	if err != nil {
		return ipczInvalidArgument
	}
	*transport = C.IpczDriverHandle(t)
	return ipczOK
}

//export IpczGoWrapFileDescriptor
func IpczGoWrapFileDescriptor(fd C.int, flags C.uint32_t, options C.capi_const_void_ptr, driverHandle *C.IpczDriverHandle) (r C.IpczResult) {
	defer guardIpcz(&r)
	if driverHandle == nil || flags != 0 || options != nil {
		return ipczInvalidArgument
	}
	h, err := multiprocessDriver().WrapFileDescriptor(int(fd))
	if err != nil {
		return ipczResult(err)
	}
	*driverHandle = C.IpczDriverHandle(h)
	return ipczOK
}

//export IpczGoUnwrapFileDescriptor
func IpczGoUnwrapFileDescriptor(driverHandle C.IpczDriverHandle, flags C.uint32_t, options C.capi_const_void_ptr, fd *C.int) (r C.IpczResult) {
	defer guardIpcz(&r)
	if fd == nil || flags != 0 || options != nil {
		return ipczInvalidArgument
	}
	n, err := multiprocessDriver().UnwrapFileDescriptor(ipcz.DriverHandle(driverHandle))
	if err != nil {
		return ipczResult(err)
	}
	*fd = C.int(n)
	return ipczOK
}

// ---- Mojo extensions: roles and invitations ----

// invitations names the invitations C holds (MojoExtInvitation values):
// *mojo.OutgoingInvitation or *mojo.IncomingInvitation.
var invitations table[any]

//export MojoExtInit
func MojoExtInit(options C.capi_const_init_options_ptr) (r C.MojoResult) {
	defer guardMojo(&r)
	checkTestPanic()
	role := roleDefault
	if options != nil {
		if uintptr(unsafe.Pointer(options))%8 != 0 || options.struct_size < 4 {
			return mojoInvalidArgument
		}
		if options.struct_size >= 8 && options.flags != 0 {
			return mojoInvalidArgument
		}
		if options.struct_size >= 12 {
			role = int(options.role)
		}
		if role != roleDefault && role != roleBroker && role != roleChild {
			return mojoInvalidArgument
		}
	}
	c, started := startCore(role)
	switch {
	case c == nil:
		return mojoInternal
	case !started:
		return mojoFailedPrecond
	}
	return mojoOK
}

//export MojoExtCreateInvitation
func MojoExtCreateInvitation(options C.capi_const_void_ptr, invitation *C.MojoExtInvitation) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if invitation == nil || options != nil {
		return mojoInvalidArgument
	}
	h := invitations.add(c.CreateInvitation())
	if h == 0 {
		return mojoResExhausted
	}
	*invitation = C.MojoExtInvitation(h)
	return mojoOK
}

// invitationName reads an attachment name.
func invitationName(name C.capi_const_void_ptr, n C.uint32_t) (string, bool) {
	if n == 0 {
		return "", true
	}
	if name == nil {
		return "", false
	}
	return string(unsafe.Slice((*byte)(unsafe.Pointer(name)), int(n))), true
}

//export MojoExtAttachMessagePipeToInvitation
func MojoExtAttachMessagePipeToInvitation(invitation C.MojoExtInvitation, name C.capi_const_void_ptr, nameNumBytes C.uint32_t, messagePipeHandle *C.MojoHandle) (r C.MojoResult) {
	defer guardMojo(&r)
	checkTestPanic()
	v, _ := invitations.lookup(uint64(invitation))
	inv, ok := v.(*mojo.OutgoingInvitation)
	s, nameOK := invitationName(name, nameNumBytes)
	if !ok || !nameOK || messagePipeHandle == nil {
		return mojoInvalidArgument
	}
	h, res := inv.AttachMessagePipe(s)
	if res == mojo.ResultOK {
		*messagePipeHandle = C.MojoHandle(h)
	}
	return C.MojoResult(res)
}

// transportFrom adopts a MojoPlatformHandle naming a socket as a transport
// of the multiprocess driver (which owns the descriptor on success).
func transportFrom(ph C.capi_const_platform_handle_ptr) (ipcz.DriverHandle, bool) {
	p := platformHandleIn((*C.struct_MojoPlatformHandle)(unsafe.Pointer(ph)))
	if p == nil || p.StructSize != mojo.PlatformHandleStructSize ||
		p.Type != mojo.PlatformHandleTypeFileDescriptor || p.Value > 1<<31-1 {
		return 0, false
	}
	t, err := multiprocessDriver().NewTransportFromFD(int(p.Value))
	return t, err == nil
}

//export MojoExtSendInvitation
func MojoExtSendInvitation(invitation C.MojoExtInvitation, transportEndpoint C.capi_const_platform_handle_ptr, flags C.MojoExtSendInvitationFlags) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	v, ok := invitations.lookup(uint64(invitation))
	inv, isOut := v.(*mojo.OutgoingInvitation)
	if !ok || !isOut {
		return mojoInvalidArgument
	}
	invitations.remove(uint64(invitation)) // used up whatever happens
	if flags != 0 {
		inv.Close()
		return mojoInvalidArgument
	}
	t, ok := transportFrom(transportEndpoint)
	if !ok {
		inv.Close()
		return mojoInvalidArgument
	}
	var sf mojo.SendInvitationFlags
	if !isBrokerCore() {
		sf = mojo.SendInvitationFlagShareBroker
	}
	res := inv.Send(t, sf)
	if res != mojo.ResultOK {
		_ = multiprocessDriver().Close(t)
	}
	return C.MojoResult(res)
}

//export MojoExtAcceptInvitation
func MojoExtAcceptInvitation(transportEndpoint C.capi_const_platform_handle_ptr, flags C.MojoExtAcceptInvitationFlags, invitation *C.MojoExtInvitation) (r C.MojoResult) {
	defer guardMojo(&r)
	c := getCore()
	if c == nil {
		return mojoInternal
	}
	if invitation == nil || flags&^C.MOJO_EXT_ACCEPT_INVITATION_FLAG_INHERIT_BROKER != 0 {
		return mojoInvalidArgument
	}
	if isBrokerCore() {
		return mojoFailedPrecond
	}
	var t ipcz.DriverHandle
	if transportEndpoint != nil {
		var ok bool
		if t, ok = transportFrom(transportEndpoint); !ok {
			return mojoInvalidArgument
		}
	} else {
		if _, ok := os.LookupEnv(multiprocess.TransportFDEnv); !ok {
			return mojoInvalidArgument
		}
		var err error
		if t, err = multiprocessDriver().TransportFromEnvironment(); err != nil {
			return mojoInvalidArgument
		}
	}
	var af mojo.AcceptInvitationFlags
	if flags&C.MOJO_EXT_ACCEPT_INVITATION_FLAG_INHERIT_BROKER != 0 {
		af = mojo.AcceptInvitationFlagInheritBroker
	}
	in, res := c.AcceptInvitation(t, af)
	if res != mojo.ResultOK {
		_ = multiprocessDriver().Close(t)
		return C.MojoResult(res)
	}
	h := invitations.add(in)
	if h == 0 {
		in.Close()
		return mojoResExhausted
	}
	*invitation = C.MojoExtInvitation(h)
	return mojoOK
}

//export MojoExtExtractMessagePipeFromInvitation
func MojoExtExtractMessagePipeFromInvitation(invitation C.MojoExtInvitation, name C.capi_const_void_ptr, nameNumBytes C.uint32_t, messagePipeHandle *C.MojoHandle) (r C.MojoResult) {
	defer guardMojo(&r)
	checkTestPanic()
	v, _ := invitations.lookup(uint64(invitation))
	inv, ok := v.(*mojo.IncomingInvitation)
	s, nameOK := invitationName(name, nameNumBytes)
	if !ok || !nameOK || messagePipeHandle == nil {
		return mojoInvalidArgument
	}
	h, res := inv.ExtractMessagePipe(s)
	if res == mojo.ResultOK {
		*messagePipeHandle = C.MojoHandle(h)
	}
	return C.MojoResult(res)
}

//export MojoExtCloseInvitation
func MojoExtCloseInvitation(invitation C.MojoExtInvitation) (r C.MojoResult) {
	defer guardMojo(&r)
	checkTestPanic()
	v, ok := invitations.remove(uint64(invitation))
	if !ok {
		return mojoInvalidArgument
	}
	switch inv := v.(type) {
	case *mojo.OutgoingInvitation:
		inv.Close()
	case *mojo.IncomingInvitation:
		inv.Close()
	}
	return mojoOK
}

// ---- entries of the built-in driver tables ----

// drvPins pins what MapSharedMemory hands to C, by (driver, mapping),
// until the mapping is closed.
var drvPins pinTable[[2]uintptr]

func drv(id C.uint32_t) ipcz.Driver {
	checkTestPanic()
	return builtinDriver(uint32(id))
}

//export capi_drv_Close
func capi_drv_Close(id C.uint32_t, handle C.IpczDriverHandle, flags C.uint32_t, options C.capi_const_void_ptr) (r C.IpczResult) {
	defer guardIpcz(&r)
	r = ipczResult(drv(id).Close(ipcz.DriverHandle(handle)))
	if r == ipczOK {
		drvPins.release([2]uintptr{uintptr(id), uintptr(handle)})
	}
	return r
}

//export capi_drv_Serialize
func capi_drv_Serialize(id C.uint32_t, handle, transport C.IpczDriverHandle, flags C.uint32_t, options C.capi_const_void_ptr, data unsafe.Pointer, numBytes *C.size_t, handles *C.IpczDriverHandle, numHandles *C.size_t) (r C.IpczResult) {
	defer guardIpcz(&r)
	var bcap, hcap C.size_t
	if numBytes != nil {
		bcap = *numBytes
	}
	if numHandles != nil {
		hcap = *numHandles
	}
	if (bcap > 0 && data == nil) || (hcap > 0 && handles == nil) || bcap > maxCount || hcap > maxCount {
		return ipczInvalidArgument
	}
	var buf []byte
	if bcap > 0 {
		buf = unsafe.Slice((*byte)(data), int(bcap))
	}
	var hs []ipcz.DriverHandle
	if hcap > 0 {
		hs = unsafe.Slice((*ipcz.DriverHandle)(unsafe.Pointer(handles)), int(hcap))
	}
	nb, nh, err := drv(id).Serialize(ipcz.DriverHandle(handle), ipcz.DriverHandle(transport), buf, hs)
	if err == nil || err == ipcz.ResourceExhausted {
		if numBytes != nil {
			*numBytes = C.size_t(nb)
		}
		if numHandles != nil {
			*numHandles = C.size_t(nh)
		}
	}
	return ipczResult(err)
}

//export capi_drv_Deserialize
func capi_drv_Deserialize(id C.uint32_t, data C.capi_const_void_ptr, numBytes C.size_t, handles C.capi_const_driver_handle_ptr, numHandles C.size_t, transport C.IpczDriverHandle, flags C.uint32_t, options C.capi_const_void_ptr, handle *C.IpczDriverHandle) (r C.IpczResult) {
	defer guardIpcz(&r)
	if handle == nil || (numBytes > 0 && data == nil) || (numHandles > 0 && handles == nil) ||
		numBytes > maxCount || numHandles > maxCount {
		return ipczInvalidArgument
	}
	var buf []byte
	if numBytes > 0 {
		buf = unsafe.Slice((*byte)(unsafe.Pointer(data)), int(numBytes))
	}
	var hs []ipcz.DriverHandle
	if numHandles > 0 {
		hs = unsafe.Slice((*ipcz.DriverHandle)(unsafe.Pointer(handles)), int(numHandles))
	}
	h, err := drv(id).Deserialize(buf, hs, ipcz.DriverHandle(transport))
	if err == nil {
		*handle = C.IpczDriverHandle(h)
	}
	return ipczResult(err)
}

//export capi_drv_CreateTransports
func capi_drv_CreateTransports(id C.uint32_t, transport0, transport1 C.IpczDriverHandle, flags C.uint32_t, options C.capi_const_void_ptr, newTransport0, newTransport1 *C.IpczDriverHandle) (r C.IpczResult) {
	defer guardIpcz(&r)
	if newTransport0 == nil || newTransport1 == nil {
		return ipczInvalidArgument
	}
	a, b, err := drv(id).CreateTransports(ipcz.DriverHandle(transport0), ipcz.DriverHandle(transport1))
	if err == nil {
		*newTransport0, *newTransport1 = C.IpczDriverHandle(a), C.IpczDriverHandle(b)
	}
	return ipczResult(err)
}

//export capi_drv_ActivateTransport
func capi_drv_ActivateTransport(id C.uint32_t, driverTransport C.IpczDriverHandle, transport C.IpczHandle, activityHandler C.IpczTransportActivityHandler, flags C.uint32_t, options C.capi_const_void_ptr) (r C.IpczResult) {
	defer guardIpcz(&r)
	if activityHandler == nil {
		return ipczInvalidArgument
	}
	return ipczResult(drv(id).ActivateTransport(ipcz.DriverHandle(driverTransport), activityCaller(activityHandler, transport)))
}

//export capi_drv_DeactivateTransport
func capi_drv_DeactivateTransport(id C.uint32_t, driverTransport C.IpczDriverHandle, flags C.uint32_t, options C.capi_const_void_ptr) (r C.IpczResult) {
	defer guardIpcz(&r)
	return ipczResult(drv(id).DeactivateTransport(ipcz.DriverHandle(driverTransport)))
}

//export capi_drv_Transmit
func capi_drv_Transmit(id C.uint32_t, driverTransport C.IpczDriverHandle, data C.capi_const_void_ptr, numBytes C.size_t, driverHandles C.capi_const_driver_handle_ptr, numDriverHandles C.size_t, flags C.uint32_t, options C.capi_const_void_ptr) (r C.IpczResult) {
	defer guardIpcz(&r)
	if (numBytes > 0 && data == nil) || (numDriverHandles > 0 && driverHandles == nil) ||
		numBytes > maxCount || numDriverHandles > maxCount {
		return ipczInvalidArgument
	}
	var buf []byte
	if numBytes > 0 {
		buf = unsafe.Slice((*byte)(unsafe.Pointer(data)), int(numBytes))
	}
	var hs []ipcz.DriverHandle
	if numDriverHandles > 0 {
		hs = unsafe.Slice((*ipcz.DriverHandle)(unsafe.Pointer(driverHandles)), int(numDriverHandles))
	}
	return ipczResult(drv(id).Transmit(ipcz.DriverHandle(driverTransport), buf, hs))
}

//export capi_drv_ReportBadTransportActivity
func capi_drv_ReportBadTransportActivity(id C.uint32_t, transport C.IpczDriverHandle, context C.uintptr_t, flags C.uint32_t, options C.capi_const_void_ptr) (r C.IpczResult) {
	defer guardIpcz(&r)
	return ipczResult(drv(id).ReportBadTransportActivity(ipcz.DriverHandle(transport), uintptr(context)))
}

//export capi_drv_AllocateSharedMemory
func capi_drv_AllocateSharedMemory(id C.uint32_t, numBytes C.size_t, flags C.uint32_t, options C.capi_const_void_ptr, driverMemory *C.IpczDriverHandle) (r C.IpczResult) {
	defer guardIpcz(&r)
	if driverMemory == nil || numBytes > maxCount {
		return ipczInvalidArgument
	}
	h, err := drv(id).AllocateSharedMemory(int(numBytes))
	if err == nil {
		*driverMemory = C.IpczDriverHandle(h)
	}
	return ipczResult(err)
}

//export capi_drv_GetSharedMemoryInfo
func capi_drv_GetSharedMemoryInfo(id C.uint32_t, driverMemory C.IpczDriverHandle, flags C.uint32_t, options C.capi_const_void_ptr, info *C.struct_IpczSharedMemoryInfo) (r C.IpczResult) {
	defer guardIpcz(&r)
	if info == nil || info.size < C.sizeof_struct_IpczSharedMemoryInfo {
		return ipczInvalidArgument
	}
	i, err := drv(id).GetSharedMemoryInfo(ipcz.DriverHandle(driverMemory))
	if err == nil {
		info.size = C.sizeof_struct_IpczSharedMemoryInfo
		info.region_num_bytes = C.size_t(i.RegionNumBytes)
	}
	return ipczResult(err)
}

//export capi_drv_DuplicateSharedMemory
func capi_drv_DuplicateSharedMemory(id C.uint32_t, driverMemory C.IpczDriverHandle, flags C.uint32_t, options C.capi_const_void_ptr, newDriverMemory *C.IpczDriverHandle) (r C.IpczResult) {
	defer guardIpcz(&r)
	if newDriverMemory == nil {
		return ipczInvalidArgument
	}
	h, err := drv(id).DuplicateSharedMemory(ipcz.DriverHandle(driverMemory))
	if err == nil {
		*newDriverMemory = C.IpczDriverHandle(h)
	}
	return ipczResult(err)
}

//export capi_drv_MapSharedMemory
func capi_drv_MapSharedMemory(id C.uint32_t, driverMemory C.IpczDriverHandle, flags C.uint32_t, options C.capi_const_void_ptr, address *unsafe.Pointer, driverMapping *C.IpczDriverHandle) (r C.IpczResult) {
	defer guardIpcz(&r)
	if address == nil || driverMapping == nil {
		return ipczInvalidArgument
	}
	m, b, err := drv(id).MapSharedMemory(ipcz.DriverHandle(driverMemory))
	if err != nil {
		return ipczResult(err)
	}
	drvPins.lend([2]uintptr{uintptr(id), uintptr(m)}, b, unsafe.Pointer(address))
	*driverMapping = C.IpczDriverHandle(m)
	return ipczOK
}

//export capi_drv_GenerateRandomBytes
func capi_drv_GenerateRandomBytes(id C.uint32_t, numBytes C.size_t, flags C.uint32_t, options C.capi_const_void_ptr, buffer unsafe.Pointer) (r C.IpczResult) {
	defer guardIpcz(&r)
	if (numBytes > 0 && buffer == nil) || numBytes > maxCount {
		return ipczInvalidArgument
	}
	if numBytes == 0 {
		return ipczOK
	}
	return ipczResult(drv(id).GenerateRandomBytes(unsafe.Slice((*byte)(buffer), int(numBytes))))
}
