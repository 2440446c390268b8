package ipcz

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// qp makes a parcel of size bytes for queue tests.
func qp(n SequenceNumber, size int) *Parcel {
	return &Parcel{seq: n, data: make([]byte, size)}
}

// requireQueue checks a queue's observable state.
func requireQueue(t *testing.T, q *parcelQueue, next, length SequenceNumber, available, availableBytes int) {
	t.Helper()
	require.Equal(t, next, q.nextSequenceNumber(), "nextSequenceNumber")
	require.Equal(t, length, q.currentLength(), "currentLength")
	require.Equal(t, available, q.available, "available")
	require.Equal(t, availableBytes, q.availableBytes, "availableBytes")
	require.Equal(t, available > 0, q.hasNext(), "hasNext")
	require.Equal(t, length == next, q.isEmpty(), "isEmpty")
}

func popSeq(t *testing.T, q *parcelQueue, want SequenceNumber) *Parcel {
	t.Helper()
	head := q.peek()
	p := q.pop()
	require.NotNil(t, p, "pop %d", want)
	require.Same(t, head, p)
	require.Equal(t, want, p.seq)
	return p
}

func TestParcelQueueEmpty(t *testing.T) {
	var q parcelQueue
	requireQueue(t, &q, 0, 0, 0, 0)
	require.Nil(t, q.peek())
	require.Nil(t, q.pop())
	require.False(t, q.isSequenceFullyConsumed())
	require.True(t, q.expectsMore())
	require.Empty(t, q.drain())
	require.Empty(t, q.forceTerminate())
	require.True(t, q.isSequenceFullyConsumed(), "terminated at 0")
	require.False(t, q.expectsMore())
	require.False(t, q.push(0, qp(0, 1)))
}

func TestParcelQueueFinalLengthOnEmptyQueue(t *testing.T) {
	var q parcelQueue
	require.True(t, q.setFinalLength(0))
	require.True(t, q.isSequenceFullyConsumed())
	require.False(t, q.push(0, qp(0, 0)))

	var q2 parcelQueue
	require.True(t, q2.setFinalLength(2))
	require.False(t, q2.isSequenceFullyConsumed())
	require.True(t, q2.expectsMore())
	require.True(t, q2.push(1, qp(1, 1)))
	require.True(t, q2.push(0, qp(0, 1)))
	require.False(t, q2.push(2, qp(2, 1)))
	popSeq(t, &q2, 0)
	require.False(t, q2.isSequenceFullyConsumed())
	popSeq(t, &q2, 1)
	require.True(t, q2.isSequenceFullyConsumed())
	require.Nil(t, q2.pop())
}

func TestParcelQueueInOrder(t *testing.T) {
	var q parcelQueue
	for i := range 5 {
		require.True(t, q.push(SequenceNumber(i), qp(SequenceNumber(i), i)))
	}
	requireQueue(t, &q, 0, 5, 5, 0+1+2+3+4)
	for i := range 5 {
		p := popSeq(t, &q, SequenceNumber(i))
		require.Len(t, p.data, i)
	}
	requireQueue(t, &q, 5, 5, 0, 0)
	require.Nil(t, q.pop())
}

func TestParcelQueueSparseFilling(t *testing.T) {
	var q parcelQueue
	require.True(t, q.push(3, qp(3, 30)))
	requireQueue(t, &q, 0, 4, 0, 0)
	require.Nil(t, q.peek())
	require.Nil(t, q.pop())
	require.True(t, q.push(1, qp(1, 10)))
	requireQueue(t, &q, 0, 4, 0, 0)
	require.True(t, q.push(0, qp(0, 1)))
	requireQueue(t, &q, 0, 4, 2, 11)
	popSeq(t, &q, 0)
	popSeq(t, &q, 1)
	requireQueue(t, &q, 2, 4, 0, 0)
	require.Nil(t, q.pop(), "2 has not arrived")
	require.True(t, q.push(2, qp(2, 20)))
	requireQueue(t, &q, 2, 4, 2, 50)
	popSeq(t, &q, 2)
	popSeq(t, &q, 3)
	requireQueue(t, &q, 4, 4, 0, 0)
}

func TestParcelQueueRejectsDuplicatesAndTooLow(t *testing.T) {
	var q parcelQueue
	require.True(t, q.push(0, qp(0, 1)))
	require.True(t, q.push(2, qp(2, 1)))
	require.False(t, q.push(0, qp(0, 9)), "duplicate of an available parcel")
	require.False(t, q.push(2, qp(2, 9)), "duplicate of a parcel beyond a gap")
	requireQueue(t, &q, 0, 3, 1, 1)
	popSeq(t, &q, 0)
	require.False(t, q.push(0, qp(0, 9)), "already popped")
	require.True(t, q.push(1, qp(1, 1)))
	popSeq(t, &q, 1)
	p := popSeq(t, &q, 2)
	require.Len(t, p.data, 1, "the first parcel 2 was kept")
	for n := range SequenceNumber(3) {
		require.False(t, q.push(n, qp(n, 1)), "too low: %d", n)
	}
	requireQueue(t, &q, 3, 3, 0, 0)
}

