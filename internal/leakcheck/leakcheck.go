// Package leakcheck finds the goroutines and descriptors a package's
// tests left behind. A test binary's TestMain calls AfterTests once the
// tests have run; a test calls CheckFDs first thing, or compares OpenFDs
// itself.
//
// It reads every goroutine's stack (runtime.Stack), so it is for tests
// only; it trusts nothing and changes nothing but what it prints.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Goroutines returns the stacks of the goroutines, other than the calling
// one, that have a frame in the package with import path pkg, less those
// whose stack contains any of skip.
func Goroutines(pkg string, skip ...string) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	frame := pkg + "."
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i > 0 && strings.Contains(g, frame) && !containsAny(g, skip) { // the first is the caller
			out = append(out, g)
		}
	}
	return out
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// AfterTests returns the exit status for a test binary whose tests ended
// with status code: if they passed, it waits up to timeout for
// Goroutines(pkg, skip...) to be empty and, if they are not by then,
// prints their stacks to standard error and returns 1; otherwise it
// returns code.
func AfterTests(code int, timeout time.Duration, pkg string, skip ...string) int {
	if code != 0 {
		return code
	}
	var leaked []string
	WaitUntil(timeout, time.Millisecond, func() bool {
		leaked = Goroutines(pkg, skip...)
		return len(leaked) == 0
	})
	if len(leaked) == 0 {
		return code
	}
	fmt.Fprintf(os.Stderr, "goroutine leak: %d goroutines still running package code:\n\n%s\n",
		len(leaked), strings.Join(leaked, "\n\n"))
	return 1
}

// WaitUntil calls cond every poll until it holds or timeout passes, and
// reports whether it held.
func WaitUntil(timeout, poll time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(poll)
	}
	return true
}
