/*
 * Two (or more) threads at once, hammering write, read, watch and close,
 * through the library: on a pipe shared between them, on pipes of their
 * own, with watchers firing on whichever thread, and with one thread
 * closing handles the other is using. It must end without a crash, with
 * every CANCELLED delivered, and without leaking file descriptors or
 * memory (the resident set stays bounded; run it under valgrind for the
 * C side).
 *
 * Usage: threads_test [iterations]
 */
#include <dirent.h>
#include <stdatomic.h>

#include "ctest.h"

static int iterations = 2000;
static MojoHandle shared_a, shared_b;
static atomic_int notified, cancelled, watches_made;
static atomic_int received;

static void on_note(uintptr_t context, MojoResult result,
                    struct MojoHandleSignalsState state,
                    MojoWatcherNotificationFlags flags) {
  (void)context;
  (void)state;
  (void)flags;
  if (result == MOJO_RESULT_CANCELLED)
    atomic_fetch_add(&cancelled, 1);
  else
    atomic_fetch_add(&notified, 1);
}

static int count_fds(void) {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

static long rss_kib(void) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld", &v) == 1) break;
  fclose(f);
  return v;
}

static void* hammer(void* arg) {
  int id = (int)(intptr_t)arg;
  char buf[256];
  for (int i = 0; i < iterations; i++) {
    /* Own pipe: write, watch, read, close. */
    MojoHandle a, b, w;
    if (MojoCreateMessagePipe(NULL, &a, &b) != MOJO_RESULT_OK) abort();
    if (MojoCreateWatcher(on_note, &w) != MOJO_RESULT_OK) abort();
    if (MojoWatch(w, b, MOJO_HANDLE_SIGNAL_READABLE, (uintptr_t)i + 1) != MOJO_RESULT_OK) abort();
    atomic_fetch_add(&watches_made, 1);
    MojoArmWatcher(w, NULL, NULL, NULL, NULL);
    MojoWriteMessage(a, buf, 1 + i % 200, NULL, 0, 0);
    uint32_t n = sizeof buf;
    MojoReadMessage(b, buf, &n, NULL, NULL, 0);
    /* A handle travels. */
    MojoHandle c, d;
    MojoCreateMessagePipe(NULL, &c, &d);
    MojoWriteMessage(a, "h", 1, &c, 1, 0);
    uint32_t nh = 1;
    n = sizeof buf;
    if (MojoReadMessage(b, buf, &n, &c, &nh, 0) == MOJO_RESULT_OK) MojoClose(c);
    MojoClose(d);
    /* Alternate the order of closing. */
    if (i % 2) {
      MojoClose(w);
      MojoClose(b);
    } else {
      MojoClose(b);
      MojoClose(w);
    }
    MojoClose(a);

    /* The shared pipe: thread 0 writes, thread 1 reads. */
    if (id == 0) {
      MojoWriteMessage(shared_a, &i, sizeof i, NULL, 0, 0);
    } else {
      n = sizeof buf;
      while (MojoReadMessage(shared_b, buf, &n, NULL, NULL, 0) == MOJO_RESULT_OK) {
        atomic_fetch_add(&received, 1);
        n = sizeof buf;
      }
    }

    /* Data pipes and buffers, briefly. */
    if (i % 16 == 0) {
      MojoHandle p, q, sb;
      MojoCreateDataPipe(NULL, &p, &q);
      uint32_t dn = 100;
      MojoWriteData(p, buf, &dn, 0);
      void* wb;
      uint32_t wn;
      if (MojoBeginWriteData(p, &wb, &wn, 0) == MOJO_RESULT_OK) {
        memset(wb, id, wn > 8 ? 8 : wn);
        MojoEndWriteData(p, wn > 8 ? 8 : wn);
      }
      const void* rb;
      uint32_t rn;
      if (MojoBeginReadData(q, &rb, &rn, 0) == MOJO_RESULT_OK) MojoEndReadData(q, rn);
      MojoClose(p);
      MojoClose(q);
      MojoCreateSharedBuffer(NULL, 4096, &sb);
      void* m;
      if (MojoMapBuffer(sb, 0, 4096, &m, 0) == MOJO_RESULT_OK) {
        ((char*)m)[id] = 1;
        MojoUnmapBuffer(m);
      }
      MojoClose(sb);
      MojoMessageHandle msg;
      void* mb;
      MojoAllocMessage(32, NULL, 0, 0, &msg);
      MojoGetMessageBuffer(msg, &mb);
      memset(mb, 1, 32);
      MojoFreeMessage(msg);
    }
  }
  return NULL;
}

/* One thread writes to a handle while another closes it. */
static MojoHandle victim_a, victim_b;
static atomic_int stop_writer;
static void* close_race_writer(void* arg) {
  (void)arg;
  while (!atomic_load(&stop_writer)) {
    MojoResult r = MojoWriteMessage(victim_a, "x", 1, NULL, 0, 0);
    if (r != MOJO_RESULT_OK && r != MOJO_RESULT_INVALID_ARGUMENT &&
        r != MOJO_RESULT_FAILED_PRECONDITION)
      abort();
    uint32_t n = 0;
    MojoReadMessage(victim_b, NULL, &n, NULL, NULL, MOJO_READ_MESSAGE_FLAG_MAY_DISCARD);
  }
  return NULL;
}

static void close_race(void) {
  for (int round = 0; round < 200; round++) {
    MojoCreateMessagePipe(NULL, &victim_a, &victim_b);
    atomic_store(&stop_writer, 0);
    pthread_t t;
    pthread_create(&t, NULL, close_race_writer, NULL);
    usleep(50);
    CHECK_OK(MojoClose(victim_a));
    CHECK_OK(MojoClose(victim_b));
    atomic_store(&stop_writer, 1);
    pthread_join(t, NULL);
  }
}

static void run_round(int threads) {
  pthread_t t[8];
  for (int i = 0; i < threads; i++)
    pthread_create(&t[i], NULL, hammer, (void*)(intptr_t)i);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
}

int main(int argc, char** argv) {
  if (argc > 1) iterations = atoi(argv[1]);
  CHECK_OK(MojoCreateMessagePipe(NULL, &shared_a, &shared_b));
  int fds_before = count_fds();

  run_round(2);
  long rss_after_first = rss_kib();
  run_round(2);
  close_race();
  long rss_after_second = rss_kib();

  /* Drain what is left on the shared pipe. */
  char buf[16];
  uint32_t n = sizeof buf;
  while (MojoReadMessage(shared_b, buf, &n, NULL, NULL, 0) == MOJO_RESULT_OK) {
    atomic_fetch_add(&received, 1);
    n = sizeof buf;
  }
  CHECK_EQ(atomic_load(&received), 2 * iterations);
  /* Every watch ended with exactly one CANCELLED. */
  CHECK_EQ(atomic_load(&cancelled), atomic_load(&watches_made));
  CHECK(atomic_load(&notified) > 0);
  CHECK_OK(MojoClose(shared_a));
  CHECK_OK(MojoClose(shared_b));
  CHECK_EQ(count_fds(), fds_before);
  /* A second round of the same work must not grow the process much: the
   * first round warmed every pool. */
  printf("rss after round 1: %ld KiB, after round 2: %ld KiB\n", rss_after_first,
         rss_after_second);
  CHECK(rss_after_second < rss_after_first + 32 * 1024);
  return ctest_done("threads");
}
