/*
 * ipcz C API, as implemented by ipcz-go.
 *
 * This header reproduces the ABI of the 2022 ipcz C API (the header revision
 * with 16 IpczAPI entries, 13 IpczDriver entries, validators and Reject()).
 * Every name, value, type, struct layout, field order and function-table
 * order below is part of that ABI and must not change. The same facts are
 * recorded in compat/manifest/ipcz.json, and `go test ./compat/...` checks
 * this file against them.
 *
 * It compiles as C99 or later and as C++11 or later.
 *
 * Vocabulary, in short:
 *   node    - one participant in a network of communicating nodes, usually one
 *             per process. Each network has one broker node, trusted to
 *             introduce the others to each other.
 *   portal  - an endpoint of an entangled portal pair. Whatever is put into
 *             one portal comes out of its peer, wherever the peer has moved.
 *   parcel  - a unit of data plus handles travelling between portals.
 *   driver  - the application-supplied table (IpczDriver) that does the actual
 *             I/O, shared-memory management and object serialization.
 *   box     - an IpczHandle wrapping a driver object so that it can travel
 *             inside parcels.
 *   trap    - a one-shot observer of portal state changes.
 *
 * Conventions shared by every call: the object handle comes first, then plain
 * inputs, then `flags`, then `options` (reserved for extension; pass NULL
 * unless documented), then in/out values, then outputs. Every struct starts
 * with a `size` field that the producer of the struct fills with the size it
 * knows about, so that both sides can tell which version they are talking to.
 */

#ifndef IPCZ_INCLUDE_IPCZ_IPCZ_H_
#define IPCZ_INCLUDE_IPCZ_IPCZ_H_

#include <stddef.h>
#include <stdint.h>

/* The flags value meaning "no flags". */
#define IPCZ_NO_FLAGS ((uint32_t)0)

/* Builds the flag constant for bit number `bit`. */
#define IPCZ_FLAG_BIT(bit) ((uint32_t)(1u << bit))

/* An opaque reference to an ipcz object: a node, portal, box or validator. */
typedef uintptr_t IpczHandle;

/* Zero is never a valid handle. Other values are valid only if ipcz made them. */
#define IPCZ_INVALID_HANDLE ((IpczHandle)0)

/* Result of every ipcz operation. The values follow the common status codes
 * used across Google software (absl::StatusCode). */
typedef int IpczResult;

#define IPCZ_RESULT_OK ((IpczResult)0)
#define IPCZ_RESULT_CANCELLED ((IpczResult)1)
#define IPCZ_RESULT_UNKNOWN ((IpczResult)2)
#define IPCZ_RESULT_INVALID_ARGUMENT ((IpczResult)3)
#define IPCZ_RESULT_DEADLINE_EXCEEDED ((IpczResult)4)
#define IPCZ_RESULT_NOT_FOUND ((IpczResult)5)
#define IPCZ_RESULT_ALREADY_EXISTS ((IpczResult)6)
#define IPCZ_RESULT_PERMISSION_DENIED ((IpczResult)7)
#define IPCZ_RESULT_RESOURCE_EXHAUSTED ((IpczResult)8)
#define IPCZ_RESULT_FAILED_PRECONDITION ((IpczResult)9)
#define IPCZ_RESULT_ABORTED ((IpczResult)10)
#define IPCZ_RESULT_OUT_OF_RANGE ((IpczResult)11)
#define IPCZ_RESULT_UNIMPLEMENTED ((IpczResult)12)
#define IPCZ_RESULT_INTERNAL ((IpczResult)13)
#define IPCZ_RESULT_UNAVAILABLE ((IpczResult)14)
#define IPCZ_RESULT_DATA_LOSS ((IpczResult)15)

/* Struct alignment that means the same thing in C and C++. Every ipcz struct
 * is 8-aligned so that its layout does not depend on the compiler. */
