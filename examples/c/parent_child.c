/* A parent and a child process. The parent (the broker) starts the child
 * with posix_spawn, sends it an invitation over a socketpair, and then,
 * over the invitation's pipe, a message pipe, a data pipe consumer, a
 * shared buffer and a file descriptor. The child uses each and reports
 * back.
 *
 *   parent_child          run as the parent (it spawns itself as the child)
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mojo/ext/invitation.h"
#include "mojo/public/c/system/core.h"
#include "wait.h"

extern char** environ;

#define STREAM_BYTES (1u << 20)
#define CHILD_FD 3

static unsigned char byte_at(uint32_t i) { return (unsigned char)(i ^ (i >> 7)); }

/* Reads one message, waiting for it; returns its size. */
static uint32_t read_message(MojoHandle h, void* buf, uint32_t cap, MojoHandle* handles,
                             uint32_t* num_handles) {
  OK(wait_for(h, MOJO_HANDLE_SIGNAL_READABLE));
  uint32_t n = cap;
  OK(MojoReadMessage(h, buf, &n, handles, num_handles, MOJO_READ_MESSAGE_FLAG_NONE));
  return n;
}

static int child(void) {
  /* The core started as a child: IPCZ_TRANSPORT_FD is set. */
  MojoExtInvitation invitation;
  MojoHandle control;
  OK(MojoExtAcceptInvitation(NULL, MOJO_EXT_ACCEPT_INVITATION_FLAG_NONE, &invitation));
  OK(MojoExtExtractMessagePipeFromInvitation(invitation, "control", 7, &control));
  OK(MojoExtCloseInvitation(invitation));

  char text[64];
  MojoHandle h[4];
  uint32_t nh = 4;
  read_message(control, text, sizeof text, h, &nh);
  CHECK(nh == 4 && strcmp(text, "handles") == 0);
  MojoHandle pipe = h[0], consumer = h[1], buffer = h[2], wrapped_fd = h[3];

  /* 1. The message pipe. */
  uint32_t n = read_message(pipe, text, sizeof text, NULL, NULL);
  CHECK(n > 0);
  const char reply[] = "the child got the pipe";
  OK(MojoWriteMessage(pipe, reply, sizeof reply, NULL, 0, 0));

  /* 2. The data pipe: read until the producer closes. */
  uint32_t received = 0, bad = 0;
  for (;;) {
    const void* data;
    uint32_t avail;
    MojoResult r = MojoBeginReadData(consumer, &data, &avail, MOJO_READ_DATA_FLAG_NONE);
    if (r == MOJO_RESULT_SHOULD_WAIT) {
      if (wait_for(consumer, MOJO_HANDLE_SIGNAL_READABLE) != MOJO_RESULT_OK) break;
      continue;
    }
    if (r == MOJO_RESULT_FAILED_PRECONDITION) break;
    OK(r);
    for (uint32_t i = 0; i < avail; i++)
      bad += ((const unsigned char*)data)[i] != byte_at(received + i);
    received += avail;
    OK(MojoEndReadData(consumer, avail));
  }

  /* 3. The shared buffer. */
  char* mem;
  OK(MojoMapBuffer(buffer, 0, 4096, (void**)&mem, MOJO_MAP_BUFFER_FLAG_NONE));
  CHECK(strcmp(mem, "the parent's greeting") == 0);
  strcpy(mem + 256, "the child's answer");
  OK(MojoUnmapBuffer(mem));

  /* 4. The file descriptor. */
  struct MojoPlatformHandle ph = {sizeof ph, 0, 0};
  OK(MojoUnwrapPlatformHandle(wrapped_fd, &ph));
  CHECK(ph.type == MOJO_PLATFORM_HANDLE_TYPE_FILE_DESCRIPTOR);
  const char line[] = "the child wrote to the parent's pipe\n";
  CHECK(write((int)ph.value, line, sizeof line - 1) == (ssize_t)(sizeof line - 1));
  close((int)ph.value);

  snprintf(text, sizeof text, "done %u %u", received, bad);
  OK(MojoWriteMessage(control, text, (uint32_t)strlen(text) + 1, NULL, 0, 0));
  /* Stay until the parent hangs up, so nothing in flight is lost. */
  wait_for(control, MOJO_HANDLE_SIGNAL_PEER_CLOSED);
  MojoClose(pipe);
  MojoClose(consumer);
  MojoClose(buffer);
  MojoClose(control);
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "child") == 0) return child();

  /* The transport: a socketpair, one end for the child as descriptor 3. */
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  MojoExtInvitation invitation;
  MojoHandle control;
  OK(MojoExtCreateInvitation(NULL, &invitation));
  OK(MojoExtAttachMessagePipeToInvitation(invitation, "control", 7, &control));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, sv[1], CHILD_FD);
  int nenv = 0;
  while (environ[nenv]) nenv++;
  char** env = calloc(nenv + 2, sizeof *env);
  int k = 0;
  for (int i = 0; i < nenv; i++)
    if (strncmp(environ[i], MOJO_EXT_TRANSPORT_FD_ENV "=", strlen(MOJO_EXT_TRANSPORT_FD_ENV) + 1))
      env[k++] = environ[i];
  char fd_var[64];
  snprintf(fd_var, sizeof fd_var, "%s=%d", MOJO_EXT_TRANSPORT_FD_ENV, CHILD_FD);
  env[k++] = fd_var;
  char* child_argv[] = {argv[0], "child", NULL};
  pid_t pid;
  CHECK(posix_spawn(&pid, "/proc/self/exe", &actions, NULL, child_argv, env) == 0);
  posix_spawn_file_actions_destroy(&actions);
  free(env);
  close(sv[1]);

  struct MojoPlatformHandle endpoint = {sizeof endpoint,
                                        MOJO_PLATFORM_HANDLE_TYPE_FILE_DESCRIPTOR,
                                        (uint64_t)sv[0]};
  OK(MojoExtSendInvitation(invitation, &endpoint, MOJO_EXT_SEND_INVITATION_FLAG_NONE));

  /* What the child gets: a pipe, a data pipe consumer, a buffer, an fd. */
  MojoHandle mine, theirs, producer, consumer, buffer, buffer_dup, wrapped;
  OK(MojoCreateMessagePipe(NULL, &mine, &theirs));
  OK(MojoCreateDataPipe(NULL, &producer, &consumer));
  OK(MojoCreateSharedBuffer(NULL, 4096, &buffer));
  OK(MojoDuplicateBufferHandle(buffer, NULL, &buffer_dup));
  char* mem;
  OK(MojoMapBuffer(buffer, 0, 4096, (void**)&mem, MOJO_MAP_BUFFER_FLAG_NONE));
  strcpy(mem, "the parent's greeting");
  int fds[2];
  CHECK(pipe2(fds, O_CLOEXEC) == 0);
  struct MojoPlatformHandle fd_handle = {sizeof fd_handle,
                                         MOJO_PLATFORM_HANDLE_TYPE_FILE_DESCRIPTOR,
                                         (uint64_t)fds[1]};
  OK(MojoWrapPlatformHandle(&fd_handle, &wrapped));
  MojoHandle handles[4] = {theirs, consumer, buffer_dup, wrapped};
  OK(MojoWriteMessage(control, "handles", 8, handles, 4, MOJO_WRITE_MESSAGE_FLAG_NONE));

  const char hello[] = "a pipe made by the parent";
  OK(MojoWriteMessage(mine, hello, sizeof hello, NULL, 0, 0));
  uint32_t sent = 0;
  while (sent < STREAM_BYTES) {
    void* buf;
    uint32_t n;
    MojoResult r = MojoBeginWriteData(producer, &buf, &n, MOJO_WRITE_DATA_FLAG_NONE);
    if (r == MOJO_RESULT_SHOULD_WAIT) {
      OK(wait_for(producer, MOJO_HANDLE_SIGNAL_WRITABLE));
      continue;
    }
    OK(r);
    if (n > STREAM_BYTES - sent) n = STREAM_BYTES - sent;
    for (uint32_t i = 0; i < n; i++) ((unsigned char*)buf)[i] = byte_at(sent + i);
    OK(MojoEndWriteData(producer, n));
    sent += n;
  }
  OK(MojoClose(producer));

  char text[64];
  read_message(mine, text, sizeof text, NULL, NULL);
  printf("over the message pipe: \"%s\"\n", text);
  read_message(control, text, sizeof text, NULL, NULL);
  unsigned received = 0, bad = 1;
  CHECK(sscanf(text, "done %u %u", &received, &bad) == 2);
  printf("over the data pipe: the child received %u bytes, %u wrong\n", received, bad);
  CHECK(received == STREAM_BYTES && bad == 0);
  printf("in the shared buffer: \"%s\"\n", mem + 256);
  CHECK(strcmp(mem + 256, "the child's answer") == 0);
  char line[64] = {0};
  CHECK(read(fds[0], line, sizeof line - 1) > 0);
  printf("through the file descriptor: %s", line);

  OK(MojoClose(control)); /* the child exits */
  int status;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  printf("the child exited cleanly\n");
  OK(MojoUnmapBuffer(mem));
  MojoClose(buffer);
  MojoClose(mine);
  close(fds[0]);
  return 0;
}
