/* A watcher loop: one watcher, two pipes. Two threads write messages; the
 * loop is driven entirely by notifications: each callback reads what is
 * there and re-arms. When both writers have closed, every watch ends with
 * FAILED_PRECONDITION and then CANCELLED. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mojo/public/c/system/core.h"
#include "wait.h"

#define MESSAGES 1000

struct watched {
  MojoHandle handle;
  int count;
  int done;
};

static MojoHandle watcher;
static struct watched ends[2];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int cancelled;

static void on_signal(uintptr_t context, MojoResult result,
                      struct MojoHandleSignalsState state,
                      MojoWatcherNotificationFlags flags) {
  struct watched* w = (struct watched*)context;
  (void)state;
  (void)flags;
  if (result == MOJO_RESULT_CANCELLED) {
    pthread_mutex_lock(&mu);
    cancelled++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    return;
  }
  if (result == MOJO_RESULT_FAILED_PRECONDITION) { /* writer gone, drained */
    w->done = 1;
    MojoCancelWatch(watcher, context);
  }
  /* Read everything, then re-arm (the watcher disarmed itself before this
   * notification, for every watch); arming fails while anything is ready,
   * which is how the loop notices messages that raced with it. */
  for (;;) {
    char buf[32];
    uint32_t n = sizeof buf;
    while (!w->done &&
           MojoReadMessage(w->handle, buf, &n, NULL, NULL, MOJO_READ_MESSAGE_FLAG_NONE) ==
               MOJO_RESULT_OK) {
      w->count++;
      n = sizeof buf;
    }
    uint32_t num_ready = 2;
    uintptr_t contexts[2];
    MojoResult results[2];
    struct MojoHandleSignalsState states[2];
    MojoResult r = MojoArmWatcher(watcher, &num_ready, contexts, results, states);
    if (r != MOJO_RESULT_FAILED_PRECONDITION) return; /* armed (or no watches) */
    for (uint32_t i = 0; i < num_ready; i++) {
      struct watched* other = (struct watched*)contexts[i];
      if (results[i] == MOJO_RESULT_FAILED_PRECONDITION && !other->done) {
        other->done = 1;
        MojoCancelWatch(watcher, contexts[i]);
      } else if (other != w) {
        uint32_t m = sizeof buf;
        while (MojoReadMessage(other->handle, buf, &m, NULL, NULL, 0) == MOJO_RESULT_OK) {
          other->count++;
          m = sizeof buf;
        }
      }
    }
  }
}

static void* writer(void* arg) {
  MojoHandle h = (MojoHandle)(uintptr_t)arg;
  for (int i = 0; i < MESSAGES; i++) OK(MojoWriteMessage(h, &i, sizeof i, NULL, 0, 0));
  OK(MojoClose(h));
  return NULL;
}

int main(void) {
  MojoHandle w0, w1;
  OK(MojoCreateMessagePipe(NULL, &ends[0].handle, &w0));
  OK(MojoCreateMessagePipe(NULL, &ends[1].handle, &w1));
  OK(MojoCreateWatcher(on_signal, &watcher));
  OK(MojoWatch(watcher, ends[0].handle, MOJO_HANDLE_SIGNAL_READABLE, (uintptr_t)&ends[0]));
  OK(MojoWatch(watcher, ends[1].handle, MOJO_HANDLE_SIGNAL_READABLE, (uintptr_t)&ends[1]));
  OK(MojoArmWatcher(watcher, NULL, NULL, NULL, NULL));

  pthread_t t0, t1;
  pthread_create(&t0, NULL, writer, (void*)(uintptr_t)w0);
  pthread_create(&t1, NULL, writer, (void*)(uintptr_t)w1);
  pthread_join(t0, NULL);
  pthread_join(t1, NULL);

  pthread_mutex_lock(&mu);
  while (cancelled < 2) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  printf("watcher loop read %d + %d messages; both watches ended\n", ends[0].count,
         ends[1].count);
  CHECK(ends[0].count == MESSAGES && ends[1].count == MESSAGES);
  OK(MojoClose(watcher));
  OK(MojoClose(ends[0].handle));
  OK(MojoClose(ends[1].handle));
  return 0;
}
