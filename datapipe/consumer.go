package datapipe

import "github.com/ipcz-go/ipcz-go/mojo/types"

// Consumer is the reading end of a data pipe.
type Consumer struct {
	endpoint
}

// ReadData reads, discards, peeks at or queries the pipe's data. numBytes
// is the request (MojoReadData's *num_bytes on input); elements receives
// the bytes and must hold numBytes of them unless ReadFlagQuery or
// ReadFlagDiscard is given (it is ignored then). It returns the number of
// bytes read, discarded or peeked, or with ReadFlagQuery the number of
// readable bytes. Every call that gets past the Busy check clears
// NEW_DATA_READABLE.
//
// Results, in the order they are checked: InvalidArgument if closed or in
// transit; Busy during a two-phase read; with ReadFlagQuery, InvalidArgument
// if combined with ReadFlagPeek or ReadFlagDiscard, else OK; InvalidArgument
// for ReadFlagDiscard with ReadFlagPeek, for numBytes not a multiple of the
// element size, or for elements too short; with ReadFlagAllOrNone and too
// little data, FailedPrecondition once the producer is closed, else
// OutOfRange; with no data, FailedPrecondition once the producer is
// closed, else ShouldWait.
func (c *Consumer) ReadData(elements []byte, numBytes uint32, flags ReadFlags) (uint32, types.Result) {
	c.mu.Lock()
	if r := c.readyLocked(); r != types.ResultOK {
		c.mu.Unlock()
		return 0, r
	}
	c.refreshLocked()
	c.newData = false
	if flags&ReadFlagQuery != 0 {
		avail := c.count
		c.mu.Unlock()
		if flags&(ReadFlagPeek|ReadFlagDiscard) != 0 {
			return 0, types.ResultInvalidArgument
		}
		return avail, types.ResultOK
	}
	discard := flags&ReadFlagDiscard != 0
	if (discard && flags&ReadFlagPeek != 0) || numBytes%c.opts.ElementNumBytes != 0 ||
		(!discard && uint64(len(elements)) < uint64(numBytes)) {
		c.mu.Unlock()
		return 0, types.ResultInvalidArgument
	}
	if flags&ReadFlagAllOrNone != 0 && numBytes > c.count {
		closed := c.peerClosed
		c.mu.Unlock()
		if closed {
			return 0, types.ResultFailedPrecondition
		}
		return 0, types.ResultOutOfRange
	}
	n := min(numBytes, c.count)
	if n == 0 {
		closed := c.peerClosed
		c.mu.Unlock()
		if closed {
			return 0, types.ResultFailedPrecondition
		}
		return 0, types.ResultShouldWait
	}
	if !discard {
		c.copyOut(elements[:n], c.offset)
	}
	if discard || flags&ReadFlagPeek == 0 {
		c.publishUnlock(n)
		return n, types.ResultOK
	}
	c.mu.Unlock()
	return n, types.ResultOK
}

// BeginReadData starts a two-phase read: it returns the contiguous readable
// span at the read offset (up to the end of the ring), valid until
// EndReadData or Close. It clears NEW_DATA_READABLE. Results:
// InvalidArgument if closed or in transit, or if any flag is given; Busy
// during another two-phase read; with no data, FailedPrecondition once the
// producer is closed, else ShouldWait.
func (c *Consumer) BeginReadData(flags ReadFlags) ([]byte, types.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.readyLocked(); r != types.ResultOK {
		return nil, r
	}
	if flags != 0 {
		return nil, types.ResultInvalidArgument
	}
	c.refreshLocked()
	c.newData = false
	if c.count == 0 {
		if c.peerClosed {
			return nil, types.ResultFailedPrecondition
		}
		return nil, types.ResultShouldWait
	}
	return c.beginTwoPhaseLocked(), types.ResultOK
}

// EndReadData consumes the first n bytes of the two-phase read's span and
// ends the read. Results: FailedPrecondition if no two-phase read is in
// progress; InvalidArgument if closed or in transit; InvalidArgument (the
// read still ends, consuming nothing) if n exceeds the span or is not a
// multiple of the element size.
func (c *Consumer) EndReadData(n uint32) types.Result {
	c.mu.Lock()
	if !c.twoPhase {
		c.mu.Unlock()
		return types.ResultFailedPrecondition
	}
	if !c.usableLocked() {
		c.mu.Unlock()
		return types.ResultInvalidArgument
	}
	return c.endTwoPhaseUnlock(n)
}

// SignalsState returns the consumer's signals (see the package doc). A
// closed consumer or one in transit has none.
func (c *Consumer) SignalsState() types.HandleSignalsState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.usableLocked() {
		return types.HandleSignalsState{}
	}
	c.refreshLocked()
	var s types.HandleSignalsState
	if c.count > 0 {
		if !c.twoPhase {
			s.Satisfied |= types.HandleSignalReadable
			if c.newData && !c.peerClosed {
				s.Satisfied |= types.HandleSignalNewDataReadable
			}
		}
		s.Satisfiable |= types.HandleSignalReadable
	} else if !c.peerClosed {
		s.Satisfiable |= types.HandleSignalReadable
	}
	if !c.peerClosed {
		s.Satisfiable |= types.HandleSignalNewDataReadable
	} else {
		s.Satisfied |= types.HandleSignalPeerClosed
	}
	s.Satisfiable |= types.HandleSignalPeerClosed
	return s
}

// Close closes the consumer; the producer sees PEER_CLOSED once it finds
// the control portal dead. Results: InvalidArgument if
// already closed or in transit.
func (c *Consumer) Close() types.Result { return c.close() }
