package multiprocess

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// processCPU returns the CPU time this process has used.
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru unix.Rusage
	require.NoError(t, unix.Getrusage(unix.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestReaderSleepsUntilSocketFrameComes: while the next message is
// announced on the socket but not written yet, and a later one waits in
// the ring, the reader sleeps until the socket becomes readable rather
// than reading the empty socket over and over. Both messages then arrive
// in order.
func TestReaderSleepsUntilSocketFrameComes(t *testing.T) {
	d := newDriver(t, FastPath(true))
	a, _, _, rb := newPair(t, d)
	require.NoError(t, d.Transmit(a, []byte("first"), nil))
	require.Equal(t, "first", string(rb.nextMessage(t).data))

	// Message s is announced on the socket, and s+1 goes into the ring.
	tr := d.lookupTransport(a)
	p := outRing(t, d, a)
	tr.w.Lock()
	s := tr.w.seq
	p.sentOnSocket(s)
	ok, _ := p.write(s+1, []byte("third"))
	p.notify()
	tr.w.Unlock()
	require.True(t, ok)

	const window = 200 * time.Millisecond
	before := processCPU(t)
	time.Sleep(window)
	used := processCPU(t) - before

	// Now message s goes on the socket (one with a descriptor always
	// does), numbered s; the next number is s+2.
	hs, kept := transmissibleFDs(t, d, 1)
	kept[0].Close()
	require.NoError(t, d.Transmit(a, []byte("second"), hs))
	tr.w.Lock()
	tr.w.seq = s + 2
	tr.w.Unlock()
	ev := rb.nextMessage(t)
	require.Equal(t, "second", string(ev.data))
	require.Len(t, ev.handles, 1)
	d.closeHandles(ev.handles)
	require.Equal(t, "third", string(rb.nextMessage(t).data))
	require.Less(t, used, window/2, "the reader kept polling the socket while it waited")
}