#if defined(__cplusplus)
#define IPCZ_ALIGN(alignment) alignas(alignment)
#elif defined(__GNUC__)
#define IPCZ_ALIGN(alignment) __attribute__((aligned(alignment)))
#elif defined(_MSC_VER)
#define IPCZ_ALIGN(alignment) __declspec(align(alignment))
#else
#error "IPCZ_ALIGN() has no definition for this compiler."
#endif

/* The smallest multiple of `alignment` that is not less than `value`. */
#define IPCZ_ALIGNED(value, alignment) \
  ((((value) + ((alignment)-1)) / (alignment)) * (alignment))

/* Calling convention of every function in the API and driver tables. An
 * embedder may force one with IPCZ_API_OVERRIDE. On Linux it is the platform
 * default, so this expands to nothing there. */
#if defined(IPCZ_API_OVERRIDE)
#define IPCZ_API IPCZ_API_OVERRIDE
#elif defined(_WIN32)
#define IPCZ_API __cdecl
#else
#define IPCZ_API
#endif

/* Marks the library's exported entry point. The library is always built as a
 * shared object, so the declaration carries default visibility even when the
 * including program compiles with -fvisibility=hidden. */
#if !defined(IPCZ_EXPORT)
#if defined(__GNUC__)
#define IPCZ_EXPORT __attribute__((visibility("default")))
#else
#define IPCZ_EXPORT
#endif
#endif

/* An opaque value that names a driver-side object (transport, memory region,
 * mapping, or anything the driver lets applications box). */
typedef uintptr_t IpczDriverHandle;

#define IPCZ_INVALID_DRIVER_HANDLE ((IpczDriverHandle)0)

/* Flags a driver passes to the transport activity handler. */
typedef uint32_t IpczTransportActivityFlags;

/* The transport failed for good; ipcz will deactivate and drop it. */
#define IPCZ_TRANSPORT_ACTIVITY_ERROR IPCZ_FLAG_BIT(0)

/* The driver finished deactivating the transport. This is the last call the
 * driver may make to the handler for that transport. */
#define IPCZ_TRANSPORT_ACTIVITY_DEACTIVATED IPCZ_FLAG_BIT(1)

