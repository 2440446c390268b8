/*
 * Wrapping native platform handles as Mojo handles (2017 ABI).
 */

#ifndef MOJO_PUBLIC_C_SYSTEM_PLATFORM_HANDLE_H_
#define MOJO_PUBLIC_C_SYSTEM_PLATFORM_HANDLE_H_

#include <stddef.h>
#include <stdint.h>

#include "mojo/public/c/system/system_export.h"
#include "mojo/public/c/system/types.h"

/* What kind of native handle a MojoPlatformHandle holds. */
typedef uint32_t MojoPlatformHandleType;

#ifdef __cplusplus
const MojoPlatformHandleType MOJO_PLATFORM_HANDLE_TYPE_INVALID = 0;
const MojoPlatformHandleType MOJO_PLATFORM_HANDLE_TYPE_FILE_DESCRIPTOR = 1;
const MojoPlatformHandleType MOJO_PLATFORM_HANDLE_TYPE_MACH_PORT = 2;
const MojoPlatformHandleType MOJO_PLATFORM_HANDLE_TYPE_WINDOWS_HANDLE = 3;
#else
#define MOJO_PLATFORM_HANDLE_TYPE_INVALID ((MojoPlatformHandleType)0)
#define MOJO_PLATFORM_HANDLE_TYPE_FILE_DESCRIPTOR ((MojoPlatformHandleType)1)
#define MOJO_PLATFORM_HANDLE_TYPE_MACH_PORT ((MojoPlatformHandleType)2)
#define MOJO_PLATFORM_HANDLE_TYPE_WINDOWS_HANDLE ((MojoPlatformHandleType)3)
#endif

/* A native handle: `value` holds the file descriptor, Mach port or Windows
 * HANDLE, widened to 64 bits. `struct_size` must be 16. */
struct MOJO_ALIGNAS(8) MojoPlatformHandle {
  uint32_t struct_size;
  MojoPlatformHandleType type;
  uint64_t value;
};
MOJO_STATIC_ASSERT(sizeof(struct MojoPlatformHandle) == 16,
                   "MojoPlatformHandle has the wrong size");

/* Lets C code name the struct without the `struct` keyword, as the API
 * guide's examples do. */
typedef struct MojoPlatformHandle MojoPlatformHandle;

/* Flags for wrapping and unwrapping shared-buffer handles. */
typedef uint32_t MojoPlatformSharedBufferHandleFlags;

#ifdef __cplusplus
const MojoPlatformSharedBufferHandleFlags
    MOJO_PLATFORM_SHARED_BUFFER_HANDLE_FLAG_NONE = 0;
const MojoPlatformSharedBufferHandleFlags
    MOJO_PLATFORM_SHARED_BUFFER_HANDLE_FLAG_READ_ONLY = 1 << 0;
/* Spellings used by some of the era's header comments. */
const MojoPlatformSharedBufferHandleFlags
    MOJO_PLATFORM_SHARED_BUFFER_HANDLE_NONE =
        MOJO_PLATFORM_SHARED_BUFFER_HANDLE_FLAG_NONE;
const MojoPlatformSharedBufferHandleFlags
    MOJO_PLATFORM_SHARED_BUFFER_FLAG_READ_ONLY =
        MOJO_PLATFORM_SHARED_BUFFER_HANDLE_FLAG_READ_ONLY;
#else
#define MOJO_PLATFORM_SHARED_BUFFER_HANDLE_FLAG_NONE \
  ((MojoPlatformSharedBufferHandleFlags)0)
/* The buffer may only be mapped read-only. */
#define MOJO_PLATFORM_SHARED_BUFFER_HANDLE_FLAG_READ_ONLY \
  ((MojoPlatformSharedBufferHandleFlags)(1u << 0))
/* Spellings used by some of the era's header comments. */
#define MOJO_PLATFORM_SHARED_BUFFER_HANDLE_NONE \
  MOJO_PLATFORM_SHARED_BUFFER_HANDLE_FLAG_NONE
#define MOJO_PLATFORM_SHARED_BUFFER_FLAG_READ_ONLY \
  MOJO_PLATFORM_SHARED_BUFFER_HANDLE_FLAG_READ_ONLY
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Wraps a native handle; the new Mojo handle owns it. `struct_size` of
 * `*platform_handle` must be 16. */
MOJO_SYSTEM_EXPORT MojoResult
MojoWrapPlatformHandle(const struct MojoPlatformHandle* platform_handle,
                       MojoHandle* mojo_handle);

/* Takes the native handle back out. `mojo_handle` is consumed in every case;
 * `platform_handle->struct_size` must be 16 on input. */
MOJO_SYSTEM_EXPORT MojoResult
MojoUnwrapPlatformHandle(MojoHandle mojo_handle,
                         struct MojoPlatformHandle* platform_handle);

/* Wraps a native shared-memory handle of `num_bytes` bytes as a Mojo shared
 * buffer handle. */
MOJO_SYSTEM_EXPORT MojoResult MojoWrapPlatformSharedBufferHandle(
    const struct MojoPlatformHandle* platform_handle,
    size_t num_bytes,
    MojoPlatformSharedBufferHandleFlags flags,
    MojoHandle* mojo_handle);

/* Turns a Mojo shared buffer handle back into a native handle, its size and
 * its flags. `mojo_handle` is consumed. */
MOJO_SYSTEM_EXPORT MojoResult MojoUnwrapPlatformSharedBufferHandle(
    MojoHandle mojo_handle,
    struct MojoPlatformHandle* platform_handle,
    size_t* num_bytes,
    MojoPlatformSharedBufferHandleFlags* flags);

#ifdef __cplusplus
}  /* extern "C" */
#endif

/* The API guide's names for the two calls above. */
#define MojoWrapPlatformSharedBuffer MojoWrapPlatformSharedBufferHandle
#define MojoUnwrapPlatformSharedBuffer MojoUnwrapPlatformSharedBufferHandle

#endif /* MOJO_PUBLIC_C_SYSTEM_PLATFORM_HANDLE_H_ */
