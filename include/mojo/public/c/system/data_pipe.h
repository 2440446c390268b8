/*
 * Data pipes (2017 ABI).
 *
 * A data pipe is a one-way byte stream with a fixed element size and a fixed
 * capacity. The producer handle writes, the consumer handle reads; both
 * support copying calls and two-phase calls that expose the pipe's buffer
 * directly. All sizes are in bytes and must be multiples of the element size.
 */

#ifndef MOJO_PUBLIC_C_SYSTEM_DATA_PIPE_H_
#define MOJO_PUBLIC_C_SYSTEM_DATA_PIPE_H_

#include <stdint.h>

#include "mojo/public/c/system/macros.h"
#include "mojo/public/c/system/system_export.h"
#include "mojo/public/c/system/types.h"

/* Flags in MojoCreateDataPipeOptions. */
typedef uint32_t MojoCreateDataPipeOptionsFlags;

#ifdef __cplusplus
const MojoCreateDataPipeOptionsFlags MOJO_CREATE_DATA_PIPE_OPTIONS_FLAG_NONE =
    0;
#else
#define MOJO_CREATE_DATA_PIPE_OPTIONS_FLAG_NONE \
  ((MojoCreateDataPipeOptionsFlags)0)
#endif

/* Options for MojoCreateDataPipe(). `element_num_bytes` defaults to 1 and
 * `capacity_num_bytes` (0 = default, 64 KiB) must be a multiple of it. */
struct MOJO_ALIGNAS(8) MojoCreateDataPipeOptions {
  MOJO_ALIGNAS(4) uint32_t struct_size;
  MOJO_ALIGNAS(4) MojoCreateDataPipeOptionsFlags flags;
  MOJO_ALIGNAS(4) uint32_t element_num_bytes;
  MOJO_ALIGNAS(4) uint32_t capacity_num_bytes;
};
MOJO_STATIC_ASSERT(sizeof(struct MojoCreateDataPipeOptions) == 16,
                   "MojoCreateDataPipeOptions has the wrong size");

/* Lets C code name the struct without the `struct` keyword. */
typedef struct MojoCreateDataPipeOptions MojoCreateDataPipeOptions;

/* Flags for MojoWriteData() and MojoBeginWriteData(). */
typedef uint32_t MojoWriteDataFlags;

#ifdef __cplusplus
const MojoWriteDataFlags MOJO_WRITE_DATA_FLAG_NONE = 0;
const MojoWriteDataFlags MOJO_WRITE_DATA_FLAG_ALL_OR_NONE = 1 << 0;
#else
#define MOJO_WRITE_DATA_FLAG_NONE ((MojoWriteDataFlags)0)
/* Write everything or nothing (MOJO_RESULT_OUT_OF_RANGE). */
#define MOJO_WRITE_DATA_FLAG_ALL_OR_NONE ((MojoWriteDataFlags)(1u << 0))
#endif

/* Flags for MojoReadData() and MojoBeginReadData(). */
typedef uint32_t MojoReadDataFlags;

#ifdef __cplusplus
const MojoReadDataFlags MOJO_READ_DATA_FLAG_NONE = 0;
const MojoReadDataFlags MOJO_READ_DATA_FLAG_ALL_OR_NONE = 1 << 0;
const MojoReadDataFlags MOJO_READ_DATA_FLAG_DISCARD = 1 << 1;
const MojoReadDataFlags MOJO_READ_DATA_FLAG_QUERY = 1 << 2;
const MojoReadDataFlags MOJO_READ_DATA_FLAG_PEEK = 1 << 3;
#else
#define MOJO_READ_DATA_FLAG_NONE ((MojoReadDataFlags)0)
/* Read everything asked for or nothing (MOJO_RESULT_OUT_OF_RANGE). */
#define MOJO_READ_DATA_FLAG_ALL_OR_NONE ((MojoReadDataFlags)(1u << 0))
/* Drop the data instead of copying it out. */
#define MOJO_READ_DATA_FLAG_DISCARD ((MojoReadDataFlags)(1u << 1))
/* Only report how many bytes are available. */
#define MOJO_READ_DATA_FLAG_QUERY ((MojoReadDataFlags)(1u << 2))
/* Copy the data out but leave it in the pipe. */
#define MOJO_READ_DATA_FLAG_PEEK ((MojoReadDataFlags)(1u << 3))
#endif

/* The API guide's name for the result of an ALL_OR_NONE read that cannot be
 * met; the result actually returned is MOJO_RESULT_OUT_OF_RANGE. */
#ifdef __cplusplus
const MojoResult MOJO_READ_DATA_OUT_OF_RANGE = MOJO_RESULT_OUT_OF_RANGE;
#else
#define MOJO_READ_DATA_OUT_OF_RANGE MOJO_RESULT_OUT_OF_RANGE
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Creates a data pipe. `options` may be NULL for the defaults; if given,
 * its `struct_size` must be exactly 16. */
MOJO_SYSTEM_EXPORT MojoResult
MojoCreateDataPipe(const struct MojoCreateDataPipeOptions* options,
                   MojoHandle* data_pipe_producer_handle,
                   MojoHandle* data_pipe_consumer_handle);

/* Copies up to `*num_bytes` bytes from `elements` into the pipe and sets
 * `*num_bytes` to the amount written. MOJO_RESULT_SHOULD_WAIT if nothing
 * fits now, MOJO_RESULT_BUSY during a two-phase write. */
MOJO_SYSTEM_EXPORT MojoResult MojoWriteData(MojoHandle data_pipe_producer_handle,
                                            const void* elements,
                                            uint32_t* num_bytes,
                                            MojoWriteDataFlags flags);

/* Starts a two-phase write: returns a writable span of the pipe's buffer in
 * `*buffer` and its size in `*buffer_num_bytes`. */
MOJO_SYSTEM_EXPORT MojoResult
MojoBeginWriteData(MojoHandle data_pipe_producer_handle,
                   void** buffer,
                   uint32_t* buffer_num_bytes,
                   MojoWriteDataFlags flags);

/* Commits `num_bytes_written` bytes of the two-phase write and ends it. */
MOJO_SYSTEM_EXPORT MojoResult
MojoEndWriteData(MojoHandle data_pipe_producer_handle,
                 uint32_t num_bytes_written);

/* Copies (or, by flag, discards, peeks at or counts) up to `*num_bytes`
 * bytes and sets `*num_bytes` to the amount handled. An empty pipe gives
 * MOJO_RESULT_SHOULD_WAIT, or MOJO_RESULT_FAILED_PRECONDITION once the
 * producer is closed. */
MOJO_SYSTEM_EXPORT MojoResult MojoReadData(MojoHandle data_pipe_consumer_handle,
                                           void* elements,
                                           uint32_t* num_bytes,
                                           MojoReadDataFlags flags);

/* Starts a two-phase read: returns a readable span of the pipe's buffer in
 * `*buffer` and its size in `*buffer_num_bytes`. */
MOJO_SYSTEM_EXPORT MojoResult
MojoBeginReadData(MojoHandle data_pipe_consumer_handle,
                  const void** buffer,
                  uint32_t* buffer_num_bytes,
                  MojoReadDataFlags flags);

/* Consumes `num_bytes_read` bytes of the two-phase read and ends it. */
MOJO_SYSTEM_EXPORT MojoResult
MojoEndReadData(MojoHandle data_pipe_consumer_handle, uint32_t num_bytes_read);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* MOJO_PUBLIC_C_SYSTEM_DATA_PIPE_H_ */
