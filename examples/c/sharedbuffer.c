/* A shared buffer: create, map, duplicate read-only, send a handle through
 * a pipe, map what arrives: every mapping sees the same memory. */
#include <stdio.h>
#include <string.h>

#include "mojo/public/c/system/core.h"
#include "wait.h"

int main(void) {
  MojoHandle buffer, a, b;
  OK(MojoCreateSharedBuffer(NULL, 1 << 20, &buffer));
  OK(MojoCreateMessagePipe(NULL, &a, &b));

  void* mine;
  OK(MojoMapBuffer(buffer, 0, 1 << 20, &mine, MOJO_MAP_BUFFER_FLAG_NONE));
  strcpy((char*)mine + 4096, "written before sending");

  /* A read-only duplicate travels through the pipe. */
  MojoHandle read_only;
  struct MojoDuplicateBufferHandleOptions options = {
      sizeof options, MOJO_DUPLICATE_BUFFER_HANDLE_OPTIONS_FLAG_READ_ONLY};
  OK(MojoDuplicateBufferHandle(buffer, &options, &read_only));
  OK(MojoWriteMessage(a, "buffer", 7, &read_only, 1, MOJO_WRITE_MESSAGE_FLAG_NONE));

  char text[16];
  uint32_t n = sizeof text, nh = 1;
  MojoHandle received;
  OK(wait_for(b, MOJO_HANDLE_SIGNAL_READABLE));
  OK(MojoReadMessage(b, text, &n, &received, &nh, MOJO_READ_MESSAGE_FLAG_NONE));
  CHECK(nh == 1);

  const void* theirs;
  OK(MojoMapBuffer(received, 4096, 64, (void**)&theirs, MOJO_MAP_BUFFER_FLAG_NONE));
  printf("the received read-only handle maps: \"%s\"\n", (const char*)theirs);
  CHECK(strcmp((const char*)theirs, "written before sending") == 0);
  strcpy((char*)mine + 4096, "written after sending");
  printf("after a write through the first mapping: \"%s\"\n", (const char*)theirs);
  CHECK(strcmp((const char*)theirs, "written after sending") == 0);

  OK(MojoUnmapBuffer((void*)theirs));
  OK(MojoUnmapBuffer(mine));
  OK(MojoClose(received));
  OK(MojoClose(buffer));
  OK(MojoClose(a));
  OK(MojoClose(b));
  return 0;
}
