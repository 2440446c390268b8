// Package ctest calls libmojo's exported C functions from C, inside a Go
// test binary of package capi (cgo is not allowed in _test.go files, and
// this package must not be linked into the library). Its C code declares
// the exports through the public headers; the symbols resolve to package
// capi, which the test binary links. Importing ctest anywhere else fails
// to link.
package ctest

/*
#cgo CFLAGS: -I${SRCDIR}/../../../include
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include "mojo/public/c/system/core.h"

static MojoResult ctest_close(MojoHandle h) { return MojoClose(h); }

static void ctest_note(uintptr_t context, MojoResult result,
                       struct MojoHandleSignalsState state,
                       MojoWatcherNotificationFlags flags) {
  (void)context; (void)result; (void)state; (void)flags;
}

static int ctest_iterations;
static MojoHandle ctest_shared[2];

static void* ctest_hammer(void* arg) {
  int id = (int)(intptr_t)arg;
  char buf[64];
  for (int i = 0; i < ctest_iterations; i++) {
    MojoHandle a, b, w;
    if (MojoCreateMessagePipe(NULL, &a, &b) != MOJO_RESULT_OK) return (void*)1;
    MojoCreateWatcher(ctest_note, &w);
    MojoWatch(w, b, MOJO_HANDLE_SIGNAL_READABLE, 1);
    MojoArmWatcher(w, NULL, NULL, NULL, NULL);
    MojoWriteMessage(a, buf, 1 + i % 60, NULL, 0, 0);
    uint32_t n = sizeof buf;
    MojoReadMessage(b, buf, &n, NULL, NULL, 0);
    MojoClose(w);
    MojoClose(b);
    MojoClose(a);
    if (id == 0) {
      MojoWriteMessage(ctest_shared[0], &i, sizeof i, NULL, 0, 0);
    } else {
      n = sizeof buf;
      MojoReadMessage(ctest_shared[1], buf, &n, NULL, NULL, 0);
    }
  }
  return NULL;
}

// Two C threads hammer the API; returns the number of threads that failed.
static int ctest_run_hammer(int iterations) {
  pthread_t t[2];
  void* r[2];
  ctest_iterations = iterations;
  if (MojoCreateMessagePipe(NULL, &ctest_shared[0], &ctest_shared[1]) != MOJO_RESULT_OK) return -1;
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, ctest_hammer, (void*)(intptr_t)i);
  for (int i = 0; i < 2; i++) pthread_join(t[i], &r[i]);
  MojoClose(ctest_shared[0]);
  MojoClose(ctest_shared[1]);
  return (r[0] != NULL) + (r[1] != NULL);
}
*/
import "C"

// Close calls MojoClose from C.
func Close(h uint32) uint32 { return uint32(C.ctest_close(C.MojoHandle(h))) }

// Hammer runs two C threads that create, write, read, watch and close
// pipes through the exports, and share one pipe; it returns how many of
// them failed.
func Hammer(iterations int) int { return int(C.ctest_run_hammer(C.int(iterations))) }
