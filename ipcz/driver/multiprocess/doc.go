// Package multiprocess implements ipcz.Driver (with the optional
// ipcz.FileDescriptorDriver and ipcz.ReadOnlySharedMemoryDriver) for nodes
// in different processes of one Linux machine. Transports are Unix-domain
// stream sockets, shared memory is sealed memfd regions, and every object
// that travels between processes travels as a file descriptor passed with
// SCM_RIGHTS. It is Linux-only.
//
// A process makes one *Driver with New and gives it to its nodes. A parent
// starts a child node with Driver.Spawn, which hands the child one end of a
// new socketpair as an inherited descriptor named by the environment
// variable IPCZ_TRANSPORT_FD; the child adopts it with
// Driver.TransportFromEnvironment and connects to the parent's broker over
// it (see the package example). NewTransportFromFD and NewTransportFromFile
// adopt sockets obtained any other way; NewTransportPair connects two nodes
// of one process.
//
// # Objects and handles
//
// Every object lives in a handle table owned by the *Driver. A DriverHandle
// is a nonzero key in that table, never reused, so a stale handle gives
// ipcz.InvalidArgument rather than naming another object. The kinds are:
//
//   - transports: one end of a socket, idle until ActivateTransport;
//   - memory: a sealed memfd (package shm), writable or read-only;
//   - mappings: MAP_SHARED mappings of a region, whose bytes never move
//     and stay valid until the mapping handle is closed;
//   - file descriptors: any descriptor the application wraps
//     (WrapFileDescriptor), so that a box can carry it to another process;
//   - transmissible objects: one descriptor on its way, made by Serialize
//     (from a transport, memory or descriptor object) or by the receiving
//     transport (from a received descriptor), consumed by Transmit or
//     Deserialize.
//
// Every method validates its handles and reports a bad one as
// ipcz.InvalidArgument; no method panics on bad input.
//
// # Serialized form
//
// An object serializes to 8 bytes, a little-endian {u32 kind; u32 extra},
// and one transmissible handle holding its descriptor. The kinds are 1
// transport (extra 0), 2 writable memory and 3 read-only memory (extra is
// the region's size), 4 file descriptor (extra 0). Serialize never answers
// Aborted or PermissionDenied: any descriptor can cross any Unix socket. A
// transport can be serialized only while idle (never activated).
//
// # Framing
//
// Transports use SOCK_STREAM. SOCK_SEQPACKET would keep message boundaries
// and tie descriptors to their message, but a record must fit in the
// socket's send buffer (about 200 KiB by default, and an unprivileged
// process cannot raise the limit much), so messages up to MaxMessageBytes
// would need a fragmentation layer anyway, and the kernel would still need
// one large allocation per record. A stream with explicit framing handles
// any size with partial writes, as ipcz's reference driver does.
//
// Each frame on the socket is a 16-byte little-endian header {u32 total
// length including the header; u16 number of descriptors; u16 type; u64
// sequence number}, then the frame's bytes. Type 1 is the setup frame
// (see The fast path), which each end sends first; type 0 is a message,
// whose sequence number is its place among all the messages of its
// direction, on the socket or through the ring. Descriptors go as
// SCM_RIGHTS, at most 64 per sendmsg: group k of a frame's descriptors
// rides on byte k of the frame (the last group on the rest of the frame),
// so a frame of n descriptors needs at least ceil(n/64) bytes, which the
// 16-byte header provides for up to 1024. On Linux a stream socket takes
// either all of a sendmsg's descriptors with at least one byte, or
// nothing, and a read returns descriptors together with the bytes they
// were sent with; it may also glue bytes of several writes, but ends after
// the first write whose descriptors it took. The receiver therefore keeps
// received descriptors in arrival order and lets each complete frame claim
// as many as its header names. An honest sender attaches a frame's
// descriptors to that frame's bytes, so the receiver requires that a
// complete frame finds its descriptors there, that the descriptors waiting
// never exceed what the frame being received claims (nor 64 per byte
// received of it), that a frame claims at most MaxMessageHandles
// descriptors and MaxMessageBytes bytes, that its type is known, that the
// first frame is a setup frame and no other is, and that messages come in
// sequence. Anything else is malformed.
//
// # The fast path
//
// Once active, each end offers the peer a ring when the fast path is on
// (the default; see New, FastPath and FastPathEnv): a sealed memfd it
// creates and sends, in its setup frame, with the ring's capacity. The ring is a
// single-producer, single-consumer queue of messages in shared memory,
// with the consumer's futex word (see ring.go for the layout). Transmit of
// a message without descriptors that fits (a quarter of the capacity;
// DefaultRingCapacity is 256 KiB) appends a record to the sender's ring
// and, only if the peer's reader is asleep or about to sleep (a flag it
// sets), bumps the futex word and wakes it: no socket traffic and, while
// the reader is awake, no system call at all. Messages with descriptors,
// larger ones, and any that find the ring full go on the socket as
// before. Every message carries its sequence number (in its ring record or
// frame header), and the reader merges the two channels by it, so the
// order of Transmit calls is kept whichever way each message goes. A
// sender that puts a message on the socket also records its sequence
// number in the ring as a hint and wakes a sleeping reader, which then
// reads the socket.
//
// A reader that consumes a ring never parks in the poller: when it has
// nothing to deliver it first yields once if it delivered anything since
// it last waited (a goroutine that its handler calls woke runs at once,
// on its thread), then polls the ring for a while (Spin; DefaultSpin),
// giving way to other goroutines, and to other threads of its processor
// every few microseconds (every time, if the process may only use one
// processor, or if the peer's reader last spun on the same processor:
// each reader records its processor in the ring it consumes, a hint the
// peer may falsify to no worse effect than a slower spin), then sleeps on
// the futex word. While it sleeps it blocks its
// thread, and holds its P until the runtime's monitor hands the P on (at
// most one monitor tick; with GOMAXPROCS > 1 other goroutines keep running
// meanwhile). A watcher goroutine, parked in the poller on the socket,
// wakes the reader (through the same futex word) whenever the socket
// becomes readable or hangs up, and deactivation wakes it too, so neither
// depends on anything the peer writes.
//
// The ring's memory is shared with the peer, which may write anything
// there at any time. Each side keeps its own copy of the index it owns
// (the producer's tail, the consumer's head) and only stores it; the index
// it loads from the other side is validated (no further than the capacity
// ahead, aligned), every record header is read once into private memory
// and validated (length within the ring and within what was produced), and
// a record's message is copied out of the ring before the handler sees
// it. A violation, a sequence number out of place, or a setup frame that
// is not a version we speak with a sealed memfd of exactly the announced
// size and a valid capacity, is treated as a malformed frame: one
// TransportActivityError call. Nothing the peer writes to the ring can
// make this process fault (the memfd is sealed against shrinking), keep
// a reader from noticing deactivation, or make it hold more than one
// message at a time.
//
// # Transport life cycle
//
// A transport is idle until ActivateTransport, active until
// DeactivateTransport (or Close) begins deactivation, then deactivating
// until the final TransportActivityDeactivated call, then deactivated.
// Traffic that arrives while a transport is idle stays in the socket until
// activation.
//
// Each active transport has one reader goroutine. Until the peer's setup
// frame arrives, and for good if the peer offers no ring, it is parked in
// the Go network poller (the socket is registered through os.NewFile and
// read through syscall.RawConn); with a ring it polls and then sleeps on
// the ring's futex word as described above, and a second goroutine
// watches the socket for it. The reader makes every handler call of its
// transport, so calls never overlap and come in order: one per message,
// then, on end of stream, ECONNRESET, a malformed frame or ring, or a
// message the handler rejected, exactly one TransportActivityError call
// (once everything the peer sent before it went has been delivered),
// after which it reads nothing more and waits for deactivation; and after
// deactivation begins, exactly one final TransportActivityDeactivated
// call (messages not yet delivered are dropped and their descriptors
// closed). Closing an active transport begins its deactivation if ipcz
// has not, so the final call still comes, possibly after Close returns.
// The reader unmaps the peer's ring before its final call; Close unmaps
// the transport's own.
//
// # Sending and back-pressure
//
// Transmit appends a message to the ring when it can (see The fast path),
// which never blocks. Otherwise it tries sendmsg at once, on the caller's
// goroutine. What the socket does not take is copied into the transport's send queue, which a
// writer goroutine sends when the socket becomes writable (parked in the
// poller meanwhile) and which preserves the order of Transmit calls.
//
// The queue is bounded by blocking, not by failing: while MaxQueuedBytes
// or more wait in it (or 16384 descriptors), Transmit blocks its caller
// until the writer has drained it below that, the transport is deactivated
// or closed, or the peer goes away. ipcz never calls the driver while
// holding a lock, so that blocks only the goroutine that produces too
// fast. The exception is a Transmit made from an activity handler, that is
// on one of the driver's reader goroutines (Transmit recognizes them by
// their stack when it would block): two processes whose readers both
// waited for the other to read would deadlock, so such a Transmit never
// blocks; instead it fails with ResourceExhausted once the queue has grown
// past 512 MiB, and ipcz then drops the link to that peer.
//
// When a send fails, normally because the peer's end is closed (EPIPE,
// ECONNRESET), the frame and everything queued are dropped, Transmit
// returns nil, and the reader delivers whatever is left to read (all the
// peer sent before it went) and then makes the TransportActivityError
// call. A message that a dead peer would never
// have read is not an error of the sender's; this way a child's last
// parcels are not lost because the parent happened to be sending too.
//
// # Ownership
//
//   - Serialize: on success the driver owns the object; on error the
//     caller keeps it.
//   - Transmit: the handles must be transmissible objects. On success the
//     driver owns them (each descriptor is closed once the kernel has it);
//     on error the caller keeps them.
//   - Handler calls: the data and the handles slice are borrowed for the
//     call; the transmissible objects it names belong to ipcz, which
//     deserializes or closes each one. If the handler returns an error,
//     the driver closes those ipcz did not.
//   - Deserialize consumes the transmissible object on success and nothing
//     on error. Received descriptors are close-on-exec.
//   - UnwrapFileDescriptor gives the descriptor to the caller.
//
// # Trust model
//
// The peer process is not trusted. It may write garbage, lie about
// lengths and descriptor counts, flood descriptors, scribble on its ring
// (see The fast path), stop reading, or die in the middle of a frame;
// each of these costs it its own link (the
// transport reports an error and ipcz deactivates it) and nothing else:
// other transports of the process are not affected, every descriptor
// received is either handed to ipcz or closed, a frame's buffer grows in
// proportion to the bytes that actually arrived (not to the length
// claimed), and a control message with more than 64 descriptors, or of any
// other type than SCM_RIGHTS, is malformed. Deserialize validates every
// object: a transport must be a Unix stream socket, a memory region a
// memfd sealed against shrinking and growing (so that the sender cannot
// truncate it under our mapping), of the size and access the header
// claims, and at most MaxSharedMemoryBytes. The driver trusts its Go
// callers to respect ownership; breaking it is still memory-safe (errors,
// not corruption), except for using the bytes of a mapping after closing
// it, which faults. Activity handlers' panics are not recovered.
//
// # Concurrency and locks
//
// Every method may be called from any goroutine, concurrently with any
// other, including from inside an activity handler. The locks are:
//
//   - Driver.mu: the handle table and its counters (package handles);
//   - Driver.reports (its own mutex): the bad-activity reports and hook;
//   - transport.mu, one per transport: its life-cycle state and socket;
//   - transport.w, one per transport: its send queue, its sequence
//     numbers and its own ring. It is held across each sendmsg and ring
//     append, which is what keeps concurrent Transmit calls in order.
//   - transport.in, one per transport: the peer's ring while the reader
//     consumes it, for the goroutines that wake the reader.
//
// Lock order: transport.mu before transport.w (only ActivateTransport,
// which sends the setup frame, nests them), and transport.w before
// transport.in (a Transmit that finds the ring corrupt wakes its own
// reader); nothing else nests. transport.w is taken inside the Go poller's
// write lock (in the writer's RawConn.Write callback), so it is never held
// while calling RawConn.Write or File.Close; it is held across
// RawConn.Control, which takes only a reference. No lock is held while an
// activity handler or the bad-activity hook runs.
package multiprocess
