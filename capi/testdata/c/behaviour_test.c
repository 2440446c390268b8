/*
 * The behaviour table of the reference implementation at the seed commit
 * (mojo.md section 1.10), row by row, through the C ABI: the checks that
 * only C can make (null pointers, counts, options struct sizes and
 * alignment, by-value callback arguments) are the C layer's own.
 */
#include <fcntl.h>

#include "ctest.h"

static MojoHandle handles_buf[2];

static void time_row(void) {
  MojoTimeTicks t1 = MojoGetTimeTicksNow();
  MojoTimeTicks t2 = MojoGetTimeTicksNow();
  CHECK(t1 != 0);
  CHECK(t2 >= t1);
  usleep(2000);
  CHECK(MojoGetTimeTicksNow() - t2 >= 2000); /* microseconds */
}

static void close_query_row(void) {
  struct MojoHandleSignalsState s;
  CHECK_EQ(MojoClose(12345), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoQueryHandleSignalsState(12345, &s), MOJO_RESULT_INVALID_ARGUMENT);
  MojoHandle a, b;
  CHECK_OK(MojoCreateMessagePipe(NULL, &a, &b));
  CHECK_EQ(MojoQueryHandleSignalsState(a, NULL), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoCreateMessagePipe(NULL, NULL, &b), MOJO_RESULT_INVALID_ARGUMENT);
  MojoClose(a);
  MojoClose(b);
}

static void options_row(void) {
  MojoHandle h, p, c;
  /* struct_size < 4: invalid. */
  struct MojoCreateSharedBufferOptions sbo = {2, 0};
  CHECK_EQ(MojoCreateSharedBuffer(&sbo, 64, &h), MOJO_RESULT_INVALID_ARGUMENT);
  /* struct_size not reaching `flags`: the default is used (the garbage
   * flags are not read). */
  sbo.struct_size = 4;
  sbo.flags = 0xffff;
  CHECK_OK(MojoCreateSharedBuffer(&sbo, 64, &h));
  /* Unknown flags: UNIMPLEMENTED. */
  sbo.struct_size = sizeof sbo;
  CHECK_EQ(MojoCreateSharedBuffer(&sbo, 64, &p), MOJO_RESULT_UNIMPLEMENTED);
  struct MojoDuplicateBufferHandleOptions dbo = {sizeof dbo, 0x80};
  CHECK_EQ(MojoDuplicateBufferHandle(h, &dbo, &p), MOJO_RESULT_UNIMPLEMENTED);
  dbo.struct_size = 3;
  CHECK_EQ(MojoDuplicateBufferHandle(h, &dbo, &p), MOJO_RESULT_INVALID_ARGUMENT);
  /* The options pointer must have the struct's alignment. */
  uint64_t raw[4] = {0, 0, 0, 0};
  struct MojoCreateSharedBufferOptions* misaligned =
      (struct MojoCreateSharedBufferOptions*)((char*)raw + 4);
  misaligned->struct_size = 8;
  misaligned->flags = 0;
  CHECK_EQ(MojoCreateSharedBuffer(misaligned, 64, &p), MOJO_RESULT_INVALID_ARGUMENT);
  struct MojoDuplicateBufferHandleOptions* dmis =
      (struct MojoDuplicateBufferHandleOptions*)((char*)raw + 4); /* 4-aligned: fine */
  dmis->struct_size = 8;
  dmis->flags = 0;
  CHECK_OK(MojoDuplicateBufferHandle(h, dmis, &p));
  MojoClose(p);
  /* MojoCreateDataPipe demands struct_size == 16 exactly. */
  struct MojoCreateDataPipeOptions dpo = {8, 0, 1, 1024};
  CHECK_EQ(MojoCreateDataPipe(&dpo, &p, &c), MOJO_RESULT_INVALID_ARGUMENT);
  dpo.struct_size = sizeof dpo;
  CHECK_OK(MojoCreateDataPipe(&dpo, &p, &c));
  MojoClose(p);
  MojoClose(c);
  struct MojoCreateDataPipeOptions* dmis2 =
      (struct MojoCreateDataPipeOptions*)((char*)raw + 4);
  memcpy(dmis2, &dpo, sizeof dpo);
  CHECK_EQ(MojoCreateDataPipe(dmis2, &p, &c), MOJO_RESULT_INVALID_ARGUMENT);
  /* MojoCreateMessagePipe ignores its options. */
  struct MojoCreateMessagePipeOptions mpo = {0, 0xff};
  CHECK_OK(MojoCreateMessagePipe(&mpo, &p, &c));
  MojoClose(p);
  MojoClose(c);
  MojoClose(h);
}