#if defined(__cplusplus)
extern "C" {
#endif

/* Entry point through which a driver hands incoming bytes and driver handles
 * (or ERROR/DEACTIVATED notices) for an activated transport to ipcz. Calls for
 * one transport must never overlap: ipcz relies on the driver to deliver them
 * one at a time and in order. `options` is reserved and is NULL. */
typedef IpczResult(IPCZ_API* IpczTransportActivityHandler)(
    IpczHandle transport,                   /* in */
    const void* data,                       /* in */
    size_t num_bytes,                       /* in */
    const IpczDriverHandle* driver_handles, /* in */
    size_t num_driver_handles,              /* in */
    IpczTransportActivityFlags flags,       /* in */
    const void* options);                   /* in */

/* Filled in by the driver's GetSharedMemoryInfo(). */
struct IPCZ_ALIGN(8) IpczSharedMemoryInfo {
  /* Size of this struct in bytes; set by ipcz before the call. */
  size_t size;

  /* Size of the shared memory region in bytes. */
  size_t region_num_bytes;
};

/* The driver: a table of functions, supplied by the application when it
 * creates a node, through which ipcz performs all platform-specific work.
 * ipcz calls these from any thread, and never while holding its own locks, so
 * a driver may call back into ipcz. Every entry is required except
 * ReportBadTransportActivity. */
struct IPCZ_ALIGN(8) IpczDriver {
  /* Size of this struct in bytes; set by the application. */
  size_t size;

  /* Releases the driver object named by `handle`. */
  IpczResult(IPCZ_API* Close)(IpczDriverHandle handle, /* in */
                              uint32_t flags,          /* in */
                              const void* options);    /* in */

  /* Turns the driver object `handle` into bytes plus transmissible driver
   * handles for sending over `transport`. It is a two-pass call: with
   * capacities that are NULL or too small, it reports the sizes it needs in
   * `*num_bytes` and `*num_handles` and returns
   * IPCZ_RESULT_RESOURCE_EXHAUSTED without writing the buffers.
   * Other results:
   *   IPCZ_RESULT_INVALID_ARGUMENT   - the object cannot be serialized at all;
   *   IPCZ_RESULT_ABORTED            - it could be, but that depends on the
   *                                    transport, and `transport` is invalid;
   *   IPCZ_RESULT_PERMISSION_DENIED  - it cannot go over this particular
   *                                    transport (ipcz may then relay it
   *                                    through the broker);
   *   IPCZ_RESULT_OK                 - done; the driver now owns `handle`. */
  IpczResult(IPCZ_API* Serialize)(IpczDriverHandle handle,    /* in */
                                  IpczDriverHandle transport, /* in */
                                  uint32_t flags,             /* in */
                                  const void* options,        /* in */
                                  void* data,                 /* out */
                                  size_t* num_bytes,          /* in/out */
                                  IpczDriverHandle* handles,  /* out */
                                  size_t* num_handles);       /* in/out */

  /* Rebuilds a driver object from the output of Serialize() received over
   * `transport`. On any result but IPCZ_RESULT_OK, `*handle` is untouched. */
  IpczResult(IPCZ_API* Deserialize)(
      const void* data,                       /* in */
      size_t num_bytes,                       /* in */
      const IpczDriverHandle* driver_handles, /* in */
      size_t num_driver_handles,              /* in */
      IpczDriverHandle transport,             /* in */
      uint32_t flags,                         /* in */
      const void* options,                    /* in */
      IpczDriverHandle* handle);              /* out */

  /* Makes a new connected pair of transports. `new_transport0` will be sent
   * over `transport0` and `new_transport1` over `transport1`; a broker uses
   * this to introduce two of its peers to each other. */
  IpczResult(IPCZ_API* CreateTransports)(
      IpczDriverHandle transport0,      /* in */
      IpczDriverHandle transport1,      /* in */
      uint32_t flags,                   /* in */
      const void* options,              /* in */
      IpczDriverHandle* new_transport0, /* out */
      IpczDriverHandle* new_transport1); /* out */

  /* Starts I/O on `driver_transport`. From now on the driver reports incoming
   * data for it through `activity_handler`, passing `transport` back. ipcz may
   * call Transmit() as soon as this returns IPCZ_RESULT_OK. */
  IpczResult(IPCZ_API* ActivateTransport)(
      IpczDriverHandle driver_transport,             /* in */
      IpczHandle transport,                          /* in */
      IpczTransportActivityHandler activity_handler, /* in */
      uint32_t flags,                                /* in */
      const void* options);                          /* in */

  /* Begins stopping I/O on `driver_transport`. The driver may finish later,
   * but must end with one last handler call carrying
   * IPCZ_TRANSPORT_ACTIVITY_DEACTIVATED. */
  IpczResult(IPCZ_API* DeactivateTransport)(
      IpczDriverHandle driver_transport, /* in */
      uint32_t flags,                    /* in */
      const void* options);              /* in */

  /* Sends bytes and driver handles (all produced by Serialize()) to the peer
   * transport. Each call must lead to exactly one handler call on the peer,
   * in the order the calls were made. A failure severs the connection. Both
   * counts may be zero when ipcz only wants to wake the peer. */
  IpczResult(IPCZ_API* Transmit)(IpczDriverHandle driver_transport,       /* in */
                                 const void* data,                        /* in */
                                 size_t num_bytes,                        /* in */
                                 const IpczDriverHandle* driver_handles,  /* in */
                                 size_t num_driver_handles,               /* in */
                                 uint32_t flags,                          /* in */
                                 const void* options);                    /* in */

  /* Told when the application rejects, through Reject(), a parcel that came
   * in over `transport`. `context` is the value given to Reject(). Optional:
   * may be NULL. */
  IpczResult(IPCZ_API* ReportBadTransportActivity)(IpczDriverHandle transport,
                                                   uintptr_t context,
                                                   uint32_t flags,
                                                   const void* options);

  /* Creates a shared memory region of `num_bytes` bytes. */
  IpczResult(IPCZ_API* AllocateSharedMemory)(
      size_t num_bytes,                 /* in */
      uint32_t flags,                   /* in */
      const void* options,              /* in */
      IpczDriverHandle* driver_memory); /* out */

  /* Describes the region named by `driver_memory`. */
  IpczResult(IPCZ_API* GetSharedMemoryInfo)(
      IpczDriverHandle driver_memory,      /* in */
      uint32_t flags,                      /* in */
      const void* options,                 /* in */
      struct IpczSharedMemoryInfo* info);  /* out */

  /* Makes a second, independent handle to the same region. */
  IpczResult(IPCZ_API* DuplicateSharedMemory)(
      IpczDriverHandle driver_memory,       /* in */
      uint32_t flags,                       /* in */
      const void* options,                  /* in */
      IpczDriverHandle* new_driver_memory); /* out */

  /* Maps the region. The mapping is released by closing `*driver_mapping`
   * and stays valid even after `driver_memory` itself is closed. */
  IpczResult(IPCZ_API* MapSharedMemory)(
      IpczDriverHandle driver_memory,    /* in */
      uint32_t flags,                    /* in */
      const void* options,               /* in */
      void** address,                    /* out */
      IpczDriverHandle* driver_mapping); /* out */

  /* Fills `buffer` with `num_bytes` random bytes. */
  IpczResult(IPCZ_API* GenerateRandomBytes)(size_t num_bytes,    /* in */
                                            uint32_t flags,      /* in */
                                            const void* options, /* in */
                                            void* buffer);       /* out */
};

#if defined(__cplusplus)
}  /* extern "C" */
#endif

