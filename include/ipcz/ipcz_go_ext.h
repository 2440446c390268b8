/*
 * ipcz-go EXTENSIONS to the ipcz C API. Not part of the 2022 ipcz ABI.
 *
 * Everything declared here is specific to ipcz-go's libmojo.so and has no
 * counterpart in upstream ipcz. A program that uses only <ipcz/ipcz.h> and
 * IpczGetAPI() never needs this header; one that includes it is tied to
 * ipcz-go.
 *
 * What it adds: the library's built-in drivers, so that a C program can
 * create nodes and connect them (in one process, or across processes over
 * Unix sockets) without writing an IpczDriver of its own, and a few helpers
 * that only make sense for those drivers (making transports, wrapping file
 * descriptors as driver objects that can be boxed and sent).
 *
 * The built-in driver tables are ordinary IpczDriver tables: a program may
 * call their entries itself, copy them, or wrap them. Passed unchanged to
 * CreateNode(), a built-in table is recognized and used without going
 * through its C entry points.
 *
 * Every function returns IPCZ_RESULT_INVALID_ARGUMENT for a null output
 * pointer, a non-zero `flags` or a non-null `options` (all reserved).
 */

#ifndef IPCZ_INCLUDE_IPCZ_IPCZ_GO_EXT_H_
#define IPCZ_INCLUDE_IPCZ_IPCZ_GO_EXT_H_

#include "ipcz/ipcz.h"

/* Identifies one of the built-in drivers. Each is one process-wide
 * instance: every node given the same driver shares its handle space, so
 * transports and memory made for one node can be used by another. */
typedef uint32_t IpczGoDriverId;

/* Linux processes: transports are Unix stream sockets, shared memory is
 * sealed memfd regions, and objects travel as file descriptors passed with
 * SCM_RIGHTS. Nodes in different processes connect over a socketpair. */
#define IPCZ_GO_DRIVER_MULTIPROCESS ((IpczGoDriverId)1)

/* Nodes of one process. Transmit() delivers synchronously: the peer's
 * activity handler runs on the calling thread before Transmit returns
 * (unless a delivery to that peer is already running). */
#define IPCZ_GO_DRIVER_INPROCESS ((IpczGoDriverId)2)

/* Nodes of one process. Every activated transport delivers on its own
 * thread, in order, asynchronously. */
#define IPCZ_GO_DRIVER_INPROCESS_ASYNC ((IpczGoDriverId)3)

/* The environment variable through which a parent names the inherited
 * descriptor of a child's end of the transport (a socket); the same
 * convention as the Go API's multiprocess.Driver.Spawn. */
#define IPCZ_GO_TRANSPORT_FD_ENV "IPCZ_TRANSPORT_FD"

#if defined(__cplusplus)
extern "C" {
#endif

/* Returns the table of a built-in driver in `*driver`. The table is static:
 * it stays valid for the life of the process. INVALID_ARGUMENT for an
 * unknown `driver_id`. */
IPCZ_EXPORT IpczResult IPCZ_API
IpczGoGetDriver(IpczGoDriverId driver_id,           /* in */
                uint32_t flags,                     /* in */
                const void* options,                /* in */
                const struct IpczDriver** driver);  /* out */

/* Makes a connected pair of idle transports of a built-in driver, for two
 * nodes of this process: give one to each node's ConnectNode(). For the
 * multiprocess driver the pair is a socketpair. */
IPCZ_EXPORT IpczResult IPCZ_API
IpczGoCreateTransportPair(IpczGoDriverId driver_id,        /* in */
                          uint32_t flags,                  /* in */
                          const void* options,             /* in */
                          IpczDriverHandle* transport0,    /* out */
                          IpczDriverHandle* transport1);   /* out */

/* Adopts `fd`, a connected Unix stream socket (typically one end of a
 * socketpair whose other end went to another process), as an idle
 * transport of the multiprocess driver. On success the transport owns the
 * descriptor; on failure the caller keeps it. INVALID_ARGUMENT if `fd` is
 * not such a socket. */
IPCZ_EXPORT IpczResult IPCZ_API
IpczGoTransportFromFD(int fd,                         /* in */
                      uint32_t flags,                 /* in */
                      const void* options,            /* in */
                      IpczDriverHandle* transport);   /* out */

/* Wraps a file descriptor as an object of the multiprocess driver, which
 * the driver can serialize: Box() it and put the box in a parcel to send
 * the descriptor to another process. The object owns `fd` on success. */
IPCZ_EXPORT IpczResult IPCZ_API
IpczGoWrapFileDescriptor(int fd,                          /* in */
                         uint32_t flags,                  /* in */
                         const void* options,             /* in */
                         IpczDriverHandle* driver_handle); /* out */

/* Consumes an object made by IpczGoWrapFileDescriptor() (here, or in
 * another process and received in a box) and returns its descriptor in
 * `*fd`, which the caller then owns. */
IPCZ_EXPORT IpczResult IPCZ_API
IpczGoUnwrapFileDescriptor(IpczDriverHandle driver_handle, /* in */
                           uint32_t flags,                 /* in */
                           const void* options,            /* in */
                           int* fd);                       /* out */

#if defined(__cplusplus)
}  /* extern "C" */
#endif

#endif /* IPCZ_INCLUDE_IPCZ_IPCZ_GO_EXT_H_ */
