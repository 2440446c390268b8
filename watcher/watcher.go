package watcher

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ipcz-go/ipcz-go/mojo/types"
)

// Callback is a watcher's notification handler (MojoWatcherCallback): the
// watch's context, OK or FAILED_PRECONDITION when the watch became ready
// (or CANCELLED when it ended), the source's signals at that moment (zero
// for CANCELLED), and FROM_SYSTEM when not delivered at the tail of an
// application API call.
type Callback func(context uintptr, result types.Result, state types.HandleSignalsState, flags types.WatcherNotificationFlags)

// Watcher is one watcher object (a MojoHandle of the watcher kind).
type Watcher struct {
	d  *Dispatcher // immutable
	cb Callback    // immutable

	mu sync.Mutex
	// closed is set by Close. Guarded by mu.
	closed bool
	// armed is set by a successful Arm and cleared just before a
	// notification is delivered. Guarded by mu.
	armed bool
	// watches lists the live watches in the order they were added (the
	// order Arm reports ready watches in). Guarded by mu.
	watches []*watch
	// byContext and bySource index watches. Guarded by mu.
	byContext map[uintptr]*watch
	bySource  map[*Notifier]*watch
	// lastReported is the watch a failed Arm reported last; the next
	// report starts after it. Guarded by mu.
	lastReported *watch
	// missed counts evaluations skipped because the watcher was not armed;
	// Arm retries if one happened while it was computing signals. Guarded
	// by mu.
	missed uint64
}

// watch is one (source, signals, context) of a watcher.
type watch struct {
	w       *Watcher            // immutable
	source  Source              // immutable
	n       *Notifier           // immutable; source.Notifier()
	signals types.HandleSignals // immutable
	context uintptr             // immutable
	// cancelled is set (under w.mu) when the watch's CANCELLED is queued;
	// nothing else is delivered for it afterwards. Atomic.
	cancelled atomic.Bool
}

// New returns a watcher whose callback is cb, dispatched by d.
func New(d *Dispatcher, cb Callback) *Watcher {
	d.watchers.Add(1)
	return &Watcher{
		d:         d,
		cb:        cb,
		byContext: make(map[uintptr]*watch),
		bySource:  make(map[*Notifier]*watch),
	}
}

// maxArmAttempts bounds how often Arm looks again at its watches because
// changes were evaluated meanwhile by another goroutine.
const maxArmAttempts = 4

// classify returns OK if s satisfies any of signals, FailedPrecondition if
// none can ever be, and ShouldWait otherwise.
func classify(s types.HandleSignalsState, signals types.HandleSignals) types.Result {
	switch {
	case s.Satisfies(signals):
		return types.ResultOK
	case !s.CanSatisfy(signals):
		return types.ResultFailedPrecondition
	}
	return types.ResultShouldWait
}

// Watch adds a watch of source for signals under context (MojoWatch). If
// the watcher is armed and the new watch is already ready, the watcher
// disarms and notifies it. Results: InvalidArgument if the watcher is
// closed or the source is gone; AlreadyExists if context is in use or the
// source is already watched by this watcher.
func (w *Watcher) Watch(source Source, signals types.HandleSignals, context uintptr) types.Result {
	n := source.Notifier()
	wt := &watch{w: w, source: source, n: n, signals: signals, context: context}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return types.ResultInvalidArgument
	}
	if _, ok := w.byContext[context]; ok {
		w.mu.Unlock()
		return types.ResultAlreadyExists
	}
	if _, ok := w.bySource[n]; ok {
		w.mu.Unlock()
		return types.ResultAlreadyExists
	}
	if !n.register(wt) {
		w.mu.Unlock()
		return types.ResultInvalidArgument
	}
	w.watches = append(w.watches, wt)
	w.byContext[context] = wt
	w.bySource[n] = wt
	armed := w.armed
	if armed {
		n.subscribe(wt)
	}
	w.mu.Unlock()
	if !armed {
		return types.ResultOK
	}
	state := source.SignalsState()
	res := classify(state, signals)
	if res == types.ResultShouldWait {
		return types.ResultOK
	}
	w.mu.Lock()
	if w.armed && !wt.cancelled.Load() {
		w.armed = false
		w.d.post(item{kind: itemNotify, w: wt, result: res, state: state})
	}
	w.mu.Unlock()
	return types.ResultOK
}

// removeLocked takes wt out of the watcher's indexes and queues its
// CANCELLED. Preconditions: mu held; wt is live.
func (w *Watcher) removeLocked(wt *watch) {
	if i := slices.Index(w.watches, wt); i >= 0 {
		w.watches = slices.Delete(w.watches, i, i+1)
	}
	delete(w.byContext, wt.context)
	delete(w.bySource, wt.n)
	if w.lastReported == wt {
		w.lastReported = nil
	}
	wt.cancelled.Store(true)
	w.d.post(item{kind: itemCancel, w: wt})
}

// CancelWatch ends the watch with context (MojoCancelWatch); its CANCELLED
// notification follows. Results: InvalidArgument if the watcher is closed;
// NotFound if no watch has context.
func (w *Watcher) CancelWatch(context uintptr) types.Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return types.ResultInvalidArgument
	}
	wt, ok := w.byContext[context]
	if !ok {
		return types.ResultNotFound
	}
	w.removeLocked(wt)
	wt.n.unregister(wt)
	return types.ResultOK
}

// cancelFromSource ends wt because its source went away.
func (w *Watcher) cancelFromSource(wt *watch) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wt.cancelled.Load() {
		return
	}
	w.removeLocked(wt)
}

