/* A data pipe stream: a producer thread writes 8 MiB with two-phase writes,
 * the main thread reads it with plain reads, waiting with a watcher when
 * the pipe is empty (or full, on the producer's side). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "mojo/public/c/system/core.h"
#include "wait.h"

#define TOTAL (8u << 20)

static MojoHandle producer, consumer;

static unsigned char byte_at(uint32_t i) { return (unsigned char)(i * 31 + (i >> 8)); }

static void* produce(void* arg) {
  (void)arg;
  uint32_t sent = 0;
  while (sent < TOTAL) {
    void* buf;
    uint32_t n;
    MojoResult r = MojoBeginWriteData(producer, &buf, &n, MOJO_WRITE_DATA_FLAG_NONE);
    if (r == MOJO_RESULT_SHOULD_WAIT) {
      OK(wait_for(producer, MOJO_HANDLE_SIGNAL_WRITABLE));
      continue;
    }
    OK(r);
    if (n > TOTAL - sent) n = TOTAL - sent;
    for (uint32_t i = 0; i < n; i++) ((unsigned char*)buf)[i] = byte_at(sent + i);
    OK(MojoEndWriteData(producer, n));
    sent += n;
  }
  OK(MojoClose(producer)); /* the consumer sees PEER_CLOSED after the data */
  return NULL;
}

int main(void) {
  struct MojoCreateDataPipeOptions options = {sizeof options,
                                              MOJO_CREATE_DATA_PIPE_OPTIONS_FLAG_NONE,
                                              1, 256 * 1024};
  OK(MojoCreateDataPipe(&options, &producer, &consumer));
  pthread_t t;
  pthread_create(&t, NULL, produce, NULL);

  static unsigned char buf[64 * 1024];
  uint32_t received = 0;
  for (;;) {
    uint32_t n = sizeof buf;
    MojoResult r = MojoReadData(consumer, buf, &n, MOJO_READ_DATA_FLAG_NONE);
    if (r == MOJO_RESULT_SHOULD_WAIT) {
      r = wait_for(consumer, MOJO_HANDLE_SIGNAL_READABLE);
      if (r == MOJO_RESULT_FAILED_PRECONDITION) break; /* closed and drained */
      continue;
    }
    if (r == MOJO_RESULT_FAILED_PRECONDITION) break;
    OK(r);
    for (uint32_t i = 0; i < n; i++) CHECK(buf[i] == byte_at(received + i));
    received += n;
  }
  pthread_join(t, NULL);
  CHECK(received == TOTAL);
  printf("streamed %u bytes through a %u-byte data pipe\n", received,
         options.capacity_num_bytes);
  OK(MojoClose(consumer));
  return 0;
}