func TestParcelQueueFinalLength(t *testing.T) {
	var q parcelQueue
	for i := range SequenceNumber(3) {
		require.True(t, q.push(i, qp(i, 1)))
	}
	require.False(t, q.setFinalLength(2), "below what arrived")
	require.False(t, q.hasFinalLength)
	require.True(t, q.setFinalLength(5))
	require.True(t, q.setFinalLength(5), "the same length again")
	require.False(t, q.setFinalLength(6), "a conflicting length")
	require.False(t, q.setFinalLength(4), "a conflicting length")
	require.Equal(t, SequenceNumber(5), q.finalLength)

	require.False(t, q.push(5, qp(5, 1)), "at the final length")
	require.False(t, q.push(6, qp(6, 1)), "beyond the final length")
	require.True(t, q.push(4, qp(4, 1)))
	for i := range SequenceNumber(3) {
		popSeq(t, &q, i)
	}
	require.False(t, q.isSequenceFullyConsumed())
	require.True(t, q.push(3, qp(3, 1)))
	popSeq(t, &q, 3)
	require.True(t, q.expectsMore())
	popSeq(t, &q, 4)
	require.True(t, q.isSequenceFullyConsumed())
	require.False(t, q.expectsMore())

	// Below what arrived out of order.
	var q2 parcelQueue
	require.True(t, q2.push(7, qp(7, 1)))
	require.False(t, q2.setFinalLength(7))
	require.True(t, q2.setFinalLength(8))
}

func TestParcelQueueMaxSequenceGap(t *testing.T) {
	var q parcelQueue
	require.False(t, q.push(maxSequenceGap, qp(maxSequenceGap, 1)))
	require.False(t, q.push(^SequenceNumber(0), qp(0, 1)))
	require.True(t, q.push(maxSequenceGap-1, qp(maxSequenceGap-1, 1)))
	require.Equal(t, SequenceNumber(maxSequenceGap), q.currentLength())
	// The window moves with the head.
	require.True(t, q.push(0, qp(0, 1)))
	popSeq(t, &q, 0)
	require.True(t, q.push(maxSequenceGap, qp(maxSequenceGap, 1)))
	require.False(t, q.push(maxSequenceGap+1, qp(maxSequenceGap+1, 1)))
}

func TestParcelQueueSkip(t *testing.T) {
	var q parcelQueue
	require.Equal(t, SequenceNumber(0), q.skip())
	require.Equal(t, SequenceNumber(1), q.skip())
	require.Equal(t, SequenceNumber(2), q.skip())
	requireQueue(t, &q, 3, 3, 0, 0)
	require.False(t, q.push(2, qp(2, 1)), "skipped numbers are gone")
	require.True(t, q.push(3, qp(3, 4)))
	requireQueue(t, &q, 3, 4, 1, 4)
	popSeq(t, &q, 3)
	require.Equal(t, SequenceNumber(4), q.skip())
	require.True(t, q.setFinalLength(5))
	require.True(t, q.isSequenceFullyConsumed())
}

func TestParcelQueueSkipAfterRingUse(t *testing.T) {
	var q parcelQueue
	for i := range SequenceNumber(6) {
		require.True(t, q.push(i, qp(i, 1)))
		popSeq(t, &q, i)
	}
	for range 5 {
		q.skip()
	}
	for i := SequenceNumber(11); i < 30; i++ {
		require.True(t, q.push(i, qp(i, 1)))
	}
	for i := SequenceNumber(11); i < 30; i++ {
		popSeq(t, &q, i)
	}
}

// The router takes bytes from the head parcel in place and tells the
// queue with consumedFromHead; pop then subtracts only what is left.
func TestParcelQueuePartialConsumption(t *testing.T) {
	var q parcelQueue
	require.True(t, q.push(0, qp(0, 5)))
	require.True(t, q.push(1, qp(1, 7)))
	requireQueue(t, &q, 0, 2, 2, 12)
	head := q.peek()
	head.consumed += 2
	q.consumedFromHead(2)
	requireQueue(t, &q, 0, 2, 2, 10)
	head.consumed += 3
	q.consumedFromHead(3)
	requireQueue(t, &q, 0, 2, 2, 7)
	popSeq(t, &q, 0)
	requireQueue(t, &q, 1, 2, 1, 7)
	head = q.peek()
	head.consumed += 7
	q.consumedFromHead(7)
	requireQueue(t, &q, 1, 2, 1, 0)
	popSeq(t, &q, 1)
	requireQueue(t, &q, 2, 2, 0, 0)

	// A parcel that arrives after being partly consumed (a proxy may
	// forward one) counts only its remaining bytes.
	p := qp(3, 10)
	p.consumed = 4
	require.True(t, q.push(3, p))
	require.True(t, q.push(2, qp(2, 1)))
	requireQueue(t, &q, 2, 4, 2, 7)
}

