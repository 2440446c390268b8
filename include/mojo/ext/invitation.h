/*
 * ipcz-go EXTENSIONS to the Mojo C system API: process roles and
 * invitations. Not part of the 2017 Mojo ABI.
 *
 * The 2017 API has no way to connect processes: Chromium's embedder did
 * that. libmojo.so needs no embedder. Its Mojo functions run on one
 * process-wide core (an ipcz node on the library's multiprocess driver)
 * that starts itself on the first call, in one of two roles:
 *
 *   - broker: the process that starts the others. The default.
 *   - child: a process started by another through an invitation. The
 *     default when the environment variable MOJO_EXT_TRANSPORT_FD_ENV
 *     names an inherited descriptor at the first call.
 *
 * MojoExtInit() chooses the role explicitly; it must come before any other
 * Mojo call.
 *
 * Invitations (modern Mojo's model, in this era's types): the parent
 * attaches named message pipes to an invitation and sends it over one end
 * of a socketpair; the child accepts it from the other end and extracts the
 * pipes by name. Everything else (data pipes, shared buffers, platform
 * handles, more pipes) then travels over those pipes. A typical parent:
 *
 *   int sv[2];
 *   socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
 *   MojoExtInvitation inv;
 *   MojoHandle pipe;
 *   MojoExtCreateInvitation(NULL, &inv);
 *   MojoExtAttachMessagePipeToInvitation(inv, "pipe", 4, &pipe);
 *   // posix_spawn the child with sv[1] dup2'd to descriptor 3 and
 *   // IPCZ_TRANSPORT_FD=3 in its environment; then close(sv[1]).
 *   struct MojoPlatformHandle end = {sizeof end,
 *       MOJO_PLATFORM_HANDLE_TYPE_FILE_DESCRIPTOR, (uint64_t)sv[0]};
 *   MojoExtSendInvitation(inv, &end, MOJO_EXT_SEND_INVITATION_FLAG_NONE);
 *
 * and the child:
 *
 *   MojoExtInvitation inv;
 *   MojoHandle pipe;
 *   MojoExtAcceptInvitation(NULL, MOJO_EXT_ACCEPT_INVITATION_FLAG_NONE, &inv);
 *   MojoExtExtractMessagePipeFromInvitation(inv, "pipe", 4, &pipe);
 *   MojoExtCloseInvitation(inv);
 *
 * A process that has loaded the library must start children with
 * posix_spawn() or fork() immediately followed by exec(): the Go runtime
 * inside the library does not survive a fork() without exec().
 */

#ifndef MOJO_EXT_INVITATION_H_
#define MOJO_EXT_INVITATION_H_

#include <stdint.h>

#include "mojo/public/c/system/macros.h"
#include "mojo/public/c/system/platform_handle.h"
#include "mojo/public/c/system/system_export.h"
#include "mojo/public/c/system/types.h"

/* The environment variable naming a child's inherited transport
 * descriptor (also used by the Go API's multiprocess.Driver.Spawn). */
#define MOJO_EXT_TRANSPORT_FD_ENV "IPCZ_TRANSPORT_FD"

/* The role of this process's core. */
typedef uint32_t MojoExtRole;

/* Child if MOJO_EXT_TRANSPORT_FD_ENV is set, broker otherwise. */
#define MOJO_EXT_ROLE_DEFAULT ((MojoExtRole)0)
/* The broker of its network: it invites the other processes. */
#define MOJO_EXT_ROLE_BROKER ((MojoExtRole)1)
/* Not a broker: it joins a network by accepting an invitation. */
#define MOJO_EXT_ROLE_CHILD ((MojoExtRole)2)

struct MOJO_ALIGNAS(8) MojoExtInitOptions {
  /* sizeof(struct MojoExtInitOptions). */
  uint32_t struct_size;
  /* Reserved; must be 0. */
  uint32_t flags;
  /* One of MOJO_EXT_ROLE_*. */
  MojoExtRole role;
};

/* An invitation, outgoing or incoming. Not a MojoHandle: close it with
 * MojoExtCloseInvitation(), never with MojoClose(). Never 0. */
typedef uintptr_t MojoExtInvitation;

typedef uint32_t MojoExtSendInvitationFlags;
#define MOJO_EXT_SEND_INVITATION_FLAG_NONE ((MojoExtSendInvitationFlags)0)

