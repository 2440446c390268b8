// Package futex exposes the Linux futex wait and wake operations on 32-bit
// words that may live in memory shared between processes.
//
// # Contract
//
// [Wait] sleeps while a word still holds an expected value, and [Wake]
// wakes sleepers on a word. The operations are the shared (not
// FUTEX_PRIVATE_FLAG) variants: the kernel identifies the word by the
// memory behind it, not by its virtual address in one process, so a
// process can wake a waiter in another process through its own mapping of
// the same shared memory (see package shm), and two mappings of the same
// memory in one process also match.
//
// As with every futex, a wait can end without a matching wake (a spurious
// wakeup, a signal, a value changed before the sleep began), so a caller
// always re-reads the word after Wait returns and decides for itself
// whether to wait again:
//
//	for atomic.LoadUint32(w) == idle {
//		if err := futex.Wait(w, idle, futex.Forever); err != nil && !futex.Retry(err) {
//			return err // ErrTimeout or a real failure
//		}
//	}
//
// A waker changes the word first and calls Wake afterwards; the futex
// semantics make that order free of lost wakeups.
//
// [WaitSpin] first polls the word for a bounded number of iterations and
// only then sleeps: the low-latency path for a peer that usually answers
// within a microsecond or two, at the price of burning CPU while polling.
//
// # Trust model
//
// The word is shared with a process that is not trusted. The peer can
// change it at any time, wake us spuriously, or never wake us at all. This
// package therefore promises only that Wait returns when woken, when the
// word no longer holds the expected value, on a signal, or when the
// timeout expires; callers that must not hang on a silent peer pass a
// finite timeout, or arrange another way to be woken (for example a
// shutdown flag in their own memory plus a Wake from this process).
// Nothing the peer writes can make these functions fault or misbehave:
// the kernel only compares the word.
//
// All functions are safe for concurrent use.
//
// # Requirements on the address
//
// The word must be 4-byte aligned and must not move while a call is in
// progress: a word in a shared mapping (the intended use) or a variable
// the Go runtime keeps on the heap. The call forces the variable a pointer
// refers to onto the heap, so a pointer to a local variable is also safe.
package futex
