package capi

// The 16 functions of the ipcz API table (IpczGetAPI, in api.c, fills a
// caller's IpczAPI with their addresses), and the activity handler given to
// C drivers. They are exported under internal names, which the version
// script keeps out of the library's dynamic symbols; api.c assigns each to
// its table member, so -Werror=incompatible-pointer-types checks every
// signature against the header.

/*
#cgo CFLAGS: -I${SRCDIR} -I${SRCDIR}/../include
#cgo CFLAGS: -Werror=incompatible-pointer-types -Werror=implicit-function-declaration
#include "capi.h"
*/
import "C"

import (
	"unsafe"

	"github.com/ipcz-go/ipcz-go/ipcz"
)

const (
	ipczOK                = C.IpczResult(C.IPCZ_RESULT_OK)
	ipczInvalidArgument   = C.IpczResult(C.IPCZ_RESULT_INVALID_ARGUMENT)
	ipczFailedPrecond     = C.IpczResult(C.IPCZ_RESULT_FAILED_PRECONDITION)
	ipczResourceExhausted = C.IpczResult(C.IPCZ_RESULT_RESOURCE_EXHAUSTED)
	ipczInternal          = C.IpczResult(C.IPCZ_RESULT_INTERNAL)

	sizeofPortalStatus   = C.sizeof_struct_IpczPortalStatus
	sizeofTrapConditions = C.sizeof_struct_IpczTrapConditions
	sizeofPutOptions     = C.sizeof_struct_IpczPutOptions
	sizeofPutLimits      = C.sizeof_struct_IpczPutLimits
	sizeofDriver         = C.sizeof_struct_IpczDriver

	// maxCount bounds sizes and counts from C before they become Go ints
	// and slice lengths: nothing real comes near it.
	maxCount = 1 << 40
)

// objects names every ipcz object C holds: nodes, portals, boxes and
// validators. An IpczHandle is an index in it, never a Go pointer.
var objects table[ipcz.Object]

// portalPins pins two-phase put and get buffers by portal handle.
var portalPins pinTable[C.IpczHandle]

func ipczResult(err error) C.IpczResult {
	if err == nil {
		return ipczOK
	}
	if r, ok := err.(ipcz.Result); ok {
		return C.IpczResult(r)
	}
	return C.IpczResult(ipcz.ResultOf(err))
}

func lookupObject(h C.IpczHandle) ipcz.Object {
	checkTestPanic()
	o, _ := objects.lookup(uint64(h))
	return o
}

func portalOf(h C.IpczHandle) *ipcz.Portal {
	p, _ := lookupObject(h).(*ipcz.Portal)
	return p
}

func nodeOf(h C.IpczHandle) *ipcz.Node {
	n, _ := lookupObject(h).(*ipcz.Node)
	return n
}

// addObjects gives each object a handle and writes the handles to out;
// if the table is full, the objects are closed.
func addObjects(objs []ipcz.Object, out *C.IpczHandle) C.IpczResult {
	hs := unsafe.Slice(out, len(objs))
	for i, o := range objs {
		h := objects.add(o)
		if h == 0 {
			for j := range i {
				if o, ok := objects.remove(uint64(hs[j])); ok {
					_ = o.Close()
				}
			}
			for _, o := range objs[i:] {
				_ = o.Close()
			}
			return ipczResourceExhausted
		}
		hs[i] = C.IpczHandle(h)
	}
	return ipczOK
}

// attached looks up the handles attached to a put.
func attached(handles C.capi_const_ipcz_handle_ptr, n C.size_t) ([]ipcz.Object, []C.IpczHandle, bool) {
	if n == 0 {
		return nil, nil, true
	}
	if handles == nil || n > maxCount {
		return nil, nil, false
	}
	hs := unsafe.Slice((*C.IpczHandle)(unsafe.Pointer(handles)), int(n))
	objs := make([]ipcz.Object, len(hs))
	for i, h := range hs {
		if objs[i] = lookupObject(h); objs[i] == nil {
			return nil, nil, false
		}
	}
	return objs, hs, true
}

