package watcher

import (
	"sync"
	"sync/atomic"

	"github.com/ipcz-go/ipcz-go/mojo/types"
)

// Dispatcher queues a core's watcher events and runs its callbacks at the
// right time (see the package doc). One Dispatcher serves every watcher of
// one mojo core. The zero value is ready to use.
type Dispatcher struct {
	// watchers counts live watchers of the core; while it is 0 no event can
	// be produced, and API calls skip counting themselves. Atomic.
	watchers atomic.Int64
	// active counts API calls in progress that counted themselves (see
	// Enter), on every goroutine. Atomic.
	active atomic.Int64
	// pending counts queued items. Atomic; changed under mu.
	pending atomic.Int64

	mu struct {
		sync.Mutex
		// queue holds the events not yet processed, oldest first. Guarded
		// by mu.
		queue []item
		// pumping is set while a goroutine is processing the queue.
		// Guarded by mu.
		pumping bool
	}
}

// NewDispatcher returns a new Dispatcher.
func NewDispatcher() *Dispatcher { return &Dispatcher{} }

type itemKind uint8

const (
	itemEvaluate itemKind = iota // a watch's source may have changed
	itemNotify                   // deliver result and state (a new watch was ready)
	itemCancel                   // deliver CANCELLED
)

// item is one queued event; it belongs to the queue, then to the pump.
type item struct {
	kind   itemKind
	w      *watch
	result types.Result
	state  types.HandleSignalsState
}

// Enter marks the start of an API call and returns whether the call was
// counted; pass that to the matching Exit, on the same goroutine. A call
// counts itself only while the core has watchers: without one, nothing
// can be notified during the call. (A watcher created by another
// goroutine during an uncounted call can, with the synchronous in-process
// driver looping traffic back into this core on this goroutine, see its
// notification delivered inside the call, flagged FROM_SYSTEM.)
func (d *Dispatcher) Enter() bool {
	if d.watchers.Load() == 0 {
		return false
	}
	d.active.Add(1)
	return true
}

// Exit marks the end of an API call and, unless another goroutine is
// already doing so, delivers every queued notification (without flags)
// before returning.
func (d *Dispatcher) Exit(counted bool) {
	if counted {
		d.active.Add(-1)
	}
	if d.pending.Load() > 0 {
		d.pump(false)
	}
}

// Deliver runs fn, a driver's delivery of another node's traffic (the
// activity handler ipcz gave the driver), as the system: events it causes
// are delivered with FROM_SYSTEM when it returns, unless an API call is in
// progress (which then delivers them as it returns).
func (d *Dispatcher) Deliver(fn func()) {
	fn()
	if d.pending.Load() > 0 && d.active.Load() == 0 {
		d.pump(true)
	}
}

// post queues an item. It may be called with Watcher.mu held, and from
// ipcz trap handlers: it never runs a callback.
func (d *Dispatcher) post(it item) {
	d.mu.Lock()
	d.mu.queue = append(d.mu.queue, it)
	d.pending.Add(1)
	d.mu.Unlock()
}

// pump processes the queue until it is empty, unless another pump is
// running. Preconditions: no lock held.
func (d *Dispatcher) pump(system bool) {
	d.mu.Lock()
	if d.mu.pumping {
		d.mu.Unlock()
		return
	}
	d.mu.pumping = true
	defer func() {
		// Also reached if a callback panics: the pump must not stay
		// claimed forever.
		d.mu.pumping = false
		d.mu.Unlock()
	}()
	flags := types.WatcherNotificationFlagNone
	if system {
		flags = types.WatcherNotificationFlagFromSystem
	}
	for len(d.mu.queue) > 0 {
		it := d.mu.queue[0]
		d.mu.queue[0] = item{}
		d.mu.queue = d.mu.queue[1:]
		if len(d.mu.queue) == 0 {
			d.mu.queue = nil
		}
		d.pending.Add(-1)
		d.mu.Unlock()
		func() {
			// Re-lock even when a callback panics, for the deferred
			// cleanup above.
			defer d.mu.Lock()
			it.w.w.process(it, flags)
		}()
	}
}
