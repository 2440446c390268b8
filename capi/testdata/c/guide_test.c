/*
 * Every snippet of the Mojo C System API guide (the seed document), in
 * order, with the results the guide documents. Where the guide's code does
 * not compile as written (mojo.md section 1.8: the headers win), the
 * smallest correction is made and marked "guide:".
 *
 * With the argument "readonly-crash" it runs only the read-only mapping
 * snippet, which must kill the process with SIGSEGV ("// CRASH").
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "ctest.h"

static void handles(void) {
  /* "If the handle passed to MojoClose was a valid handle, it will be
   * closed and MojoClose returns MOJO_RESULT_OK. Otherwise it returns
   * MOJO_RESULT_INVALID_ARGUMENT." */
  MojoHandle a, b;
  CHECK_OK(MojoCreateMessagePipe(NULL, &a, &b));
  MojoHandle x = a;
  MojoResult result = MojoClose(x);
  CHECK_EQ(result, MOJO_RESULT_OK);
  CHECK_EQ(MojoClose(x), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoClose(MOJO_HANDLE_INVALID), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_OK(MojoClose(b));
}

static void message_pipes(void) {
  /* Creating Message Pipes */
  MojoHandle a, b;
  MojoResult result = MojoCreateMessagePipe(NULL, &a, &b);
  CHECK_EQ(result, MOJO_RESULT_OK);
  CHECK(a != MOJO_HANDLE_INVALID && b != MOJO_HANDLE_INVALID && a != b);

  /* Allocating Messages */
  {
    MojoMessageHandle message;
    MojoResult result = MojoAllocMessage(6, NULL, 0, MOJO_ALLOC_MESSAGE_FLAG_NONE,
                                         &message);
    CHECK_EQ(result, MOJO_RESULT_OK);
    result = MojoFreeMessage(message);
    CHECK_EQ(result, MOJO_RESULT_OK);
  }
  MojoMessageHandle message;
  CHECK_OK(MojoAllocMessage(6, NULL, 0, MOJO_ALLOC_MESSAGE_FLAG_NONE, &message));
  {
    void* buffer = NULL;
    MojoResult result = MojoGetMessageBuffer(message, &buffer);
    CHECK_EQ(result, MOJO_RESULT_OK);
    memcpy(buffer, "hello", 6);
  }

  /* Writing Messages: the message arrives at b before the call returns
   * (same process, never transferred). */
  result = MojoWriteMessageNew(a, message, MOJO_WRITE_MESSAGE_FLAG_NONE);
  CHECK_EQ(result, MOJO_RESULT_OK);
  struct MojoHandleSignalsState state;
  CHECK_OK(MojoQueryHandleSignalsState(b, &state));
  CHECK(state.satisfied_signals & MOJO_HANDLE_SIGNAL_READABLE);

  /* Reading Messages */
  {
    MojoMessageHandle message;
    uint32_t num_bytes;
    MojoResult result = MojoReadMessageNew(b, &message, &num_bytes, NULL, NULL,
                                           MOJO_READ_MESSAGE_FLAG_NONE);
    CHECK_EQ(result, MOJO_RESULT_OK);
    CHECK_EQ(num_bytes, 6);
    void* buffer = NULL;
    result = MojoGetMessageBuffer(message, &buffer);
    CHECK_EQ(result, MOJO_RESULT_OK);
    printf("Pipe says: %s\n", (const char*)buffer);
    CHECK(strcmp((const char*)buffer, "hello") == 0);
    CHECK_OK(MojoFreeMessage(message));
  }
  {
    MojoMessageHandle message;
    MojoResult result = MojoReadMessageNew(b, &message, NULL, NULL, NULL,
                                           MOJO_READ_MESSAGE_FLAG_NONE);
    CHECK_EQ(result, MOJO_RESULT_SHOULD_WAIT);
  }

  /* Messages With Handles */
  {
    MojoHandle c, d;
    MojoMessageHandle message; /* guide: "MojoMessage message;" */
    CHECK_OK(MojoCreateMessagePipe(NULL, &c, &d));
    /* guide: passes `message`, not `&message`. */
    MojoResult result = MojoAllocMessage(0, &c, 1, MOJO_ALLOC_MESSAGE_FLAG_NONE,
                                         &message);
    CHECK_EQ(result, MOJO_RESULT_OK);
    /* "this takes ownership of |c|, effectively invalidating its handle" */
    CHECK_EQ(MojoClose(c), MOJO_RESULT_INVALID_ARGUMENT);
    result = MojoWriteMessageNew(a, message, MOJO_WRITE_MESSAGE_FLAG_NONE);
    CHECK_EQ(result, MOJO_RESULT_OK);

    uint32_t num_bytes;
    MojoHandle e;
    uint32_t num_handles = 1;
    result = MojoReadMessageNew(b, &message, &num_bytes, &e, &num_handles,
                                MOJO_READ_MESSAGE_FLAG_NONE);
    CHECK_EQ(result, MOJO_RESULT_OK);
    CHECK_EQ(num_bytes, 0);
    CHECK_EQ(num_handles, 1);
    CHECK_OK(MojoFreeMessage(message));
    /* "the handle in e is now referencing the same message pipe endpoint
     * which was originally referenced by c" */
    char buf[8];
    uint32_t n = sizeof buf;
    CHECK_OK(MojoWriteMessage(d, "via d", 6, NULL, 0, MOJO_WRITE_MESSAGE_FLAG_NONE));
    CHECK_OK(ctest_wait(e, MOJO_HANDLE_SIGNAL_READABLE, 10));
    CHECK_OK(MojoReadMessage(e, buf, &n, NULL, NULL, MOJO_READ_MESSAGE_FLAG_NONE));
    CHECK(n == 6 && strcmp(buf, "via d") == 0);

    /* Querying the sizes first: a message with one handle gives
     * RESOURCE_EXHAUSTED and the sizes. */
    MojoHandle f, g;
    CHECK_OK(MojoCreateMessagePipe(NULL, &f, &g));
    CHECK_OK(MojoWriteMessage(a, "abc", 3, &f, 1, MOJO_WRITE_MESSAGE_FLAG_NONE));
    {
      MojoMessageHandle message;
      uint32_t num_bytes = 0;
      uint32_t num_handles = 0;
      MojoResult result = MojoReadMessageNew(b, &message, &num_bytes, NULL,
                                             &num_handles,
                                             MOJO_READ_MESSAGE_FLAG_NONE);
      CHECK_EQ(result, MOJO_RESULT_RESOURCE_EXHAUSTED);
      CHECK_EQ(num_bytes, 3);
      CHECK_EQ(num_handles, 1);
      /* The message stays queued: read it properly. */
      num_handles = 1;
      CHECK_OK(MojoReadMessageNew(b, &message, &num_bytes, &f, &num_handles,
                                  MOJO_READ_MESSAGE_FLAG_NONE));
      CHECK_OK(MojoFreeMessage(message));
    }
    /* "if there did happen to be a message available with no payload and
     * no handles (i.e. an empty message), this would actually return
     * MOJO_RESULT_OK." */
    CHECK_OK(MojoWriteMessage(a, NULL, 0, NULL, 0, MOJO_WRITE_MESSAGE_FLAG_NONE));
    {
      MojoMessageHandle message;
      uint32_t num_bytes = 0;
      uint32_t num_handles = 0;
      MojoResult result = MojoReadMessageNew(b, &message, &num_bytes, NULL,
                                             &num_handles,
                                             MOJO_READ_MESSAGE_FLAG_NONE);
      CHECK_EQ(result, MOJO_RESULT_OK);
      CHECK_OK(MojoFreeMessage(message));
    }
    MojoClose(d);
    MojoClose(e);
    MojoClose(f);
    MojoClose(g);
  }
  CHECK_OK(MojoClose(a));
  CHECK_OK(MojoClose(b));
}