/* Flags for CreateNode(). */
typedef uint32_t IpczCreateNodeFlags;

/* The new node is the broker of its network: the trusted node that introduces
 * other nodes to each other and relays what they cannot send directly. */
#define IPCZ_CREATE_NODE_AS_BROKER IPCZ_FLAG_BIT(0)

/* Flags for ConnectNode(). */
typedef uint32_t IpczConnectNodeFlags;

/* The node on the other end is a broker and is trusted as one. */
#define IPCZ_CONNECT_NODE_TO_BROKER IPCZ_FLAG_BIT(0)

/* The other node is not a broker but has one, and the calling node (which has
 * none yet) adopts it. The other side must pass
 * IPCZ_CONNECT_NODE_SHARE_BROKER. */
#define IPCZ_CONNECT_NODE_INHERIT_BROKER IPCZ_FLAG_BIT(1)

/* The calling node offers its broker to the other node, which must pass
 * IPCZ_CONNECT_NODE_INHERIT_BROKER. */
#define IPCZ_CONNECT_NODE_SHARE_BROKER IPCZ_FLAG_BIT(2)

/* The calling node cannot allocate shared memory itself (for example inside
 * a sandbox) and asks the other node to allocate it on its behalf. */
#define IPCZ_CONNECT_NODE_TO_ALLOCATION_DELEGATE IPCZ_FLAG_BIT(3)

/* Queue limits a Put() or BeginPut() must respect. */
struct IPCZ_ALIGN(8) IpczPutLimits {
  /* Size of this struct in bytes. */
  size_t size;

  /* Fail with IPCZ_RESULT_RESOURCE_EXHAUSTED rather than leave more than this
   * many unread parcels queued at the receiver. */
  size_t max_queued_parcels;

  /* Likewise for the total number of unread data bytes. */
  size_t max_queued_bytes;
};

/* Options for Put(). */
struct IPCZ_ALIGN(8) IpczPutOptions {
  /* Size of this struct in bytes. */
  size_t size;

  /* Optional limits; NULL means none. */
  const struct IpczPutLimits* limits;
};

