// Package mojo is the Mojo C system API of mid-2017 (the seed guide's
// MojoClose ... MojoArmWatcher: 33 functions) rebuilt in Go on ipcz, with
// that era's types, values, semantics and result codes (see
// /work/shared/reference/mojo.md §1, and §1.10 for the reference
// implementation's behaviour, which this package follows).
//
// # Contract
//
// A Core is one Mojo core: one ipcz node on one driver, with its handle
// table. Each of its exported methods named after a C function is that
// function, one to one: the C exports of the next layer call them, and Go
// programs may call them directly. The package-level functions of the same
// names use the process-wide default core set up by Init. Every method may
// be called from any goroutine at any time, including from inside a
// watcher callback; every misuse yields a result code, never a panic (the
// package-level functions panic only if Init was not called).
//
// Where C passes a pointer and a count, Go passes a slice whose length is
// the count; in/out counts are returned. Checks that only make sense for C
// pointers (a null out-pointer, a null buffer with a non-zero size, the
// alignment of an options struct) belong to the C layer. Names follow the
// headers where the guide misspells them (mojo.md §1.8):
// WriteMessageFlagNone, ResultOutOfRange, WatcherCallback,
// WrapPlatformSharedBufferHandle.
//
// # Objects
//
// Message pipes are ipcz portals. Every other object lives in driver
// objects that travel boxed (ipcz.Box): a data pipe endpoint is a control
// portal plus a ring buffer in driver shared memory (package datapipe); a
// shared buffer is a driver shared-memory handle; a platform handle is the
// driver's file-descriptor object (ipcz.FileDescriptorDriver). Watchers
// (package watcher) are local and never travel.
//
// # Handle table
//
// A Handle is 32 bits: a 24-bit slot index (never 0, so no handle is 0) and
// an 8-bit generation, bumped when the slot is freed. Freed slots are
// reused oldest first, so values come back only after a long while, and a
// stale value names nothing (INVALID_ARGUMENT) until then. Lookups take no
// lock (an atomic load of the slot); insertions and removals take the
// table's mutex. A handle attached to a message that is being sent is
// busy: closing it gives BUSY, attaching it again gives BUSY, any other
// use gives INVALID_ARGUMENT. Handles attached with WriteMessage leave the
// table only if the write succeeds; handles attached with AllocMessage
// leave it when the message is made, and belong to the message from then
// on (freeing the message, or a failed WriteMessageNew, closes them).
// Message objects live in a second table of the same kind
// (MessageHandle).
//
// # Messages on the wire
//
// A message without handles is a parcel holding exactly its payload, so
// the common write and read cost what a bare ipcz Put and Get cost. A
// message with handles starts with a header describing them, validated
// completely on receipt (it may come from a hostile process); see wire.go
// for the format. Payloads of message objects are Go heap memory,
// allocated 8-byte aligned with room for the header in front, so a write
// copies the message once (into the parcel); Go never moves heap objects,
// so GetMessageBuffer's memory stays put while the message lives (the C
// layer pins it while C holds the pointer).
//
// # Watcher notifications
//
// Callbacks run with no lock held, one at a time per core, never inside
// an API call: at the tail of the outermost API call of the goroutine
// that first gets to them, or, for traffic from another node, at the end
// of the driver's delivery with FROM_SYSTEM. The core gives ipcz its
// driver wrapped so that it can bracket those deliveries; the package
// watcher documents the mechanism and its one relaxation (with several
// goroutines, a notification may be delivered by another goroutine's
// concurrent API call).
//
// # Invitations
//
// OutgoingInvitation and IncomingInvitation connect a new process: modern
// Mojo's invitation model (attach named pipes, send over a driver
// transport, accept, extract by name) in this era's types, over
// ipcz.Node.ConnectNode with one bootstrap portal. The inviter is normally
// the broker.
//
// # Driver capabilities
//
// Platform handles need ipcz.FileDescriptorDriver (WrapPlatformHandle
// answers UNIMPLEMENTED without it); read-only buffer duplicates need
// ipcz.ReadOnlySharedMemoryDriver (FAILED_PRECONDITION without it, as the
// 2017 API allows); wrapping shared-memory fds needs
// SharedMemoryFileDescriptorDriver (UNIMPLEMENTED without it).
//
// # Trust
//
// The application is trusted with its own handles. The driver is trusted
// to follow its contract. Other nodes are not trusted: message headers,
// data pipe snapshots and counts, buffer sizes and invitation bootstrap
// parcels from them are validated before use; a malformed message is
// dropped and rejected through ipcz (which reports the transport to the
// driver), a malformed handle in an otherwise valid message arrives as
// HandleInvalid, as in 2017.
//
// # Locks
//
// Each lock guards the fields its comment names. The order is
//
//	watcher.Watcher.mu
//	└── watcher.Notifier.mu
//	    └── ipcz Router.mu (QueryStatus, Trap)
//	messagePipe.readMu
//	└── ipcz (BeginGet, EndGet)
//	datapipe endpoint.mu
//	└── ipcz (Get, QueryStatus of its own control portal)
//	sharedBuffer.mu, platformHandle.mu
//	└── driver memory and fd calls
//	OutgoingInvitation.mu, IncomingInvitation.mu
//	└── table.mu
//	table.mu, mappingTable.mu, watcher.Dispatcher.mu: leaves
//
// No lock is held across Portal.Put, a portal's Close or MergePortals, or
// while a callback runs. ipcz trap handlers (which may run inside any of
// the ipcz calls above) take only Notifier.mu and Dispatcher.mu, one after
// the other.
//
// # Limits
//
// At most MaxHandlesPerMessage handles and 256 MiB of payload per
// message, and at most ipcz.MaxObjectsPerParcel (4096) objects per message (ipcz's limit for a
// parcel crossing nodes: a data pipe takes two, other handles one, invalid
// platform handles none); MaxSharedBufferBytes per buffer; data pipes up
// to 256 MiB.
package mojo
