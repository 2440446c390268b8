package capi

// Trampolines: cgo cannot call a C function pointer, so each signature the
// library calls (watcher callbacks, trap handlers, the 13 entries of an
// application's IpczDriver, activity handlers) has a static inline C
// function here that takes the pointer and its arguments and makes the
// call. This file has no exports: its preamble may define functions.

/*
#cgo CFLAGS: -I${SRCDIR} -I${SRCDIR}/../include
#cgo CFLAGS: -Werror=incompatible-pointer-types -Werror=implicit-function-declaration
#include "capi.h"

static inline void capi_call_watcher(MojoWatcherCallback cb, uintptr_t context,
                                     MojoResult result,
                                     MojoHandleSignals satisfied,
                                     MojoHandleSignals satisfiable,
                                     MojoWatcherNotificationFlags flags) {
  struct MojoHandleSignalsState state;
  state.satisfied_signals = satisfied;
  state.satisfiable_signals = satisfiable;
  cb(context, result, state, flags);
}

static inline void capi_call_trap(IpczTrapEventHandler handler,
                                  uintptr_t context,
                                  IpczTrapConditionFlags condition_flags,
                                  IpczPortalStatusFlags status_flags,
                                  size_t local_parcels, size_t local_bytes,
                                  size_t remote_parcels, size_t remote_bytes) {
  struct IpczPortalStatus status;
  struct IpczTrapEvent event;
  memset(&status, 0, sizeof status);
  memset(&event, 0, sizeof event);
  status.size = sizeof status;
  status.flags = status_flags;
  status.num_local_parcels = local_parcels;
  status.num_local_bytes = local_bytes;
  status.num_remote_parcels = remote_parcels;
  status.num_remote_bytes = remote_bytes;
  event.size = sizeof event;
  event.context = context;
  event.condition_flags = condition_flags;
  event.status = &status;
  handler(&event);
}

static inline IpczResult capi_call_activity(IpczTransportActivityHandler fn,
                                            IpczHandle transport,
                                            const void* data, size_t num_bytes,
                                            const IpczDriverHandle* handles,
                                            size_t num_handles,
                                            IpczTransportActivityFlags flags) {
  return fn(transport, data, num_bytes, handles, num_handles, flags, NULL);
}

static inline IpczTransportActivityHandler capi_activity_ptr(void) {
  return capi_activity;
}

static inline IpczResult capi_drv_close(const struct IpczDriver* d,
                                        IpczDriverHandle h) {
  return d->Close(h, IPCZ_NO_FLAGS, NULL);
}

static inline IpczResult capi_drv_serialize(const struct IpczDriver* d,
                                            IpczDriverHandle h,
                                            IpczDriverHandle transport,
                                            void* data, size_t* num_bytes,
                                            IpczDriverHandle* handles,
                                            size_t* num_handles) {
  return d->Serialize(h, transport, IPCZ_NO_FLAGS, NULL, data, num_bytes,
                      handles, num_handles);
}

static inline IpczResult capi_drv_deserialize(const struct IpczDriver* d,
                                              const void* data,
                                              size_t num_bytes,
                                              const IpczDriverHandle* handles,
                                              size_t num_handles,
                                              IpczDriverHandle transport,
                                              IpczDriverHandle* out) {
  return d->Deserialize(data, num_bytes, handles, num_handles, transport,
                        IPCZ_NO_FLAGS, NULL, out);
}

static inline IpczResult capi_drv_create_transports(const struct IpczDriver* d,
                                                    IpczDriverHandle t0,
                                                    IpczDriverHandle t1,
                                                    IpczDriverHandle* n0,
                                                    IpczDriverHandle* n1) {
  return d->CreateTransports(t0, t1, IPCZ_NO_FLAGS, NULL, n0, n1);
}

static inline IpczResult capi_drv_activate(const struct IpczDriver* d,
                                           IpczDriverHandle t,
                                           IpczHandle listener) {
  return d->ActivateTransport(t, listener, capi_activity, IPCZ_NO_FLAGS, NULL);
}

static inline IpczResult capi_drv_deactivate(const struct IpczDriver* d,
                                             IpczDriverHandle t) {
  return d->DeactivateTransport(t, IPCZ_NO_FLAGS, NULL);
}

static inline IpczResult capi_drv_transmit(const struct IpczDriver* d,
                                           IpczDriverHandle t,
                                           const void* data, size_t num_bytes,
                                           const IpczDriverHandle* handles,
                                           size_t num_handles) {
  return d->Transmit(t, data, num_bytes, handles, num_handles, IPCZ_NO_FLAGS,
                     NULL);
}

static inline IpczResult capi_drv_report(const struct IpczDriver* d,
                                         IpczDriverHandle t,
                                         uintptr_t context) {
  if (!d->ReportBadTransportActivity) return IPCZ_RESULT_UNIMPLEMENTED;
  return d->ReportBadTransportActivity(t, context, IPCZ_NO_FLAGS, NULL);
}

static inline IpczResult capi_drv_allocate(const struct IpczDriver* d,
                                           size_t num_bytes,
                                           IpczDriverHandle* out) {
  return d->AllocateSharedMemory(num_bytes, IPCZ_NO_FLAGS, NULL, out);
}

static inline IpczResult capi_drv_info(const struct IpczDriver* d,
                                       IpczDriverHandle mem,
                                       size_t* region_num_bytes) {
  struct IpczSharedMemoryInfo info;
  IpczResult r;
  memset(&info, 0, sizeof info);
  info.size = sizeof info;
  r = d->GetSharedMemoryInfo(mem, IPCZ_NO_FLAGS, NULL, &info);
  *region_num_bytes = info.region_num_bytes;
  return r;
}

static inline IpczResult capi_drv_duplicate(const struct IpczDriver* d,
                                            IpczDriverHandle mem,
                                            IpczDriverHandle* out) {
  return d->DuplicateSharedMemory(mem, IPCZ_NO_FLAGS, NULL, out);
}

static inline IpczResult capi_drv_map(const struct IpczDriver* d,
                                      IpczDriverHandle mem, void** address,
                                      IpczDriverHandle* mapping) {
  return d->MapSharedMemory(mem, IPCZ_NO_FLAGS, NULL, address, mapping);
}

static inline IpczResult capi_drv_random(const struct IpczDriver* d,
                                         size_t num_bytes, void* buffer) {
  return d->GenerateRandomBytes(num_bytes, IPCZ_NO_FLAGS, NULL, buffer);
}
*/
import "C"