func TestParcelQueueForceTerminate(t *testing.T) {
	var q parcelQueue
	p3, p5 := qp(3, 1), qp(5, 1)
	require.True(t, q.push(0, qp(0, 1)))
	require.True(t, q.push(1, qp(1, 2)))
	require.True(t, q.push(3, p3))
	require.True(t, q.push(5, p5))
	dropped := q.forceTerminate()
	require.Equal(t, []*Parcel{p3, p5}, dropped)
	require.True(t, q.hasFinalLength)
	require.Equal(t, SequenceNumber(2), q.finalLength)
	requireQueue(t, &q, 0, 2, 2, 3)
	require.False(t, q.push(2, qp(2, 1)), "nothing more will come")
	require.False(t, q.push(3, qp(3, 1)))
	require.False(t, q.isSequenceFullyConsumed())
	popSeq(t, &q, 0)
	popSeq(t, &q, 1)
	require.True(t, q.isSequenceFullyConsumed())

	// A final length already set is replaced by what arrived.
	var q2 parcelQueue
	require.True(t, q2.setFinalLength(4))
	require.True(t, q2.push(0, qp(0, 1)))
	require.True(t, q2.push(2, qp(2, 1)))
	require.Len(t, q2.forceTerminate(), 1)
	require.Equal(t, SequenceNumber(1), q2.finalLength)
	requireQueue(t, &q2, 0, 1, 1, 1)
}

func TestParcelQueueDrain(t *testing.T) {
	var q parcelQueue
	ps := []*Parcel{qp(0, 1), qp(1, 2), qp(4, 3)}
	require.True(t, q.push(0, ps[0]))
	require.True(t, q.push(1, ps[1]))
	require.True(t, q.push(4, ps[2]))
	popped := popSeq(t, &q, 0)
	require.Same(t, ps[0], popped)
	dropped := q.drain()
	require.Equal(t, ps[1:], dropped)
	require.True(t, q.isEmpty())
	require.False(t, q.hasNext())
	require.Nil(t, q.peek())
	require.Zero(t, q.available)
	require.Zero(t, q.availableBytes)
	require.Empty(t, q.drain())
}

func TestParcelQueueRingWrapAroundAndGrowth(t *testing.T) {
	var q parcelQueue
	next := SequenceNumber(0)
	for i := range SequenceNumber(8) {
		require.True(t, q.push(i, qp(i, 1)))
	}
	require.Len(t, q.slots, 8)
	for range 5 {
		popSeq(t, &q, next)
		next++
	}
	// 8..12 wrap around to the start of the ring.
	for i := SequenceNumber(8); i < 13; i++ {
		require.True(t, q.push(i, qp(i, 1)))
	}
	require.Len(t, q.slots, 8, "exactly full, no growth yet")
	requireQueue(t, &q, 5, 13, 8, 8)
	// 13 does not fit: the ring grows and is unwrapped.
	require.True(t, q.push(13, qp(13, 1)))
	require.Len(t, q.slots, 16)
	requireQueue(t, &q, 5, 14, 9, 9)
	// Out of order far ahead, across another growth.
	require.True(t, q.push(40, qp(40, 1)))
	require.Len(t, q.slots, 64)
	for i := SequenceNumber(39); i >= 14; i-- {
		require.True(t, q.push(i, qp(i, 1)))
	}
	requireQueue(t, &q, 5, 41, 36, 36)
	for next < 41 {
		popSeq(t, &q, next)
		next++
	}
	requireQueue(t, &q, 41, 41, 0, 0)
}

// A randomized check against a simple model: parcels arrive in random
// order within a sliding window while the consumer pops whatever is
// available.
func TestParcelQueueRandomArrivalOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := range 20 {
		var q parcelQueue
		const total = 500
		window := 1 + rng.IntN(70)
		pending := []SequenceNumber{}
		nextToSend := SequenceNumber(0)
		nextToPop := SequenceNumber(0)
		arrived := map[SequenceNumber]bool{}
		for nextToPop < total {
			for nextToSend < total && len(pending) < window {
				pending = append(pending, nextToSend)
				nextToSend++
			}
			if len(pending) > 0 && rng.IntN(3) != 0 {
				i := rng.IntN(len(pending))
				n := pending[i]
				pending = append(pending[:i], pending[i+1:]...)
				require.True(t, q.push(n, qp(n, int(n%5))), "trial %d push %d", trial, n)
				require.False(t, q.push(n, qp(n, 1)), "duplicate")
				arrived[n] = true
			} else {
				// Model: the available run starts at nextToPop.
				want, wantBytes := 0, 0
				for n := nextToPop; arrived[n]; n++ {
					want++
					wantBytes += int(n % 5)
				}
				require.Equal(t, want, q.available)
				require.Equal(t, wantBytes, q.availableBytes)
				for q.hasNext() {
					popSeq(t, &q, nextToPop)
					delete(arrived, nextToPop)
					nextToPop++
				}
			}
		}
		require.True(t, q.setFinalLength(total))
		require.True(t, q.isSequenceFullyConsumed())
	}
}
