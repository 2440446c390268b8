package watcher

import (
	"sync"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/mojo/types"
)

// Source is a handle that watchers can watch: a message pipe or data pipe
// endpoint of the mojo package.
type Source interface {
	// SignalsState returns the current signals. It is called with no
	// watcher lock held and may take the source's own locks.
	SignalsState() types.HandleSignalsState
	// Notifier returns the source's Notifier, the same one every time.
	Notifier() *Notifier
}

// Notifier tells the watches of one Source when the source's signals may
// have changed. Remote causes (a parcel or a closure arriving on the
// source's portal) are observed with at most one ipcz trap at a time;
// local causes are reported by the source's owner with Changed. The owner
// calls Close when the source goes away (closed, sent or fused), which
// cancels every watch on it.
type Notifier struct {
	// portal is the portal whose traffic changes the source's signals
	// (the pipe itself, or a data pipe's control portal). Immutable; may be
	// nil for a source that only changes locally.
	portal *ipcz.Portal
	// wake, if not nil, asks the source's peer to put a parcel on portal
	// at its next change (a data pipe peer only puts one when asked).
	// Immutable.
	wake func()

	mu sync.Mutex
	// closed is set by Close. Guarded by mu.
	closed bool
	// watches maps every watch of the source to whether it wants to hear
	// about the next change. Guarded by mu.
	watches map[*watch]bool
	// trapInstalled is set while an ipcz trap of ours is installed on
	// portal. Guarded by mu.
	trapInstalled bool
	// portalQuiet is set once the portal can change no more (it is dead,
	// or no longer ours): local changes are all that remain. Guarded by mu.
	portalQuiet bool
}

// NewNotifier returns a Notifier for a source whose remote changes show on
// portal (nil if it has none).
func NewNotifier(portal *ipcz.Portal) *Notifier {
	return &Notifier{portal: portal, watches: make(map[*watch]bool), portalQuiet: portal == nil}
}

// NewWakingNotifier returns a Notifier for a source whose peer puts a
// parcel on portal at its next change only when asked: wake asks, and is
// called at every subscription, after the trap is installed and before
// the watch computes the source's signals, with no Notifier lock held
// (it may take the source's lock).
func NewWakingNotifier(portal *ipcz.Portal, wake func()) *Notifier {
	n := NewNotifier(portal)
	n.wake = wake
	return n
}

// register adds a watch. It returns false once the notifier is closed.
func (n *Notifier) register(w *watch) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.watches[w] = false
	return true
}

// unregister removes a watch.
func (n *Notifier) unregister(w *watch) {
	n.mu.Lock()
	delete(n.watches, w)
	n.mu.Unlock()
}

// subscribe asks for w to be told (with an evaluate item) about the next
// change. Callers compute the signals after subscribing, so a change
// between the two is never missed.
func (n *Notifier) subscribe(w *watch) {
	if n.subscribeTrap(w) && n.wake != nil {
		n.wake()
	}
}

// subscribeTrap is subscribe but for the wake call; it reports whether w
// is subscribed with the portal still able to change.
func (n *Notifier) subscribeTrap(w *watch) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	if _, ok := n.watches[w]; !ok {
		return false
	}
	n.watches[w] = true
	for !n.trapInstalled && !n.portalQuiet {
		status, err := n.portal.QueryStatus()
		if err != nil || status.Flags&ipcz.PortalStatusDead != 0 {
			n.portalQuiet = true
			break
		}
		// Level conditions that already hold would refuse the trap;
		// watching for the others (and for new parcels) covers every
		// change still to come.
		flags := ipcz.TrapNewLocalParcel | ipcz.TrapDead
		if status.Flags&ipcz.PortalStatusPeerClosed == 0 {
			flags |= ipcz.TrapPeerClosed
		}
		_, _, err = n.portal.Trap(&ipcz.TrapConditions{Flags: flags}, n.onTrap, 0)
		switch err {
		case nil:
			n.trapInstalled = true
		case ipcz.FailedPrecondition:
			// A level condition became true meanwhile: look again.
		default:
			n.portalQuiet = true
		}
	}
	return !n.portalQuiet
}

// onTrap is the ipcz trap handler. It runs inside whatever portal
// operation caused it, with no ipcz lock held; it only queues events.
func (n *Notifier) onTrap(e *ipcz.TrapEvent) {
	n.mu.Lock()
	n.trapInstalled = false
	if e.ConditionFlags&ipcz.TrapRemoved != 0 {
		// The portal was closed or sent: its owner calls Close.
		n.portalQuiet = true
		n.mu.Unlock()
		return
	}
	n.mu.Unlock()
	n.fire()
}

// Changed reports a local change of the source's signals (for example the
// end of a two-phase data pipe operation). Call it after the change, with
// no lock held.
func (n *Notifier) Changed() { n.fire() }

// fire queues an evaluation for every subscribed watch. It runs no
// callback: the API call or driver delivery in progress delivers.
func (n *Notifier) fire() {
	n.mu.Lock()
	var subs []*watch
	for w, sub := range n.watches {
		if sub {
			subs = append(subs, w)
			n.watches[w] = false
		}
	}
	n.mu.Unlock()
	for _, w := range subs {
		w.w.d.post(item{kind: itemEvaluate, w: w})
	}
}

// Close cancels every watch of the source: each gets its CANCELLED
// notification. Call it when the source's handle goes away, before the
// portal is closed or sent. Further watches are refused.
func (n *Notifier) Close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	watches := n.watches
	n.watches = nil
	n.mu.Unlock()
	for w := range watches {
		w.w.cancelFromSource(w)
	}
}
