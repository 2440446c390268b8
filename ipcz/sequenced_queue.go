package ipcz

// SequenceNumber orders the parcels of one direction of a route. The first
// parcel a portal sends is number 0.
type SequenceNumber = uint64

// maxSequenceGap bounds how far ahead of the next expected number a parcel
// may arrive. Out-of-order arrival is normal while links are switched or
// parcels are relayed, but a peer naming a number far in the future would
// otherwise make us allocate without bound.
const maxSequenceGap = 1 << 20

// parcelQueue holds the parcels of one direction of a route and releases
// them strictly in sequence order, whatever order they arrive in. It also
// knows the final length of the sequence once the sending side has closed,
// and counts the parcels and bytes that are available, i.e. contiguous from
// the head.
//
// A parcelQueue is not safe for concurrent use; its Router's mutex guards
// it.
type parcelQueue struct {
	// base is the sequence number of slots[head].
	base SequenceNumber
	// slots is a ring buffer of the window [base, base+len(slots)); nil
	// entries have not arrived. Its length is a power of two.
	slots []*Parcel
	head  int
	// span is one past the highest occupied offset from base.
	span int
	// available counts the parcels contiguous from the head, and
	// availableBytes the unconsumed data bytes in them.
	available      int
	availableBytes int
	// finalLength is the sequence length the sender committed to on
	// closure, valid when hasFinalLength.
	finalLength    SequenceNumber
	hasFinalLength bool
}

// nextSequenceNumber is the number of the next parcel to be popped.
func (q *parcelQueue) nextSequenceNumber() SequenceNumber { return q.base }

// currentLength is one past the highest sequence number present, or base.
func (q *parcelQueue) currentLength() SequenceNumber { return q.base + uint64(q.span) }

// isEmpty reports whether no parcel is queued at all (arrived or not).
func (q *parcelQueue) isEmpty() bool { return q.span == 0 }

// hasNext reports whether the head parcel has arrived.
func (q *parcelQueue) hasNext() bool { return q.available > 0 }

// isSequenceFullyConsumed reports whether the final length is known and
// every parcel before it has been popped.
func (q *parcelQueue) isSequenceFullyConsumed() bool {
	return q.hasFinalLength && q.base >= q.finalLength
}

// expectsMore reports whether parcels may still arrive: the final length is
// unknown, or some number below it has not been popped yet.
func (q *parcelQueue) expectsMore() bool { return !q.isSequenceFullyConsumed() }

// setFinalLength records that the sequence ends before n. It fails if n is
// below what has already arrived or a different final length was set.
func (q *parcelQueue) setFinalLength(n SequenceNumber) bool {
	if q.hasFinalLength {
		return q.finalLength == n
	}
	if n < q.currentLength() {
		return false
	}
	q.finalLength, q.hasFinalLength = n, true
	return true
}

// forceTerminate ends the sequence at whatever has arrived contiguously
// (used when a route is disconnected): later parcels will never come, and
// any that arrived out of order beyond a gap are returned for disposal.
func (q *parcelQueue) forceTerminate() []*Parcel {
	end := q.base + uint64(q.available)
	var dropped []*Parcel
	for off := q.available; off < q.span; off++ {
		if p := q.slot(off); p != nil {
			dropped = append(dropped, p)
			q.setSlot(off, nil)
		}
	}
	q.span = q.available
	q.finalLength, q.hasFinalLength = end, true
	return dropped
}

func (q *parcelQueue) slot(off int) *Parcel {
	return q.slots[(q.head+off)&(len(q.slots)-1)]
}

func (q *parcelQueue) setSlot(off int, p *Parcel) {
	q.slots[(q.head+off)&(len(q.slots)-1)] = p
}

// grow makes room for offset off from base.
func (q *parcelQueue) grow(off int) {
	n := len(q.slots)
	if n == 0 {
		n = 8
	}
	for n <= off {
		n *= 2
	}
	if n == len(q.slots) {
		return
	}
	slots := make([]*Parcel, n)
	for i := 0; i < q.span; i++ {
		slots[i] = q.slot(i)
	}
	q.slots, q.head = slots, 0
}

// push inserts p at sequence number n. It fails if n was already popped or
// is present, lies at or beyond the final length, or is too far ahead.
func (q *parcelQueue) push(n SequenceNumber, p *Parcel) bool {
	if n < q.base || n-q.base >= maxSequenceGap {
		return false
	}
	if q.hasFinalLength && n >= q.finalLength {
		return false
	}
	off := int(n - q.base)
	if off >= len(q.slots) {
		q.grow(off)
	}
	if off < q.span && q.slot(off) != nil {
		return false
	}
	q.setSlot(off, p)
	if off >= q.span {
		q.span = off + 1
	}
	if off == q.available {
		for q.available < q.span {
			next := q.slot(q.available)
			if next == nil {
				break
			}
			q.available++
			q.availableBytes += next.remainingBytes()
		}
	}
	return true
}

// skip advances past sequence number base without storing anything: the
// caller sent that parcel directly. Only valid on an empty queue.
func (q *parcelQueue) skip() SequenceNumber {
	n := q.base
	q.base++
	return n
}

// peek returns the head parcel if it has arrived.
func (q *parcelQueue) peek() *Parcel {
	if q.available == 0 {
		return nil
	}
	return q.slot(0)
}

// pop removes and returns the head parcel if it has arrived.
func (q *parcelQueue) pop() *Parcel {
	if q.available == 0 {
		return nil
	}
	p := q.slot(0)
	q.setSlot(0, nil)
	q.head = (q.head + 1) & (len(q.slots) - 1)
	q.base++
	q.span--
	q.available--
	q.availableBytes -= p.remainingBytes()
	return p
}

// consumedFromHead accounts for n bytes taken from the head parcel in
// place (a partial get).
func (q *parcelQueue) consumedFromHead(n int) { q.availableBytes -= n }

// drain removes every parcel, arrived or not, and returns them.
func (q *parcelQueue) drain() []*Parcel {
	var all []*Parcel
	for off := 0; off < q.span; off++ {
		if p := q.slot(off); p != nil {
			all = append(all, p)
			q.setSlot(off, nil)
		}
	}
	q.base += uint64(q.available)
	q.span, q.available, q.availableBytes = 0, 0, 0
	return all
}
