package multiprocess

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"sync/atomic"

	"github.com/ipcz-go/ipcz-go/internal/futex"
	"github.com/ipcz-go/ipcz-go/internal/shm"
)

// The shared ring (the fast path; see the package documentation).
//
// Each direction of an active transport pair may have a ring: a sealed
// memfd that the sending end creates at activation and offers in its setup
// frame. It holds a single-producer, single-consumer queue of messages and
// the futex word the consumer sleeps on. Both processes map it writable:
// the producer writes records and its tail, the consumer its head and its
// waiting flag, and both bump the doorbell.
//
//	offset 0     u64 tail      bytes produced (producer)
//	offset 8     u64 sockSeq   1 + the sequence number of the last message
//	                           the producer sent on the socket (a hint)
//	offset 128   u64 head      bytes consumed (consumer)
//	offset 136   u32 waiting   nonzero while the consumer sleeps or is
//	                           about to (consumer)
//	offset 140   u32 doorbell  the futex word (either side adds 1 to wake)
//	offset 144   u32 cpu       1 + the processor the consumer last spun
//	                           on, 0 if unknown (consumer; a scheduling
//	                           hint for the peer's spin, nothing more)
//	offset 4096  capacity bytes of records
//
// tail and head count bytes since the start and only grow; the record at
// position p starts at byte p mod capacity of the record area. A record is
// a 16-byte header {u32 length; u32 zero; u64 sequence number} and length
// bytes of message, padded to a multiple of 16; a record may wrap around
// the end of the area (its header never does: positions and the capacity
// are multiples of 16).
//
// Neither side trusts a word the other writes: the producer keeps its own
// tail and only stores it, the consumer keeps its own head and only stores
// it, and each validates what it loads (head <= tail <= head + capacity,
// a multiple of 16) and every record header before use. A record is copied
// out of the ring before it is delivered, so that the peer cannot change a
// message while ipcz decodes it.
const (
	ringTailOff     = 0
	ringSockSeqOff  = 8
	ringHeadOff     = 128
	ringWaitingOff  = 136
	ringDoorbellOff = 140
	ringCPUOff      = 144
	ringHeaderSize  = 4096

	recordHeaderSize = 16
	recordAlign      = 16

	// DefaultRingCapacity is the size of the record area of the ring each
	// end offers, unless RingCapacity says otherwise.
	DefaultRingCapacity = 256 << 10
	// minRingCapacity and maxRingCapacity bound the capacity a peer may
	// offer (a power of two).
	minRingCapacity = 4 << 10
	maxRingCapacity = 16 << 20
)

// maxRecordData is the largest message that goes through a ring of the
// given capacity; larger ones go on the socket.
func maxRecordData(capacity uint64) int { return int(capacity / 4) }

// validRingCapacity reports whether a peer may offer capacity.
func validRingCapacity(capacity uint64) bool {
	return capacity >= minRingCapacity && capacity <= maxRingCapacity && bits.OnesCount64(capacity) == 1
}

// recordSize is the space a record of n bytes of message takes.
func recordSize(n int) uint64 {
	return uint64(recordHeaderSize + (n+recordAlign-1)&^(recordAlign-1))
}

// errRingCorrupt reports a ring whose words or records no honest peer
// writes. It is errMalformed: the transport reports an error.
var errRingCorrupt = errMalformed

// ringWords are the shared words and the record area of a mapped ring.
type ringWords struct {
	tail, sockSeq, head    *uint64
	waiting, doorbell, cpu *uint32
	area                   []byte
	capacity               uint64
}

// mapRingWords returns the words of a ring of the given capacity mapped
// at m.
func mapRingWords(m *shm.Mapping, capacity uint64) (ringWords, error) {
	w := ringWords{capacity: capacity}
	var errs [6]error
	w.tail, errs[0] = m.Uint64At(ringTailOff)
	w.sockSeq, errs[1] = m.Uint64At(ringSockSeqOff)
	w.head, errs[2] = m.Uint64At(ringHeadOff)
	w.waiting, errs[3] = m.Uint32At(ringWaitingOff)
	w.doorbell, errs[4] = m.Uint32At(ringDoorbellOff)
	w.cpu, errs[5] = m.Uint32At(ringCPUOff)
	if err := errors.Join(errs[:]...); err != nil {
		return ringWords{}, err
	}
	b := m.Bytes()
	if uint64(len(b)) != ringHeaderSize+capacity {
		return ringWords{}, shm.ErrOutOfRange
	}
	w.area = b[ringHeaderSize:]
	return w, nil
}

// ring is one mapped ring, the producer's or the consumer's view.
type ring struct {
	m *shm.Mapping // owned; unmapped by unmap
	w ringWords
}

// newRing creates a ring of the given capacity and maps it. It returns
// the mapping and the region, whose descriptor is to be sent to the peer.
func newRing(capacity uint64) (*ring, *shm.Region, error) {
	region, err := shm.Create("ipcz-ring", int(ringHeaderSize+capacity))
	if err != nil {
		return nil, nil, err
	}
	r, err := mapRing(region, capacity)
	if err != nil {
		_ = region.Close()
		return nil, nil, err
	}
	return r, region, nil
}