typedef uint32_t MojoExtAcceptInvitationFlags;
#define MOJO_EXT_ACCEPT_INVITATION_FLAG_NONE ((MojoExtAcceptInvitationFlags)0)
/* The inviter is not the broker but a child that shares its broker (the
 * library sends that way automatically when the sending process is not a
 * broker); the acceptor then joins the inviter's network. */
#define MOJO_EXT_ACCEPT_INVITATION_FLAG_INHERIT_BROKER \
  ((MojoExtAcceptInvitationFlags)(1u << 0))

#ifdef __cplusplus
extern "C" {
#endif

/* Starts this process's core in the given role (NULL options: the default
 * role). Returns MOJO_RESULT_OK; MOJO_RESULT_FAILED_PRECONDITION if the
 * core has already started (by an earlier MojoExtInit() or any other Mojo
 * call); MOJO_RESULT_INVALID_ARGUMENT for a struct_size below 4, non-zero
 * flags or an unknown role. As for the 2017 options structs, fields that
 * `struct_size` does not reach take their defaults. */
MOJO_SYSTEM_EXPORT MojoResult
MojoExtInit(const struct MojoExtInitOptions* options);

/* Creates an empty outgoing invitation. `options` is reserved: NULL. */
MOJO_SYSTEM_EXPORT MojoResult
MojoExtCreateInvitation(const void* options, MojoExtInvitation* invitation);

/* Attaches a new message pipe to an outgoing invitation under `name` (any
 * bytes, at most 1024) and returns the local end; the invitee extracts the
 * other end by the same name. MOJO_RESULT_ALREADY_EXISTS if the name is
 * taken; MOJO_RESULT_FAILED_PRECONDITION once the invitation was sent. */
MOJO_SYSTEM_EXPORT MojoResult
MojoExtAttachMessagePipeToInvitation(MojoExtInvitation invitation,
                                     const void* name,
                                     uint32_t name_num_bytes,
                                     MojoHandle* message_pipe_handle);

/* Sends an outgoing invitation over `transport_endpoint`, a
 * MOJO_PLATFORM_HANDLE_TYPE_FILE_DESCRIPTOR naming this process's end of a
 * Unix stream socket whose other end the invitee accepts from. The library
 * takes ownership of the descriptor on success. The invitation is used up
 * (closed) whatever happens; on failure its attached pipes see their peers
 * closed. MOJO_RESULT_INVALID_ARGUMENT for a bad endpoint. */
MOJO_SYSTEM_EXPORT MojoResult
MojoExtSendInvitation(MojoExtInvitation invitation,
                      const struct MojoPlatformHandle* transport_endpoint,
                      MojoExtSendInvitationFlags flags);

/* Accepts an invitation arriving over `transport_endpoint` (as for
 * MojoExtSendInvitation), or, if it is NULL, over the descriptor named by
 * MOJO_EXT_TRANSPORT_FD_ENV (which is then removed from the environment).
 * The process's core must be a child (MOJO_RESULT_FAILED_PRECONDITION
 * otherwise). Pipes can be extracted at once; messages written to them
 * flow once the connection is up. */
MOJO_SYSTEM_EXPORT MojoResult
MojoExtAcceptInvitation(const struct MojoPlatformHandle* transport_endpoint,
                        MojoExtAcceptInvitationFlags flags,
                        MojoExtInvitation* invitation);

/* Returns the local end of the pipe the inviter attached under `name`. If
 * the inviter attached no such name, the pipe's peer is closed.
 * MOJO_RESULT_NOT_FOUND if the name was already extracted. */
MOJO_SYSTEM_EXPORT MojoResult
MojoExtExtractMessagePipeFromInvitation(MojoExtInvitation invitation,
                                        const void* name,
                                        uint32_t name_num_bytes,
                                        MojoHandle* message_pipe_handle);

/* Releases an invitation. An outgoing one that was not sent is abandoned
 * (its pipes see their peers closed); an incoming one closes the pipes not
 * extracted. MOJO_RESULT_INVALID_ARGUMENT for an unknown invitation. */
MOJO_SYSTEM_EXPORT MojoResult
MojoExtCloseInvitation(MojoExtInvitation invitation);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* MOJO_EXT_INVITATION_H_ */
