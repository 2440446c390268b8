package futex_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/internal/futex"
	"github.com/ipcz-go/ipcz-go/internal/leakcheck"
	"github.com/ipcz-go/ipcz-go/internal/shm"
	"golang.org/x/sys/unix"
)

const childEnv = "FUTEX_TEST_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role))
	}
	leakcheck.WarmUpPoller()
	os.Exit(m.Run())
}

// runChild is the helper process of TestWakeAcrossProcesses. It gets the
// region as fd 3, and wakes the parent, which sleeps on word 0 with value
// 0, retrying until its Wake reports one waiter woken.
func runChild(role string) int {
	if role != "wake-parent" {
		fmt.Fprintln(os.Stderr, "unknown role", role)
		return 1
	}
	r, err := shm.FromFD(3)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FromFD:", err)
		return 2
	}
	m, err := shm.Map(r, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Map:", err)
		return 3
	}
	w, err := m.Uint32At(0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Uint32At:", err)
		return 4
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n, err := futex.Wake(w, 1)
		if err != nil {
			fmt.Fprintln(os.Stderr, "Wake:", err)
			return 5
		}
		if n == 1 {
			return 0
		}
		time.Sleep(100 * time.Microsecond)
	}
	fmt.Fprintln(os.Stderr, "parent never slept on the word")
	return 6
}

// sharedWords returns the word at offset 0 of a fresh shared region as
// seen through n separate mappings.
func sharedWords(tb testing.TB, n int) []*uint32 {
	tb.Helper()
	r, err := shm.Create("futex-test", 4096)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	words := make([]*uint32, n)
	for i := range words {
		m, err := shm.Map(r, true)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { m.Unmap() })
		if words[i], err = m.Uint32At(0); err != nil {
			tb.Fatal(err)
		}
	}
	return words
}

// waitIgnoringSignals is Wait retried on ErrInterrupted only.
func waitIgnoringSignals(w *uint32, val uint32, timeout time.Duration) error {
	for {
		if err := futex.Wait(w, val, timeout); err != futex.ErrInterrupted {
			return err
		}
	}
}

// wakeUntil calls Wake(w, n) until it has woken want waiters in total and
// returns the total, failing the test after a few seconds.
func wakeUntil(t *testing.T, w *uint32, n, want int) int {
	t.Helper()
	total := 0
	deadline := time.Now().Add(5 * time.Second)
	for total < want {
		if time.Now().After(deadline) {
			t.Fatalf("woke %d waiters in 5s, want %d", total, want)
		}
		got, err := futex.Wake(w, n)
		if err != nil {
			t.Fatal(err)
		}
		total += got
		if total < want {
			time.Sleep(100 * time.Microsecond)
		}
	}
	return total
}

func TestWakeWakesWaiter(t *testing.T) {
	leakcheck.CheckFDs(t)
	w := sharedWords(t, 1)[0]
	if n, err := futex.Wake(w, 1); n != 0 || err != nil {
		t.Fatalf("Wake with no waiter = %d, %v, want 0, nil", n, err)
	}
	done := make(chan error, 1)
	go func() { done <- waitIgnoringSignals(w, 0, futex.Forever) }()
	if got := wakeUntil(t, w, 1, 1); got != 1 {
		t.Fatalf("woke %d, want 1", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait after Wake = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter did not return after being woken")
	}
	if n, err := futex.Wake(w, 1); n != 0 || err != nil {
		t.Fatalf("second Wake = %d, %v, want 0, nil", n, err)
	}
}

// TestWakeAcrossMappings waits on the word through one mapping and wakes
// it through another mapping of the same memory, at a different virtual
// address. That matches only because the futex is not private.
func TestWakeAcrossMappings(t *testing.T) {
	leakcheck.CheckFDs(t)
	ws := sharedWords(t, 2)
	if ws[0] == ws[1] {
		t.Fatal("mappings share an address")
	}
	done := make(chan error, 1)
	go func() { done <- waitIgnoringSignals(ws[0], 0, 10*time.Second) }()
	wakeUntil(t, ws[1], 1, 1)
	if err := <-done; err != nil {
		t.Fatalf("Wait woken through the other mapping = %v, want nil", err)
	}
}

func TestWakeCounts(t *testing.T) {
	leakcheck.CheckFDs(t)
	w := sharedWords(t, 1)[0]
	const waiters = 3
	var wg sync.WaitGroup
	errs := make(chan error, waiters)
	for range waiters {
		wg.Go(func() { errs <- waitIgnoringSignals(w, 0, 10*time.Second) })
	}
	if got := wakeUntil(t, w, futex.WakeAll, waiters); got != waiters {
		t.Fatalf("woke %d in total, want %d", got, waiters)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("woken waiter returned %v, want nil", err)
		}
	}
	for _, n := range []int{0, -1, futex.WakeAll, futex.WakeAll + 1} {
		if got, err := futex.Wake(w, n); got != 0 || err != nil {
			t.Fatalf("Wake(n=%d) with no waiters = %d, %v, want 0, nil", n, got, err)
		}
	}
}

