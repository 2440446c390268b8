// Package reports keeps the bad-activity reports of the built-in ipcz
// drivers: a log of every report, in order, and an optional hook called
// after each one.
//
// A [Log] is safe for concurrent use. It calls the hook with no lock held,
// so the hook may call back into the Log or the driver.
package reports

import "sync"

// Log records reports of type R. The zero value is an empty log with no
// hook.
type Log[R any] struct {
	mu sync.Mutex
	// reports are the reports recorded, in order. Guarded by mu.
	reports []R
	// hook is called after each report is recorded. Guarded by mu.
	hook func(R)
}

// Record appends r to the log, then calls the hook, if any, on the
// calling goroutine.
func (l *Log[R]) Record(r R) {
	l.mu.Lock()
	l.reports = append(l.reports, r)
	hook := l.hook
	l.mu.Unlock()
	if hook != nil {
		hook(r)
	}
}

// All returns a copy of every report recorded so far, in order.
func (l *Log[R]) All() []R {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]R(nil), l.reports...)
}

// SetHook installs the function Record calls after each report; nil
// removes it.
func (l *Log[R]) SetHook(hook func(R)) {
	l.mu.Lock()
	l.hook = hook
	l.mu.Unlock()
}
