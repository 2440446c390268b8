/*
 * Shared buffers (2017 ABI).
 *
 * A shared buffer is a region of memory that every holder of a handle to it,
 * in any process, can map.
 */

#ifndef MOJO_PUBLIC_C_SYSTEM_BUFFER_H_
#define MOJO_PUBLIC_C_SYSTEM_BUFFER_H_

#include <stdint.h>

#include "mojo/public/c/system/macros.h"
#include "mojo/public/c/system/system_export.h"
#include "mojo/public/c/system/types.h"

/* Flags in MojoCreateSharedBufferOptions. */
typedef uint32_t MojoCreateSharedBufferOptionsFlags;

#ifdef __cplusplus
const MojoCreateSharedBufferOptionsFlags
    MOJO_CREATE_SHARED_BUFFER_OPTIONS_FLAG_NONE = 0;
#else
#define MOJO_CREATE_SHARED_BUFFER_OPTIONS_FLAG_NONE \
  ((MojoCreateSharedBufferOptionsFlags)0)
#endif

/* Options for MojoCreateSharedBuffer(). */
struct MOJO_ALIGNAS(8) MojoCreateSharedBufferOptions {
  uint32_t struct_size;
  MojoCreateSharedBufferOptionsFlags flags;
};
MOJO_STATIC_ASSERT(sizeof(struct MojoCreateSharedBufferOptions) == 8,
                   "MojoCreateSharedBufferOptions has the wrong size");

/* Lets C code name the struct without the `struct` keyword. */
typedef struct MojoCreateSharedBufferOptions MojoCreateSharedBufferOptions;

/* Flags in MojoDuplicateBufferHandleOptions. */
typedef uint32_t MojoDuplicateBufferHandleOptionsFlags;

#ifdef __cplusplus
const MojoDuplicateBufferHandleOptionsFlags
    MOJO_DUPLICATE_BUFFER_HANDLE_OPTIONS_FLAG_NONE = 0;
const MojoDuplicateBufferHandleOptionsFlags
    MOJO_DUPLICATE_BUFFER_HANDLE_OPTIONS_FLAG_READ_ONLY = 1 << 0;
#else
#define MOJO_DUPLICATE_BUFFER_HANDLE_OPTIONS_FLAG_NONE \
  ((MojoDuplicateBufferHandleOptionsFlags)0)
/* The new handle can only be mapped read-only. */
#define MOJO_DUPLICATE_BUFFER_HANDLE_OPTIONS_FLAG_READ_ONLY \
  ((MojoDuplicateBufferHandleOptionsFlags)(1u << 0))
#endif

/* Options for MojoDuplicateBufferHandle(). Unlike the other options structs
 * it carries no alignment attribute, so it is only 4-aligned; that is part of
 * the ABI. */
struct MojoDuplicateBufferHandleOptions {
  uint32_t struct_size;
  MojoDuplicateBufferHandleOptionsFlags flags;
};
MOJO_STATIC_ASSERT(sizeof(struct MojoDuplicateBufferHandleOptions) == 8,
                   "MojoDuplicateBufferHandleOptions has the wrong size");

/* Lets C code name the struct without the `struct` keyword. */
typedef struct MojoDuplicateBufferHandleOptions
    MojoDuplicateBufferHandleOptions;

/* Flags for MojoMapBuffer(). */
typedef uint32_t MojoMapBufferFlags;

#ifdef __cplusplus
const MojoMapBufferFlags MOJO_MAP_BUFFER_FLAG_NONE = 0;
#else
#define MOJO_MAP_BUFFER_FLAG_NONE ((MojoMapBufferFlags)0)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Creates a zero-filled shared buffer of `num_bytes` bytes. `options` may be
 * NULL. MOJO_RESULT_INVALID_ARGUMENT for a size of 0,
 * MOJO_RESULT_RESOURCE_EXHAUSTED if it is too large. */
MOJO_SYSTEM_EXPORT MojoResult
MojoCreateSharedBuffer(const struct MojoCreateSharedBufferOptions* options,
                       uint64_t num_bytes,
                       MojoHandle* shared_buffer_handle);

/* Makes another handle to the same buffer, read-only if the options ask for
 * it. `options` may be NULL. */
MOJO_SYSTEM_EXPORT MojoResult MojoDuplicateBufferHandle(
    MojoHandle buffer_handle,
    const struct MojoDuplicateBufferHandleOptions* options,
    MojoHandle* new_buffer_handle);

/* Maps `num_bytes` bytes starting at `offset` and returns their address in
 * `*buffer`. The mapping outlives the handle. */
MOJO_SYSTEM_EXPORT MojoResult MojoMapBuffer(MojoHandle buffer_handle,
                                            uint64_t offset,
                                            uint64_t num_bytes,
                                            void** buffer,
                                            MojoMapBufferFlags flags);

/* Unmaps a mapping; `buffer` must be an address MojoMapBuffer() returned. */
MOJO_SYSTEM_EXPORT MojoResult MojoUnmapBuffer(void* buffer);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* MOJO_PUBLIC_C_SYSTEM_BUFFER_H_ */