// detach removes the handles of objects that a successful put consumed.
func detach(hs []C.IpczHandle, objs []ipcz.Object) {
	for i, h := range hs {
		o := objs[i]
		objects.removeIf(uint64(h), func(v ipcz.Object) bool { return v == o })
	}
}

// putLimits reads IpczPutOptions/IpczBeginPutOptions (same layout): the
// struct and its limits must each be at least their version-0 size.
func putLimits(options unsafe.Pointer) (*ipcz.PutLimits, bool) {
	if options == nil {
		return nil, true
	}
	o := (*C.struct_IpczPutOptions)(options)
	if o.size < sizeofPutOptions {
		return nil, false
	}
	if o.limits == nil {
		return nil, true
	}
	l := o.limits
	if l.size < sizeofPutLimits {
		return nil, false
	}
	return &ipcz.PutLimits{
		MaxQueuedParcels: clampInt(l.max_queued_parcels),
		MaxQueuedBytes:   clampInt(l.max_queued_bytes),
	}, true
}

func clampInt(n C.size_t) int {
	if n > maxCount {
		return maxCount
	}
	return int(n)
}

func writeStatus(out *C.struct_IpczPortalStatus, s *ipcz.PortalStatus) {
	out.size = sizeofPortalStatus
	out.flags = C.IpczPortalStatusFlags(s.Flags)
	out.num_local_parcels = C.size_t(s.NumLocalParcels)
	out.num_local_bytes = C.size_t(s.NumLocalBytes)
	out.num_remote_parcels = C.size_t(s.NumRemoteParcels)
	out.num_remote_bytes = C.size_t(s.NumRemoteBytes)
}

//export capi_ipcz_Close
func capi_ipcz_Close(handle C.IpczHandle, flags C.uint32_t, options C.capi_const_void_ptr) (r C.IpczResult) {
	defer guardIpcz(&r)
	checkTestPanic()
	o, ok := objects.remove(uint64(handle))
	if !ok {
		return ipczInvalidArgument
	}
	portalPins.release(handle)
	return ipczResult(o.Close())
}

//export capi_ipcz_CreateNode
func capi_ipcz_CreateNode(driver C.capi_const_driver_ptr, driverNode C.IpczDriverHandle, flags C.IpczCreateNodeFlags, options C.capi_const_void_ptr, node *C.IpczHandle) (r C.IpczResult) {
	defer guardIpcz(&r)
	checkTestPanic()
	if node == nil || driver == nil {
		return ipczInvalidArgument
	}
	d := goDriverOf(driver)
	if d == nil {
		return ipczInvalidArgument
	}
	n, err := ipcz.CreateNode(d, ipcz.DriverHandle(driverNode), ipcz.CreateNodeFlags(flags))
	if err != nil {
		return ipczResult(err)
	}
	h := objects.add(n)
	if h == 0 {
		_ = n.Close()
		return ipczResourceExhausted
	}
	*node = C.IpczHandle(h)
	return ipczOK
}

// goDriverOf returns the ipcz.Driver behind an IpczDriver table: the Go
// driver itself for a built-in table, a cDriver over a copy of any other;
// nil if the table is too small or lacks a required entry.
func goDriverOf(driver C.capi_const_driver_ptr) ipcz.Driver {
	for id := uint32(1); id < numBuiltinDrivers; id++ {
		if unsafe.Pointer(driver) == unsafe.Pointer(&C.capi_builtin_drivers[id]) {
			return builtinDriver(id)
		}
	}
	if driver.size < sizeofDriver {
		return nil
	}
	d := &cDriver{tbl: *(*C.struct_IpczDriver)(unsafe.Pointer(driver))}
	t := &d.tbl
	if t.Close == nil || t.Serialize == nil || t.Deserialize == nil || t.CreateTransports == nil ||
		t.ActivateTransport == nil || t.DeactivateTransport == nil || t.Transmit == nil ||
		t.AllocateSharedMemory == nil || t.GetSharedMemoryInfo == nil ||
		t.DuplicateSharedMemory == nil || t.MapSharedMemory == nil || t.GenerateRandomBytes == nil {
		return nil
	}
	return d
}

