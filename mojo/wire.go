package mojo

import (
	"encoding/binary"

	"github.com/ipcz-go/ipcz-go/datapipe"

	"github.com/ipcz-go/ipcz-go/ipcz"
)

// The wire form of a Mojo message in an ipcz parcel.
//
// A message with no handles is its payload, exactly, in a parcel with no
// objects. A message with handles is a parcel with at least one object
// whose data starts with a header:
//
//	uint32 numHandles
//	uint32 headerSize        (bytes before the payload; a multiple of 8)
//	numHandles descriptors, each:
//	    uint32 kind
//	    uint32 fieldsSize    (bytes of fields that follow, unpadded)
//	    fields, padded with zeros to a multiple of 8
//	payload
//
// (little-endian). Each descriptor consumes the parcel's objects in order:
//
//	kind 1 message pipe:        no fields; a portal
//	kind 2 data pipe producer:  datapipe snapshot (32 bytes); a box (the
//	kind 3 data pipe consumer:  ring's memory) and a portal (control)
//	kind 4 shared buffer:       uint64 numBytes, uint32 flags (1 =
//	                            read-only), uint32 0; a box (the memory)
//	kind 5 platform handle:     uint32 type, uint32 0; a box (the driver's
//	                            fd object) for a file descriptor, nothing
//	                            for an invalid handle
//
// If the descriptors consume no object (only invalid platform handles),
// one placeholder portal is attached so that "has objects" still means
// "has a header". The header comes from another node and is validated
// completely before anything is built from it. Payloads start 8-byte
// aligned because headerSize is a multiple of 8.
type wireKind uint32

const (
	wireMessagePipe      wireKind = 1
	wireDataPipeProducer wireKind = 2
	wireDataPipeConsumer wireKind = 3
	wireSharedBuffer     wireKind = 4
	wirePlatformHandle   wireKind = 5
)

// outgoing is one handle's part of a message being sent. It belongs to the
// call or message that made it; its fields are set once.
type outgoing struct {
	kind    wireKind
	fields  []byte
	objects []ipcz.Object
	// obj is the object itself, closed if the message is destroyed.
	obj transferable
	// complete runs after a successful put (the object has left this
	// node); cancel runs after a failed one (the object works again).
	// Either may be nil.
	complete func()
	cancel   func()
}

func pad8(n int) int { return (n + 7) &^ 7 }

// headerSize returns the size of the header for outs (0 for none).
func headerSize(outs []outgoing) int {
	if len(outs) == 0 {
		return 0
	}
	n := 8
	for _, o := range outs {
		n += 8 + pad8(len(o.fields))
	}
	return n
}

// encodeHeader writes the header of outs into dst, which is exactly
// headerSize(outs) bytes.
func encodeHeader(dst []byte, outs []outgoing) {
	binary.LittleEndian.PutUint32(dst[0:], uint32(len(outs)))
	binary.LittleEndian.PutUint32(dst[4:], uint32(len(dst)))
	p := 8
	for _, o := range outs {
		binary.LittleEndian.PutUint32(dst[p:], uint32(o.kind))
		binary.LittleEndian.PutUint32(dst[p+4:], uint32(len(o.fields)))
		p += 8
		n := copy(dst[p:], o.fields)
		clear(dst[p+n : p+pad8(n)])
		p += pad8(n)
	}
}

// objectsOf collects the objects of outs, in order.
func objectsOf(outs []outgoing) []ipcz.Object {
	var objs []ipcz.Object
	for _, o := range outs {
		objs = append(objs, o.objects...)
	}
	return objs
}

// incoming is one handle of a received message, before it is rebuilt. It
// belongs to the reading call.
type incoming struct {
	kind   wireKind
	fields []byte
	// first and count locate the handle's objects in the parcel; objects
	// is set by bindObjects.
	first, count int
	objects      []ipcz.Object
}

// decodeHeader parses the header of a received parcel that has numObjects
// (> 0) objects into its handles' descriptors and its payload, checking
// everything but the kinds of the objects (see bindObjects). It returns
// false if the header is malformed in any way.
func decodeHeader(data []byte, numObjects int) ([]incoming, []byte, bool) {
	if len(data) < 8 || numObjects <= 0 {
		return nil, nil, false
	}
	numHandles := binary.LittleEndian.Uint32(data[0:])
	size := binary.LittleEndian.Uint32(data[4:])
	if size < 8 || size%8 != 0 || uint64(size) > uint64(len(data)) ||
		numHandles == 0 || uint64(numHandles) > uint64(size-8)/8 {
		return nil, nil, false
	}
	header := data[:size]
	ins := make([]incoming, 0, numHandles)
	p, used := 8, 0
	for range numHandles {
		if p+8 > len(header) {
			return nil, nil, false
		}
		kind := wireKind(binary.LittleEndian.Uint32(header[p:]))
		fieldsSize := int(binary.LittleEndian.Uint32(header[p+4:]))
		p += 8
		if fieldsSize > len(header)-p || pad8(fieldsSize) > len(header)-p {
			return nil, nil, false
		}
		in := incoming{kind: kind, fields: header[p : p+fieldsSize], first: used}
		p += pad8(fieldsSize)
		ok := true
		switch kind {
		case wireMessagePipe:
			ok, in.count = fieldsSize == 0, 1
		case wireDataPipeProducer, wireDataPipeConsumer:
			ok, in.count = fieldsSize == datapipe.SnapshotSize, 2
		case wireSharedBuffer:
			ok, in.count = fieldsSize == 16, 1
		case wirePlatformHandle:
			ok = fieldsSize == 8
			if ok {
				switch PlatformHandleType(binary.LittleEndian.Uint32(in.fields)) {
				case PlatformHandleTypeInvalid:
				case PlatformHandleTypeFileDescriptor:
					in.count = 1
				default:
					ok = false
				}
			}
		default:
			ok = false
		}
		used += in.count
		if !ok || used > numObjects {
			return nil, nil, false
		}
		ins = append(ins, in)
	}
	if p != len(header) {
		return nil, nil, false
	}
	// Every object is used, or there is exactly the placeholder.
	if used != numObjects && (used != 0 || numObjects != 1) {
		return nil, nil, false
	}
	return ins, data[size:], true
}

// bindObjects gives each descriptor its objects and checks their kinds.
// objs are all the parcel's objects.
func bindObjects(ins []incoming, objs []ipcz.Object) bool {
	used := 0
	for i := range ins {
		in := &ins[i]
		if in.first+in.count > len(objs) {
			return false
		}
		in.objects = objs[in.first : in.first+in.count]
		used += in.count
		var ok bool
		switch in.kind {
		case wireMessagePipe:
			ok = isPortal(in.objects[0])
		case wireDataPipeProducer, wireDataPipeConsumer:
			ok = isBox(in.objects[0]) && isPortal(in.objects[1])
		case wireSharedBuffer:
			ok = isBox(in.objects[0])
		case wirePlatformHandle:
			ok = in.count == 0 || isBox(in.objects[0])
		}
		if !ok {
			return false
		}
	}
	if used == 0 {
		return len(objs) == 1 && isPortal(objs[0])
	}
	return used == len(objs)
}

func isPortal(o ipcz.Object) bool { _, ok := o.(*ipcz.Portal); return ok }
func isBox(o ipcz.Object) bool    { _, ok := o.(*ipcz.Box); return ok }

// closeObjects closes every object, ignoring errors.
func closeObjects(objs []ipcz.Object) {
	for _, o := range objs {
		if o != nil {
			_ = o.Close()
		}
	}
}