// Close closes the watcher, cancelling every watch. Result:
// InvalidArgument if already closed.
func (w *Watcher) Close() types.Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return types.ResultInvalidArgument
	}
	w.closed = true
	w.armed = false
	w.d.watchers.Add(-1)
	for len(w.watches) > 0 {
		wt := w.watches[0]
		w.removeLocked(wt)
		wt.n.unregister(wt)
	}
	return types.ResultOK
}

// Arm arms the watcher (MojoArmWatcher). It succeeds (OK) if no watch is
// ready, and does nothing if already armed. Otherwise it returns
// FailedPrecondition and, if numReady is not nil, fills up to *numReady
// entries of contexts, results and states with ready watches (starting
// after the watch reported last by the previous failed Arm) and sets
// *numReady to the number filled. Results: InvalidArgument if the watcher
// is closed, or if numReady is not nil and a slice is nil or shorter than
// *numReady; NotFound if there are no watches.
func (w *Watcher) Arm(numReady *uint32, contexts []uintptr, results []types.Result, states []types.HandleSignalsState) types.Result {
	if numReady != nil {
		if contexts == nil || results == nil || states == nil {
			return types.ResultInvalidArgument
		}
		c := uint64(*numReady)
		if uint64(len(contexts)) < c || uint64(len(results)) < c || uint64(len(states)) < c {
			return types.ResultInvalidArgument
		}
	}
	type ready struct {
		wt    *watch
		res   types.Result
		state types.HandleSignalsState
	}
	for attempt := 0; ; attempt++ {
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return types.ResultInvalidArgument
		}
		if len(w.watches) == 0 {
			w.mu.Unlock()
			return types.ResultNotFound
		}
		if w.armed {
			w.mu.Unlock()
			return types.ResultOK
		}
		snapshot := slices.Clone(w.watches)
		missed := w.missed
		for _, wt := range snapshot {
			wt.n.subscribe(wt)
		}
		w.mu.Unlock()

		found := make(map[*watch]ready)
		for _, wt := range snapshot {
			s := wt.source.SignalsState()
			if r := classify(s, wt.signals); r != types.ResultShouldWait {
				found[wt] = ready{wt, r, s}
			}
		}

		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return types.ResultInvalidArgument
		}
		if w.armed {
			// Armed by a concurrent call meanwhile.
			w.mu.Unlock()
			return types.ResultOK
		}
		// Keep only watches that are still live, in watcher order; a watch
		// added meanwhile was not looked at, so look again.
		looked := make(map[*watch]bool, len(snapshot))
		for _, wt := range snapshot {
			looked[wt] = true
		}
		var list []ready
		again := w.missed != missed
		lastPos := -1 // position of lastReported among the live watches
		startAt := 0  // first entry of list after lastReported
		for i, wt := range w.watches {
			if wt == w.lastReported {
				lastPos, startAt = i, len(list)
			}
			r, ok := found[wt]
			if !ok {
				if !looked[wt] {
					again = true
				}
				continue
			}
			list = append(list, r)
		}
		if len(list) == 0 {
			if len(w.watches) == 0 {
				w.mu.Unlock()
				return types.ResultNotFound
			}
			if again && attempt < maxArmAttempts {
				// A change was evaluated and dropped while we looked:
				// look again.
				w.mu.Unlock()
				continue
			}
			w.armed = true
			if again {
				// Changes keep coming: arm, and have the pump look at
				// every watch again, now armed, so that none is missed.
				for _, wt := range w.watches {
					w.d.post(item{kind: itemEvaluate, w: wt})
				}
			}
			w.mu.Unlock()
			return types.ResultOK
		}
		if numReady != nil && *numReady > 0 {
			// Start after the last reported watch, in watcher order.
			start := 0
			if lastPos >= 0 {
				start = startAt
				if start < len(list) && list[start].wt == w.lastReported {
					start++
				}
				if start == len(list) {
					start = 0
				}
			}
			n := min(int(*numReady), len(list))
			for i := range n {
				r := list[(start+i)%len(list)]
				contexts[i] = r.wt.context
				results[i] = r.res
				states[i] = r.state
				w.lastReported = r.wt
			}
			*numReady = uint32(n)
		}
		w.mu.Unlock()
		return types.ResultFailedPrecondition
	}
}

// process handles one queued item on the pumping goroutine, with no lock
// held.
func (w *Watcher) process(it item, flags types.WatcherNotificationFlags) {
	wt := it.w
	switch it.kind {
	case itemCancel:
		w.cb(wt.context, types.ResultCancelled, types.HandleSignalsState{}, flags)
		return
	case itemNotify:
		if !wt.cancelled.Load() {
			w.cb(wt.context, it.result, it.state, flags)
		}
		return
	}
	// itemEvaluate: the source may have changed.
	w.mu.Lock()
	if wt.cancelled.Load() || w.closed {
		w.mu.Unlock()
		return
	}
	if !w.armed {
		w.missed++
		w.mu.Unlock()
		return
	}
	wt.n.subscribe(wt)
	w.mu.Unlock()
	state := wt.source.SignalsState()
	res := classify(state, wt.signals)
	if res == types.ResultShouldWait {
		return
	}
	w.mu.Lock()
	if !w.armed || wt.cancelled.Load() {
		w.mu.Unlock()
		return
	}
	w.armed = false
	w.mu.Unlock()
	w.cb(wt.context, res, state, flags)
}
