package multiprocess

import "encoding/binary"

// Frame format (see the package documentation): a 16-byte little-endian
// header {u32 total length including the header; u16 number of file
// descriptors; u16 frame type; u64 sequence number}, then the message
// bytes. The descriptors travel as SCM_RIGHTS on the frame's own bytes, at
// most fdsPerSendmsg per sendmsg: group k (descriptors 64k to 64k+63)
// rides on byte k of the frame, the last group on the rest of the frame.
const (
	frameHeaderSize = 16

	// MaxMessageBytes is the most data one Transmit may carry; more gives
	// ipcz.ResourceExhausted. A received frame that claims more is
	// malformed.
	MaxMessageBytes = 256<<20 - frameHeaderSize

	// MaxMessageHandles is the most handles one Transmit may carry (each
	// handle is one descriptor); more gives ipcz.ResourceExhausted. A
	// received frame that claims more is malformed.
	MaxMessageHandles = 4096

	// fdsPerSendmsg is the most descriptors attached to one sendmsg, and
	// the most the receiver accepts from one recvmsg.
	fdsPerSendmsg = 64

	// readChunk is the initial size of a reader's buffer; minRead the
	// least room it offers recvmsg unless a frame's end is nearer.
	readChunk = 64 << 10
	minRead   = 4 << 10
	// maxIdleBuffer is the largest buffer a reader keeps once the frame
	// that needed it has been delivered.
	maxIdleBuffer = 1 << 20
)

// Frame types.
const (
	// frameMessage is a message for the activity handler. Its sequence
	// number orders it among the messages of its direction, whether they
	// travel on the socket or through the shared ring (see ring.go).
	frameMessage = 0
	// frameSetup is the first frame each end sends when it is activated:
	// it offers the end's outbound ring, or says there is none. Its
	// sequence number is 0 and counts nothing.
	frameSetup = 1
)

// fdGroups is the number of sendmsg calls that carry n descriptors.
func fdGroups(n int) int { return (n + fdsPerSendmsg - 1) / fdsPerSendmsg }

// putFrameHeader writes the header of a frame with n bytes of data, nfds
// descriptors, type typ and sequence number seq.
func putFrameHeader(hdr *[frameHeaderSize]byte, n, nfds int, typ uint16, seq uint64) {
	binary.LittleEndian.PutUint32(hdr[0:], uint32(frameHeaderSize+n))
	binary.LittleEndian.PutUint16(hdr[4:], uint16(nfds))
	binary.LittleEndian.PutUint16(hdr[6:], typ)
	binary.LittleEndian.PutUint64(hdr[8:], seq)
}

// inFrame is a complete frame the decoder returned. data and fds are valid
// until the decoder is used again.
type inFrame struct {
	data []byte
	fds  []int
	typ  uint16
	seq  uint64
}

// frameDecoder turns the bytes and descriptors a stream socket delivers
// into frames. It is pure: it makes no system calls and never closes a
// descriptor; the reader closes what takeFDs returns.
//
// Descriptors are kept in arrival order and each frame claims, when it is
// complete, as many as its header names. An honest sender attaches every
// descriptor of a frame to bytes of that frame, so when a frame is
// complete its descriptors have arrived, and the descriptors waiting at
// any time all belong to the frame being received. The decoder holds the
// peer to that, which bounds what a hostile peer can make us keep.
type frameDecoder struct {
	// buf[start:end] holds the bytes received and not yet consumed; the
	// frame being received begins at start.
	buf        []byte
	start, end int
	// fds are the descriptors received and not yet claimed, oldest first.
	fds []int
	// need, nfds, typ and seq come from the header of the frame at start
	// once all of it has arrived; need is 0 before.
	need, nfds int
	typ        uint16
	seq        uint64
	// out holds the descriptors of the frame next returned.
	out []int
}

// space returns the buffer to receive into next, never empty. While a
// large frame is incomplete the buffer grows in proportion to what has
// arrived, not to what the header claims, so a peer that lies about a
// length costs at most twice what it really sent.
func (d *frameDecoder) space() []byte {
	if d.start == d.end {
		d.start, d.end = 0, 0
		if len(d.buf) > maxIdleBuffer {
			d.buf = nil
		}
	}
	if d.buf == nil {
		d.buf = make([]byte, readChunk)
	}
	if len(d.buf)-d.end >= minRead {
		return d.buf[d.end:]
	}
	if d.start > 0 { // move the incomplete frame to the front
		d.end = copy(d.buf, d.buf[d.start:d.end])
		d.start = 0
	}
	if len(d.buf)-d.end >= minRead || d.need <= len(d.buf) {
		// Room enough, or at least for the rest of the frame (which is
		// incomplete, so the room is not zero).
		return d.buf[d.end:]
	}
	nb := make([]byte, min(max(2*len(d.buf), d.end+readChunk), d.need))
	copy(nb, d.buf[:d.end])
	d.buf = nb
	return d.buf[d.end:]
}