import (
	"unsafe"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/mojo"
)

// watcherCallback returns a Go watcher callback that calls the C one.
func watcherCallback(cb C.MojoWatcherCallback) mojo.WatcherCallback {
	return func(context uintptr, result mojo.Result, state mojo.HandleSignalsState, flags mojo.WatcherNotificationFlags) {
		C.capi_call_watcher(cb, C.uintptr_t(context), C.MojoResult(result),
			C.MojoHandleSignals(state.Satisfied), C.MojoHandleSignals(state.Satisfiable),
			C.MojoWatcherNotificationFlags(flags))
	}
}

// trapHandler returns a Go trap handler that calls the C one with an
// IpczTrapEvent (and its IpczPortalStatus) on the C stack.
func trapHandler(h C.IpczTrapEventHandler) ipcz.TrapHandler {
	return func(e *ipcz.TrapEvent) {
		s := &e.Status
		C.capi_call_trap(h, C.uintptr_t(e.Context), C.IpczTrapConditionFlags(e.ConditionFlags),
			C.IpczPortalStatusFlags(s.Flags), C.size_t(s.NumLocalParcels), C.size_t(s.NumLocalBytes),
			C.size_t(s.NumRemoteParcels), C.size_t(s.NumRemoteBytes))
	}
}

// activityCaller returns an ipcz.ActivityHandler that forwards to a C
// activity handler for the ipcz-side transport handle listener. If fn is
// the library's own handler and listener is one of its listeners, the Go
// handler is returned directly, skipping two crossings per message.
func activityCaller(fn C.IpczTransportActivityHandler, listener C.IpczHandle) ipcz.ActivityHandler {
	if fn == C.capi_activity_ptr() {
		if l, ok := listeners.lookup(uint64(listener)); ok {
			h := l.handler
			return func(data []byte, handles []ipcz.DriverHandle, flags ipcz.TransportActivityFlags) error {
				err := h(data, handles, flags)
				if flags&ipcz.TransportActivityDeactivated != 0 {
					listeners.remove(uint64(listener)) // as capi_activity would
				}
				return err
			}
		}
	}
	return func(data []byte, handles []ipcz.DriverHandle, flags ipcz.TransportActivityFlags) error {
		r := C.capi_call_activity(fn, C.IpczHandle(listener), bytesPtr(data), C.size_t(len(data)),
			driverHandlesPtr(handles), C.size_t(len(handles)), C.IpczTransportActivityFlags(flags))
		return ipcz.Result(r).Err()
	}
}

