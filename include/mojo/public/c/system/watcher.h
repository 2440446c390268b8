/*
 * Watchers (2017 ABI).
 *
 * A watcher calls one callback when any of the signal conditions it watches
 * becomes satisfied or can no longer be satisfied. It fires only while
 * armed, and disarms itself just before each notification.
 */

#ifndef MOJO_PUBLIC_C_SYSTEM_WATCHER_H_
#define MOJO_PUBLIC_C_SYSTEM_WATCHER_H_

#include <stdint.h>

#include "mojo/public/c/system/system_export.h"
#include "mojo/public/c/system/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The watcher's callback. `context` names the watch; `result` is
 * MOJO_RESULT_OK (the signals are satisfied), MOJO_RESULT_FAILED_PRECONDITION
 * (they never can be) or MOJO_RESULT_CANCELLED (the watch ended; always the
 * last call for that context). It may run on any thread. `signals_state` is
 * passed by value. */
typedef void (*MojoWatcherCallback)(uintptr_t context,
                                    MojoResult result,
                                    struct MojoHandleSignalsState signals_state,
                                    MojoWatcherNotificationFlags flags);

/* The API guide's name for the callback type. */
typedef MojoWatcherCallback MojoWatcherNotificationCallback;

/* Creates a disarmed watcher that reports through `callback`. */
MOJO_SYSTEM_EXPORT MojoResult MojoCreateWatcher(MojoWatcherCallback callback,
                                                MojoHandle* watcher_handle);

/* Starts watching `handle` for `signals`, naming the watch `context`.
 * MOJO_RESULT_ALREADY_EXISTS if the context is taken,
 * MOJO_RESULT_INVALID_ARGUMENT if `handle` cannot be watched. */
MOJO_SYSTEM_EXPORT MojoResult MojoWatch(MojoHandle watcher_handle,
                                        MojoHandle handle,
                                        MojoHandleSignals signals,
                                        uintptr_t context);

/* Ends the watch named `context`; its callback then runs one last time with
 * MOJO_RESULT_CANCELLED. MOJO_RESULT_NOT_FOUND for an unknown context. */
MOJO_SYSTEM_EXPORT MojoResult MojoCancelWatch(MojoHandle watcher_handle,
                                              uintptr_t context);

/* Arms the watcher. If some watch would fire at once, the watcher stays
 * disarmed, the call returns MOJO_RESULT_FAILED_PRECONDITION and up to
 * `*num_ready_contexts` of those watches are described in the three arrays.
 * MOJO_RESULT_NOT_FOUND if nothing is watched. */
MOJO_SYSTEM_EXPORT MojoResult
MojoArmWatcher(MojoHandle watcher_handle,
               uint32_t* num_ready_contexts,
               uintptr_t* ready_contexts,
               MojoResult* ready_results,
               struct MojoHandleSignalsState* ready_signals_states);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* MOJO_PUBLIC_C_SYSTEM_WATCHER_H_ */