// commit records that n bytes were received into the slice space
// returned, with fds. It fails if the descriptors waiting exceed what any
// frame may claim; the decoder then owns fds anyway (see takeFDs).
func (d *frameDecoder) commit(n int, fds []int) error {
	d.end += n
	d.fds = append(d.fds, fds...)
	if len(d.fds) > MaxMessageHandles {
		return errMalformed
	}
	return nil
}

// next returns the next complete frame, whose data and descriptors are
// valid until the next call of any method. ok is false when no frame is
// complete. The sequence number is not checked here. After an error the
// decoder must not be used except for takeFDs.
func (d *frameDecoder) next() (f inFrame, ok bool, err error) {
	avail := d.end - d.start
	if d.need == 0 {
		if avail < frameHeaderSize {
			// Descriptors come with the bytes of their frame, one group
			// per byte at most: none before the frame's first byte.
			if len(d.fds) > fdsPerSendmsg*avail {
				return inFrame{}, false, errMalformed
			}
			return inFrame{}, false, nil
		}
		hdr := d.buf[d.start : d.start+frameHeaderSize]
		total := binary.LittleEndian.Uint32(hdr)
		nfds := binary.LittleEndian.Uint16(hdr[4:])
		typ := binary.LittleEndian.Uint16(hdr[6:])
		if total < frameHeaderSize || total > frameHeaderSize+MaxMessageBytes ||
			nfds > MaxMessageHandles || int(total) < fdGroups(int(nfds)) ||
			(typ != frameMessage && typ != frameSetup) {
			return inFrame{}, false, errMalformed
		}
		d.need, d.nfds = int(total), int(nfds)
		d.typ, d.seq = typ, binary.LittleEndian.Uint64(hdr[8:])
	}
	if avail < d.need {
		if len(d.fds) > d.nfds {
			return inFrame{}, false, errMalformed // descriptors of no frame
		}
		return inFrame{}, false, nil
	}
	if len(d.fds) < d.nfds {
		return inFrame{}, false, errMalformed // a frame without its descriptors
	}
	d.out = append(d.out[:0], d.fds[:d.nfds]...)
	d.fds = d.fds[:copy(d.fds, d.fds[d.nfds:])]
	f = inFrame{
		data: d.buf[d.start+frameHeaderSize : d.start+d.need : d.start+d.need],
		fds:  d.out,
		typ:  d.typ,
		seq:  d.seq,
	}
	d.start += d.need
	d.need, d.nfds = 0, 0
	return f, true, nil
}

// takeFDs returns every descriptor the decoder holds and forgets them.
func (d *frameDecoder) takeFDs() []int {
	fds := d.fds
	d.fds = nil
	return fds
}

// outFrame is a frame on its way out: the header, the data, and the
// transmissible objects whose descriptors it carries. Each group of
// descriptors is sent with one sendmsg (see the frame format above).
type outFrame struct {
	hdr  [frameHeaderSize]byte
	data []byte // borrowed from Transmit's caller until own is called
	objs []*transmissible
	// off is the number of bytes of hdr+data sent; group the number of
	// descriptor groups sent.
	off, group int
	// owned is set once data is the frame's own copy.
	owned bool
}

func (f *outFrame) size() int { return frameHeaderSize + len(f.data) }

func (f *outFrame) done() bool { return f.off == f.size() }

// own makes the frame independent of the caller's buffer by copying its
// data into buf (grown if too small).
func (f *outFrame) own(buf []byte) {
	if !f.owned {
		f.data = append(buf[:0], f.data...)
		f.owned = true
	}
}

// chunk returns the bytes and descriptors of the next sendmsg, reusing
// bufs and fds.
func (f *outFrame) chunk(bufs [][]byte, fds []int) ([][]byte, []int) {
	bufs, fds = bufs[:0], fds[:0]
	end := f.size()
	if g := fdGroups(len(f.objs)); f.group < g {
		lo := f.group * fdsPerSendmsg
		for _, o := range f.objs[lo:min(lo+fdsPerSendmsg, len(f.objs))] {
			fds = append(fds, o.fd)
		}
		if f.group < g-1 {
			end = f.off + 1 // one byte per group but the last
		}
	}
	if f.off < frameHeaderSize {
		bufs = append(bufs, f.hdr[f.off:min(frameHeaderSize, end)])
	}
	if end > frameHeaderSize {
		bufs = append(bufs, f.data[max(f.off, frameHeaderSize)-frameHeaderSize:end-frameHeaderSize])
	}
	return bufs, fds
}

// advance records that a sendmsg of the last chunk sent n > 0 bytes, and
// returns the objects whose descriptors went with it (now in the kernel's
// hands; the caller closes them).
func (f *outFrame) advance(n int) []*transmissible {
	var sent []*transmissible
	if g := fdGroups(len(f.objs)); f.group < g {
		lo := f.group * fdsPerSendmsg
		sent = f.objs[lo:min(lo+fdsPerSendmsg, len(f.objs))]
		f.group++
	}
	f.off += n
	return sent
}

// unsentFDs is the number of f's descriptors not yet sent.
func (f *outFrame) unsentFDs() int {
	return len(f.objs) - min(f.group*fdsPerSendmsg, len(f.objs))
}