func TestWaitValueMismatchReturnsImmediately(t *testing.T) {
	w := sharedWords(t, 1)[0]
	atomic.StoreUint32(w, 5)
	start := time.Now()
	// Forever: if the mismatch were not detected the test would hang.
	if err := waitIgnoringSignals(w, 4, futex.Forever); err != futex.ErrValueChanged {
		t.Fatalf("Wait with stale value = %v, want ErrValueChanged", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("mismatched Wait took %v", d)
	}
	if !futex.Retry(futex.ErrValueChanged) || !futex.Retry(futex.ErrInterrupted) || !futex.Retry(nil) || futex.Retry(futex.ErrTimeout) {
		t.Fatal("Retry classification is wrong")
	}
}

// TestNoAllocations checks that the untimed wait and wake paths do not
// allocate (a timed wait allocates its 16-byte timespec).
func TestNoAllocations(t *testing.T) {
	w := sharedWords(t, 1)[0]
	atomic.StoreUint32(w, 1)
	if n := testing.AllocsPerRun(100, func() { futex.Wait(w, 0, futex.Forever) }); n != 0 {
		t.Errorf("Wait(Forever) allocates %v times per call, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { futex.WaitSpin(w, 0, 10, futex.Forever) }); n != 0 {
		t.Errorf("WaitSpin(Forever) allocates %v times per call, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { futex.Wake(w, 1) }); n != 0 {
		t.Errorf("Wake allocates %v times per call, want 0", n)
	}
}

func TestWaitTimeout(t *testing.T) {
	w := sharedWords(t, 1)[0]
	const timeout = 50 * time.Millisecond
	start := time.Now()
	err := waitIgnoringSignals(w, 0, timeout)
	elapsed := time.Since(start)
	if err != futex.ErrTimeout {
		t.Fatalf("Wait = %v, want ErrTimeout", err)
	}
	if elapsed < timeout || elapsed > 5*time.Second {
		t.Fatalf("Wait timed out after %v, want about %v", elapsed, timeout)
	}
	start = time.Now()
	if err := futex.Wait(w, 0, 0); err != futex.ErrTimeout {
		t.Fatalf("Wait with zero timeout = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("zero-timeout Wait took %v", d)
	}
}

func TestWaitOnLocalVariable(t *testing.T) {
	var local uint32 = 7
	if err := futex.Wait(&local, 8, futex.Forever); err != futex.ErrValueChanged {
		t.Fatalf("Wait = %v, want ErrValueChanged", err)
	}
	if err := futex.Wait(&local, 7, time.Millisecond); err != futex.ErrTimeout {
		t.Fatalf("Wait = %v, want ErrTimeout", err)
	}
}

func TestWaitBadAddress(t *testing.T) {
	err := futex.Wait(nil, 0, time.Millisecond)
	if !errors.Is(err, unix.EFAULT) {
		t.Fatalf("Wait(nil) = %v, want EFAULT", err)
	}
	if futex.Retry(err) {
		t.Fatal("Retry(EFAULT) = true, want false")
	}
	if _, err := futex.Wake(nil, 1); err != nil {
		// FUTEX_WAKE on an unmapped address reports EFAULT on most
		// kernels; either way it must not crash.
		if !errors.Is(err, unix.EFAULT) {
			t.Fatalf("Wake(nil) = %v, want nil or EFAULT", err)
		}
	}
}

func TestWaitSpin(t *testing.T) {
	w := sharedWords(t, 1)[0]
	atomic.StoreUint32(w, 1)
	if err := futex.WaitSpin(w, 0, 100, futex.Forever); err != futex.ErrValueChanged {
		t.Fatalf("WaitSpin on changed word = %v, want ErrValueChanged", err)
	}
	if err := futex.WaitSpin(w, 1, 100, 10*time.Millisecond); err != futex.ErrTimeout {
		t.Fatalf("WaitSpin on unchanged word = %v, want ErrTimeout", err)
	}
	if err := futex.WaitSpin(w, 1, 0, 0); err != futex.ErrTimeout {
		t.Fatalf("WaitSpin with no spins = %v, want ErrTimeout", err)
	}
	// A change made while spinning is seen without any Wake.
	done := make(chan error, 1)
	go func() { done <- futex.WaitSpin(w, 1, 1<<30, futex.Forever) }()
	time.Sleep(10 * time.Millisecond)
	atomic.StoreUint32(w, 2)
	select {
	case err := <-done:
		if err != futex.ErrValueChanged {
			t.Fatalf("WaitSpin = %v, want ErrValueChanged", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("spinning waiter did not notice the change")
	}
	// After the spins, it sleeps and is woken like Wait.
	go func() { done <- waitSpinIgnoringSignals(w, 2, 10, 10*time.Second) }()
	wakeUntil(t, w, 1, 1)
	if err := <-done; err != nil {
		t.Fatalf("WaitSpin woken = %v, want nil", err)
	}
}

func waitSpinIgnoringSignals(w *uint32, val uint32, spins int, timeout time.Duration) error {
	for {
		if err := futex.WaitSpin(w, val, spins, timeout); err != futex.ErrInterrupted {
			return err
		}
	}
}

// TestWakeAcrossProcesses sleeps on a word in a region that a child
// process maps and wakes. The child retries until its Wake reports one
// waiter woken, so a nil return here is the child's wakeup.
func TestWakeAcrossProcesses(t *testing.T) {
	leakcheck.CheckFDs(t)
	r, err := shm.Create("futex-xproc", 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m, err := shm.Map(r, true)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Unmap()
	w, err := m.Uint32At(0)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.Dup()
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(d.FD()), "region") // owns d's fd from here
	defer f.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=wake-parent", "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.ExtraFiles = []*os.File{f}
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitErr := waitIgnoringSignals(w, 0, 20*time.Second)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	if waitErr != nil {
		t.Fatalf("Wait woken by the child = %v, want nil", waitErr)
	}
}

// lockedBuffer collects a child's output from exec's copying goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte // guarded by mu
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