static void write_message_row(void) {
  MojoHandle a, b, c, d;
  CHECK_OK(MojoCreateMessagePipe(NULL, &a, &b));
  CHECK_OK(MojoCreateMessagePipe(NULL, &c, &d));
  CHECK_EQ(MojoWriteMessage(a, NULL, 1, NULL, 0, 0), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoWriteMessage(a, "x", 1, NULL, 1, 0), MOJO_RESULT_INVALID_ARGUMENT);
  /* A bad handle in the list: the call fails and the caller keeps every
   * attached handle. */
  MojoHandle list[2] = {c, 999999};
  CHECK_EQ(MojoWriteMessage(a, "x", 1, list, 2, 0), MOJO_RESULT_INVALID_ARGUMENT);
  struct MojoHandleSignalsState s;
  CHECK_OK(MojoQueryHandleSignalsState(c, &s));
  /* The pipe itself cannot be attached to its own message. */
  CHECK_EQ(MojoWriteMessage(a, "x", 1, &a, 1, 0), MOJO_RESULT_INVALID_ARGUMENT);
  /* A handle listed twice is busy. */
  MojoHandle twice[2] = {c, c};
  CHECK_EQ(MojoWriteMessage(a, "x", 1, twice, 2, 0), MOJO_RESULT_BUSY);
  /* More than 1,048,576 handles. The array is never read. */
  CHECK_EQ(MojoWriteMessage(a, "x", 1, handles_buf, 1048577, 0),
           MOJO_RESULT_RESOURCE_EXHAUSTED);
  /* Peer closed. */
  CHECK_OK(MojoClose(b));
  CHECK_EQ(MojoWriteMessage(a, "x", 1, NULL, 0, 0), MOJO_RESULT_FAILED_PRECONDITION);
  /* WriteMessageNew takes ownership whatever happens. */
  MojoMessageHandle m;
  CHECK_OK(MojoAllocMessage(4, &c, 1, 0, &m));
  CHECK_EQ(MojoWriteMessageNew(123456, m, 0), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoFreeMessage(m), MOJO_RESULT_INVALID_ARGUMENT);
  /* c travelled with the failed message and was closed with it. */
  CHECK_OK(MojoQueryHandleSignalsState(d, &s));
  CHECK(s.satisfied_signals & MOJO_HANDLE_SIGNAL_PEER_CLOSED);
  MojoClose(a);
  MojoClose(d);
}

static void read_message_row(void) {
  MojoHandle a, b, c, d;
  CHECK_OK(MojoCreateMessagePipe(NULL, &a, &b));
  char buf[16];
  uint32_t n = sizeof buf, nh = 0;
  CHECK_EQ(MojoReadMessage(b, buf, &n, NULL, NULL, 0), MOJO_RESULT_SHOULD_WAIT);
  /* Capacity without a buffer. */
  n = 4;
  CHECK_EQ(MojoReadMessage(b, NULL, &n, NULL, NULL, 0), MOJO_RESULT_INVALID_ARGUMENT);
  /* Too small: RESOURCE_EXHAUSTED with the sizes; the message stays. */
  CHECK_OK(MojoCreateMessagePipe(NULL, &c, &d));
  CHECK_OK(MojoWriteMessage(a, "hello", 5, &c, 1, 0));
  n = 2;
  CHECK_EQ(MojoReadMessage(b, buf, &n, NULL, &nh, 0), MOJO_RESULT_RESOURCE_EXHAUSTED);
  CHECK_EQ(n, 5);
  CHECK_EQ(nh, 1);
  n = sizeof buf;
  nh = 1;
  CHECK_OK(MojoReadMessage(b, buf, &n, &c, &nh, 0));
  CHECK_EQ(n, 5);
  CHECK_EQ(nh, 1);
  /* MAY_DISCARD drops what does not fit. */
  CHECK_OK(MojoWriteMessage(a, "hello", 5, NULL, 0, 0));
  n = 2;
  CHECK_EQ(MojoReadMessage(b, buf, &n, NULL, NULL, MOJO_READ_MESSAGE_FLAG_MAY_DISCARD),
           MOJO_RESULT_RESOURCE_EXHAUSTED);
  n = sizeof buf;
  CHECK_EQ(MojoReadMessage(b, buf, &n, NULL, NULL, 0), MOJO_RESULT_SHOULD_WAIT);
  /* ReadMessageNew: num_bytes is output only; the handle capacity is
   * checked. */
  CHECK_OK(MojoWriteMessage(a, "hello", 5, &c, 1, 0));
  MojoMessageHandle m;
  n = 0;
  nh = 0;
  CHECK_EQ(MojoReadMessageNew(b, &m, &n, NULL, &nh, 0), MOJO_RESULT_RESOURCE_EXHAUSTED);
  CHECK_EQ(nh, 1);
  CHECK_EQ(MojoReadMessageNew(b, NULL, &n, NULL, &nh, 0), MOJO_RESULT_INVALID_ARGUMENT);
  n = 0;
  nh = 1;
  CHECK_OK(MojoReadMessageNew(b, &m, &n, &c, &nh, 0));
  CHECK_EQ(n, 5);
  void* payload;
  CHECK_OK(MojoGetMessageBuffer(m, &payload));
  CHECK(memcmp(payload, "hello", 5) == 0);
  CHECK_OK(MojoFreeMessage(m));
  /* Peer closed and queue empty. */
  CHECK_OK(MojoClose(a));
  n = sizeof buf;
  CHECK_EQ(MojoReadMessage(b, buf, &n, NULL, NULL, 0), MOJO_RESULT_FAILED_PRECONDITION);
  MojoClose(b);
  MojoClose(c);
  MojoClose(d);
}