static void data_pipes(void) {
  /* Creating Data Pipes */
  MojoHandle producer, consumer;
  MojoResult result = MojoCreateDataPipe(NULL, &producer, &consumer);
  CHECK_EQ(result, MOJO_RESULT_OK);

  /* Immediate I/O */
  {
    uint32_t num_bytes = 12;
    MojoResult result = MojoWriteData(producer, "datadatadata", &num_bytes,
                                      MOJO_WRITE_DATA_FLAG_NONE);
    CHECK_EQ(result, MOJO_RESULT_OK);
    CHECK_EQ(num_bytes, 12);
  }
  {
    char buffer[64];
    uint32_t num_bytes = 64;
    MojoResult result = MojoReadData(consumer, buffer, &num_bytes,
                                     MOJO_READ_DATA_FLAG_NONE);
    CHECK_EQ(result, MOJO_RESULT_OK);
    CHECK_EQ(num_bytes, 12);
    CHECK(memcmp(buffer, "datadatadata", 12) == 0);
  }
  /* "If the available capacity on the pipe was less than the amount
   * requested ... this will copy what it can into the pipe and return the
   * number of bytes written ... If no data could be copied this will
   * instead return MOJO_RESULT_SHOULD_WAIT." (default capacity 64 kB) */
  {
    static char big[70000];
    uint32_t num_bytes = sizeof big;
    CHECK_OK(MojoWriteData(producer, big, &num_bytes, MOJO_WRITE_DATA_FLAG_NONE));
    CHECK_EQ(num_bytes, 65536);
    num_bytes = 1;
    CHECK_EQ(MojoWriteData(producer, big, &num_bytes, MOJO_WRITE_DATA_FLAG_NONE),
             MOJO_RESULT_SHOULD_WAIT);
    /* Peek, query, discard; ALL_OR_NONE that cannot be met. */
    char buf[4];
    num_bytes = 4;
    CHECK_OK(MojoReadData(consumer, buf, &num_bytes, MOJO_READ_DATA_FLAG_PEEK));
    num_bytes = 0;
    CHECK_OK(MojoReadData(consumer, NULL, &num_bytes, MOJO_READ_DATA_FLAG_QUERY));
    CHECK_EQ(num_bytes, 65536);
    num_bytes = 65536;
    CHECK_OK(MojoReadData(consumer, NULL, &num_bytes, MOJO_READ_DATA_FLAG_DISCARD));
    CHECK_EQ(num_bytes, 65536);
    num_bytes = 4;
    CHECK_OK(MojoWriteData(producer, "abc", &num_bytes, MOJO_WRITE_DATA_FLAG_NONE));
    num_bytes = 8;
    /* guide: MOJO_READ_DATA_OUT_OF_RANGE is MOJO_RESULT_OUT_OF_RANGE. */
    CHECK_EQ(MojoReadData(consumer, big, &num_bytes, MOJO_READ_DATA_FLAG_ALL_OR_NONE),
             MOJO_READ_DATA_OUT_OF_RANGE);
    num_bytes = 4;
    CHECK_OK(MojoReadData(consumer, buf, &num_bytes, MOJO_READ_DATA_FLAG_ALL_OR_NONE));
  }

  /* Two-Phase I/O */
  {
    void* buffer;
    uint32_t num_bytes = 1024;
    MojoResult result = MojoBeginWriteData(producer, &buffer, &num_bytes,
                                           MOJO_WRITE_DATA_FLAG_NONE);
    CHECK_EQ(result, MOJO_RESULT_OK);
    CHECK(num_bytes >= 6);
    memcpy(buffer, "hello", 6);
    result = MojoEndWriteData(producer, 6);
    CHECK_EQ(result, MOJO_RESULT_OK);
  }
  {
    const void* buffer; /* guide: `void* buffer;` (the parameter is const void**) */
    uint32_t num_bytes = 1024;
    MojoResult result = MojoBeginReadData(consumer, &buffer, &num_bytes,
                                          MOJO_READ_DATA_FLAG_NONE);
    CHECK_EQ(result, MOJO_RESULT_OK);
    printf("Pipe says: %s\n", (const char*)buffer); /* Should say "hello". */
    CHECK(strcmp((const char*)buffer, "hello") == 0);
    result = MojoEndReadData(consumer, 1); /* Say we only consumed one byte. */
    CHECK_EQ(result, MOJO_RESULT_OK);
    num_bytes = 1024;
    result = MojoBeginReadData(consumer, &buffer, &num_bytes,
                               MOJO_READ_DATA_FLAG_NONE);
    CHECK_EQ(result, MOJO_RESULT_OK);
    printf("Pipe says: %s\n", (const char*)buffer); /* Should say "ello". */
    CHECK(strcmp((const char*)buffer, "ello") == 0);
    result = MojoEndReadData(consumer, 5);
    CHECK_EQ(result, MOJO_RESULT_OK);
  }
  CHECK_OK(MojoClose(producer));
  CHECK_OK(MojoClose(consumer));
}

