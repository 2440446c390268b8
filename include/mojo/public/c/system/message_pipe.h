/*
 * Message pipes and message objects (2017 ABI).
 *
 * A message pipe is a pair of endpoints; a message written to one endpoint
 * (bytes plus attached handles) is read from the other, in order. A message
 * may also be built first as a message object (MojoAllocMessage()) and then
 * written without copying (MojoWriteMessageNew()).
 */

#ifndef MOJO_PUBLIC_C_SYSTEM_MESSAGE_PIPE_H_
#define MOJO_PUBLIC_C_SYSTEM_MESSAGE_PIPE_H_

#include <stdint.h>

#include "mojo/public/c/system/macros.h"
#include "mojo/public/c/system/system_export.h"
#include "mojo/public/c/system/types.h"

/* A message object. Unlike MojoHandle it is pointer-sized and is not a
 * handle in the handle table; free it with MojoFreeMessage() unless it was
 * given away to MojoWriteMessageNew(). */
typedef uintptr_t MojoMessageHandle;

#ifdef __cplusplus
const MojoMessageHandle MOJO_MESSAGE_HANDLE_INVALID = 0;
#else
#define MOJO_MESSAGE_HANDLE_INVALID ((MojoMessageHandle)0)
#endif

/* Flags in MojoCreateMessagePipeOptions. */
typedef uint32_t MojoCreateMessagePipeOptionsFlags;

#ifdef __cplusplus
const MojoCreateMessagePipeOptionsFlags
    MOJO_CREATE_MESSAGE_PIPE_OPTIONS_FLAG_NONE = 0;
#else
#define MOJO_CREATE_MESSAGE_PIPE_OPTIONS_FLAG_NONE \
  ((MojoCreateMessagePipeOptionsFlags)0)
#endif

/* Options for MojoCreateMessagePipe(). `struct_size` is the size of the
 * struct as the caller knows it. */
struct MOJO_ALIGNAS(8) MojoCreateMessagePipeOptions {
  uint32_t struct_size;
  MojoCreateMessagePipeOptionsFlags flags;
};
MOJO_STATIC_ASSERT(sizeof(struct MojoCreateMessagePipeOptions) == 8,
                   "MojoCreateMessagePipeOptions has the wrong size");

/* Lets C code name the struct without the `struct` keyword. */
typedef struct MojoCreateMessagePipeOptions MojoCreateMessagePipeOptions;

/* Flags for MojoWriteMessage() and MojoWriteMessageNew(). */
typedef uint32_t MojoWriteMessageFlags;

#ifdef __cplusplus
const MojoWriteMessageFlags MOJO_WRITE_MESSAGE_FLAG_NONE = 0;
/* The API guide's spelling in one of its examples. */
const MojoWriteMessageFlags MOJO_WRITE_MESSAGE_NONE =
    MOJO_WRITE_MESSAGE_FLAG_NONE;
#else
#define MOJO_WRITE_MESSAGE_FLAG_NONE ((MojoWriteMessageFlags)0)
/* The API guide's spelling in one of its examples. */
#define MOJO_WRITE_MESSAGE_NONE MOJO_WRITE_MESSAGE_FLAG_NONE
#endif

/* Flags for MojoReadMessage() and MojoReadMessageNew(). */
typedef uint32_t MojoReadMessageFlags;

#ifdef __cplusplus
const MojoReadMessageFlags MOJO_READ_MESSAGE_FLAG_NONE = 0;
const MojoReadMessageFlags MOJO_READ_MESSAGE_FLAG_MAY_DISCARD = 1 << 0;
#else
#define MOJO_READ_MESSAGE_FLAG_NONE ((MojoReadMessageFlags)0)
/* If the caller's buffers are too small, drop the message instead of leaving
 * it queued. */
#define MOJO_READ_MESSAGE_FLAG_MAY_DISCARD ((MojoReadMessageFlags)(1u << 0))
#endif

/* Flags for MojoAllocMessage(). */
typedef uint32_t MojoAllocMessageFlags;

#ifdef __cplusplus
const MojoAllocMessageFlags MOJO_ALLOC_MESSAGE_FLAG_NONE = 0;
/* The spelling used by some of the era's header comments. */
const MojoAllocMessageFlags MOJO_CREATE_MESSAGE_FLAG_NONE =
    MOJO_ALLOC_MESSAGE_FLAG_NONE;