static void alloc_message_row(void) {
  MojoMessageHandle m;
  CHECK_EQ(MojoAllocMessage(4, NULL, 0, 0, NULL), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoAllocMessage(4, NULL, 1, 0, &m), MOJO_RESULT_INVALID_ARGUMENT);
  for (uint32_t size = 0; size < 40; size += 7) {
    void* p;
    CHECK_OK(MojoAllocMessage(size, NULL, 0, 0, &m));
    CHECK_OK(MojoGetMessageBuffer(m, &p));
    CHECK(p != NULL);
    CHECK_EQ((uintptr_t)p % 8, 0);
    CHECK_EQ(MojoGetMessageBuffer(m, NULL), MOJO_RESULT_INVALID_ARGUMENT);
    CHECK_OK(MojoFreeMessage(m));
  }
  CHECK_EQ(MojoFreeMessage(0), MOJO_RESULT_INVALID_ARGUMENT);
}

static void data_pipe_row(void) {
  MojoHandle p, c;
  struct MojoHandleSignalsState s;
  CHECK_OK(MojoCreateDataPipe(NULL, &p, &c));
  CHECK_OK(MojoQueryHandleSignalsState(c, &s));
  CHECK_EQ(s.satisfied_signals, MOJO_HANDLE_SIGNAL_NONE);
  CHECK_EQ(s.satisfiable_signals, MOJO_HANDLE_SIGNAL_READABLE | MOJO_HANDLE_SIGNAL_PEER_CLOSED |
                                      MOJO_HANDLE_SIGNAL_NEW_DATA_READABLE);
  CHECK_OK(MojoQueryHandleSignalsState(p, &s));
  CHECK_EQ(s.satisfied_signals, MOJO_HANDLE_SIGNAL_WRITABLE);
  CHECK_EQ(s.satisfiable_signals, MOJO_HANDLE_SIGNAL_WRITABLE | MOJO_HANDLE_SIGNAL_PEER_CLOSED);
  uint32_t n = 3;
  CHECK_OK(MojoWriteData(p, "abc", &n, 0));
  CHECK_OK(MojoQueryHandleSignalsState(c, &s));
  CHECK_EQ(s.satisfied_signals, MOJO_HANDLE_SIGNAL_READABLE | MOJO_HANDLE_SIGNAL_NEW_DATA_READABLE);
  /* Null num_bytes; elements missing. */
  CHECK_EQ(MojoWriteData(p, "abc", NULL, 0), MOJO_RESULT_INVALID_ARGUMENT);
  n = 3;
  CHECK_EQ(MojoWriteData(p, NULL, &n, 0), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoReadData(c, NULL, &n, 0), MOJO_RESULT_INVALID_ARGUMENT);
  /* ALL_OR_NONE that cannot be met. */
  char buf[8];
  n = 8;
  CHECK_EQ(MojoReadData(c, buf, &n, MOJO_READ_DATA_FLAG_ALL_OR_NONE), MOJO_RESULT_OUT_OF_RANGE);
  static char big[70000];
  n = sizeof big;
  CHECK_EQ(MojoWriteData(p, big, &n, MOJO_WRITE_DATA_FLAG_ALL_OR_NONE), MOJO_RESULT_OUT_OF_RANGE);
  /* QUERY combined with PEEK or DISCARD, PEEK with DISCARD. */
  n = 1;
  CHECK_EQ(MojoReadData(c, buf, &n, MOJO_READ_DATA_FLAG_QUERY | MOJO_READ_DATA_FLAG_PEEK),
           MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoReadData(c, buf, &n, MOJO_READ_DATA_FLAG_PEEK | MOJO_READ_DATA_FLAG_DISCARD),
           MOJO_RESULT_INVALID_ARGUMENT);
  /* Two-phase operations in progress: BUSY. BeginWriteData with
   * ALL_OR_NONE: INVALID_ARGUMENT. BeginReadData takes no flags. */
  void* wbuf;
  uint32_t wn = 0;
  CHECK_EQ(MojoBeginWriteData(p, &wbuf, &wn, MOJO_WRITE_DATA_FLAG_ALL_OR_NONE),
           MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoBeginWriteData(p, NULL, &wn, 0), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_OK(MojoBeginWriteData(p, &wbuf, &wn, 0));
  n = 1;
  CHECK_EQ(MojoWriteData(p, "x", &n, 0), MOJO_RESULT_BUSY);
  CHECK_EQ(MojoBeginWriteData(p, &wbuf, &wn, 0), MOJO_RESULT_BUSY);
  CHECK_OK(MojoEndWriteData(p, 0));
  CHECK_EQ(MojoEndWriteData(p, 0), MOJO_RESULT_FAILED_PRECONDITION);
  const void* rbuf;
  uint32_t rn = 0;
  CHECK_EQ(MojoBeginReadData(c, &rbuf, &rn, MOJO_READ_DATA_FLAG_PEEK), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_OK(MojoBeginReadData(c, &rbuf, &rn, 0));
  CHECK_EQ(rn, 3);
  n = 1;
  CHECK_EQ(MojoReadData(c, buf, &n, 0), MOJO_RESULT_BUSY);
  CHECK_OK(MojoEndReadData(c, 0));
  /* Producer closes with data left: R|PC, NDR gone; drained: PC only. */
  CHECK_OK(MojoClose(p));
  CHECK_OK(MojoQueryHandleSignalsState(c, &s));
  CHECK_EQ(s.satisfied_signals, MOJO_HANDLE_SIGNAL_READABLE | MOJO_HANDLE_SIGNAL_PEER_CLOSED);
  CHECK_EQ(s.satisfiable_signals, MOJO_HANDLE_SIGNAL_READABLE | MOJO_HANDLE_SIGNAL_PEER_CLOSED);
  n = sizeof buf;
  CHECK_OK(MojoReadData(c, buf, &n, 0));
  CHECK_EQ(n, 3);
  CHECK_OK(MojoQueryHandleSignalsState(c, &s));
  CHECK_EQ(s.satisfied_signals, MOJO_HANDLE_SIGNAL_PEER_CLOSED);
  CHECK_EQ(s.satisfiable_signals, MOJO_HANDLE_SIGNAL_PEER_CLOSED);
  n = sizeof buf;
  CHECK_EQ(MojoReadData(c, buf, &n, 0), MOJO_RESULT_FAILED_PRECONDITION);
  MojoClose(c);
}

static void shared_buffer_row(void) {
  MojoHandle h, h2;
  CHECK_EQ(MojoCreateSharedBuffer(NULL, 0, &h), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoCreateSharedBuffer(NULL, (1ull << 30) + 1, &h), MOJO_RESULT_RESOURCE_EXHAUSTED);
  CHECK_EQ(MojoCreateSharedBuffer(NULL, 64, NULL), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_OK(MojoCreateSharedBuffer(NULL, 8192, &h));
  void *base, *at;
  CHECK_OK(MojoMapBuffer(h, 0, 8192, &base, 0));
  strcpy((char*)base + 4100, "offset");
  /* The mapping starts exactly at `offset`. */
  CHECK_OK(MojoMapBuffer(h, 4100, 16, &at, 0));
  CHECK(strcmp((char*)at, "offset") == 0);
  CHECK_EQ(MojoMapBuffer(h, 8000, 200, &at, 0), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoMapBuffer(h, 0, 0, &base, 0), MOJO_RESULT_INVALID_ARGUMENT);
  /* Unmap wants the same pointer. */
  CHECK_EQ(MojoUnmapBuffer((char*)at + 1), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoUnmapBuffer(NULL), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_OK(MojoUnmapBuffer(at));
  CHECK_EQ(MojoUnmapBuffer(at), MOJO_RESULT_INVALID_ARGUMENT);
  /* A mapping outlives the handle. */
  CHECK_OK(MojoDuplicateBufferHandle(h, NULL, &h2));
  CHECK_OK(MojoClose(h));
  CHECK_OK(MojoClose(h2));
  CHECK(strcmp((char*)base + 4100, "offset") == 0);
  CHECK_OK(MojoUnmapBuffer(base));
  /* Buffers have no signals. */
  struct MojoHandleSignalsState s = {1, 1};
  CHECK_OK(MojoCreateSharedBuffer(NULL, 64, &h));
  CHECK_OK(MojoQueryHandleSignalsState(h, &s));
  CHECK_EQ(s.satisfied_signals, 0);
  CHECK_EQ(s.satisfiable_signals, 0);
  MojoClose(h);
}

static void platform_handle_row(void) {
  MojoHandle h;
  int fds[2];
  CHECK_OK(pipe(fds));
  struct MojoPlatformHandle ph = {8, MOJO_PLATFORM_HANDLE_TYPE_FILE_DESCRIPTOR, (uint64_t)fds[0]};
  CHECK_EQ(MojoWrapPlatformHandle(&ph, &h), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoWrapPlatformHandle(NULL, &h), MOJO_RESULT_INVALID_ARGUMENT);
  ph.struct_size = sizeof ph;
  CHECK_OK(MojoWrapPlatformHandle(&ph, &h));
  /* Unwrap demands struct_size 16 on the output struct too, and always
   * consumes the Mojo handle. */
  struct MojoPlatformHandle out = {8, 0, 0};
  CHECK_EQ(MojoUnwrapPlatformHandle(h, &out), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoClose(h), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(fcntl(fds[0], F_GETFD), -1); /* closed with the handle */
  /* Type INVALID wraps an invalid handle, which unwraps as INVALID. */
  struct MojoPlatformHandle inv = {sizeof inv, MOJO_PLATFORM_HANDLE_TYPE_INVALID, 0};
  CHECK_OK(MojoWrapPlatformHandle(&inv, &h));
  out.struct_size = sizeof out;
  out.type = 77;
  CHECK_OK(MojoUnwrapPlatformHandle(h, &out));
  CHECK_EQ(out.type, MOJO_PLATFORM_HANDLE_TYPE_INVALID);
  close(fds[1]);
}

static int cb_count;
static MojoResult cb_results[16];
static void count_cb(uintptr_t context, MojoResult result,
                     struct MojoHandleSignalsState state,
                     MojoWatcherNotificationFlags flags) {
  (void)context;
  (void)state;
  (void)flags;
  if (cb_count < 16) cb_results[cb_count] = result;
  cb_count++;
}

static void watcher_row(void) {
  MojoHandle w, a, b, buf;
  CHECK_EQ(MojoCreateWatcher(count_cb, NULL), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoCreateWatcher(NULL, &w), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_OK(MojoCreateWatcher(count_cb, &w));
  CHECK_EQ(MojoArmWatcher(w, NULL, NULL, NULL, NULL), MOJO_RESULT_NOT_FOUND);
  CHECK_OK(MojoCreateMessagePipe(NULL, &a, &b));
  CHECK_OK(MojoCreateSharedBuffer(NULL, 64, &buf));
  CHECK_OK(MojoWatch(w, a, MOJO_HANDLE_SIGNAL_READABLE, 1));
  CHECK_EQ(MojoWatch(w, b, MOJO_HANDLE_SIGNAL_READABLE, 1), MOJO_RESULT_ALREADY_EXISTS);
  CHECK_EQ(MojoWatch(w, a, MOJO_HANDLE_SIGNAL_WRITABLE, 2), MOJO_RESULT_ALREADY_EXISTS);
  CHECK_EQ(MojoWatch(w, buf, MOJO_HANDLE_SIGNAL_READABLE, 3), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoWatch(buf, a, MOJO_HANDLE_SIGNAL_READABLE, 3), MOJO_RESULT_INVALID_ARGUMENT);
  uint32_t n = 1;
  CHECK_EQ(MojoArmWatcher(w, &n, NULL, NULL, NULL), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoCancelWatch(w, 99), MOJO_RESULT_NOT_FOUND);
  /* Signals NONE never arms. */
  MojoHandle w2;
  CHECK_OK(MojoCreateWatcher(count_cb, &w2));
  CHECK_OK(MojoWatch(w2, b, MOJO_HANDLE_SIGNAL_NONE, 5));
  uintptr_t ctx;
  MojoResult res;
  struct MojoHandleSignalsState st;
  n = 1;
  CHECK_EQ(MojoArmWatcher(w2, &n, &ctx, &res, &st), MOJO_RESULT_FAILED_PRECONDITION);
  CHECK_EQ(ctx, 5);
  CHECK_EQ(res, MOJO_RESULT_FAILED_PRECONDITION);
  /* Every watch ends with exactly one CANCELLED. */
  cb_count = 0;
  CHECK_OK(MojoClose(w2));
  CHECK_EQ(cb_count, 1);
  CHECK_EQ(cb_results[0], MOJO_RESULT_CANCELLED);
  cb_count = 0;
  CHECK_OK(MojoClose(a));
  CHECK_EQ(cb_count, 1);
  CHECK_EQ(cb_results[0], MOJO_RESULT_CANCELLED);
  CHECK_OK(MojoClose(w));
  CHECK_EQ(cb_count, 1);
  MojoClose(b);
  MojoClose(buf);
}

static void property_row(void) {
  unsigned char value = 7;
  CHECK_OK(MojoGetProperty(MOJO_PROPERTY_TYPE_SYNC_CALL_ALLOWED, &value));
  CHECK_EQ(value, 1);
  CHECK_EQ(MojoGetProperty(1, &value), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoGetProperty(MOJO_PROPERTY_TYPE_SYNC_CALL_ALLOWED, NULL), MOJO_RESULT_INVALID_ARGUMENT);
}

static void fuse_row(void) {
  MojoHandle a, b, c, d;
  CHECK_OK(MojoCreateMessagePipe(NULL, &a, &b));
  CHECK_OK(MojoCreateMessagePipe(NULL, &c, &d));
  CHECK_OK(MojoFuseMessagePipes(b, c));
  CHECK_OK(MojoWriteMessage(a, "fused", 6, NULL, 0, 0));
  CHECK_OK(ctest_wait(d, MOJO_HANDLE_SIGNAL_READABLE, 10));
  char buf[8];
  uint32_t n = sizeof buf;
  CHECK_OK(MojoReadMessage(d, buf, &n, NULL, NULL, 0));
  CHECK(strcmp(buf, "fused") == 0);
  CHECK_EQ(MojoFuseMessagePipes(a, 4242), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_EQ(MojoClose(a), MOJO_RESULT_INVALID_ARGUMENT); /* consumed */
  MojoClose(d);
}

static void notify_bad_message_row(void) {
  MojoHandle a, b;
  MojoMessageHandle m;
  CHECK_OK(MojoCreateMessagePipe(NULL, &a, &b));
  CHECK_OK(MojoWriteMessage(a, "bad", 3, NULL, 0, 0));
  uint32_t n = 0;
  CHECK_OK(MojoReadMessageNew(b, &m, &n, NULL, NULL, 0));
  CHECK_OK(MojoNotifyBadMessage(m, "malformed", 9));
  CHECK_EQ(MojoNotifyBadMessage(m, NULL, 9), MOJO_RESULT_INVALID_ARGUMENT);
  CHECK_OK(MojoFreeMessage(m));
  CHECK_EQ(MojoNotifyBadMessage(m, "x", 1), MOJO_RESULT_INVALID_ARGUMENT);
  MojoClose(a);
  MojoClose(b);
}

int main(void) {
  time_row();
  close_query_row();
  options_row();
  write_message_row();
  read_message_row();
  alloc_message_row();
  data_pipe_row();
  shared_buffer_row();
  platform_handle_row();
  watcher_row();
  property_row();
  fuse_row();
  notify_bad_message_row();
  return ctest_done("behaviour");
}
