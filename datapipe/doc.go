// Package datapipe implements Mojo data pipes on ipcz: a producer and a
// consumer endpoint that share a ring buffer and two byte counters in
// driver shared memory, and wake each other over an entangled pair of
// ipcz portals (the control portals). It is the data-pipe half of the seed-era Mojo C system API
// (MojoCreateDataPipe, MojoWriteData, MojoBeginWriteData, MojoEndWriteData,
// MojoReadData, MojoBeginReadData, MojoEndReadData) with the result codes
// and signals of that era; the mojo package exposes it through handles.
//
// # Protocol
//
// Both endpoints map the same region: the ring of Options.CapacityNumBytes
// bytes, then a header of shared words (see shared.go). Each side owns one
// counter there, only ever growing: the producer the bytes it ever
// committed, the consumer the bytes it ever consumed. A write copies bytes
// into the ring and then stores the new counter; a read loads the
// producer's counter, copies bytes out and stores its own. No parcel is
// needed while both sides are busy: before any operation or signals query
// an endpoint loads the peer's counter.
//
// Parcels on the control portals are only wake-ups (empty parcels), for
// the traps of watchers. A side about to wait sets its waiting flag in the
// header (WantWake, which the mojo package's watchers call after
// installing their trap and before computing signals); the peer clears it
// with the store of its next counter and then puts one wake-up. The flag
// set and the peer's counter load, like the counter store and the flag
// load, are sequentially consistent, so a change is either seen by the
// waiter's signals query or announced by a wake-up. Closing an endpoint
// closes its portal, which the peer sees as the portal going dead.
//
// Once an endpoint finds its portal dead, it loads the peer's counter one
// last time (an honest peer stored its last counter before closing) and
// then knows its peer is closed, permanently. A consumer whose producer
// closed with data left can read that data to the end.
//
// # Moving an endpoint
//
// BeginTransit turns an endpoint into what travels in a parcel: a snapshot
// of its bookkeeping (Snapshot.Encode: both counters as it knows them), a
// box holding its memory handle and its control portal. It waits for any
// wake-up still being put by another goroutine; the endpoint's counter is
// already in the header, and wake-ups that arrive meanwhile stay queued in
// the portal and move with it: nothing is lost or counted twice.
// Deserialize rebuilds the endpoint on the receiving node and maps the
// region; it takes in whatever the peer did meanwhile from the header. A
// transit either completes (the endpoint is gone from this node) or is
// cancelled (the endpoint carries on as before).
//
// # Signals
//
// The producer is WRITABLE while its peer is open, no two-phase write is in
// progress and it knows of free capacity; WRITABLE stays satisfiable until
// the peer closes. The consumer is READABLE while bytes are readable and no
// two-phase read is in progress; READABLE is satisfiable while bytes remain
// or the peer is open. NEW_DATA_READABLE is satisfied once the consumer
// sees the producer's counter grow, and until the next read, two-phase read or query, and satisfiable
// while the peer is open. PEER_CLOSED is always satisfiable.
//
// # Trust
//
// The peer endpoint may be in another process and is not trusted; it can
// write the whole region at any time. Each endpoint keeps its own counter
// and the last validated value of the peer's in private memory, never
// reading back a shared word it stored. A peer counter is loaded once per
// refresh and used only after validation (validPeer): it must not go
// backwards, must move by whole elements, the consumer's must not pass the
// producer's and the producer's must not run more than a ring ahead. A
// value that fails marks the peer closed, permanently, and the counter is
// never loaded again; so does a parcel on the control portal that is not
// an empty wake-up. A waiting flag full of garbage costs wake-ups, nothing
// else. A snapshot given to Deserialize is validated field by field. The
// bytes in the ring may be changed by the peer at any time; the consumer
// copies them out exactly once per read.
//
// # Concurrency and locks
//
// Every method may be called from any goroutine. Each endpoint has one
// mutex (endpoint.mu). It is held across the endpoint's own Portal.Get
// calls (which never call out for the traps the mojo packages install) but
// never across Portal.Put, Portal.Trap or any Close: wake-ups are put after
// unlocking, and BeginTransit waits for those sends. WantWake takes it
// too; watchers call it with their own lock held (see package watcher).
// The package calls no application code.
package datapipe