//export capi_ipcz_ConnectNode
func capi_ipcz_ConnectNode(node C.IpczHandle, driverTransport C.IpczDriverHandle, numInitialPortals C.size_t, flags C.IpczConnectNodeFlags, options C.capi_const_void_ptr, initialPortals *C.IpczHandle) (r C.IpczResult) {
	defer guardIpcz(&r)
	n := nodeOf(node)
	if n == nil || initialPortals == nil {
		return ipczInvalidArgument
	}
	count := clampInt(numInitialPortals)
	ps, err := n.ConnectNode(ipcz.DriverHandle(driverTransport), count, ipcz.ConnectNodeFlags(flags))
	if err != nil {
		return ipczResult(err)
	}
	objs := make([]ipcz.Object, len(ps))
	for i, p := range ps {
		objs[i] = p
	}
	return addObjects(objs, initialPortals)
}

//export capi_ipcz_OpenPortals
func capi_ipcz_OpenPortals(node C.IpczHandle, flags C.uint32_t, options C.capi_const_void_ptr, portal0, portal1 *C.IpczHandle) (r C.IpczResult) {
	defer guardIpcz(&r)
	n := nodeOf(node)
	if n == nil || portal0 == nil || portal1 == nil {
		return ipczInvalidArgument
	}
	a, b, err := n.OpenPortals()
	if err != nil {
		return ipczResult(err)
	}
	var hs [2]C.IpczHandle
	if r := addObjects([]ipcz.Object{a, b}, &hs[0]); r != ipczOK {
		return r
	}
	*portal0, *portal1 = hs[0], hs[1]
	return ipczOK
}

//export capi_ipcz_MergePortals
func capi_ipcz_MergePortals(first, second C.IpczHandle, flags C.uint32_t, options C.capi_const_void_ptr) (r C.IpczResult) {
	defer guardIpcz(&r)
	a, b := portalOf(first), portalOf(second)
	if a == nil || b == nil {
		return ipczInvalidArgument
	}
	if err := ipcz.MergePortals(a, b); err != nil {
		return ipczResult(err)
	}
	detach([]C.IpczHandle{first, second}, []ipcz.Object{a, b})
	return ipczOK
}

//export capi_ipcz_QueryPortalStatus
func capi_ipcz_QueryPortalStatus(portal C.IpczHandle, flags C.uint32_t, options C.capi_const_void_ptr, status *C.struct_IpczPortalStatus) (r C.IpczResult) {
	defer guardIpcz(&r)
	p := portalOf(portal)
	if p == nil || status == nil || status.size < sizeofPortalStatus {
		return ipczInvalidArgument
	}
	s, err := p.QueryStatus()
	if err != nil {
		return ipczResult(err)
	}
	writeStatus(status, &s)
	return ipczOK
}

//export capi_ipcz_Put
func capi_ipcz_Put(portal C.IpczHandle, data C.capi_const_void_ptr, numBytes C.size_t, handles C.capi_const_ipcz_handle_ptr, numHandles C.size_t, flags C.uint32_t, options C.capi_const_put_options_ptr) (r C.IpczResult) {
	defer guardIpcz(&r)
	p := portalOf(portal)
	if p == nil || (numBytes > 0 && data == nil) || numBytes > maxCount {
		return ipczInvalidArgument
	}
	limits, ok := putLimits(unsafe.Pointer(options))
	if !ok {
		return ipczInvalidArgument
	}
	objs, hs, ok := attached(handles, numHandles)
	if !ok {
		return ipczInvalidArgument
	}
	var bytes []byte
	if numBytes > 0 {
		bytes = unsafe.Slice((*byte)(unsafe.Pointer(data)), int(numBytes))
	}
	if err := p.Put(bytes, objs, limits); err != nil {
		return ipczResult(err)
	}
	detach(hs, objs)
	return ipczOK
}