#else
#define MOJO_ALLOC_MESSAGE_FLAG_NONE ((MojoAllocMessageFlags)0)
/* The spelling used by some of the era's header comments. */
#define MOJO_CREATE_MESSAGE_FLAG_NONE MOJO_ALLOC_MESSAGE_FLAG_NONE
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Creates a message pipe and returns its two endpoints. `options` may be
 * NULL. Returns MOJO_RESULT_OK, MOJO_RESULT_INVALID_ARGUMENT for bad
 * arguments, or MOJO_RESULT_RESOURCE_EXHAUSTED. */
MOJO_SYSTEM_EXPORT MojoResult
MojoCreateMessagePipe(const struct MojoCreateMessagePipeOptions* options,
                      MojoHandle* message_pipe_handle0,
                      MojoHandle* message_pipe_handle1);

/* Copies `num_bytes` bytes and moves `num_handles` handles into a new
 * message on the pipe. On success the handles belong to the message; on
 * failure the caller keeps them. MOJO_RESULT_FAILED_PRECONDITION means the
 * peer is known to be closed. */
MOJO_SYSTEM_EXPORT MojoResult
MojoWriteMessage(MojoHandle message_pipe_handle,
                 const void* bytes,
                 uint32_t num_bytes,
                 const MojoHandle* handles,
                 uint32_t num_handles,
                 MojoWriteMessageFlags flags);

/* Writes a message object made by MojoAllocMessage(). The message is given
 * away whether or not the call succeeds. */
MOJO_SYSTEM_EXPORT MojoResult
MojoWriteMessageNew(MojoHandle message_pipe_handle,
                    MojoMessageHandle message,
                    MojoWriteMessageFlags);

/* Reads the next message into caller buffers. On input `*num_bytes` and
 * `*num_handles` are the capacities (NULL means 0); on output they are the
 * sizes of the message. Too-small buffers give MOJO_RESULT_RESOURCE_EXHAUSTED
 * and leave the message queued unless MOJO_READ_MESSAGE_FLAG_MAY_DISCARD is
 * set. An empty queue gives MOJO_RESULT_SHOULD_WAIT, or
 * MOJO_RESULT_FAILED_PRECONDITION once the peer is closed. */
MOJO_SYSTEM_EXPORT MojoResult
MojoReadMessage(MojoHandle message_pipe_handle,
                void* bytes,
                uint32_t* num_bytes,
                MojoHandle* handles,
                uint32_t* num_handles,
                MojoReadMessageFlags flags);

/* Like MojoReadMessage(), but returns the message as a message object whose
 * bytes are reached with MojoGetMessageBuffer(). `*num_bytes` is output
 * only; `*num_handles` is still a capacity on input. */
MOJO_SYSTEM_EXPORT MojoResult
MojoReadMessageNew(MojoHandle message_pipe_handle,
                   MojoMessageHandle* message,
                   uint32_t* num_bytes,
                   MojoHandle* handles,
                   uint32_t* num_handles,
                   MojoReadMessageFlags flags);

/* Joins two pipes: given A-B and C-D, fusing B with C leaves A-D. Both
 * handles are consumed. MOJO_RESULT_FAILED_PRECONDITION if either endpoint
 * has already been used. */
MOJO_SYSTEM_EXPORT MojoResult MojoFuseMessagePipes(MojoHandle handle0,
                                                   MojoHandle handle1);

/* Creates a message object with room for `num_bytes` payload bytes, taking
 * ownership of `num_handles` handles on success. */
MOJO_SYSTEM_EXPORT MojoResult MojoAllocMessage(uint32_t num_bytes,
                                               const MojoHandle* handles,
                                               uint32_t num_handles,
                                               MojoAllocMessageFlags flags,
                                               MojoMessageHandle* message);

/* Destroys a message object that was not written, closing its handles. */
MOJO_SYSTEM_EXPORT MojoResult MojoFreeMessage(MojoMessageHandle message);

/* Returns the address of the message's payload (8-byte aligned). */
MOJO_SYSTEM_EXPORT MojoResult MojoGetMessageBuffer(MojoMessageHandle message,
                                                   void** buffer);

/* Reports that the sender of `message` sent something invalid. `error` is a
 * description of `error_num_bytes` bytes, not NUL-terminated. */
MOJO_SYSTEM_EXPORT MojoResult MojoNotifyBadMessage(MojoMessageHandle message,
                                                   const char* error,
                                                   size_t error_num_bytes);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* MOJO_PUBLIC_C_SYSTEM_MESSAGE_PIPE_H_ */