static void shared_buffers(void) {
  /* Creating Buffer Handles */
  MojoHandle buffer;
  MojoResult result = MojoCreateSharedBuffer(NULL, 4096, &buffer);
  CHECK_EQ(result, MOJO_RESULT_OK);
  MojoHandle another_name_for_buffer;
  result = MojoDuplicateBufferHandle(buffer, NULL, &another_name_for_buffer);
  CHECK_EQ(result, MOJO_RESULT_OK);

  /* Mapping Buffers */
  {
    void* data;
    MojoResult result = MojoMapBuffer(buffer, 0, 64, &data,
                                      MOJO_MAP_BUFFER_FLAG_NONE);
    CHECK_EQ(result, MOJO_RESULT_OK);
    *(int*)data = 42;
    result = MojoUnmapBuffer(data);
    CHECK_EQ(result, MOJO_RESULT_OK);
  }
  /* "The allocated buffer remains valid as long as at least one shared
   * buffer handle exists to reference it." Any number of mappings. */
  CHECK_OK(MojoClose(buffer));
  {
    void *d1, *d2;
    CHECK_OK(MojoMapBuffer(another_name_for_buffer, 0, 64, &d1, MOJO_MAP_BUFFER_FLAG_NONE));
    CHECK_OK(MojoMapBuffer(another_name_for_buffer, 0, 64, &d2, MOJO_MAP_BUFFER_FLAG_NONE));
    CHECK_EQ(*(int*)d1, 42);
    *(int*)d2 = 43;
    CHECK_EQ(*(int*)d1, 43);
    CHECK_OK(MojoUnmapBuffer(d1));
    CHECK_OK(MojoUnmapBuffer(d2));
  }

  /* Read-Only Handles: a read-only duplicate maps (the write that crashes
   * runs in its own process, see readonly_crash). */
  {
    MojoHandle read_only_buffer;
    MojoDuplicateBufferHandleOptions options;
    options.struct_size = sizeof(options);
    options.flags = MOJO_DUPLICATE_BUFFER_HANDLE_OPTIONS_FLAG_READ_ONLY;
    MojoResult result = MojoDuplicateBufferHandle(another_name_for_buffer,
                                                  &options, &read_only_buffer);
    CHECK_EQ(result, MOJO_RESULT_OK);
    const void* data;
    result = MojoMapBuffer(read_only_buffer, 0, 64, (void**)&data,
                           MOJO_MAP_BUFFER_FLAG_NONE);
    CHECK_EQ(result, MOJO_RESULT_OK);
    CHECK_EQ(*(const int*)data, 43);
    CHECK_OK(MojoUnmapBuffer((void*)data));
    CHECK_OK(MojoClose(read_only_buffer));
  }
  CHECK_OK(MojoClose(another_name_for_buffer));
}