/* Flags for BeginPut(). */
typedef uint32_t IpczBeginPutFlags;

/* The caller accepts a buffer smaller than it asked for when the limits would
 * otherwise make the call fail. */
#define IPCZ_BEGIN_PUT_ALLOW_PARTIAL IPCZ_FLAG_BIT(0)

/* Options for BeginPut(); same layout as IpczPutOptions. */
struct IPCZ_ALIGN(8) IpczBeginPutOptions {
  /* Size of this struct in bytes. */
  size_t size;

  /* Optional limits; NULL means none. */
  const struct IpczPutLimits* limits;
};

/* Flags for EndPut(). */
typedef uint32_t IpczEndPutFlags;

/* Cancel the pending two-phase put without sending anything. */
#define IPCZ_END_PUT_ABORT IPCZ_FLAG_BIT(0)

/* Flags for Get(). */
typedef uint32_t IpczGetFlags;

/* Take as much of the next parcel as fits, instead of failing with
 * IPCZ_RESULT_RESOURCE_EXHAUSTED. */
#define IPCZ_GET_PARTIAL IPCZ_FLAG_BIT(0)

/* Flags for EndGet(). */
typedef uint32_t IpczEndGetFlags;

/* Cancel the pending two-phase get without consuming anything. */
#define IPCZ_END_GET_ABORT IPCZ_FLAG_BIT(0)

/* Flags for Unbox(). */
typedef uint32_t IpczUnboxFlags;

/* Return the driver handle but leave the box intact. */
#define IPCZ_UNBOX_PEEK IPCZ_FLAG_BIT(0)

/* Bits of IpczPortalStatus.flags. */
typedef uint32_t IpczPortalStatusFlags;

/* The peer portal is closed: puts now fail with IPCZ_RESULT_NOT_FOUND, and so
 * do gets once the queue is empty. */
#define IPCZ_PORTAL_STATUS_PEER_CLOSED IPCZ_FLAG_BIT(0)

/* The peer is closed and nothing is left to read: the portal is useless. */
#define IPCZ_PORTAL_STATUS_DEAD IPCZ_FLAG_BIT(1)

/* A snapshot of a portal's state, from QueryPortalStatus() or a trap event. */
struct IPCZ_ALIGN(8) IpczPortalStatus {
  /* Size of this struct in bytes. */
  size_t size;

  /* IPCZ_PORTAL_STATUS_* bits. */
  IpczPortalStatusFlags flags;

  /* Parcels, and their total data bytes, waiting to be read from this portal. */
  size_t num_local_parcels;
  size_t num_local_bytes;

  /* Parcels, and their total data bytes, waiting to be read from the peer. */
  size_t num_remote_parcels;
  size_t num_remote_bytes;
};

/* Conditions a trap can watch. Level-triggered conditions that already hold
 * make Trap() fail with IPCZ_RESULT_FAILED_PRECONDITION; edge-triggered ones
 * fire only on a change. */
typedef uint32_t IpczTrapConditionFlags;

/* The portal itself was closed or moved away. Always watched, whether asked
 * for or not, so every trap eventually fires. */
#define IPCZ_TRAP_REMOVED IPCZ_FLAG_BIT(0)

/* The peer portal is closed. Level-triggered. */
#define IPCZ_TRAP_PEER_CLOSED IPCZ_FLAG_BIT(1)

/* The peer is closed and no parcels remain to read. Level-triggered. */
#define IPCZ_TRAP_DEAD IPCZ_FLAG_BIT(2)

/* More than `min_local_parcels` parcels are queued here. Level-triggered. */
#define IPCZ_TRAP_ABOVE_MIN_LOCAL_PARCELS IPCZ_FLAG_BIT(3)

/* More than `min_local_bytes` bytes are queued here. Level-triggered. */
#define IPCZ_TRAP_ABOVE_MIN_LOCAL_BYTES IPCZ_FLAG_BIT(4)

/* Fewer than `max_remote_parcels` parcels are queued at the peer.
 * Level-triggered. */
