// Package ipcz is the core of ipcz-go: nodes, portals, parcels, routers and
// links, traps, boxes, put limits, two-phase put and get, merging, and
// validators. Its API is the Go form of the seed's ipcz.h, with the same
// semantics and the same result codes (Result).
//
// # Model
//
// A Node is one participant (usually one per process). A pair of entangled
// Portals is a route: whatever is put into one portal comes out of the
// other, in order. Each portal is a thin handle on a Router; routers talk
// to the next router on the route only through a routerLink. A link
// between two routers on one node calls the other router directly; a link
// to another node turns each call into a message. Every parcel carries a
// 64-bit sequence number, and every queue releases parcels strictly in
// order, so links may be switched (a portal moved, a proxy bypassed, two
// routes merged) without losing, duplicating or reordering anything: the
// final sequence length sent with each switch or closure says when an old
// link has carried all it ever will.
//
// # Contract
//
// Every function and method is safe to call from any goroutine at any
// time, including from inside a trap handler. A handle that was closed,
// sent in a parcel or merged is dead: calls on it return InvalidArgument.
// Objects sent in a parcel belong to ipcz once Put succeeds, and stay the
// caller's if it fails. A trap handler runs exactly once, on whatever
// goroutine caused its condition, with no ipcz lock held.
//
// # Trust
//
// The application is trusted to use its own handles as it likes; misuse
// yields result codes, never a crash. The driver is trusted to follow the
// Driver contract. Other nodes are not trusted: every message, length,
// offset, index, count and sequence number that comes from another node,
// directly or through shared memory, is validated before use, and a node
// that sends something invalid loses its link and nothing else. State in
// shared memory (such as a link's consumption counts) may change at any
// moment and is only ever used as advice.
//
// # Locking
//
// Each router has one mutex guarding all of its state. Routers are locked
// one at a time, except where one operation must change several routers
// on this node atomically: MergePortals (the two merged routers), a
// bypass whose outward and inward peers share a node (those two), and the
// bypass of a merged pair (the pair and its two outer routers). Those take
// the locks lowest router id first. Portals, boxes,
// validators and nodes hold their handle state in atomics and take no
// lock. The lock order is therefore:
//
//	Router.mu (lowest id)
//	└── Router.mu (next id; only in the multi-router operations above)
//	    └── …
//
// No ipcz lock is held while calling application code (trap handlers) or
// the driver: work that must call out (delivering a parcel to another
// router, firing a trap) is collected under the lock and done after it is
// released.
package ipcz
