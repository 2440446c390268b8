/*
 * Waiting for Mojo signals in C. The 2017 API has no blocking wait (it was
 * removed in favour of watchers), so a program that wants to block uses a
 * watcher whose callback signals a condition variable. The callback may run
 * on any thread; the waiter is heap-allocated and freed by its CANCELLED
 * notification, which is always the watch's last.
 */
#ifndef EXAMPLES_WAIT_H_
#define EXAMPLES_WAIT_H_

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "mojo/public/c/system/core.h"

struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int fired;
  MojoResult result;
};

static inline void waiter_notify(uintptr_t context, MojoResult result,
                                 struct MojoHandleSignalsState state,
                                 MojoWatcherNotificationFlags flags) {
  struct waiter* w = (struct waiter*)context;
  (void)state;
  (void)flags;
  if (result == MOJO_RESULT_CANCELLED) {
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    return;
  }
  pthread_mutex_lock(&w->mu);
  w->fired = 1;
  w->result = result;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

/* Blocks until one of `signals` is satisfied on `handle` (MOJO_RESULT_OK)
 * or none ever can be (MOJO_RESULT_FAILED_PRECONDITION). */
static inline MojoResult wait_for(MojoHandle handle, MojoHandleSignals signals) {
  struct waiter* w = (struct waiter*)calloc(1, sizeof *w);
  MojoHandle watcher;
  uint32_t num_ready = 1;
  uintptr_t ready_context;
  MojoResult ready_result, r;
  struct MojoHandleSignalsState ready_state;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  if (MojoCreateWatcher(waiter_notify, &watcher) != MOJO_RESULT_OK ||
      MojoWatch(watcher, handle, signals, (uintptr_t)w) != MOJO_RESULT_OK) {
    fprintf(stderr, "wait_for: cannot watch handle %u\n", handle);
    exit(1);
  }
  r = MojoArmWatcher(watcher, &num_ready, &ready_context, &ready_result,
                     &ready_state);
  if (r == MOJO_RESULT_FAILED_PRECONDITION) {
    r = ready_result; /* already satisfied, or never will be */
  } else {
    pthread_mutex_lock(&w->mu);
    while (!w->fired) pthread_cond_wait(&w->cv, &w->mu);
    r = w->result;
    pthread_mutex_unlock(&w->mu);
  }
  MojoClose(watcher); /* cancels the watch: w is freed */
  return r;
}

#define CHECK(expr)                                                       \
  do {                                                                    \
    if (!(expr)) {                                                        \
      fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #expr);   \
      exit(1);                                                            \
    }                                                                     \
  } while (0)

#define OK(expr) CHECK((expr) == MOJO_RESULT_OK)

#endif /* EXAMPLES_WAIT_H_ */
