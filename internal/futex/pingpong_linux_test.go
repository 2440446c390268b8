package futex_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ipcz-go/ipcz-go/internal/futex"
)

// pingPong measures a round trip between two goroutines over one word in
// shared memory. The word counts turns: the pinger makes it odd and wakes
// the ponger, the ponger makes it even and wakes the pinger. Each side
// waits with wait(word, the value it last saw).
//
// With waiterFlag, a second shared word counts sleepers and a side calls
// Wake only when the count is non-zero (it changes the turn word before
// reading the count, and a sleeper raises the count before FUTEX_WAIT
// compares the turn word, so no wakeup is lost). Without it every turn
// costs a FUTEX_WAKE system call even when the peer is spinning.
func pingPong(b *testing.B, spins int, waiterFlag bool) {
	words := sharedWords(b, 1)
	w := words[0]
	var sleepers atomic.Int32 // stands in for a second shared word
	var stop atomic.Bool
	var wg sync.WaitGroup
	wait := func(val uint32) {
		for atomic.LoadUint32(w) == val {
			var err error
			if waiterFlag {
				if err = futex.WaitSpin(w, val, spins, 0); err == futex.ErrTimeout {
					sleepers.Add(1)
					err = futex.Wait(w, val, futex.Forever)
					sleepers.Add(-1)
				}
			} else {
				err = futex.WaitSpin(w, val, spins, futex.Forever)
			}
			if !futex.Retry(err) {
				b.Error(err)
				return
			}
		}
	}
	wake := func() error {
		if waiterFlag && sleepers.Load() == 0 {
			return nil
		}
		_, err := futex.Wake(w, 1)
		return err
	}
	wg.Go(func() { // ponger
		var last uint32
		for {
			wait(last)
			if stop.Load() {
				return
			}
			last = atomic.AddUint32(w, 1)
			if err := wake(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	for b.Loop() {
		v := atomic.AddUint32(w, 1)
		if err := wake(); err != nil {
			b.Fatal(err)
		}
		wait(v)
	}
	stop.Store(true)
	atomic.AddUint32(w, 1)
	futex.Wake(w, 1)
	wg.Wait()
}

// BenchmarkFutexPingPong is a round trip in which each side sleeps in
// FUTEX_WAIT until woken: two wakeups and two context switches per op.
func BenchmarkFutexPingPong(b *testing.B) { pingPong(b, 0, false) }

// BenchmarkFutexPingPongSpin is the same round trip with WaitSpin polling
// up to 10000 times before sleeping (the low-latency path). Each turn
// still makes one FUTEX_WAKE call.
func BenchmarkFutexPingPongSpin(b *testing.B) { pingPong(b, 10000, false) }

// BenchmarkFutexPingPongSpinWaiterFlag spins like BenchmarkFutexPingPongSpin
// and calls Wake only when the peer is actually asleep, so a round trip
// between two spinning peers makes no system call at all.
func BenchmarkFutexPingPongSpinWaiterFlag(b *testing.B) { pingPong(b, 10000, true) }

// BenchmarkChanPingPong is the baseline: the same round trip between two
// goroutines over two unbuffered channels.
func BenchmarkChanPingPong(b *testing.B) {
	ping, pong := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for range ping {
			pong <- struct{}{}
		}
	})
	for b.Loop() {
		ping <- struct{}{}
		<-pong
	}
	close(ping)
	wg.Wait()
}