static int readonly_crash(void) {
  MojoHandle buffer;
  MojoCreateSharedBuffer(NULL, 4096, &buffer);
  MojoHandle read_only_buffer;
  MojoDuplicateBufferHandleOptions options;
  options.struct_size = sizeof(options);
  options.flags = MOJO_DUPLICATE_BUFFER_HANDLE_OPTIONS_FLAG_READ_ONLY;
  MojoResult result = MojoDuplicateBufferHandle(buffer, &options,
                                                &read_only_buffer);
  if (result != MOJO_RESULT_OK) return 2;
  /* Attempt to map and write to the buffer using the read-only handle: */
  void* data;
  result = MojoMapBuffer(read_only_buffer, 0, 64, &data,
                         MOJO_MAP_BUFFER_FLAG_NONE);
  if (result != MOJO_RESULT_OK) return 3;
  printf("mapped read-only; writing\n");
  fflush(stdout);
  *(volatile int*)data = 42; /* CRASH */
  printf("wrote through a read-only mapping\n");
  return 0;
}

static void platform_handles(void) {
  int fds[2];
  CHECK_OK(pipe(fds));
  int fd = fds[1];
  /* Wrapping Basic Handle Types */
  MojoHandle handle;
  {
    MojoPlatformHandle platform_handle;
    platform_handle.struct_size = sizeof(platform_handle);
    platform_handle.type = MOJO_PLATFORM_HANDLE_TYPE_FILE_DESCRIPTOR;
    platform_handle.value = (uint64_t)fd;
    MojoResult result = MojoWrapPlatformHandle(&platform_handle, &handle);
    CHECK_EQ(result, MOJO_RESULT_OK);
  }
  /* ... pretend we sent it over a message pipe: send it for real. */
  MojoHandle a, b;
  CHECK_OK(MojoCreateMessagePipe(NULL, &a, &b));
  CHECK_OK(MojoWriteMessage(a, NULL, 0, &handle, 1, MOJO_WRITE_MESSAGE_FLAG_NONE));
  uint32_t nh = 1;
  CHECK_OK(MojoReadMessage(b, NULL, NULL, &handle, &nh, MOJO_READ_MESSAGE_FLAG_NONE));
  {
    MojoPlatformHandle platform_handle;
    platform_handle.struct_size = sizeof(platform_handle);
    MojoResult result = MojoUnwrapPlatformHandle(handle, &platform_handle);
    CHECK_EQ(result, MOJO_RESULT_OK);
    CHECK_EQ(platform_handle.type, MOJO_PLATFORM_HANDLE_TYPE_FILE_DESCRIPTOR);
    int fd2 = (int)platform_handle.value;
    CHECK(write(fd2, "fd!", 3) == 3);
    char buf[4] = {0};
    CHECK(read(fds[0], buf, 3) == 3);
    CHECK(strcmp(buf, "fd!") == 0);
    close(fd2);
  }
  /* "if you were to call MojoClose(handle), the file descriptor would be
   * closed too" */
  CHECK_OK(pipe(fds));
  {
    MojoPlatformHandle ph = {sizeof ph, MOJO_PLATFORM_HANDLE_TYPE_FILE_DESCRIPTOR,
                             (uint64_t)fds[1]};
    CHECK_OK(MojoWrapPlatformHandle(&ph, &handle));
    CHECK_OK(MojoClose(handle));
    char c;
    CHECK_EQ(read(fds[0], &c, 1), 0); /* end of file: the writer is closed */
    close(fds[0]);
  }

  /* Wrapping Shared Buffer Handles: a memfd as a Mojo shared buffer (the
   * guide's names MojoWrapPlatformSharedBuffer / ...Unwrap... are macros
   * for the header's ...Handle names). The library's driver accepts only a
   * memfd sealed against shrinking and growing, so that the process it
   * came from cannot truncate it under a mapping. */
  {
    int mfd = (int)syscall(SYS_memfd_create, "guide", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    CHECK(mfd >= 0);
    CHECK_OK(ftruncate(mfd, 4096));
    CHECK_OK(fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW));
    char* m = (char*)mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    strcpy(m, "from a memfd");
    MojoPlatformHandle ph = {sizeof ph, MOJO_PLATFORM_HANDLE_TYPE_FILE_DESCRIPTOR,
                             (uint64_t)mfd};
    MojoHandle sb;
    CHECK_OK(MojoWrapPlatformSharedBuffer(&ph, 4096,
                                          MOJO_PLATFORM_SHARED_BUFFER_HANDLE_FLAG_NONE, &sb));
    void* view;
    CHECK_OK(MojoMapBuffer(sb, 0, 4096, &view, MOJO_MAP_BUFFER_FLAG_NONE));
    CHECK(strcmp((char*)view, "from a memfd") == 0);
    CHECK_OK(MojoUnmapBuffer(view));
    MojoPlatformHandle out = {sizeof out, 0, 0};
    size_t size = 0;
    MojoPlatformSharedBufferHandleFlags flags = 1;
    CHECK_OK(MojoUnwrapPlatformSharedBuffer(sb, &out, &size, &flags));
    CHECK_EQ(out.type, MOJO_PLATFORM_HANDLE_TYPE_FILE_DESCRIPTOR);
    CHECK_EQ(size, 4096);
    CHECK_EQ(flags, MOJO_PLATFORM_SHARED_BUFFER_HANDLE_FLAG_NONE);
    close((int)out.value);
    munmap(m, 4096);
  }
  CHECK_OK(MojoClose(a));
  CHECK_OK(MojoClose(b));
}