// mapRing maps region, which must be exactly a ring of capacity bytes,
// writable.
func mapRing(region *shm.Region, capacity uint64) (*ring, error) {
	if uint64(region.Size()) != ringHeaderSize+capacity || region.ReadOnly() {
		return nil, errRingCorrupt
	}
	m, err := shm.Map(region, true)
	if err != nil {
		return nil, err
	}
	w, err := mapRingWords(m, capacity)
	if err != nil {
		_ = m.Unmap()
		return nil, err
	}
	return &ring{m: m, w: w}, nil
}

// unmap removes the mapping. Nothing may use the ring afterwards.
func (r *ring) unmap() { _ = r.m.Unmap() }

// ring words are read and written with sync/atomic only (they are shared
// with another process); record bytes with plain copies, ordered by the
// atomic store of tail (producer) and load of tail (consumer).

// wake adds 1 to the doorbell and wakes the consumer if it sleeps on it.
func (w *ringWords) wake() {
	atomic.AddUint32(w.doorbell, 1)
	_, _ = futex.Wake(w.doorbell, 1)
}

// producer is the sending end's side of its own ring. Its methods are
// called with the transport's w lock held.
type producer struct {
	r    *ring
	tail uint64 // what we produced; the shared tail is only stored
}

// write appends a record of data with sequence number seq. ok is false if
// it does not fit now (the message then goes on the socket); bad is set
// if the consumer's head is not one an honest consumer writes.
func (p *producer) write(seq uint64, data []byte) (ok, bad bool) {
	w := &p.r.w
	if len(data) > maxRecordData(w.capacity) {
		return false, false
	}
	head := atomic.LoadUint64(w.head)
	if head > p.tail || p.tail-head > w.capacity || head%recordAlign != 0 {
		return false, true
	}
	need := recordSize(len(data))
	if need > w.capacity-(p.tail-head) {
		return false, false
	}
	pos := p.tail % w.capacity
	hdr := w.area[pos : pos+recordHeaderSize]
	binary.LittleEndian.PutUint32(hdr[0:], uint32(len(data)))
	binary.LittleEndian.PutUint32(hdr[4:], 0)
	binary.LittleEndian.PutUint64(hdr[8:], seq)
	start := (pos + recordHeaderSize) % w.capacity
	n := copy(w.area[start:], data)
	copy(w.area, data[n:])
	p.tail += need
	atomic.StoreUint64(w.tail, p.tail)
	return true, false
}

// sentOnSocket records that message seq went on the socket.
func (p *producer) sentOnSocket(seq uint64) {
	atomic.StoreUint64(p.r.w.sockSeq, seq+1)
}

// notify wakes the consumer if it sleeps or is about to. It must follow
// the store that it announces (a record or the socket hint).
func (p *producer) notify() {
	if atomic.LoadUint32(p.r.w.waiting) != 0 {
		p.r.w.wake()
	}
}

// consumer is the receiving end's side of the peer's ring. It is used by
// the transport's reader goroutine only, except for wake.
type consumer struct {
	r    *ring
	head uint64 // what we consumed; the shared head is only stored
	tail uint64 // the last tail loaded and validated

	// peeked says hdrLen and hdrSeq hold the validated header of the
	// record at head.
	peeked bool
	hdrLen int
	hdrSeq uint64
}

// loadTail loads and validates the producer's tail.
func (c *consumer) loadTail() error {
	t := atomic.LoadUint64(c.r.w.tail)
	if t < c.head || t-c.head > c.r.w.capacity || t%recordAlign != 0 {
		return errRingCorrupt
	}
	c.tail = t
	return nil
}

// pending reports, without validation, whether the producer has written
// past our head: the cheap test of the spin loop.
func (c *consumer) pending() bool {
	return c.peeked || atomic.LoadUint64(c.r.w.tail) != c.head
}

// peek returns the sequence number of the next record, reading and
// validating its header once. ok is false if the ring is empty.
func (c *consumer) peek() (seq uint64, ok bool, err error) {
	if c.peeked {
		return c.hdrSeq, true, nil
	}
	if c.head == c.tail {
		if err := c.loadTail(); err != nil {
			return 0, false, err
		}
		if c.head == c.tail {
			return 0, false, nil
		}
	}
	w := &c.r.w
	var hdr [recordHeaderSize]byte
	pos := c.head % w.capacity
	copy(hdr[:], w.area[pos:pos+recordHeaderSize])
	n := binary.LittleEndian.Uint32(hdr[0:])
	zero := binary.LittleEndian.Uint32(hdr[4:])
	seq = binary.LittleEndian.Uint64(hdr[8:])
	if zero != 0 || int64(n) > int64(maxRecordData(w.capacity)) || recordSize(int(n)) > c.tail-c.head {
		return 0, false, errRingCorrupt
	}
	c.peeked, c.hdrLen, c.hdrSeq = true, int(n), seq
	return seq, true, nil
}

// take copies the message of the record peek returned into buf (grown as
// needed), consumes the record, and returns the message.
func (c *consumer) take(buf []byte) []byte {
	w := &c.r.w
	if cap(buf) < c.hdrLen {
		buf = make([]byte, c.hdrLen, max(c.hdrLen, 4<<10))
	}
	buf = buf[:c.hdrLen]
	start := (c.head + recordHeaderSize) % w.capacity
	n := copy(buf, w.area[start:])
	copy(buf[n:], w.area)
	c.head += recordSize(c.hdrLen)
	c.peeked = false
	atomic.StoreUint64(w.head, c.head)
	return buf
}

// sockSeq returns the producer's socket hint (untrusted).
func (c *consumer) sockSeq() uint64 { return atomic.LoadUint64(c.r.w.sockSeq) }
