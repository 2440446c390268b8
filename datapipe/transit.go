package datapipe

import (
	"encoding/binary"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/mojo/types"
)

// SnapshotSize is the size of an encoded Snapshot.
const SnapshotSize = 32

const (
	snapshotProducer = 1
	snapshotConsumer = 2
)

// Snapshot is the bookkeeping that travels with a moving endpoint.
//
// Encoded form (little-endian): uint32 kind (1 producer, 2 consumer),
// uint32 create flags, uint32 element size, uint32 capacity, uint64
// position, uint64 peer position.
type Snapshot struct {
	Producer bool
	Options  Options
	// Position is the endpoint's counter: bytes ever committed (producer)
	// or consumed (consumer).
	Position uint64
	// PeerPosition is the peer's counter as the endpoint last validated
	// it.
	PeerPosition uint64
}

// Encode returns the snapshot's wire form.
func (s Snapshot) Encode() []byte {
	b := make([]byte, SnapshotSize)
	kind := uint32(snapshotConsumer)
	if s.Producer {
		kind = snapshotProducer
	}
	binary.LittleEndian.PutUint32(b[0:], kind)
	binary.LittleEndian.PutUint32(b[4:], uint32(s.Options.Flags))
	binary.LittleEndian.PutUint32(b[8:], s.Options.ElementNumBytes)
	binary.LittleEndian.PutUint32(b[12:], s.Options.CapacityNumBytes)
	binary.LittleEndian.PutUint64(b[16:], s.Position)
	binary.LittleEndian.PutUint64(b[24:], s.PeerPosition)
	return b
}

// DecodeSnapshot parses and validates a snapshot that came from another
// node: known kind, valid options, positions in whole elements with the
// consumer's at most a ring behind the producer's and never ahead.
// Result: InvalidArgument for anything else.
func DecodeSnapshot(b []byte) (Snapshot, types.Result) {
	if len(b) != SnapshotSize {
		return Snapshot{}, types.ResultInvalidArgument
	}
	var s Snapshot
	switch binary.LittleEndian.Uint32(b[0:]) {
	case snapshotProducer:
		s.Producer = true
	case snapshotConsumer:
	default:
		return Snapshot{}, types.ResultInvalidArgument
	}
	s.Options = Options{
		Flags:            CreateFlags(binary.LittleEndian.Uint32(b[4:])),
		ElementNumBytes:  binary.LittleEndian.Uint32(b[8:]),
		CapacityNumBytes: binary.LittleEndian.Uint32(b[12:]),
	}
	s.Position = binary.LittleEndian.Uint64(b[16:])
	s.PeerPosition = binary.LittleEndian.Uint64(b[24:])
	o := s.Options
	if o.CapacityNumBytes == 0 {
		return Snapshot{}, types.ResultInvalidArgument
	}
	if v, r := ValidateOptions(o); r != types.ResultOK || v != o {
		return Snapshot{}, types.ResultInvalidArgument
	}
	if !validPositions(s.Producer, s.Position, s.PeerPosition, o) {
		return Snapshot{}, types.ResultInvalidArgument
	}
	return s, types.ResultOK
}

// Transit is an endpoint on its way to another portal: its snapshot and the
// objects to put in the parcel. Exactly one of Complete and Cancel must be
// called.
type Transit struct {
	e        *endpoint // immutable
	snapshot Snapshot  // immutable
	box      *ipcz.Box // immutable; holds the endpoint's memory handle
}

// Snapshot returns the endpoint's bookkeeping as it will travel.
func (t *Transit) Snapshot() Snapshot { return t.snapshot }

// Objects returns what the parcel must carry, in order: the box holding the
// ring's memory handle, then the control portal.
func (t *Transit) Objects() []ipcz.Object { return []ipcz.Object{t.box, t.e.portal} }

