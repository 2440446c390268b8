// Package watcher implements Mojo watchers (MojoCreateWatcher, MojoWatch,
// MojoCancelWatch, MojoArmWatcher of the seed-era C API) over ipcz traps,
// and the notification dispatcher that decides when and where watcher
// callbacks run.
//
// # Contract
//
// A Watcher watches any number of Sources (message pipe and data pipe
// handles), each for a set of signals, under a caller-chosen context. A
// watch is ready when any of its signals is satisfied (result OK) or none
// can ever be (result FAILED_PRECONDITION; a watch of no signals is always
// ready this way). Arm succeeds only if no watch is ready; otherwise it
// fails with FAILED_PRECONDITION and reports up to the caller's capacity of
// ready watches, starting after the one it reported last, so that no watch
// starves. An armed watcher that sees a watch become ready disarms itself
// and then notifies that watch once. Every watch ends with exactly one
// CANCELLED notification, whether it is cancelled, its source is closed
// (Notifier.Close) or the watcher is closed, and nothing is delivered for
// it afterwards.
//
// # When callbacks run
//
// The seed API delivers notifications "before the outermost API call on
// the current thread returns", never in the middle of one. Go has no
// goroutine-local storage, and ipcz runs trap handlers synchronously inside
// whatever portal operation caused them, with no way to pass a context
// through. The Dispatcher (one per mojo core) therefore relies on explicit
// brackets around the only two places where events can happen:
//
//   - Every API call of the core runs between Enter and Exit.
//   - Every delivery of another node's traffic runs inside Deliver: the
//     mojo core wraps the activity handler ipcz gives the driver.
//
// Events (a trap fired, a data pipe changed locally, a watch was
// cancelled) are only queued where they happen: trap handlers take no
// endpoint lock, evaluate nothing and run no callback. The queue is then
// pumped by exactly one goroutine at a time, with no lock held:
//
//   - by Exit, at the tail of an API call; notifications carry no flags;
//   - by Deliver, at the end of a delivery, if no API call of the core is
//     in progress (otherwise that call pumps as it returns); notifications
//     carry FROM_SYSTEM.
//
// API calls made by a callback find the pump busy and leave their events
// to it: they are delivered after the callback returns, by the same loop.
// A delivery nested inside an API call on the same goroutine (the
// synchronous in-process driver looping traffic back) sees the call in
// progress and leaves its events to the call's Exit.
//
// With one goroutine this is exactly the seed semantics: a callback runs
// before the outermost call that caused it returns, never nested inside
// another callback or API call, and FROM_SYSTEM is set precisely when no
// user API call is on the stack. With several goroutines, an event caused
// by one goroutine may be delivered at the tail of another goroutine's
// concurrent API call (whichever reaches the pump first), possibly after
// the causing call returned; FROM_SYSTEM still describes the delivering
// context exactly ("not nested in a user API call"). Exact per-goroutine
// attribution would need ipcz to accept a per-call event sink (or Go to
// offer goroutine-local storage).
//
// To keep API calls cheap, Enter counts a call only while the core has a
// watcher (see Enter).
//
// Callbacks of one core run one at a time. A callback must not block
// waiting for another callback of the same core.
//
// # Trust
//
// Sources compute their own signals; a Source whose peer is in another
// process reflects that peer only through ipcz. Callbacks are application
// code and are never called with a lock held.
//
// # Locks
//
// The lock order is
//
//	Watcher.mu
//	├── Notifier.mu
//	│   └── ipcz Router.mu (Portal.QueryStatus and Portal.Trap)
//	└── the source's lock (a waking Notifier's wake call; a data pipe
//	    endpoint's mutex, itself taken before ipcz Router.mu)
//	Dispatcher.mu (a leaf; taken alone or innermost)
//
// Notifier.mu is released before a Notifier calls into a Watcher or calls
// wake.
// Source.SignalsState (which may lock a data pipe endpoint) is called with
// no watcher lock held. No lock is held while a callback runs.
package watcher