//export capi_ipcz_BeginPut
func capi_ipcz_BeginPut(portal C.IpczHandle, flags C.IpczBeginPutFlags, options C.capi_const_begin_put_options_ptr, numBytes *C.size_t, data *unsafe.Pointer) (r C.IpczResult) {
	defer guardIpcz(&r)
	p := portalOf(portal)
	var n C.size_t
	if numBytes != nil {
		n = *numBytes
	}
	if p == nil || (n > 0 && data == nil) || n > maxCount {
		return ipczInvalidArgument
	}
	limits, ok := putLimits(unsafe.Pointer(options))
	if !ok {
		return ipczInvalidArgument
	}
	buf, err := p.BeginPut(int(n), ipcz.BeginPutFlags(flags), limits)
	if err != nil {
		return ipczResult(err)
	}
	portalPins.lend(portal, buf, unsafe.Pointer(data))
	if numBytes != nil {
		*numBytes = C.size_t(len(buf))
	}
	return ipczOK
}

//export capi_ipcz_EndPut
func capi_ipcz_EndPut(portal C.IpczHandle, numBytesProduced C.size_t, handles C.capi_const_ipcz_handle_ptr, numHandles C.size_t, flags C.IpczEndPutFlags, options C.capi_const_void_ptr) (r C.IpczResult) {
	defer guardIpcz(&r)
	p := portalOf(portal)
	if p == nil {
		return ipczInvalidArgument
	}
	var objs []ipcz.Object
	var hs []C.IpczHandle
	if ipcz.EndPutFlags(flags)&ipcz.EndPutAbort == 0 {
		var ok bool
		if objs, hs, ok = attached(handles, numHandles); !ok || numBytesProduced > maxCount {
			return ipczInvalidArgument
		}
	}
	err := p.EndPut(int(numBytesProduced), objs, ipcz.EndPutFlags(flags))
	switch err {
	case nil:
		detach(hs, objs)
		portalPins.release(portal)
	case ipcz.FailedPrecondition:
		portalPins.release(portal) // no put in progress
	}
	return ipczResult(err)
}

//export capi_ipcz_Get
func capi_ipcz_Get(portal C.IpczHandle, flags C.IpczGetFlags, options C.capi_const_void_ptr, data unsafe.Pointer, numBytes *C.size_t, handles *C.IpczHandle, numHandles *C.size_t, validator *C.IpczHandle) (r C.IpczResult) {
	defer guardIpcz(&r)
	p := portalOf(portal)
	var bcap, hcap C.size_t
	if numBytes != nil {
		bcap = *numBytes
	}
	if numHandles != nil {
		hcap = *numHandles
	}
	if p == nil || (bcap > 0 && data == nil) || (hcap > 0 && handles == nil) || bcap > maxCount || hcap > maxCount {
		return ipczInvalidArgument
	}
	var buf []byte
	if bcap > 0 {
		buf = unsafe.Slice((*byte)(data), int(bcap))
	}
	partial := ipcz.GetFlags(flags)&ipcz.GetPartial != 0
	// Room for objects: the caller's capacity, bounded so that a large
	// capacity does not cost a large allocation on every call; a parcel
	// that needs more (without GET_PARTIAL) is retried with what it needs.
	room := min(int(hcap), 64)
	if partial {
		room = min(int(hcap), 1<<16)
	}
	var (
		nb, no int
		v      *ipcz.Validator
		objs   []ipcz.Object
		err    error
	)
	for attempt := 0; ; attempt++ {
		if room > 0 {
			objs = make([]ipcz.Object, room)
		}
		if validator != nil {
			nb, no, v, err = p.GetValidated(ipcz.GetFlags(flags), buf, objs)
		} else {
			nb, no, err = p.Get(ipcz.GetFlags(flags), buf, objs)
		}
		if err == ipcz.ResourceExhausted && !partial && no > room && no <= int(hcap) && nb <= int(bcap) && attempt < 8 {
			room = no
			continue
		}
		break
	}
	switch err {
	case nil:
	case ipcz.ResourceExhausted:
		if numBytes != nil {
			*numBytes = C.size_t(nb)
		}
		if numHandles != nil {
			*numHandles = C.size_t(no)
		}
		return ipczResourceExhausted
	default:
		return ipczResult(err)
	}
	if no > 0 {
		if r := addObjects(objs[:no], handles); r != ipczOK {
			if v != nil {
				_ = v.Close()
			}
			return r
		}
	}
	if numBytes != nil {
		*numBytes = C.size_t(nb)
	}
	if numHandles != nil {
		*numHandles = C.size_t(no)
	}
	if validator != nil {
		*validator = addValidator(v)
	}
	return ipczOK
}

