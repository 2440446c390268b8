/*
 * Functions that apply to every kind of Mojo handle (2017 ABI).
 */

#ifndef MOJO_PUBLIC_C_SYSTEM_FUNCTIONS_H_
#define MOJO_PUBLIC_C_SYSTEM_FUNCTIONS_H_

#include <stddef.h>
#include <stdint.h>

#include "mojo/public/c/system/system_export.h"
#include "mojo/public/c/system/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Returns the current time in microseconds from a monotonic clock. The
 * origin is arbitrary but fixed for the process, and the result is never 0. */
MOJO_SYSTEM_EXPORT MojoTimeTicks MojoGetTimeTicksNow(void);

/* Closes `handle`. Closing a watched handle cancels its watches.
 * Returns MOJO_RESULT_OK, or MOJO_RESULT_INVALID_ARGUMENT if `handle` is not a
 * valid handle. */
MOJO_SYSTEM_EXPORT MojoResult MojoClose(MojoHandle handle);

/* Writes the current signals state of `handle` to `*signals_state`.
 * Returns MOJO_RESULT_OK, or MOJO_RESULT_INVALID_ARGUMENT if `handle` is
 * invalid or `signals_state` is NULL. */
MOJO_SYSTEM_EXPORT MojoResult
MojoQueryHandleSignalsState(MojoHandle handle,
                            struct MojoHandleSignalsState* signals_state);

/* Reads the system property `type` into `*value`, whose type depends on the
 * property (a C++ `bool` for MOJO_PROPERTY_TYPE_SYNC_CALL_ALLOWED).
 * Returns MOJO_RESULT_OK, or MOJO_RESULT_INVALID_ARGUMENT for an unknown
 * property. */
MOJO_SYSTEM_EXPORT MojoResult MojoGetProperty(MojoPropertyType type,
                                              void* value);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* MOJO_PUBLIC_C_SYSTEM_FUNCTIONS_H_ */