static void signals(void) {
  MojoHandle a, b;
  MojoCreateMessagePipe(NULL, &a, &b);
  MojoHandleSignalsState state;
  MojoResult result = MojoQueryHandleSignalsState(a, &state);
  CHECK_EQ(result, MOJO_RESULT_OK);
  /* (satisfied_signals | satisfiable_signals) == satisfiable_signals */
  CHECK_EQ(state.satisfied_signals | state.satisfiable_signals, state.satisfiable_signals);
  CHECK_EQ(state.satisfied_signals, MOJO_HANDLE_SIGNAL_WRITABLE);
  CHECK_EQ(state.satisfiable_signals, MOJO_HANDLE_SIGNAL_READABLE +
                                          MOJO_HANDLE_SIGNAL_WRITABLE +
                                          MOJO_HANDLE_SIGNAL_PEER_CLOSED);
  CHECK_OK(MojoQueryHandleSignalsState(b, &state));
  CHECK_EQ(state.satisfied_signals, MOJO_HANDLE_SIGNAL_WRITABLE);
  /* Writing to b makes a readable; closing b then leaves a readable and
   * peer-closed. */
  CHECK_OK(MojoWriteMessage(b, "x", 1, NULL, 0, MOJO_WRITE_MESSAGE_FLAG_NONE));
  CHECK_OK(MojoQueryHandleSignalsState(a, &state));
  CHECK(state.satisfied_signals & MOJO_HANDLE_SIGNAL_READABLE);
  CHECK_OK(MojoClose(b));
  CHECK_OK(MojoQueryHandleSignalsState(a, &state));
  CHECK_EQ(state.satisfied_signals, MOJO_HANDLE_SIGNAL_READABLE + MOJO_HANDLE_SIGNAL_PEER_CLOSED);
  CHECK_EQ(state.satisfiable_signals, MOJO_HANDLE_SIGNAL_READABLE + MOJO_HANDLE_SIGNAL_PEER_CLOSED);
  /* Reading the last message leaves only PEER_CLOSED. */
  char c;
  uint32_t n = 1;
  CHECK_OK(MojoReadMessage(a, &c, &n, NULL, NULL, MOJO_READ_MESSAGE_FLAG_NONE));
  CHECK_OK(MojoQueryHandleSignalsState(a, &state));
  CHECK_EQ(state.satisfied_signals, MOJO_HANDLE_SIGNAL_PEER_CLOSED);
  CHECK_EQ(state.satisfiable_signals, MOJO_HANDLE_SIGNAL_PEER_CLOSED);
  CHECK_OK(MojoClose(a));
}