// addValidator gives a validator a handle (0 if the table is full).
func addValidator(v *ipcz.Validator) C.IpczHandle {
	if v == nil {
		return 0
	}
	h := objects.add(v)
	if h == 0 {
		_ = v.Close()
	}
	return C.IpczHandle(h)
}

//export capi_ipcz_BeginGet
func capi_ipcz_BeginGet(portal C.IpczHandle, flags C.uint32_t, options C.capi_const_void_ptr, data C.capi_const_void_ptr_ptr, numBytes *C.size_t, numHandles *C.size_t) (r C.IpczResult) {
	defer guardIpcz(&r)
	p := portalOf(portal)
	if p == nil {
		return ipczInvalidArgument
	}
	buf, no, err := p.BeginGet(data != nil && numBytes != nil, numHandles != nil)
	if err != nil {
		return ipczResult(err)
	}
	portalPins.lend(portal, buf, unsafe.Pointer(data))
	if numBytes != nil {
		*numBytes = C.size_t(len(buf))
	}
	if numHandles != nil {
		*numHandles = C.size_t(no)
	}
	return ipczOK
}

//export capi_ipcz_EndGet
func capi_ipcz_EndGet(portal C.IpczHandle, numBytesConsumed, numHandles C.size_t, flags C.IpczEndGetFlags, options C.capi_const_void_ptr, handles *C.IpczHandle, validator *C.IpczHandle) (r C.IpczResult) {
	defer guardIpcz(&r)
	p := portalOf(portal)
	if p == nil {
		return ipczInvalidArgument
	}
	abort := ipcz.EndGetFlags(flags)&ipcz.EndGetAbort != 0
	if !abort && ((numHandles > 0 && handles == nil) || numHandles > maxCount || numBytesConsumed > maxCount) {
		return ipczInvalidArgument
	}
	if abort {
		numBytesConsumed, numHandles = 0, 0
	}
	var (
		objs []ipcz.Object
		v    *ipcz.Validator
		err  error
	)
	if validator != nil && !abort {
		objs, v, err = p.EndGetValidated(int(numBytesConsumed), int(numHandles), ipcz.EndGetFlags(flags))
	} else {
		objs, err = p.EndGet(int(numBytesConsumed), int(numHandles), ipcz.EndGetFlags(flags))
	}
	switch err {
	case nil:
		portalPins.release(portal)
	case ipcz.FailedPrecondition:
		portalPins.release(portal)
		return ipczFailedPrecond
	default:
		return ipczResult(err)
	}
	if len(objs) > 0 {
		if r := addObjects(objs, handles); r != ipczOK {
			if v != nil {
				_ = v.Close()
			}
			return r
		}
	}
	if validator != nil && !abort {
		*validator = addValidator(v)
	}
	return ipczOK
}

//export capi_ipcz_Trap
func capi_ipcz_Trap(portal C.IpczHandle, conditions C.capi_const_trap_conditions_ptr, handler C.IpczTrapEventHandler, context C.uintptr_t, flags C.uint32_t, options C.capi_const_void_ptr, satisfiedConditionFlags *C.IpczTrapConditionFlags, status *C.struct_IpczPortalStatus) (r C.IpczResult) {
	defer guardIpcz(&r)
	p := portalOf(portal)
	if p == nil || conditions == nil || handler == nil || conditions.size < sizeofTrapConditions ||
		(status != nil && status.size < sizeofPortalStatus) {
		return ipczInvalidArgument
	}
	conds := ipcz.TrapConditions{
		Flags:            ipcz.TrapConditionFlags(conditions.flags),
		MinLocalParcels:  clampInt(conditions.min_local_parcels),
		MinLocalBytes:    clampInt(conditions.min_local_bytes),
		MaxRemoteParcels: clampInt(conditions.max_remote_parcels),
		MaxRemoteBytes:   clampInt(conditions.max_remote_bytes),
	}
	sat, st, err := p.Trap(&conds, trapHandler(handler), uintptr(context))
	if err == ipcz.FailedPrecondition {
		if satisfiedConditionFlags != nil {
			*satisfiedConditionFlags = C.IpczTrapConditionFlags(sat)
		}
		if status != nil {
			writeStatus(status, &st)
		}
	}
	return ipczResult(err)
}

