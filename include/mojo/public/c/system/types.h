/*
 * Basic types and constants of the Mojo C system API (2017 ABI).
 *
 * Constants are macros in C and typed `const` objects in C++, so that C++
 * code gets the right type without casts. Both spellings have the same value.
 */

#ifndef MOJO_PUBLIC_C_SYSTEM_TYPES_H_
#define MOJO_PUBLIC_C_SYSTEM_TYPES_H_

#include <stdint.h>

#include "mojo/public/c/system/macros.h"

/* A point in time, in microseconds, from a monotonic clock with an arbitrary
 * origin. See MojoGetTimeTicksNow(). */
typedef int64_t MojoTimeTicks;

/* A reference to a Mojo object: a message pipe endpoint, a data pipe
 * producer or consumer, a shared buffer, a wrapped platform handle or a
 * watcher. Handle values may be reused after they are closed. */
typedef uint32_t MojoHandle;

/* Never a valid handle. */
#ifdef __cplusplus
const MojoHandle MOJO_HANDLE_INVALID = 0;
#else
#define MOJO_HANDLE_INVALID ((MojoHandle)0)
#endif

/* Result of most calls. The first 16 values match the common status codes
 * used across Google software; the meaning of each depends on the call. */
typedef uint32_t MojoResult;

#ifdef __cplusplus
const MojoResult MOJO_RESULT_OK = 0;
const MojoResult MOJO_RESULT_CANCELLED = 1;
const MojoResult MOJO_RESULT_UNKNOWN = 2;
const MojoResult MOJO_RESULT_INVALID_ARGUMENT = 3;
const MojoResult MOJO_RESULT_DEADLINE_EXCEEDED = 4;
const MojoResult MOJO_RESULT_NOT_FOUND = 5;
const MojoResult MOJO_RESULT_ALREADY_EXISTS = 6;
const MojoResult MOJO_RESULT_PERMISSION_DENIED = 7;
const MojoResult MOJO_RESULT_RESOURCE_EXHAUSTED = 8;
const MojoResult MOJO_RESULT_FAILED_PRECONDITION = 9;
const MojoResult MOJO_RESULT_ABORTED = 10;
const MojoResult MOJO_RESULT_OUT_OF_RANGE = 11;
const MojoResult MOJO_RESULT_UNIMPLEMENTED = 12;
const MojoResult MOJO_RESULT_INTERNAL = 13;
const MojoResult MOJO_RESULT_UNAVAILABLE = 14;
const MojoResult MOJO_RESULT_DATA_LOSS = 15;
const MojoResult MOJO_RESULT_BUSY = 16;
const MojoResult MOJO_RESULT_SHOULD_WAIT = 17;
#else
#define MOJO_RESULT_OK ((MojoResult)0)
#define MOJO_RESULT_CANCELLED ((MojoResult)1)
#define MOJO_RESULT_UNKNOWN ((MojoResult)2)
#define MOJO_RESULT_INVALID_ARGUMENT ((MojoResult)3)
#define MOJO_RESULT_DEADLINE_EXCEEDED ((MojoResult)4)
#define MOJO_RESULT_NOT_FOUND ((MojoResult)5)
#define MOJO_RESULT_ALREADY_EXISTS ((MojoResult)6)
#define MOJO_RESULT_PERMISSION_DENIED ((MojoResult)7)
#define MOJO_RESULT_RESOURCE_EXHAUSTED ((MojoResult)8)
#define MOJO_RESULT_FAILED_PRECONDITION ((MojoResult)9)
#define MOJO_RESULT_ABORTED ((MojoResult)10)
#define MOJO_RESULT_OUT_OF_RANGE ((MojoResult)11)
#define MOJO_RESULT_UNIMPLEMENTED ((MojoResult)12)
#define MOJO_RESULT_INTERNAL ((MojoResult)13)
#define MOJO_RESULT_UNAVAILABLE ((MojoResult)14)
#define MOJO_RESULT_DATA_LOSS ((MojoResult)15)
#define MOJO_RESULT_BUSY ((MojoResult)16)
#define MOJO_RESULT_SHOULD_WAIT ((MojoResult)17)
#endif

/* A relative timeout in microseconds. No call in this API version takes one;
 * the type is kept because it is part of the ABI. */
