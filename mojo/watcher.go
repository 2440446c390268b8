package mojo

import "github.com/ipcz-go/ipcz-go/watcher"

// watcherObject is a watcher handle.
type watcherObject struct {
	w *watcher.Watcher // immutable
}

func (o *watcherObject) close(*Core) { _ = o.w.Close() }

func (c *Core) watcherOf(h Handle) (*watcherObject, bool) {
	o, _ := c.lookup(h)
	w, ok := o.(*watcherObject)
	return w, ok
}

// CreateWatcher creates a watcher whose notifications go to callback
// (MojoCreateWatcher). Callbacks run as described in the watcher package:
// never inside an API call, at the tail of the outermost one on the
// goroutine that first gets to deliver them, one at a time per core.
// Result: InvalidArgument if callback is nil.
func (c *Core) CreateWatcher(callback WatcherCallback) (Handle, Result) {
	defer c.exit(c.enter())
	if callback == nil {
		return HandleInvalid, ResultInvalidArgument
	}
	return c.addHandle(&watcherObject{w: watcher.New(c.d, callback)})
}

// Watch makes watcher w watch handle h for signals under context
// (MojoWatch). Results: InvalidArgument if w is not a watcher or h is not
// a message pipe or data pipe handle; AlreadyExists if context is in use
// on w or w already watches h.
func (c *Core) Watch(w, h Handle, signals HandleSignals, context uintptr) Result {
	defer c.exit(c.enter())
	wo, ok := c.watcherOf(w)
	if !ok {
		return ResultInvalidArgument
	}
	o, ok := c.lookup(h)
	if !ok {
		return ResultInvalidArgument
	}
	src, ok := o.(watcher.Source)
	if !ok {
		return ResultInvalidArgument
	}
	return wo.w.Watch(src, signals, context)
}

// CancelWatch cancels the watch with context (MojoCancelWatch); its
// CANCELLED notification follows. Results: InvalidArgument if w is not a
// watcher; NotFound if it has no such watch.
func (c *Core) CancelWatch(w Handle, context uintptr) Result {
	defer c.exit(c.enter())
	wo, ok := c.watcherOf(w)
	if !ok {
		return ResultInvalidArgument
	}
	return wo.w.CancelWatch(context)
}

// ArmWatcher arms a watcher (MojoArmWatcher). numReadyContexts is nil or
// points at the capacity of the three slices on input and the number of
// entries filled on output (see watcher.Watcher.Arm). Results: OK;
// FailedPrecondition if a watch is ready (reported in the slices);
// NotFound if the watcher has no watches; InvalidArgument if w is not a
// watcher, or numReadyContexts is not nil and a slice is nil or shorter
// than the capacity.
func (c *Core) ArmWatcher(w Handle, numReadyContexts *uint32, readyContexts []uintptr, readyResults []Result, readySignalsStates []HandleSignalsState) Result {
	defer c.exit(c.enter())
	wo, ok := c.watcherOf(w)
	if !ok {
		return ResultInvalidArgument
	}
	return wo.w.Arm(numReadyContexts, readyContexts, readyResults, readySignalsStates)
}
