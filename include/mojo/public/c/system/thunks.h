/*
 * The Mojo system thunk table (2017 ABI).
 *
 * A table holding one pointer per Mojo system function, used by embedders
 * that route an application library's Mojo calls to their own
 * implementation. Members are only ever appended; their order and types
 * below are fixed. The table itself was never promised to be a stable ABI;
 * programs that link the library directly do not need it.
 */

#ifndef MOJO_PUBLIC_C_SYSTEM_THUNKS_H_
#define MOJO_PUBLIC_C_SYSTEM_THUNKS_H_

#include <stddef.h>
#include <stdint.h>

#include "mojo/public/c/system/core.h"
#include "mojo/public/c/system/system_export.h"

/* Packing 8 changes nothing on LP64 targets; it pins the layout for
 * compilers whose default packing is different. */
#pragma pack(push, 8)
struct MojoSystemThunks {
  /* sizeof(struct MojoSystemThunks) as known to whoever filled the table. */
  size_t size;
  MojoTimeTicks (*GetTimeTicksNow)(void);
  MojoResult (*Close)(MojoHandle handle);
  MojoResult (*QueryHandleSignalsState)(
      MojoHandle handle,
      struct MojoHandleSignalsState* signals_state);
  MojoResult (*CreateMessagePipe)(
      const struct MojoCreateMessagePipeOptions* options,
      MojoHandle* message_pipe_handle0,
      MojoHandle* message_pipe_handle1);
  MojoResult (*WriteMessage)(MojoHandle message_pipe_handle,
                             const void* bytes,
                             uint32_t num_bytes,
                             const MojoHandle* handles,
                             uint32_t num_handles,
                             MojoWriteMessageFlags flags);
  MojoResult (*ReadMessage)(MojoHandle message_pipe_handle,
                            void* bytes,
                            uint32_t* num_bytes,
                            MojoHandle* handles,
                            uint32_t* num_handles,
                            MojoReadMessageFlags flags);
  MojoResult (*CreateDataPipe)(const struct MojoCreateDataPipeOptions* options,
                               MojoHandle* data_pipe_producer_handle,
                               MojoHandle* data_pipe_consumer_handle);
  /* The data-pipe entries keep the table's older element-based parameter
   * names; the types are those of the Mojo* functions. */
  MojoResult (*WriteData)(MojoHandle data_pipe_producer_handle,
                          const void* elements,
                          uint32_t* num_elements,
                          MojoWriteDataFlags flags);
  MojoResult (*BeginWriteData)(MojoHandle data_pipe_producer_handle,
                               void** buffer,
                               uint32_t* buffer_num_elements,
                               MojoWriteDataFlags flags);
  MojoResult (*EndWriteData)(MojoHandle data_pipe_producer_handle,
                             uint32_t num_elements_written);
  MojoResult (*ReadData)(MojoHandle data_pipe_consumer_handle,
                         void* elements,
                         uint32_t* num_elements,
                         MojoReadDataFlags flags);
  MojoResult (*BeginReadData)(MojoHandle data_pipe_consumer_handle,
                              const void** buffer,
                              uint32_t* buffer_num_elements,
                              MojoReadDataFlags flags);
  MojoResult (*EndReadData)(MojoHandle data_pipe_consumer_handle,
                            uint32_t num_elements_read);
  MojoResult (*CreateSharedBuffer)(
      const struct MojoCreateSharedBufferOptions* options,
      uint64_t num_bytes,
      MojoHandle* shared_buffer_handle);
  MojoResult (*DuplicateBufferHandle)(
      MojoHandle buffer_handle,
      const struct MojoDuplicateBufferHandleOptions* options,
      MojoHandle* new_buffer_handle);
  MojoResult (*MapBuffer)(MojoHandle buffer_handle,
                          uint64_t offset,
                          uint64_t num_bytes,
                          void** buffer,
                          MojoMapBufferFlags flags);
  MojoResult (*UnmapBuffer)(void* buffer);
  MojoResult (*CreateWatcher)(MojoWatcherCallback callback,
                              MojoHandle* watcher_handle);
  MojoResult (*Watch)(MojoHandle watcher_handle,
                      MojoHandle handle,
                      MojoHandleSignals signals,
                      uintptr_t context);
  MojoResult (*CancelWatch)(MojoHandle watcher_handle, uintptr_t context);
  MojoResult (*ArmWatcher)(MojoHandle watcher_handle,
                           uint32_t* num_ready_contexts,
                           uintptr_t* ready_contexts,
                           MojoResult* ready_results,
                           struct MojoHandleSignalsState* ready_signals_states);
  MojoResult (*FuseMessagePipes)(MojoHandle handle0, MojoHandle handle1);
  MojoResult (*WriteMessageNew)(MojoHandle message_pipe_handle,
                                MojoMessageHandle message,
                                MojoWriteMessageFlags flags);
  MojoResult (*ReadMessageNew)(MojoHandle message_pipe_handle,
                               MojoMessageHandle* message,
                               uint32_t* num_bytes,
                               MojoHandle* handles,
                               uint32_t* num_handles,
                               MojoReadMessageFlags flags);
  MojoResult (*AllocMessage)(uint32_t num_bytes,
                             const MojoHandle* handles,
                             uint32_t num_handles,
                             MojoAllocMessageFlags flags,
                             MojoMessageHandle* message);
  MojoResult (*FreeMessage)(MojoMessageHandle message);
  MojoResult (*GetMessageBuffer)(MojoMessageHandle message, void** buffer);
  MojoResult (*WrapPlatformHandle)(
      const struct MojoPlatformHandle* platform_handle,
      MojoHandle* mojo_handle);
  MojoResult (*UnwrapPlatformHandle)(
      MojoHandle mojo_handle,
      struct MojoPlatformHandle* platform_handle);
  MojoResult (*WrapPlatformSharedBufferHandle)(
      const struct MojoPlatformHandle* platform_handle,
      size_t num_bytes,
      MojoPlatformSharedBufferHandleFlags flags,
      MojoHandle* mojo_handle);
  MojoResult (*UnwrapPlatformSharedBufferHandle)(
      MojoHandle mojo_handle,
      struct MojoPlatformHandle* platform_handle,
      size_t* num_bytes,
      MojoPlatformSharedBufferHandleFlags* flags);
  MojoResult (*NotifyBadMessage)(MojoMessageHandle message,
                                 const char* error,
                                 size_t error_num_bytes);
  MojoResult (*GetProperty)(MojoPropertyType type, void* value);
};
#pragma pack(pop)

/* Lets C code name the struct without the `struct` keyword. */
typedef struct MojoSystemThunks MojoSystemThunks;

/* Type of an application library's thunk-installing entry point: it copies
 * the table and returns the table size the library expects. */
typedef size_t (*MojoSetSystemThunksFn)(
    const struct MojoSystemThunks* system_thunks);

#ifdef __cplusplus
extern "C" {
#endif

/* Installs the embedder's own table. The table is copied only if
 * `system_thunks->size` is at least sizeof(struct MojoSystemThunks); the
 * return value is sizeof(struct MojoSystemThunks). */
MOJO_SYSTEM_EXPORT size_t
MojoEmbedderSetSystemThunks(const struct MojoSystemThunks* system_thunks);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* MOJO_PUBLIC_C_SYSTEM_THUNKS_H_ */
