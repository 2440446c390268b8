/*
 * A tiny test harness for the C test programs of package capi. Each program
 * links to libmojo.so; the Go tests build and run it, and it exits 0 only if
 * every CHECK passed. Helpers wait for Mojo signals with a watcher and a
 * condition variable, the way a C program without Chromium's helpers does.
 */
#ifndef CAPI_CTEST_H_
#define CAPI_CTEST_H_

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mojo/public/c/system/core.h"

static int ctest_failures = 0;
static int ctest_checks = 0;

#define CHECK(cond)                                                        \
  do {                                                                     \
    ctest_checks++;                                                        \
    if (!(cond)) {                                                         \
      ctest_failures++;                                                    \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,     \
              #cond);                                                      \
    }                                                                      \
  } while (0)

#define CHECK_EQ(got, want)                                                \
  do {                                                                     \
    unsigned long long ctest_g = (unsigned long long)(got);                \
    unsigned long long ctest_w = (unsigned long long)(want);               \
    ctest_checks++;                                                        \
    if (ctest_g != ctest_w) {                                              \
      ctest_failures++;                                                    \
      fprintf(stderr, "%s:%d: %s is %llu, want %s (%llu)\n", __FILE__,     \
              __LINE__, #got, ctest_g, #want, ctest_w);                    \
    }                                                                      \
  } while (0)

#define CHECK_OK(expr) CHECK_EQ((expr), 0)

static inline int ctest_done(const char* name) {
  if (ctest_failures) {
    fprintf(stderr, "FAIL %s: %d of %d checks failed\n", name,
            ctest_failures, ctest_checks);
    return 1;
  }
  printf("PASS %s: %d checks\n", name, ctest_checks);
  return 0;
}

static inline double ctest_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waiting for signals with a watcher: the callback signals a condition
 * variable. The waiter lives on the heap and its CANCELLED notification
 * (always the last one, possibly delivered on another thread after
 * MojoClose returned) frees it. */
struct ctest_waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int fired;
  MojoResult result;
};

static inline void ctest_wait_cb(uintptr_t context, MojoResult result,
                          struct MojoHandleSignalsState state,
                          MojoWatcherNotificationFlags flags) {
  struct ctest_waiter* w = (struct ctest_waiter*)context;
  (void)state;
  (void)flags;
  if (result == MOJO_RESULT_CANCELLED) {
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    return;
  }
  pthread_mutex_lock(&w->mu);
  if (!w->fired) w->result = result;
  w->fired = 1;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

/* Waits until any of `signals` is satisfied on `h` (OK) or can never be
 * (FAILED_PRECONDITION), for at most `seconds` (DEADLINE_EXCEEDED). */
static inline MojoResult ctest_wait(MojoHandle h, MojoHandleSignals signals,
                             double seconds) {
  struct ctest_waiter* w = (struct ctest_waiter*)calloc(1, sizeof *w);
  MojoHandle watcher;
  MojoResult r;
  uint32_t n = 1;
  uintptr_t ctx;
  MojoResult res;
  struct MojoHandleSignalsState st;
  struct timespec deadline;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  if (MojoCreateWatcher(ctest_wait_cb, &watcher) != MOJO_RESULT_OK) {
    free(w);
    return MOJO_RESULT_UNKNOWN;
  }
  r = MojoWatch(watcher, h, signals, (uintptr_t)w);
  if (r != MOJO_RESULT_OK) {
    MojoClose(watcher);
    free(w);
    return r;
  }
  r = MojoArmWatcher(watcher, &n, &ctx, &res, &st);
  if (r == MOJO_RESULT_FAILED_PRECONDITION) {
    r = res;
  } else if (r == MOJO_RESULT_OK) {
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)seconds;
    pthread_mutex_lock(&w->mu);
    while (!w->fired) {
      if (pthread_cond_timedwait(&w->cv, &w->mu, &deadline) == ETIMEDOUT)
        break;
    }
    r = w->fired ? w->result : MOJO_RESULT_DEADLINE_EXCEEDED;
    pthread_mutex_unlock(&w->mu);
  }
  MojoClose(watcher); /* w is freed by the CANCELLED notification */
  return r;
}

#endif /* CAPI_CTEST_H_ */
