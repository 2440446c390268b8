// Package datapipe implements Mojo data pipes on ipcz: a producer and a
// consumer endpoint that share a ring buffer in driver shared memory and
// exchange byte counts over an entangled pair of ipcz portals (the control
// portals). It is the data-pipe half of the seed-era Mojo C system API
// (MojoCreateDataPipe, MojoWriteData, MojoBeginWriteData, MojoEndWriteData,
// MojoReadData, MojoBeginReadData, MojoEndReadData) with the result codes
// and signals of that era; the mojo package exposes it through handles.
//
// # Protocol
//
// Both endpoints map the same region of Options.CapacityNumBytes bytes.
// Each keeps its own bookkeeping, never shared through memory: the
// producer a write offset and the free capacity it knows of, the consumer
// a read offset and the number of bytes it knows are readable. Every
// non-empty write puts one control parcel on the producer's portal: a
// little-endian uint32 count of bytes written. Every non-empty read (or
// discard, or two-phase read end) puts the count of bytes consumed on the
// consumer's portal. Before any operation or signals query an endpoint
// drains its portal and applies the counts it finds. Bytes are always in
// the ring before their count is put, and counts are only ever added, so
// counts from concurrent writers may arrive in any order.
//
// Once a drain finds its portal dead (Portal.Get returns NotFound: the peer
// closed and every count it sent has been applied) the endpoint knows its
// peer is closed, permanently. A consumer whose producer closed with data
// left can read that data to the end.
//
// # Moving an endpoint
//
// BeginTransit turns an endpoint into what travels in a parcel: a snapshot
// of its bookkeeping (Snapshot.Encode), a box holding its memory handle and
// its control portal. It waits for any count still being put by another
// goroutine, and from then on the endpoint stops draining, so counts that
// arrive meanwhile stay queued in the portal and move with it: nothing is
// lost or counted twice. Deserialize rebuilds the endpoint on the receiving
// node with its offsets intact. A transit either completes (the endpoint is
// gone from this node) or is cancelled (the endpoint carries on as before).
//
// # Signals
//
// The producer is WRITABLE while its peer is open, no two-phase write is in
// progress and it knows of free capacity; WRITABLE stays satisfiable until
// the peer closes. The consumer is READABLE while bytes are readable and no
// two-phase read is in progress; READABLE is satisfiable while bytes remain
// or the peer is open. NEW_DATA_READABLE is satisfied once new counts
// arrive and until the next read, two-phase read or query, and satisfiable
// while the peer is open. PEER_CLOSED is always satisfiable.
//
// # Trust
//
// The peer endpoint may be in another process and is not trusted. A count
// that is malformed, not a multiple of the element size, or that would
// overflow the ring marks the peer closed (as the 2017 implementation did);
// a snapshot given to Deserialize is validated field by field. The bytes in
// the ring may be changed by the peer at any time; the consumer copies them
// out exactly once per read.
//
// # Concurrency and locks
//
// Every method may be called from any goroutine. Each endpoint has one
// mutex (endpoint.mu). It is held across the endpoint's own Portal.Get and
// Portal.QueryStatus calls (which never call out for the traps the mojo
// packages install) but never across Portal.Put, Portal.Trap or any Close:
// counts are put after unlocking, and BeginTransit waits for those sends.
// The package calls no application code.
package datapipe