typedef uint64_t MojoDeadline;

#ifdef __cplusplus
const MojoDeadline MOJO_DEADLINE_INDEFINITE = static_cast<MojoDeadline>(-1);
#else
#define MOJO_DEADLINE_INDEFINITE ((MojoDeadline)-1)
#endif

/* A set of handle signals: conditions that can hold on a pipe endpoint. */
typedef uint32_t MojoHandleSignals;

#ifdef __cplusplus
const MojoHandleSignals MOJO_HANDLE_SIGNAL_NONE = 0;
const MojoHandleSignals MOJO_HANDLE_SIGNAL_READABLE = 1 << 0;
const MojoHandleSignals MOJO_HANDLE_SIGNAL_WRITABLE = 1 << 1;
const MojoHandleSignals MOJO_HANDLE_SIGNAL_PEER_CLOSED = 1 << 2;
const MojoHandleSignals MOJO_HANDLE_SIGNAL_NEW_DATA_READABLE = 1 << 3;
#else
#define MOJO_HANDLE_SIGNAL_NONE ((MojoHandleSignals)0)
#define MOJO_HANDLE_SIGNAL_READABLE ((MojoHandleSignals)(1u << 0))
#define MOJO_HANDLE_SIGNAL_WRITABLE ((MojoHandleSignals)(1u << 1))
#define MOJO_HANDLE_SIGNAL_PEER_CLOSED ((MojoHandleSignals)(1u << 2))
/* Data arrived on a data pipe consumer since the last read. */
#define MOJO_HANDLE_SIGNAL_NEW_DATA_READABLE ((MojoHandleSignals)(1u << 3))
#endif

/* The signals that hold now (`satisfied_signals`) and those that still can
 * hold at some point (`satisfiable_signals`). A signal that stops being
 * satisfiable never becomes satisfiable again. */
struct MOJO_ALIGNAS(4) MojoHandleSignalsState {
  MojoHandleSignals satisfied_signals;
  MojoHandleSignals satisfiable_signals;
};
MOJO_STATIC_ASSERT(sizeof(struct MojoHandleSignalsState) == 8,
                   "MojoHandleSignalsState has the wrong size");

/* Lets C code name the struct without the `struct` keyword, as the API guide's
 * examples do. */
typedef struct MojoHandleSignalsState MojoHandleSignalsState;

/* The API guide's spelling in one of its examples. */
#define MojoHandleSignalsStates MojoHandleSignalsState

/* Flags passed to a watcher callback. */
typedef uint32_t MojoWatcherNotificationFlags;

#ifdef __cplusplus
const MojoWatcherNotificationFlags MOJO_WATCHER_NOTIFICATION_FLAG_NONE = 0;
const MojoWatcherNotificationFlags MOJO_WATCHER_NOTIFICATION_FLAG_FROM_SYSTEM =
    1 << 0;
#else
#define MOJO_WATCHER_NOTIFICATION_FLAG_NONE ((MojoWatcherNotificationFlags)0)
/* Set when the callback runs because of system activity (such as incoming
 * IPC) rather than inside an API call made by the application. */
#define MOJO_WATCHER_NOTIFICATION_FLAG_FROM_SYSTEM \
  ((MojoWatcherNotificationFlags)(1u << 0))
#endif

/* Which property MojoGetProperty() reads. */
typedef uint32_t MojoPropertyType;

#ifdef __cplusplus
const MojoPropertyType MOJO_PROPERTY_TYPE_SYNC_CALL_ALLOWED = 0;
#else
/* Whether synchronous calls are allowed; the value written is a C++ `bool`
 * (one byte). */
#define MOJO_PROPERTY_TYPE_SYNC_CALL_ALLOWED ((MojoPropertyType)0)
#endif

/* The fixed-width integer types must have their natural alignment for the
 * struct layouts in these headers to hold. */
MOJO_STATIC_ASSERT(MOJO_ALIGNOF(int64_t) == 8, "int64_t is not 8-aligned");
MOJO_STATIC_ASSERT(MOJO_ALIGNOF(int32_t) == 4, "int32_t is not 4-aligned");

#endif /* MOJO_PUBLIC_C_SYSTEM_TYPES_H_ */