/* Watching Signals */
static int notifications;
static uintptr_t last_context;
static MojoResult last_result;
static MojoWatcherNotificationFlags last_flags;
static pthread_t last_thread;
static MojoHandleSignalsState last_state;
static int in_write;
static int during_write;

static void OnNotification(uintptr_t context,
                           MojoResult result,
                           MojoHandleSignalsState signals_state,
                           MojoWatcherNotificationFlags flags) {
  notifications++;
  last_state = signals_state; /* passed by value */
  last_context = context;
  last_result = result;
  last_flags = flags;
  last_thread = pthread_self();
  during_write = in_write;
}

static void watchers(void) {
  /* Creating a Watcher */
  MojoHandle w;
  MojoResult result = MojoCreateWatcher(&OnNotification, &w);
  CHECK_EQ(result, MOJO_RESULT_OK);

  /* Adding a Handle to a Watcher */
  MojoHandle a, b;
  MojoCreateMessagePipe(NULL, &a, &b);
  const uintptr_t context = 1234;
  result = MojoWatch(w, a, MOJO_HANDLE_SIGNAL_READABLE, context);
  CHECK_EQ(result, MOJO_RESULT_OK);

  /* Arming a Watcher */
  result = MojoArmWatcher(w, NULL, NULL, NULL, NULL);
  CHECK_EQ(result, MOJO_RESULT_OK);
  CHECK_EQ(notifications, 0);
  in_write = 1;
  MojoWriteMessage(b, NULL, 0, NULL, 0, MOJO_WRITE_MESSAGE_NONE);
  in_write = 0;
  /* "this will cause OnNotification to be invoked on the calling thread
   * with the context value (i.e. 1234)"; the result is OK; it is not
   * FROM_SYSTEM (it comes from a local API call). */
  CHECK_EQ(notifications, 1);
  CHECK_EQ(last_context, 1234);
  CHECK_EQ(last_result, MOJO_RESULT_OK);
  CHECK_EQ(last_flags, MOJO_WATCHER_NOTIFICATION_FLAG_NONE);
  CHECK(pthread_equal(last_thread, pthread_self()));
  CHECK(during_write);
  CHECK_EQ(last_state.satisfied_signals, MOJO_HANDLE_SIGNAL_READABLE | MOJO_HANDLE_SIGNAL_WRITABLE);
  CHECK_EQ(last_state.satisfiable_signals, MOJO_HANDLE_SIGNAL_READABLE | MOJO_HANDLE_SIGNAL_WRITABLE |
                                               MOJO_HANDLE_SIGNAL_PEER_CLOSED);

  /* The watcher disarmed itself: arming again fails while a is readable. */
  {
    uint32_t num_ready_contexts = 4;
    uintptr_t ready_contexts[4];
    MojoResult ready_results[4];
    struct MojoHandleSignalsStates ready_states[4];
    MojoResult result = MojoArmWatcher(w, &num_ready_contexts, ready_contexts,
                                       ready_results, ready_states);
    CHECK_EQ(result, MOJO_RESULT_FAILED_PRECONDITION);
    CHECK_EQ(num_ready_contexts, 1);
    CHECK_EQ(ready_contexts[0], 1234);
    CHECK_EQ(ready_results[0], MOJO_RESULT_OK);
    MojoHandleSignalsState now;
    MojoQueryHandleSignalsState(a, &now);
    CHECK_EQ(ready_states[0].satisfied_signals, now.satisfied_signals);
    CHECK_EQ(ready_states[0].satisfiable_signals, now.satisfiable_signals);
  }

  /* Closing b while armed for READABLE on a (drained) fires
   * FAILED_PRECONDITION. */
  uint32_t n = 0;
  CHECK_OK(MojoReadMessage(a, NULL, &n, NULL, NULL, MOJO_READ_MESSAGE_FLAG_NONE));
  CHECK_OK(MojoArmWatcher(w, NULL, NULL, NULL, NULL));
  CHECK_OK(MojoClose(b));
  CHECK_EQ(notifications, 2);
  CHECK_EQ(last_result, MOJO_RESULT_FAILED_PRECONDITION);

  /* Cancelling a Watch: explicitly, then by closing the watched handle,
   * then by closing the watcher. Each gives exactly one CANCELLED,
   * armed or not. */
  result = MojoCancelWatch(w, 1234);
  CHECK_EQ(result, MOJO_RESULT_OK);
  CHECK_EQ(notifications, 3);
  CHECK_EQ(last_result, MOJO_RESULT_CANCELLED);
  CHECK_EQ(last_context, 1234);
  CHECK_EQ(MojoCancelWatch(w, 1234), MOJO_RESULT_NOT_FOUND);

  MojoHandle c, d;
  MojoCreateMessagePipe(NULL, &c, &d);
  CHECK_OK(MojoWatch(w, c, MOJO_HANDLE_SIGNAL_READABLE, 1));
  CHECK_OK(MojoWatch(w, d, MOJO_HANDLE_SIGNAL_READABLE, 2));
  CHECK_OK(MojoClose(c)); /* Close the watched handle... */
  CHECK_EQ(last_result, MOJO_RESULT_CANCELLED);
  CHECK_EQ(last_context, 1);
  int before = notifications;
  CHECK_OK(MojoClose(w)); /* OR close the watcher handle... */
  CHECK_EQ(notifications, before + 1);
  CHECK_EQ(last_result, MOJO_RESULT_CANCELLED);
  CHECK_EQ(last_context, 2);
  MojoClose(a);
  MojoClose(d);
}