#define IPCZ_TRAP_BELOW_MAX_REMOTE_PARCELS IPCZ_FLAG_BIT(5)

/* Fewer than `max_remote_bytes` bytes are queued at the peer. Level-triggered. */
#define IPCZ_TRAP_BELOW_MAX_REMOTE_BYTES IPCZ_FLAG_BIT(6)

/* A new parcel arrived here. Edge-triggered. */
#define IPCZ_TRAP_NEW_LOCAL_PARCEL IPCZ_FLAG_BIT(7)

/* The peer consumed a parcel. Edge-triggered. */
#define IPCZ_TRAP_CONSUMED_REMOTE_PARCEL IPCZ_FLAG_BIT(8)

/* What a trap watches for; the thresholds apply only when their flag is set. */
struct IPCZ_ALIGN(8) IpczTrapConditions {
  /* Size of this struct in bytes. */
  size_t size;

  /* IPCZ_TRAP_* bits. */
  IpczTrapConditionFlags flags;

  /* Threshold for IPCZ_TRAP_ABOVE_MIN_LOCAL_PARCELS. */
  size_t min_local_parcels;

  /* Threshold for IPCZ_TRAP_ABOVE_MIN_LOCAL_BYTES. */
  size_t min_local_bytes;

  /* Threshold for IPCZ_TRAP_BELOW_MAX_REMOTE_PARCELS. */
  size_t max_remote_parcels;

  /* Threshold for IPCZ_TRAP_BELOW_MAX_REMOTE_BYTES. */
  size_t max_remote_bytes;
};

/* Passed to a trap's handler when it fires. */
struct IPCZ_ALIGN(8) IpczTrapEvent {
  /* Size of this struct in bytes, as filled in by ipcz. */
  size_t size;

  /* The `context` given to Trap(). */
  uintptr_t context;

  /* Which conditions fired. */
  IpczTrapConditionFlags condition_flags;

  /* The portal's status at the time; valid only during the handler call. */
  const struct IpczPortalStatus* status;
};

/* Application callback run when a trap fires. It may run on any thread that
 * changes the portal's state, including inside an ipcz call made by the
 * application, but never while ipcz holds internal locks. */
typedef void(IPCZ_API* IpczTrapEventHandler)(const struct IpczTrapEvent* event);

