/*
 * Internal to package capi: included by the cgo preamble of every capi file
 * and by api.c. Not installed.
 *
 * It pulls in the public headers, so that cgo's prototypes of the exported
 * functions (in _cgo_export.h, which repeats the preamble) are checked by
 * the compiler against the public declarations, and it names the const
 * pointer types Go cannot spell. An exported Go function whose parameter is,
 * say, capi_const_void_ptr gets the prototype `... const void* ...`, the
 * same type as the header's, so a mismatch in width, constness or order is
 * a "conflicting types" error, not a warning.
 */
#ifndef IPCZ_GO_CAPI_CAPI_H_
#define IPCZ_GO_CAPI_CAPI_H_

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipcz/ipcz.h"
#include "ipcz/ipcz_go_ext.h"
#include "mojo/ext/invitation.h"
#include "mojo/public/c/system/core.h"

typedef const void* capi_const_void_ptr;
typedef const void** capi_const_void_ptr_ptr;
typedef const char* capi_const_char_ptr;
typedef const MojoHandle* capi_const_mojo_handle_ptr;
typedef const IpczHandle* capi_const_ipcz_handle_ptr;
typedef const IpczDriverHandle* capi_const_driver_handle_ptr;
typedef const struct IpczDriver* capi_const_driver_ptr;
typedef const struct IpczDriver** capi_const_driver_ptr_ptr;
typedef const struct IpczPutOptions* capi_const_put_options_ptr;
typedef const struct IpczBeginPutOptions* capi_const_begin_put_options_ptr;
typedef const struct IpczTrapConditions* capi_const_trap_conditions_ptr;
typedef const struct MojoCreateMessagePipeOptions* capi_const_mp_options_ptr;
typedef const struct MojoCreateDataPipeOptions* capi_const_dp_options_ptr;
typedef const struct MojoCreateSharedBufferOptions* capi_const_sb_options_ptr;
typedef const struct MojoDuplicateBufferHandleOptions* capi_const_dup_options_ptr;
typedef const struct MojoPlatformHandle* capi_const_platform_handle_ptr;
typedef const struct MojoExtInitOptions* capi_const_init_options_ptr;

/* The built-in driver tables (api.c), indexed by IpczGoDriverId. */
extern const struct IpczDriver capi_builtin_drivers[4];

/* The exported activity handler that every transport activated through a
 * C driver reports to (exports_ipcz.go). */
IpczResult capi_activity(IpczHandle transport, capi_const_void_ptr data,
                         size_t num_bytes,
                         capi_const_driver_handle_ptr driver_handles,
                         size_t num_driver_handles,
                         IpczTransportActivityFlags flags,
                         capi_const_void_ptr options);

/* A payload address for empty message buffers: non-null, 8-aligned, and
 * never written through (its size is 0). */
extern uint64_t capi_empty_payload;

#endif /* IPCZ_GO_CAPI_CAPI_H_ */
