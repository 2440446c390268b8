/*
 * Benchmarks driven from C through libmojo.so; capi's Go benchmarks run
 * them beside the same work done in Go and report both.
 *
 *   bench query N            MojoQueryHandleSignalsState, N times
 *   bench local N SIZE       MojoWriteMessage + MojoReadMessage on one pipe
 *   bench pingpong N SIZE    round trips with a child process
 *   bench datapipe N CHUNK   N chunks through a data pipe to a child
 *
 * Each prints "ns/op <float>" (for datapipe, per chunk).
 */
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "mojo/ext/invitation.h"
#include "ctest.h"

extern char** environ;

/* A reusable wait: one watcher, re-armed each time. */
struct rwait {
  MojoHandle watcher;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int fired;
  MojoResult result;
};

static void rwait_cb(uintptr_t context, MojoResult result,
                     struct MojoHandleSignalsState state,
                     MojoWatcherNotificationFlags flags) {
  struct rwait* w = (struct rwait*)context;
  (void)state;
  (void)flags;
  if (result == MOJO_RESULT_CANCELLED) return;
  pthread_mutex_lock(&w->mu);
  w->fired = 1;
  w->result = result;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

static void rwait_init(struct rwait* w, MojoHandle h, MojoHandleSignals s) {
  memset(w, 0, sizeof *w);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  if (MojoCreateWatcher(rwait_cb, &w->watcher) != MOJO_RESULT_OK ||
      MojoWatch(w->watcher, h, s, (uintptr_t)w) != MOJO_RESULT_OK)
    abort();
}

static MojoResult rwait(struct rwait* w) {
  uint32_t n = 1;
  uintptr_t ctx;
  MojoResult res;
  struct MojoHandleSignalsState st;
  pthread_mutex_lock(&w->mu);
  w->fired = 0;
  pthread_mutex_unlock(&w->mu);
  MojoResult r = MojoArmWatcher(w->watcher, &n, &ctx, &res, &st);
  if (r == MOJO_RESULT_FAILED_PRECONDITION) return res;
  if (r != MOJO_RESULT_OK) return r;
  pthread_mutex_lock(&w->mu);
  while (!w->fired) pthread_cond_wait(&w->cv, &w->mu);
  r = w->result;
  pthread_mutex_unlock(&w->mu);
  return r;
}

static void report(double seconds, long n) { printf("ns/op %.1f\n", seconds * 1e9 / n); }

static int query(long n) {
  MojoHandle a, b;
  struct MojoHandleSignalsState s;
  MojoCreateMessagePipe(NULL, &a, &b);
  double t = ctest_now();
  for (long i = 0; i < n; i++) MojoQueryHandleSignalsState(a, &s);
  report(ctest_now() - t, n);
  return 0;
}

static int local(long n, uint32_t size) {
  MojoHandle a, b;
  char* buf = calloc(1, size);
  char* out = calloc(1, size);
  MojoCreateMessagePipe(NULL, &a, &b);
  double t = ctest_now();
  for (long i = 0; i < n; i++) {
    uint32_t m = size;
    if (MojoWriteMessage(a, buf, size, NULL, 0, 0) != MOJO_RESULT_OK ||
        MojoReadMessage(b, out, &m, NULL, NULL, 0) != MOJO_RESULT_OK)
      return 1;
  }
  report(ctest_now() - t, n);
  return 0;
}

/* The child: echo messages on "pipe"; or read a data pipe to the end and
 * answer with the byte count. */
static int child(void) {
  MojoExtInvitation inv;
  MojoHandle pipe;
  if (MojoExtAcceptInvitation(NULL, 0, &inv) != MOJO_RESULT_OK ||
      MojoExtExtractMessagePipeFromInvitation(inv, "pipe", 4, &pipe) != MOJO_RESULT_OK)
    return 2;
  MojoExtCloseInvitation(inv);
  struct rwait w;
  rwait_init(&w, pipe, MOJO_HANDLE_SIGNAL_READABLE);
  static char buf[1 << 20];
  for (;;) {
    uint32_t n = sizeof buf, nh = 1;
    MojoHandle h = 0;
    MojoResult r = MojoReadMessage(pipe, buf, &n, &h, &nh, 0);
    if (r == MOJO_RESULT_SHOULD_WAIT) {
      if (rwait(&w) != MOJO_RESULT_OK) return 0; /* parent gone */
      continue;
    }
    if (r != MOJO_RESULT_OK) return 0;
    if (nh == 1) { /* a data pipe consumer: drain it */
      struct rwait dw;
      rwait_init(&dw, h, MOJO_HANDLE_SIGNAL_READABLE);
      uint64_t total = 0;
      for (;;) {
        const void* p;
        uint32_t avail;
        MojoResult dr = MojoBeginReadData(h, &p, &avail, 0);
        if (dr == MOJO_RESULT_SHOULD_WAIT) {
          if (rwait(&dw) != MOJO_RESULT_OK) break;
          continue;
        }
        if (dr != MOJO_RESULT_OK) break;
        total += avail;
        MojoEndReadData(h, avail);
      }
      MojoClose(dw.watcher);
      MojoClose(h);
      MojoWriteMessage(pipe, &total, sizeof total, NULL, 0, 0);
      continue;
    }
    MojoWriteMessage(pipe, buf, n, NULL, 0, 0);
  }
}

static pid_t spawn_child(const char* self, MojoHandle* pipe) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) abort();
  MojoExtInvitation inv;
  MojoExtCreateInvitation(NULL, &inv);
  MojoExtAttachMessagePipeToInvitation(inv, "pipe", 4, pipe);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
  int nenv = 0;
  while (environ[nenv]) nenv++;
  char** env = calloc(nenv + 2, sizeof *env);
  int k = 0;
  for (int i = 0; i < nenv; i++)
    if (strncmp(environ[i], "IPCZ_TRANSPORT_FD=", 18)) env[k++] = environ[i];
  env[k++] = "IPCZ_TRANSPORT_FD=3";
  char* argv[] = {(char*)self, "child", NULL};
  pid_t pid;
  if (posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, env)) abort();
  free(env);
  close(sv[1]);
  struct MojoPlatformHandle ph = {sizeof ph, MOJO_PLATFORM_HANDLE_TYPE_FILE_DESCRIPTOR,
                                  (uint64_t)sv[0]};
  if (MojoExtSendInvitation(inv, &ph, 0) != MOJO_RESULT_OK) abort();
  return pid;
}

