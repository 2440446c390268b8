/* A message pipe: write a message to one end, read it from the other. */
#include <stdio.h>
#include <string.h>

#include "mojo/public/c/system/core.h"
#include "wait.h"

int main(void) {
  MojoHandle a, b;
  OK(MojoCreateMessagePipe(NULL, &a, &b));

  const char greeting[] = "hello, mojo";
  OK(MojoWriteMessage(a, greeting, sizeof greeting, NULL, 0,
                      MOJO_WRITE_MESSAGE_FLAG_NONE));

  OK(wait_for(b, MOJO_HANDLE_SIGNAL_READABLE));
  char buf[64];
  uint32_t num_bytes = sizeof buf;
  OK(MojoReadMessage(b, buf, &num_bytes, NULL, NULL, MOJO_READ_MESSAGE_FLAG_NONE));
  printf("b received %u bytes: %s\n", num_bytes, buf);

  /* The same with a message object, in the guide's style. */
  MojoMessageHandle message;
  void* payload;
  OK(MojoAllocMessage(6, NULL, 0, MOJO_ALLOC_MESSAGE_FLAG_NONE, &message));
  OK(MojoGetMessageBuffer(message, &payload));
  memcpy(payload, "reply", 6);
  OK(MojoWriteMessageNew(b, message, MOJO_WRITE_MESSAGE_FLAG_NONE));
  OK(MojoReadMessageNew(a, &message, &num_bytes, NULL, NULL, MOJO_READ_MESSAGE_FLAG_NONE));
  OK(MojoGetMessageBuffer(message, &payload));
  printf("a received %u bytes: %s\n", num_bytes, (const char*)payload);
  OK(MojoFreeMessage(message));

  OK(MojoClose(a));
  struct MojoHandleSignalsState state;
  OK(MojoQueryHandleSignalsState(b, &state));
  CHECK(state.satisfied_signals & MOJO_HANDLE_SIGNAL_PEER_CLOSED);
  printf("b sees its peer closed\n");
  OK(MojoClose(b));
  return 0;
}