// Complete records that the parcel was put: the endpoint is gone from this
// node (its mapping is released; its memory handle and portal left in the
// parcel).
func (t *Transit) Complete() {
	e := t.e
	e.mu.Lock()
	e.closed, e.inTransit, e.twoPhase = true, false, false
	mapping := e.mapping
	e.memory = 0
	e.dropMappingLocked()
	e.sendsDone.Broadcast()
	e.mu.Unlock()
	if mapping != 0 {
		_ = e.driver.Close(mapping)
	}
}

// Cancel records that the parcel was not put: the endpoint takes its memory
// handle back and carries on.
func (t *Transit) Cancel() {
	e := t.e
	mem, err := t.box.Unbox(0)
	e.mu.Lock()
	if err == nil {
		e.memory = mem
	}
	e.inTransit = false
	e.mu.Unlock()
}

// beginTransit starts moving the endpoint. It waits until no wake-up is
// being put, then freezes the bookkeeping: the endpoint neither refreshes
// nor operates until the transit ends. Its counter is already published;
// wake-ups that arrive meanwhile stay queued in the portal and move with
// it. Results: InvalidArgument if closed; Busy
// during a two-phase operation or another transit.
func (e *endpoint) beginTransit() (*Transit, types.Result) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, types.ResultInvalidArgument
	}
	if e.twoPhase || e.inTransit {
		e.mu.Unlock()
		return nil, types.ResultBusy
	}
	e.inTransit = true
	for e.sends > 0 {
		e.sendsDone.Wait()
	}
	snap := Snapshot{Producer: e.producer, Options: e.opts, Position: e.pos, PeerPosition: e.peerPos}
	mem := e.memory
	e.mu.Unlock()
	box, err := e.node.Box(mem)
	if err != nil {
		e.mu.Lock()
		e.inTransit = false
		e.mu.Unlock()
		return nil, types.ResultInvalidArgument
	}
	return &Transit{e: e, snapshot: snap, box: box}, types.ResultOK
}

// BeginTransit starts moving the producer (see Transit).
func (p *Producer) BeginTransit() (*Transit, types.Result) { return p.beginTransit() }

// BeginTransit starts moving the consumer (see Transit).
func (c *Consumer) BeginTransit() (*Transit, types.Result) { return c.beginTransit() }

// Deserialize rebuilds an endpoint from what a Transit put in a parcel: the
// encoded snapshot, the box and the portal, all of which it consumes (it
// closes them on failure). Exactly one of the returned endpoints is non-nil
// on success. Result: InvalidArgument if anything does not check out
// (including a region smaller than the capacity).
func Deserialize(node *ipcz.Node, snapshot []byte, box *ipcz.Box, portal *ipcz.Portal) (*Producer, *Consumer, types.Result) {
	s, r := DecodeSnapshot(snapshot)
	mem := ipcz.InvalidDriverHandle
	if r == types.ResultOK {
		var err error
		if mem, err = box.Unbox(0); err != nil {
			r = types.ResultInvalidArgument
		}
	}
	if r != types.ResultOK {
		_ = box.Close()
		_ = portal.Close()
		return nil, nil, r
	}
	d := node.Driver()
	if info, err := d.GetSharedMemoryInfo(mem); err != nil || info.RegionNumBytes < regionSize(s.Options.CapacityNumBytes) {
		_ = d.Close(mem)
		_ = portal.Close()
		return nil, nil, types.ResultInvalidArgument
	}
	m, r := mapRegion(d, mem, s.Options.CapacityNumBytes)
	if r != types.ResultOK {
		_ = d.Close(mem)
		_ = portal.Close()
		return nil, nil, types.ResultInvalidArgument
	}
	if s.Producer {
		p := &Producer{}
		p.init(node, s.Options, true, portal, mem, m, s.Position, s.PeerPosition)
		return p, nil, types.ResultOK
	}
	c := &Consumer{}
	c.init(node, s.Options, false, portal, mem, m, s.Position, s.PeerPosition)
	return nil, c, types.ResultOK
}