static int finish(MojoHandle pipe, pid_t pid) {
  int status;
  MojoClose(pipe);
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}

static int pingpong(const char* self, long n, uint32_t size) {
  MojoHandle pipe;
  pid_t pid = spawn_child(self, &pipe);
  struct rwait w;
  rwait_init(&w, pipe, MOJO_HANDLE_SIGNAL_READABLE);
  char* buf = calloc(1, size);
  char* out = calloc(1, size);
  double t = 0;
  for (long i = -100; i < n; i++) { /* 100 warm-up round trips */
    if (i == 0) t = ctest_now();
    if (MojoWriteMessage(pipe, buf, size, NULL, 0, 0) != MOJO_RESULT_OK) return 1;
    for (;;) {
      uint32_t m = size;
      MojoResult r = MojoReadMessage(pipe, out, &m, NULL, NULL, 0);
      if (r == MOJO_RESULT_OK) break;
      if (r != MOJO_RESULT_SHOULD_WAIT || rwait(&w) != MOJO_RESULT_OK) return 1;
    }
  }
  report(ctest_now() - t, n);
  MojoClose(w.watcher);
  return finish(pipe, pid);
}

static int datapipe(const char* self, long n, uint32_t chunk) {
  MojoHandle pipe, p, c;
  pid_t pid = spawn_child(self, &pipe);
  struct MojoCreateDataPipeOptions o = {sizeof o, 0, 1, 4 * chunk};
  if (MojoCreateDataPipe(&o, &p, &c) != MOJO_RESULT_OK) return 1;
  if (MojoWriteMessage(pipe, NULL, 0, &c, 1, 0) != MOJO_RESULT_OK) return 1;
  struct rwait pw, mw;
  rwait_init(&pw, p, MOJO_HANDLE_SIGNAL_WRITABLE);
  rwait_init(&mw, pipe, MOJO_HANDLE_SIGNAL_READABLE);
  char* data = calloc(1, chunk);
  double t = ctest_now();
  uint64_t total = (uint64_t)n * chunk, sent = 0;
  while (sent < total) {
    uint32_t m = chunk;
    MojoResult r = MojoWriteData(p, data, &m, 0);
    if (r == MOJO_RESULT_SHOULD_WAIT) {
      if (rwait(&pw) != MOJO_RESULT_OK) return 1;
      continue;
    }
    if (r != MOJO_RESULT_OK) return 1;
    sent += m;
  }
  MojoClose(pw.watcher);
  MojoClose(p);
  uint64_t got = 0;
  for (;;) {
    uint32_t m = sizeof got;
    MojoResult r = MojoReadMessage(pipe, &got, &m, NULL, NULL, 0);
    if (r == MOJO_RESULT_OK) break;
    if (r != MOJO_RESULT_SHOULD_WAIT || rwait(&mw) != MOJO_RESULT_OK) return 1;
  }
  double s = ctest_now() - t;
  if (got != total) return 1;
  report(s, n);
  printf("MB/s %.1f\n", total / s / 1e6);
  MojoClose(mw.watcher);
  return finish(pipe, pid);
}

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc > 1 && strcmp(argv[1], "child") == 0) return child();
  if (argc < 3) return 2;
  long n = atol(argv[2]);
  uint32_t size = argc > 3 ? (uint32_t)atol(argv[3]) : 64;
  if (strcmp(argv[1], "query") == 0) return query(n);
  if (strcmp(argv[1], "local") == 0) return local(n, size);
  if (strcmp(argv[1], "pingpong") == 0) return pingpong(argv[0], n, size);
  if (strcmp(argv[1], "datapipe") == 0) return datapipe(argv[0], n, size);
  return 2;
}
