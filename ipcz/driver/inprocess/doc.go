// Package inprocess implements ipcz.Driver for nodes that live in one
// process. It plays the role of ipcz's reference drivers: tests and
// single-process applications create one *Driver, give it (or per-node views
// of it, see Driver.ForNode) to several nodes, and connect the nodes with
// transport pairs from Driver.NewTransportPair.
//
// # Objects and handles
//
// Every object lives in a handle table owned by the *Driver. A DriverHandle
// is a nonzero key in that table, never a Go pointer, and keys are never
// reused, so a stale handle is reported as InvalidArgument rather than
// naming some other object. The kinds of object are:
//
//   - transport endpoints (NewTransportPair, CreateTransports);
//   - shared memory regions (AllocateSharedMemory, DuplicateSharedMemory):
//     heap memory, zeroed, 8-byte aligned, never moved;
//   - mappings of a region (MapSharedMemory), which keep the region's bytes
//     alive after every memory handle is closed;
//   - blobs (NewBlob): arbitrary bytes, so tests can box application
//     objects and send them through portals;
//   - serialized objects: what Serialize turns an object into and what
//     travels in Transmit's handles, until Deserialize turns it back.
//
// Every method validates its handles: an unknown handle or one of the wrong
// kind gives ipcz.InvalidArgument. No method panics on bad input.
//
// # Modes
//
// The Mode given to New selects how transports deliver traffic:
//
//   - Sync: Transmit calls the peer's activity handler on the caller's
//     goroutine before returning, unless a delivery to that peer is already
//     in progress (see "Synchronous delivery" below).
//   - Async: every activated endpoint has its own goroutine and FIFO queue;
//     Transmit copies the message into the peer's queue and returns.
//   - AsyncDelegatedAlloc: as Async. Shared memory allocation works for every
//     node (delegation is decided by ipcz from the connect flags); tests read
//     per-node allocation counts from NodeDriver.AllocationCount to check
//     that delegating nodes did not allocate. The counts are kept in every
//     mode.
//   - AsyncForcedBrokering: as Async, but every transport endpoint knows
//     whether its own node and its peer's node are brokers, and Serialize of
//     a transport, memory region or blob returns ipcz.Aborted when no
//     transport is given and ipcz.PermissionDenied over a transport between
//     two non-brokers, so ipcz must relay such objects through a broker.
//     In the other modes every serializable object goes over any transport.
//
// # Transport life cycle
//
// An endpoint is idle until ActivateTransport, active until
// DeactivateTransport (or Close) begins deactivation, then deactivating
// until the driver's final handler call with TransportActivityDeactivated,
// then deactivated. Guarantees:
//
//   - Handler calls for one endpoint never overlap, and messages arrive in
//     the order they were transmitted (per sending goroutine when several
//     goroutines transmit at once).
//   - Messages transmitted to an idle endpoint are queued and delivered, in
//     order, once it is activated (in Sync mode, from inside
//     ActivateTransport, after activation is recorded).
//   - Every successful ActivateTransport is matched by exactly one
//     TransportActivityDeactivated call, after which the handler is never
//     called again. Close of an active endpoint begins deactivation itself
//     if ipcz has not done so, so the final call still comes (possibly
//     after Close returns).
//   - Deactivation drops messages that were queued for the endpoint but not
//     yet delivered, as closing a socket would; their handles are closed.
//     Messages sent to a deactivating or deactivated endpoint that is not
//     yet closed are accepted and dropped the same way.
//   - When an endpoint is closed its peer gets one TransportActivityError
//     call (after the messages already queued for it). Transmit towards a
//     closed endpoint returns ipcz.Unavailable, and the sender gets that
//     one TransportActivityError call if it has not had it yet. An endpoint
//     gets at most one TransportActivityError call in its life.
//   - If the handler returns an error for a message, the driver treats the
//     endpoint as broken: it drops the messages queued behind that one and
//     every later one, closes the handles of the rejected message that ipcz
//     did not consume, and makes the endpoint's one TransportActivityError
//     call. ipcz is expected to call DeactivateTransport in response.
//
// # Synchronous delivery
//
// In Sync mode each endpoint has a queue and a "draining" flag, both guarded
// by the endpoint's mutex. Transmit appends the message to the peer's queue;
// if no goroutine is draining that queue, the transmitting goroutine becomes
// the drainer and calls the handler for each queued event, releasing the
// mutex around every call, until the queue is empty. A Transmit that finds
// the queue already being drained (by another goroutine, or by an outer frame
// of its own goroutine because the handler re-entered the driver) only
// enqueues and returns; the drainer delivers its message before it stops.
// Hence handler calls never overlap, re-entrant Transmit cannot deadlock,
// and a ping-pong between two endpoints runs as a loop, not as unbounded
// recursion: the stack holds at most one drain frame per endpoint involved.
// The price is that a Transmit which finds a drain in progress returns
// before its message has been handled.
//
// # Ownership
//
//   - Serialize: on success the driver owns the object; the handle written
//     to handles names the serialized object. On any error the caller keeps
//     the object.
//   - Transmit: the handles must be serialized objects (from Serialize). On
//     success the driver owns them and hands them to the peer's handler; on
//     error the caller keeps them.
//   - Handler calls: data and the handles slice are borrowed for the call,
//     but the serialized objects named in it belong to the receiver, which
//     must Deserialize or Close each of them (except after the handler
//     returned an error; see above).
//   - Deserialize consumes the serialized object on success and returns a
//     new handle; on error nothing is consumed.
//
// # Serialized form
//
// A serialized object is 8 bytes of data, a little-endian uint32 kind (1
// transport, 2 memory, 3 blob) and a uint32 that must be zero, plus exactly
// one handle naming the serialized object. Deserialize treats all of it as
// untrusted: wrong lengths, unknown kinds, a nonzero reserved word, a handle
// that is not a serialized object or that holds a different kind, and a
// transport argument that is not a transport endpoint all give
// ipcz.InvalidArgument, and a serialized object can be deserialized once.
//
// # Trust model
//
// The driver trusts its Go callers to respect ownership (not to use a handle
// after giving it away); breaking that is still safe (errors, never memory
// corruption or panics) because handles are table keys that are never
// reused. Data and handles arriving from a peer are validated by
// Deserialize as described above. The driver does not recover panics raised
// by activity handlers.
//
// # Concurrency and locks
//
// Every method may be called from any goroutine, concurrently with any
// other, including from inside an activity handler. The locks are:
//
//   - Driver.mu: the handle table and its counters (package handles);
//   - endpoint.mu, one per transport endpoint: its state, handler and queue;
//   - Driver.reports (its own mutex): the bad-activity reports and hook.
//
// Lock order: there is none to follow, because the driver never holds two of
// its locks at once. No lock is held while an activity handler or the
// bad-activity hook runs, or while objects are closed.
package inprocess
