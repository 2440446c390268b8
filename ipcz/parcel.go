package ipcz

// Parcel is one unit of communication through a portal: bytes and objects
// (portals and boxes) put together and got together.
//
// A Parcel is owned by exactly one party at a time (the putting call, a
// queue, a link in flight, or the getting call), so it needs no lock.
type Parcel struct {
	seq SequenceNumber
	// data holds the parcel's bytes; data[consumed:] are still unread.
	data     []byte
	consumed int
	// objects are the attached portals and boxes, detached from any
	// application handle while the parcel is in transit;
	// objects[objectsTaken:] are still unread.
	objects      []Object
	objectsTaken int
	// source says where the parcel came from, for Reject. Nil for a parcel
	// put on this node.
	source parcelSource
	// shared is the node-pair memory data lives in, if it arrived through
	// shared memory (fragment names the block); nil otherwise.
	shared   *nodeLinkMemory
	fragment fragment
	// placedFor is the link whose shared memory Put or BeginPut wrote the
	// bytes into (shared), so that the link can send the block as it is;
	// nil for every other parcel.
	placedFor *NodeLink
}

// parcelSource is the link a parcel arrived over from another node.
type parcelSource interface {
	// reportBadActivity tells the driver the parcel was rejected.
	reportBadActivity(context uintptr) error
}

func (p *Parcel) remainingBytes() int        { return len(p.data) - p.consumed }
func (p *Parcel) remainingData() []byte      { return p.data[p.consumed:] }
func (p *Parcel) remainingObjects() []Object { return p.objects[p.objectsTaken:] }

// releaseData frees the shared-memory block holding the parcel's bytes,
// if any; the bytes must not be used afterwards.
func (p *Parcel) releaseData() {
	if p.shared != nil {
		p.shared.free(p.fragment)
		p.shared.release()
		p.shared, p.placedFor = nil, nil
		p.data, p.consumed = nil, 0
	}
}

// placedIn reports whether the parcel's bytes, all unread, fill a block
// that Put or BeginPut placed in l's memory: a block that can change hands
// as it is.
func (p *Parcel) placedIn(l *NodeLink) bool {
	return p.placedFor == l && p.shared != nil && p.consumed == 0 && int(p.fragment.size) == len(p.data)
}

// discard releases the parcel's memory and closes every object still
// attached; used when a parcel is dropped unread.
func (p *Parcel) discard() {
	p.releaseData()
	for _, o := range p.remainingObjects() {
		if o != nil { // a placeholder for a box still being relayed
			o.Close()
		}
	}
	p.objects, p.objectsTaken = nil, 0
}

// discardParcels discards parcels nobody will read.
func discardParcels(ps []*Parcel) {
	for _, p := range ps {
		p.discard()
	}
}

// Parcels with small payloads are allocated together with their bytes, so
// a small put costs one allocation instead of two.
type parcel64 struct {
	Parcel
	inline [64]byte
}

type parcel256 struct {
	Parcel
	inline [256]byte
}

// newOutboundParcel returns a parcel holding a copy of data, put by r's
// portal. Data big enough for shared memory is written straight into the
// memory of the node link the parcel will most likely leave by, so that
// it is not copied again there; the rest goes on the heap.
func (r *Router) newOutboundParcel(data []byte) *Parcel {
	if len(data) >= minSharedParcelData && len(data) <= maxFragmentSize {
		r.mu.Lock()
		rl, _ := r.outward.primary.(*remoteLink)
		r.mu.Unlock()
		if rl != nil {
			if memory, f, block := rl.nodeLink.allocateParcelData(len(data)); memory != nil {
				copy(block, data)
				return &Parcel{data: block, shared: memory, fragment: f, placedFor: rl.nodeLink}
			}
		}
	}
	return newParcelCopy(data)
}

// newParcelCopy returns a parcel holding a copy of data.
func newParcelCopy(data []byte) *Parcel {
	var p *Parcel
	switch n := len(data); {
	case n == 0:
		return &Parcel{}
	case n <= 64:
		s := new(parcel64)
		s.data = s.inline[:n:n]
		p = &s.Parcel
	case n <= 256:
		s := new(parcel256)
		s.data = s.inline[:n:n]
		p = &s.Parcel
	default:
		p = &Parcel{data: make([]byte, n)}
	}
	copy(p.data, data)
	return p
}