// bytesPtr returns the address of b's first byte, or nil if b is empty.
func bytesPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(b))
}

func driverHandlesPtr(hs []ipcz.DriverHandle) *C.IpczDriverHandle {
	if len(hs) == 0 {
		return nil
	}
	return (*C.IpczDriverHandle)(unsafe.Pointer(unsafe.SliceData(hs)))
}

// cDriver is an application's IpczDriver table seen as an ipcz.Driver: each
// method calls the table's entry through a trampoline. ipcz calls it from
// any goroutine; the C driver may call back into the library (through the
// activity handler or the API) from any thread, re-entrantly.
type cDriver struct {
	// tbl is a copy of the application's table (immutable), so that later
	// changes to the application's struct do not matter. It holds only C
	// function pointers, so its address may be passed to C.
	tbl C.struct_IpczDriver
}

var _ ipcz.Driver = (*cDriver)(nil)

func (d *cDriver) Close(h ipcz.DriverHandle) error {
	return ipcz.Result(C.capi_drv_close(&d.tbl, C.IpczDriverHandle(h))).Err()
}

func (d *cDriver) Serialize(h, transport ipcz.DriverHandle, data []byte, handles []ipcz.DriverHandle) (int, int, error) {
	nb, nh := C.size_t(len(data)), C.size_t(len(handles))
	r := C.capi_drv_serialize(&d.tbl, C.IpczDriverHandle(h), C.IpczDriverHandle(transport),
		bytesPtr(data), &nb, driverHandlesPtr(handles), &nh)
	return int(nb), int(nh), ipcz.Result(r).Err()
}

func (d *cDriver) Deserialize(data []byte, handles []ipcz.DriverHandle, transport ipcz.DriverHandle) (ipcz.DriverHandle, error) {
	var out C.IpczDriverHandle
	r := C.capi_drv_deserialize(&d.tbl, bytesPtr(data), C.size_t(len(data)),
		driverHandlesPtr(handles), C.size_t(len(handles)), C.IpczDriverHandle(transport), &out)
	if r != C.IPCZ_RESULT_OK {
		return 0, ipcz.Result(r)
	}
	return ipcz.DriverHandle(out), nil
}

func (d *cDriver) CreateTransports(t0, t1 ipcz.DriverHandle) (ipcz.DriverHandle, ipcz.DriverHandle, error) {
	var n0, n1 C.IpczDriverHandle
	r := C.capi_drv_create_transports(&d.tbl, C.IpczDriverHandle(t0), C.IpczDriverHandle(t1), &n0, &n1)
	if r != C.IPCZ_RESULT_OK {
		return 0, 0, ipcz.Result(r)
	}
	return ipcz.DriverHandle(n0), ipcz.DriverHandle(n1), nil
}

// ActivateTransport registers handler as a listener, whose handle the C
// driver passes back to the library's activity handler (capi_activity)
// with every delivery. The listener is dropped after the DEACTIVATED call,
// or at once if activation fails.
func (d *cDriver) ActivateTransport(transport ipcz.DriverHandle, handler ipcz.ActivityHandler) error {
	l := listeners.add(&listener{handler: handler})
	if l == 0 {
		return ipcz.ResourceExhausted
	}
	r := C.capi_drv_activate(&d.tbl, C.IpczDriverHandle(transport), C.IpczHandle(l))
	if r != C.IPCZ_RESULT_OK {
		listeners.remove(l)
		return ipcz.Result(r)
	}
	return nil
}

