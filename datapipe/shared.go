package datapipe

import "sync/atomic"

// The pipe's region: the ring, then a header of shared words, starting
// at headerOffset(capacity):
//
//	offset 0    u64 written          bytes ever committed (producer stores)
//	offset 8    u32 consumerWaiting  nonzero: the consumer wants a wake-up
//	                                 at the next commit (consumer sets,
//	                                 producer clears)
//	offset 64   u64 read             bytes ever consumed (consumer stores)
//	offset 72   u32 producerWaiting  nonzero: the producer wants a wake-up
//	                                 at the next consumption (producer
//	                                 sets, consumer clears)
//
// The two halves sit on separate cache lines so that each side's stores
// stay on its own line.
const (
	writtenOff         = 0
	consumerWaitingOff = 8
	readOff            = 64
	producerWaitingOff = 72
	headerSize         = 128
)

// headerOffset is where the header starts in a region of a ring of
// capacity bytes: the capacity rounded up to a cache line.
func headerOffset(capacity uint32) int { return (int(capacity) + 63) &^ 63 }

// regionSize is the size of the region of a pipe of capacity bytes.
func regionSize(capacity uint32) int { return headerOffset(capacity) + headerSize }

// sharedWords point into the header. They are shared with the peer,
// which may be in another process and is not trusted: they are accessed
// with sync/atomic only, each side only stores its own counter (it keeps
// the true value in its endpoint), and every load of the peer's counter
// is validated with validPeer and used once.
type sharedWords struct {
	written, read                    *uint64
	consumerWaiting, producerWaiting *uint32
}

// roleWords are an endpoint's view of the header: its own counter and
// waiting flag, the peer's.
type roleWords struct {
	own, peer               *uint64
	ownWaiting, peerWaiting *uint32
}

func (w sharedWords) role(producer bool) roleWords {
	if producer {
		return roleWords{own: w.written, peer: w.read, ownWaiting: w.producerWaiting, peerWaiting: w.consumerWaiting}
	}
	return roleWords{own: w.read, peer: w.written, ownWaiting: w.consumerWaiting, peerWaiting: w.producerWaiting}
}

// publish stores our counter, then reports whether the peer asked for a
// wake-up, clearing its request. The store and the load are sequentially
// consistent, pairing with wantWake's: either the peer sees our counter
// after setting its flag, or we see its flag here.
func (w roleWords) publish(pos uint64) (wake bool) {
	atomic.StoreUint64(w.own, pos)
	return atomic.LoadUint32(w.peerWaiting) != 0 && atomic.SwapUint32(w.peerWaiting, 0) != 0
}

// wantWake asks the peer to wake us at its next commit or consumption.
// The caller loads the peer's counter afterwards (see publish).
func (w roleWords) wantWake() { atomic.StoreUint32(w.ownWaiting, 1) }

// loadPeer loads the peer's counter, untrusted.
func (w roleWords) loadPeer() uint64 { return atomic.LoadUint64(w.peer) }

// validPeer reports whether v, loaded from the peer's counter, is a value
// an honest peer could have stored: counters only grow, by whole
// elements; the consumer's never passes the producer's, and the producer's
// never runs more than a ring ahead of the consumer's. last is the peer's
// counter as last validated and own ours. For a producer the peer's
// counter is read, for a consumer written.
func validPeer(producer bool, v, last, own uint64, o Options) bool {
	if v < last || v%uint64(o.ElementNumBytes) != 0 {
		return false
	}
	if producer {
		return v <= own
	}
	return v >= own && v-own <= uint64(o.CapacityNumBytes)
}

// validPositions reports whether own and peer are counters an endpoint
// could hold (producer: peer is read, own written), whatever the element
// size and capacity of o.
func validPositions(producer bool, own, peer uint64, o Options) bool {
	e := uint64(o.ElementNumBytes)
	if own%e != 0 || peer%e != 0 {
		return false
	}
	written, read := own, peer
	if !producer {
		written, read = peer, own
	}
	return read <= written && written-read <= uint64(o.CapacityNumBytes)
}