/* Practical Watch Context Usage (the guide's example, with its typos
 * fixed: the callback reads with MojoReadMessage and a missing `;`). */
struct WatchedHandleState {
  MojoHandle watcher;
  MojoHandle handle;
  int message_count;
};

static int states_freed;
static int final_counts[2];

static void OnPracticalNotification(uintptr_t context,
                                    MojoResult result,
                                    MojoHandleSignalsState signals_state,
                                    MojoWatcherNotificationFlags flags) {
  struct WatchedHandleState* state = (struct WatchedHandleState*)(context);
  MojoResult rv;
  (void)signals_state;
  (void)flags;

  if (result == MOJO_RESULT_CANCELLED) {
    final_counts[states_freed++ % 2] = state->message_count;
    free(state);
    return;
  }

  if (result == MOJO_RESULT_FAILED_PRECONDITION) {
    MojoCancelWatch(state->watcher, context);
    return;
  }

  while (MojoArmWatcher(state->watcher, NULL, NULL, NULL, NULL) ==
         MOJO_RESULT_FAILED_PRECONDITION) {
    /* guide: MojoReadMessageNew(state->handle, NULL, NULL, NULL,
     * MOJO_READ_MESSAGE_FLAG_MAY_DISCARD) has five arguments. */
    rv = MojoReadMessage(state->handle, NULL, NULL, NULL, NULL,
                         MOJO_READ_MESSAGE_FLAG_MAY_DISCARD);
    if (rv == MOJO_RESULT_OK) {
      state->message_count++;
    } else if (rv == MOJO_RESULT_FAILED_PRECONDITION) {
      MojoCancelWatch(state->watcher, context);
      return;
    }
  }
}