//export capi_ipcz_Reject
func capi_ipcz_Reject(validator C.IpczHandle, context C.uintptr_t, flags C.uint32_t, options C.capi_const_void_ptr) (r C.IpczResult) {
	defer guardIpcz(&r)
	v, _ := lookupObject(validator).(*ipcz.Validator)
	if v == nil {
		return ipczInvalidArgument
	}
	return ipczResult(v.Reject(uintptr(context)))
}

//export capi_ipcz_Box
func capi_ipcz_Box(node C.IpczHandle, driverHandle C.IpczDriverHandle, flags C.uint32_t, options C.capi_const_void_ptr, handle *C.IpczHandle) (r C.IpczResult) {
	defer guardIpcz(&r)
	n := nodeOf(node)
	if n == nil || handle == nil {
		return ipczInvalidArgument
	}
	b, err := n.Box(ipcz.DriverHandle(driverHandle))
	if err != nil {
		return ipczResult(err)
	}
	h := objects.add(b)
	if h == 0 {
		_, _ = b.Unbox(0) // the caller keeps the driver object
		return ipczResourceExhausted
	}
	*handle = C.IpczHandle(h)
	return ipczOK
}

//export capi_ipcz_Unbox
func capi_ipcz_Unbox(handle C.IpczHandle, flags C.IpczUnboxFlags, options C.capi_const_void_ptr, driverHandle *C.IpczDriverHandle) (r C.IpczResult) {
	defer guardIpcz(&r)
	b, _ := lookupObject(handle).(*ipcz.Box)
	if b == nil || driverHandle == nil {
		return ipczInvalidArgument
	}
	if ipcz.UnboxFlags(flags)&ipcz.UnboxPeek == 0 {
		if !objects.removeIf(uint64(handle), func(o ipcz.Object) bool { return o == ipcz.Object(b) }) {
			return ipczInvalidArgument
		}
	}
	dh, err := b.Unbox(ipcz.UnboxFlags(flags))
	if err != nil {
		return ipczResult(err)
	}
	*driverHandle = C.IpczDriverHandle(dh)
	return ipczOK
}

// capi_activity is the IpczTransportActivityHandler of every transport
// activated through a C driver: `transport` names the listener that
// cDriver.ActivateTransport registered. The C driver may call it from any
// thread, re-entrantly (from inside Transmit), but not concurrently for
// one transport.
//
//export capi_activity
func capi_activity(transport C.IpczHandle, data C.capi_const_void_ptr, numBytes C.size_t, driverHandles C.capi_const_driver_handle_ptr, numDriverHandles C.size_t, flags C.IpczTransportActivityFlags, options C.capi_const_void_ptr) (r C.IpczResult) {
	defer guardIpcz(&r)
	checkTestPanic()
	l, ok := listeners.lookup(uint64(transport))
	if !ok || (numBytes > 0 && data == nil) || (numDriverHandles > 0 && driverHandles == nil) ||
		numBytes > maxCount || numDriverHandles > maxCount {
		return ipczInvalidArgument
	}
	var bytes []byte
	if numBytes > 0 {
		bytes = unsafe.Slice((*byte)(unsafe.Pointer(data)), int(numBytes))
	}
	var hs []ipcz.DriverHandle
	if numDriverHandles > 0 {
		hs = unsafe.Slice((*ipcz.DriverHandle)(unsafe.Pointer(driverHandles)), int(numDriverHandles))
	}
	err := l.handler(bytes, hs, ipcz.TransportActivityFlags(flags))
	if ipcz.TransportActivityFlags(flags)&ipcz.TransportActivityDeactivated != 0 {
		listeners.remove(uint64(transport))
	}
	return ipczResult(err)
}