#if defined(__cplusplus)
extern "C" {
#endif

/* The ipcz API: a table filled in by IpczGetAPI(). Entries are only ever
 * appended; the order and signatures below are fixed. Unless an entry says
 * otherwise, `flags` must be IPCZ_NO_FLAGS and `options` must be NULL, and an
 * invalid handle gives IPCZ_RESULT_INVALID_ARGUMENT. */
struct IPCZ_ALIGN(8) IpczAPI {
  /* Size of this struct in bytes; set by the caller before IpczGetAPI(). */
  size_t size;

  /* Closes a portal, destroys a node, releases a box's driver object, or
   * frees a validator. Must not race with any other use of `handle`. */
  IpczResult(IPCZ_API* Close)(IpczHandle handle,    /* in */
                              uint32_t flags,       /* in */
                              const void* options); /* in */

  /* Creates a node that uses `driver`. `driver_node` is an opaque value
   * passed back to the driver and may be IPCZ_INVALID_DRIVER_HANDLE.
   * IPCZ_RESULT_UNIMPLEMENTED means the platform lacks something ipcz needs,
   * such as lock-free 32- and 64-bit atomics. */
  IpczResult(IPCZ_API* CreateNode)(const struct IpczDriver* driver, /* in */
                                   IpczDriverHandle driver_node,    /* in */
                                   IpczCreateNodeFlags flags,       /* in */
                                   const void* options,             /* in */
                                   IpczHandle* node);               /* out */

  /* Connects `node` to one other node over `driver_transport` and returns
   * `num_initial_portals` portals entangled with the other node's initial
   * portals. The portals are usable at once; if the connection later fails,
   * or the other side asked for fewer, the surplus ones see a closed peer.
   * IPCZ_RESULT_OUT_OF_RANGE means more initial portals than supported. */
  IpczResult(IPCZ_API* ConnectNode)(IpczHandle node,                    /* in */
                                    IpczDriverHandle driver_transport,  /* in */
                                    size_t num_initial_portals,         /* in */
                                    IpczConnectNodeFlags flags,         /* in */
                                    const void* options,                /* in */
                                    IpczHandle* initial_portals);       /* out */

  /* Creates two portals on `node` that are each other's peer. */
  IpczResult(IPCZ_API* OpenPortals)(IpczHandle node,      /* in */
                                    uint32_t flags,       /* in */
                                    const void* options,  /* in */
                                    IpczHandle* portal0,  /* out */
                                    IpczHandle* portal1); /* out */

  /* Joins two routes: given A-B and C-D, merging B with C leaves A-D. Both
   * handles are consumed on success. Fails with
   * IPCZ_RESULT_FAILED_PRECONDITION if either portal has already sent or
   * received a parcel. */
  IpczResult(IPCZ_API* MergePortals)(IpczHandle first,     /* in */
                                     IpczHandle second,    /* in */
                                     uint32_t flags,       /* in */
                                     const void* options); /* in */

  /* Copies the portal's current status into `status` (its `size` must be
   * set). The answer may already be stale when the call returns. */
  IpczResult(IPCZ_API* QueryPortalStatus)(
      IpczHandle portal,                /* in */
      uint32_t flags,                   /* in */
      const void* options,              /* in */
      struct IpczPortalStatus* status); /* out */

  /* Sends a parcel holding `num_bytes` bytes from `data` and `num_handles`
   * handles. On success ipcz owns the handles; on failure the caller keeps
   * them. IPCZ_RESULT_NOT_FOUND: the peer is known to be closed.
   * IPCZ_RESULT_RESOURCE_EXHAUSTED: `options->limits` would be exceeded. */
  IpczResult(IPCZ_API* Put)(IpczHandle portal,                       /* in */
                            const void* data,                        /* in */
                            size_t num_bytes,                        /* in */
                            const IpczHandle* handles,               /* in */
                            size_t num_handles,                      /* in */
                            uint32_t flags,                          /* in */
                            const struct IpczPutOptions* options);   /* in */

  /* Starts a two-phase put: returns in `*data` a buffer of `*num_bytes`
   * bytes to write the parcel into directly. IPCZ_RESULT_ALREADY_EXISTS if
   * one is already pending on the portal. */
  IpczResult(IPCZ_API* BeginPut)(
      IpczHandle portal,                          /* in */
      IpczBeginPutFlags flags,                    /* in */
      const struct IpczBeginPutOptions* options,  /* in */
      size_t* num_bytes,                          /* in/out */
      void** data);                               /* out */

  /* Finishes (or, with IPCZ_END_PUT_ABORT, cancels) the pending two-phase
   * put, committing `num_bytes_produced` bytes and the given handles. After
   * any failure other than IPCZ_RESULT_FAILED_PRECONDITION the put is still
   * pending. */
  IpczResult(IPCZ_API* EndPut)(IpczHandle portal,          /* in */
                               size_t num_bytes_produced,  /* in */
                               const IpczHandle* handles,  /* in */
                               size_t num_handles,         /* in */
                               IpczEndPutFlags flags,      /* in */
                               const void* options);       /* in */

  /* Copies the next parcel out. `*num_bytes` and `*num_handles` give the
   * buffer capacities on input and what was taken on output. Too little room
   * gives IPCZ_RESULT_RESOURCE_EXHAUSTED with the needed sizes written back,
   * unless IPCZ_GET_PARTIAL is set. An empty queue gives
   * IPCZ_RESULT_UNAVAILABLE, or IPCZ_RESULT_NOT_FOUND once the peer is closed
   * too. A non-NULL `validator` receives a handle for Reject(). */
  IpczResult(IPCZ_API* Get)(IpczHandle portal,       /* in */
                            IpczGetFlags flags,      /* in */
                            const void* options,     /* in */
                            void* data,              /* out */
                            size_t* num_bytes,       /* in/out */
                            IpczHandle* handles,     /* out */
                            size_t* num_handles,     /* in/out */
                            IpczHandle* validator);  /* out */

  /* Starts a two-phase get, exposing the next parcel's data in place. That
   * memory may be shared with an untrusted sender: copy before validating. */
  IpczResult(IPCZ_API* BeginGet)(IpczHandle portal,     /* in */
                                 uint32_t flags,        /* in */
                                 const void* options,   /* in */
                                 const void** data,     /* out */
                                 size_t* num_bytes,     /* out */
                                 size_t* num_handles);  /* out */

  /* Finishes (or, with IPCZ_END_GET_ABORT, cancels) the pending two-phase
   * get. A partly consumed parcel stays at the head of the queue. */
  IpczResult(IPCZ_API* EndGet)(IpczHandle portal,          /* in */
                               size_t num_bytes_consumed,  /* in */
                               size_t num_handles,         /* in */
                               IpczEndGetFlags flags,      /* in */
                               const void* options,        /* in */
                               IpczHandle* handles,        /* out */
                               IpczHandle* validator);     /* out */

  /* Installs a one-shot trap: `handler` runs once with `context` when any of
   * `conditions` holds, or when the portal goes away (IPCZ_TRAP_REMOVED).
   * If a condition already holds, nothing is installed and the call returns
   * IPCZ_RESULT_FAILED_PRECONDITION, filling the optional outputs. */
  IpczResult(IPCZ_API* Trap)(
      IpczHandle portal,                                  /* in */
      const struct IpczTrapConditions* conditions,        /* in */
      IpczTrapEventHandler handler,                       /* in */
      uintptr_t context,                                  /* in */
      uint32_t flags,                                     /* in */
      const void* options,                                /* in */
      IpczTrapConditionFlags* satisfied_condition_flags,  /* out */
      struct IpczPortalStatus* status);                   /* out */

  /* Reports that the parcel behind `validator` was bad. If it came from
   * another node, the driver's ReportBadTransportActivity() is called with
   * `context`; otherwise this returns IPCZ_RESULT_FAILED_PRECONDITION. */
  IpczResult(IPCZ_API* Reject)(IpczHandle validator,
                               uintptr_t context,
                               uint32_t flags,
                               const void* options);

  /* Wraps a driver object in a box handle that can travel in parcels. */
  IpczResult(IPCZ_API* Box)(IpczHandle node,                 /* in */
                            IpczDriverHandle driver_handle,  /* in */
                            uint32_t flags,                  /* in */
                            const void* options,             /* in */
                            IpczHandle* handle);             /* out */

  /* Takes the driver object out of a box (or, with IPCZ_UNBOX_PEEK, looks at
   * it without consuming the box). */
  IpczResult(IPCZ_API* Unbox)(IpczHandle handle,                 /* in */
                              IpczUnboxFlags flags,              /* in */
                              const void* options,               /* in */
                              IpczDriverHandle* driver_handle);  /* out */
};

/* The type of IpczGetAPI(). The caller sets `api->size`; on success the
 * library fills in the table for the newest version both sides know, and
 * `api->size` says which one that is. It never writes past the caller's
 * size. IPCZ_RESULT_INVALID_ARGUMENT if `api` is NULL or too small for
 * version 0. */
typedef IpczResult(IPCZ_API* IpczGetAPIFn)(struct IpczAPI* api);

/* The library's one exported symbol, of type IpczGetAPIFn. */
IPCZ_EXPORT IpczResult IPCZ_API IpczGetAPI(struct IpczAPI* api);

#if defined(__cplusplus)
}  /* extern "C" */
#endif

#endif /* IPCZ_INCLUDE_IPCZ_IPCZ_H_ */