static void practical(void) {
  MojoHandle a, b;
  MojoCreateMessagePipe(NULL, &a, &b);

  MojoHandle a_watcher, b_watcher;
  MojoCreateWatcher(&OnPracticalNotification, &a_watcher);
  MojoCreateWatcher(&OnPracticalNotification, &b_watcher);

  struct WatchedHandleState* a_state = malloc(sizeof(struct WatchedHandleState));
  a_state->watcher = a_watcher;
  a_state->handle = a;
  a_state->message_count = 0;

  struct WatchedHandleState* b_state = malloc(sizeof(struct WatchedHandleState));
  b_state->watcher = b_watcher;
  b_state->handle = b;
  b_state->message_count = 0;

  MojoWatch(a_watcher, a, MOJO_HANDLE_SIGNAL_READABLE, (uintptr_t)a_state);
  MojoWatch(b_watcher, b, MOJO_HANDLE_SIGNAL_READABLE, (uintptr_t)b_state);

  MojoArmWatcher(a_watcher, NULL, NULL, NULL, NULL);
  MojoArmWatcher(b_watcher, NULL, NULL, NULL, NULL);

  /* "any writes to a will increment message_count in b_state, and any
   * writes to b will increment message_count in a_state." */
  for (int i = 0; i < 5; i++) {
    MojoWriteMessage(a, NULL, 0, NULL, 0, MOJO_WRITE_MESSAGE_FLAG_NONE);
  }
  for (int i = 0; i < 3; i++) {
    MojoWriteMessage(b, NULL, 0, NULL, 0, MOJO_WRITE_MESSAGE_FLAG_NONE);
  }
  CHECK_EQ(b_state->message_count, 5);
  CHECK_EQ(a_state->message_count, 3);

  /* "If either a or b is closed, both watches will be cancelled". */
  MojoClose(a);
  CHECK_EQ(states_freed, 2);
  CHECK((final_counts[0] == 3 && final_counts[1] == 5) ||
        (final_counts[0] == 5 && final_counts[1] == 3));
  MojoClose(b);
  MojoClose(a_watcher);
  MojoClose(b_watcher);
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "readonly-crash") == 0) {
    return readonly_crash();
  }
  handles();
  message_pipes();
  data_pipes();
  shared_buffers();
  platform_handles();
  signals();
  watchers();
  practical();
  return ctest_done("guide");
}
