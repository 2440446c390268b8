package datapipe

import (
	"math"

	"github.com/ipcz-go/ipcz-go/mojo/types"
)

// Producer is the writing end of a data pipe.
type Producer struct {
	endpoint
}

// WriteData copies as many whole elements of data into the pipe as fit
// (all of them or none with WriteFlagAllOrNone) and returns how many bytes
// it wrote. Results, in the order they are checked: InvalidArgument if the
// producer is closed or in transit; Busy during a two-phase write;
// FailedPrecondition once the consumer is closed; InvalidArgument if
// len(data) is not a multiple of the element size; OK with 0 for empty
// data; OutOfRange if WriteFlagAllOrNone cannot be met; ShouldWait if the
// pipe is full.
func (p *Producer) WriteData(data []byte, flags WriteFlags) (uint32, types.Result) {
	if len(data) > math.MaxUint32 {
		return 0, types.ResultInvalidArgument
	}
	num := uint32(len(data))
	p.mu.Lock()
	if r := p.readyLocked(); r != types.ResultOK {
		p.mu.Unlock()
		return 0, r
	}
	p.refreshLocked()
	switch {
	case p.peerClosed:
		p.mu.Unlock()
		return 0, types.ResultFailedPrecondition
	case num%p.opts.ElementNumBytes != 0:
		p.mu.Unlock()
		return 0, types.ResultInvalidArgument
	case num == 0:
		p.mu.Unlock()
		return 0, types.ResultOK
	case flags&WriteFlagAllOrNone != 0 && num > p.count:
		p.mu.Unlock()
		return 0, types.ResultOutOfRange
	}
	n := min(num, p.count)
	if n == 0 {
		p.mu.Unlock()
		return 0, types.ResultShouldWait
	}
	p.copyIn(p.offset, data[:n])
	p.publishUnlock(n)
	return n, types.ResultOK
}

// BeginWriteData starts a two-phase write: it returns the contiguous free
// span at the write offset (up to the end of the ring), for the caller to
// fill and commit with EndWriteData. The span is shared memory and stays
// valid until EndWriteData or Close. Results: InvalidArgument if closed or
// in transit, or with WriteFlagAllOrNone; Busy during another two-phase
// write; FailedPrecondition once the consumer is closed; ShouldWait if the
// pipe is full.
func (p *Producer) BeginWriteData(flags WriteFlags) ([]byte, types.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if flags&WriteFlagAllOrNone != 0 {
		return nil, types.ResultInvalidArgument
	}
	if r := p.readyLocked(); r != types.ResultOK {
		return nil, r
	}
	p.refreshLocked()
	if p.peerClosed {
		return nil, types.ResultFailedPrecondition
	}
	if p.count == 0 {
		return nil, types.ResultShouldWait
	}
	return p.beginTwoPhaseLocked(), types.ResultOK
}

// EndWriteData commits the first n bytes of the two-phase write's span and
// ends the write. Results: InvalidArgument if closed or in transit;
// FailedPrecondition if no two-phase write is in progress; InvalidArgument
// (the write still ends, committing nothing) if n exceeds the span or is
// not a multiple of the element size. It succeeds even if the consumer
// closed meanwhile.
func (p *Producer) EndWriteData(n uint32) types.Result {
	p.mu.Lock()
	if !p.usableLocked() {
		p.mu.Unlock()
		return types.ResultInvalidArgument
	}
	if !p.twoPhase {
		p.mu.Unlock()
		return types.ResultFailedPrecondition
	}
	return p.endTwoPhaseUnlock(n)
}

// SignalsState returns the producer's signals (see the package doc). A
// closed producer or one in transit has none.
func (p *Producer) SignalsState() types.HandleSignalsState {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.usableLocked() {
		return types.HandleSignalsState{}
	}
	p.refreshLocked()
	var s types.HandleSignalsState
	if !p.peerClosed {
		if !p.twoPhase && p.count > 0 {
			s.Satisfied |= types.HandleSignalWritable
		}
		s.Satisfiable |= types.HandleSignalWritable
	} else {
		s.Satisfied |= types.HandleSignalPeerClosed
	}
	s.Satisfiable |= types.HandleSignalPeerClosed
	return s
}

// Close closes the producer. Bytes already written stay readable by the
// consumer, which sees PEER_CLOSED once it finds the control portal dead.
// Results: InvalidArgument if already closed or in transit.
func (p *Producer) Close() types.Result { return p.close() }