func (d *cDriver) DeactivateTransport(transport ipcz.DriverHandle) error {
	return ipcz.Result(C.capi_drv_deactivate(&d.tbl, C.IpczDriverHandle(transport))).Err()
}

func (d *cDriver) Transmit(transport ipcz.DriverHandle, data []byte, handles []ipcz.DriverHandle) error {
	r := C.capi_drv_transmit(&d.tbl, C.IpczDriverHandle(transport), bytesPtr(data), C.size_t(len(data)),
		driverHandlesPtr(handles), C.size_t(len(handles)))
	return ipcz.Result(r).Err()
}

func (d *cDriver) ReportBadTransportActivity(transport ipcz.DriverHandle, context uintptr) error {
	return ipcz.Result(C.capi_drv_report(&d.tbl, C.IpczDriverHandle(transport), C.uintptr_t(context))).Err()
}

func (d *cDriver) AllocateSharedMemory(numBytes int) (ipcz.DriverHandle, error) {
	var out C.IpczDriverHandle
	if r := C.capi_drv_allocate(&d.tbl, C.size_t(numBytes), &out); r != C.IPCZ_RESULT_OK {
		return 0, ipcz.Result(r)
	}
	return ipcz.DriverHandle(out), nil
}

func (d *cDriver) GetSharedMemoryInfo(mem ipcz.DriverHandle) (ipcz.SharedMemoryInfo, error) {
	var n C.size_t
	if r := C.capi_drv_info(&d.tbl, C.IpczDriverHandle(mem), &n); r != C.IPCZ_RESULT_OK {
		return ipcz.SharedMemoryInfo{}, ipcz.Result(r)
	}
	if uint64(n) > 1<<40 {
		return ipcz.SharedMemoryInfo{}, ipcz.InvalidArgument
	}
	return ipcz.SharedMemoryInfo{RegionNumBytes: int(n)}, nil
}

func (d *cDriver) DuplicateSharedMemory(mem ipcz.DriverHandle) (ipcz.DriverHandle, error) {
	var out C.IpczDriverHandle
	if r := C.capi_drv_duplicate(&d.tbl, C.IpczDriverHandle(mem), &out); r != C.IPCZ_RESULT_OK {
		return 0, ipcz.Result(r)
	}
	return ipcz.DriverHandle(out), nil
}

// MapSharedMemory maps the region and returns its bytes, whose length the
// driver's GetSharedMemoryInfo gives. The bytes are the driver's (C)
// memory; Go may keep the slice until the mapping is closed.
func (d *cDriver) MapSharedMemory(mem ipcz.DriverHandle) (ipcz.DriverHandle, []byte, error) {
	info, err := d.GetSharedMemoryInfo(mem)
	if err != nil {
		return 0, nil, err
	}
	// The address comes back into an integer, not a pointer-typed
	// variable: C stores it without a write barrier (see storePointer).
	var addr uintptr
	var mapping C.IpczDriverHandle
	if r := C.capi_drv_map(&d.tbl, C.IpczDriverHandle(mem), (*unsafe.Pointer)(unsafe.Pointer(&addr)), &mapping); r != C.IPCZ_RESULT_OK {
		return 0, nil, ipcz.Result(r)
	}
	if addr == 0 {
		_ = d.Close(ipcz.DriverHandle(mapping))
		return 0, nil, ipcz.Internal
	}
	p := *(*unsafe.Pointer)(unsafe.Pointer(&addr))
	return ipcz.DriverHandle(mapping), unsafe.Slice((*byte)(p), info.RegionNumBytes), nil
}

func (d *cDriver) GenerateRandomBytes(buffer []byte) error {
	return ipcz.Result(C.capi_drv_random(&d.tbl, C.size_t(len(buffer)), bytesPtr(buffer))).Err()
}

// listener is a transport activated through a C driver: the handler ipcz
// gave for it.
type listener struct {
	handler ipcz.ActivityHandler // immutable
}

// listeners names the transports activated through C drivers; their
// handles are what the C driver passes back as the activity handler's
// `transport` argument.
var listeners table[*listener]
