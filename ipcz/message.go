package ipcz

import (
	"encoding/binary"

	"github.com/ipcz-go/ipcz-go/internal/wire"
)

// protocolVersion is the node protocol version this implementation speaks.
const protocolVersion = 0

// msgType identifies a node message.
type msgType uint8

// The node messages. Each is documented where it is built (nodelink_*.go).
const (
	msgConnectFromNonBroker        msgType = 1
	msgConnectFromBroker           msgType = 2
	msgConnectBrokerToBroker       msgType = 3
	msgReferNonBroker              msgType = 4
	msgConnectToReferredBroker     msgType = 5
	msgConnectToReferredNonBroker  msgType = 6
	msgReferralAccepted            msgType = 7
	msgReferralRejected            msgType = 8
	msgRequestIntroduction         msgType = 10
	msgAcceptIntroduction          msgType = 11
	msgRejectIntroduction          msgType = 12
	msgRequestIndirectIntroduction msgType = 13
	msgAcceptIndirectIntroduction  msgType = 15
	msgRejectIndirectIntroduction  msgType = 16
	msgAddBlockBuffer              msgType = 14
	msgBlockBufferAdded            msgType = 17
	msgSetLinkState                msgType = 25
	msgAcceptParcel                msgType = 20
	msgAcceptParcelDriverObjects   msgType = 21
	msgRouteClosed                 msgType = 22
	msgRouteDisconnected           msgType = 23
	msgPeerConsumed                msgType = 24
	msgBypassPeer                  msgType = 30
	msgAcceptBypassLink            msgType = 31
	msgStopProxying                msgType = 32
	msgProxyWillStop               msgType = 33
	msgBypassPeerWithLink          msgType = 34
	msgStopProxyingToLocalPeer     msgType = 35
	msgFlushRouter                 msgType = 36
	msgBypassAbandoned             msgType = 37
	msgRequestMemory               msgType = 64
	msgProvideMemory               msgType = 65
	msgRelayMessage                msgType = 66
	msgAcceptRelayedMessage        msgType = 67
)

// Limits on what a message may claim; anything beyond is malformed.
const (
	messageHeaderSize     = 8
	maxMessageObjects     = 1 << 12
	maxObjectBytes        = 1 << 16
	maxHandlesPerObject   = 64
	maxParcelDataInline   = 1 << 30
	maxInitialPortals     = 64
	firstAllocatedSublink = maxInitialPortals
)

// outMessage is a node message being built. Driver objects attached with
// addObject are serialized by the driver when the message is sent.
//
// A frame is laid out as: a header {u8 version, u8 type, u16 reserved,
// u32 parameters length}, the parameters, then the object table {u32
// count, then per object a u32-length-prefixed byte string and a u32
// handle count}, whose handles travel in the transport's handle list. The
// parameters are written straight into the frame's buffer, after room
// left for the header, so sending copies nothing.
type outMessage struct {
	typ     msgType
	params  wire.Encoder
	objects []DriverHandle
}

func newOutMessage(t msgType) *outMessage { return newOutMessageSized(t, 64) }

// newOutMessageSized makes a message with room for about n bytes of
// parameters.
func newOutMessageSized(t msgType, n int) *outMessage {
	m := &outMessage{typ: t, params: *wire.NewEncoder(messageHeaderSize + n + 4)}
	m.params.Raw(make([]byte, messageHeaderSize))
	return m
}

// addObject attaches a driver object (which the message takes over) and
// encodes its index in the parameters.
func (m *outMessage) addObject(h DriverHandle) {
	m.params.U32(uint32(len(m.objects)))
	m.objects = append(m.objects, h)
}

// serializedObject is a driver object in transmissible form.
type serializedObject struct {
	data    []byte
	handles []DriverHandle
}

// needsRelay reports whether the driver says h cannot go over transport
// directly (so it must go through the broker). Probing with no buffers
// does not consume h.
func needsRelay(d Driver, h, transport DriverHandle) bool {
	_, _, err := d.Serialize(h, transport, nil, nil)
	return ResultOf(err) == PermissionDenied
}

// serializeObject runs the driver's two-pass Serialize for transmission
// over transport. On success the driver owns h.
func serializeObject(d Driver, h, transport DriverHandle) (serializedObject, error) {
	n, k, err := d.Serialize(h, transport, nil, nil)
	switch {
	case err == nil:
		return serializedObject{}, nil
	case ResultOf(err) != ResourceExhausted:
		return serializedObject{}, err
	case n < 0 || k < 0 || n > maxObjectBytes || k > maxHandlesPerObject:
		return serializedObject{}, Internal
	}
	s := serializedObject{data: make([]byte, n), handles: make([]DriverHandle, k)}
	n2, k2, err := d.Serialize(h, transport, s.data, s.handles)
	if err != nil {
		return serializedObject{}, err
	}
	if n2 != n || k2 != k {
		return serializedObject{}, Internal
	}
	return s, nil
}

// finish completes the frame with its header and the serialized objects,
// returning the bytes and handles to transmit. The message is spent.
func (m *outMessage) finish(objects []serializedObject) ([]byte, []DriverHandle) {
	b := m.params.Bytes()
	b[0], b[1] = protocolVersion, uint8(m.typ)
	binary.LittleEndian.PutUint32(b[4:8], uint32(len(b)-messageHeaderSize))
	m.params.U32(uint32(len(objects)))
	var handles []DriverHandle
	for _, o := range objects {
		m.params.Blob(o.data)
		m.params.U32(uint32(len(o.handles)))
		handles = append(handles, o.handles...)
	}
	return m.params.Bytes(), handles
}

// encodeFrame lays out a whole frame from separately encoded parameters.
func encodeFrame(t msgType, objects []serializedObject, params []byte) ([]byte, []DriverHandle) {
	m := newOutMessageSized(t, len(params))
	m.params.Raw(params)
	return m.finish(objects)
}

// inMessage is a received node message whose header and object table have
// been validated. Its parameters are decoded by the handler for its type,
// which claims each object at most once.
type inMessage struct {
	typ     msgType
	params  *wire.Decoder
	objects []inObject
	handles []DriverHandle
	// driver and transport deserialize the objects.
	driver    Driver
	transport DriverHandle
}

type inObject struct {
	data    []byte
	handles []DriverHandle
	// relayed is an object that was already deserialized (it came through
	// the broker); it is claimed as is.
	relayed DriverHandle
	claimed bool
}

// decodeFrame validates a message's header and object table. On error the
// caller must close handles itself.
func decodeFrame(data []byte, handles []DriverHandle) (*inMessage, error) {
	d := wire.NewDecoder(data)
	version, typ := d.U8(), msgType(d.U8())
	d.U16()
	params := d.Raw(int(d.U32()))
	if d.Failed() || version != protocolVersion {
		return nil, wire.ErrMalformed
	}
	count := d.Count(maxMessageObjects, 8)
	m := &inMessage{typ: typ, handles: handles}
	if count > 0 {
		m.objects = make([]inObject, count)
	}
	used := 0
	for i := range count {
		m.objects[i].data = d.Blob(maxObjectBytes)
		k := int(d.U32())
		if d.Failed() || k > maxHandlesPerObject || k > len(handles)-used {
			return nil, wire.ErrMalformed
		}
		m.objects[i].handles = handles[used : used+k : used+k]
		used += k
	}
	if d.Finish() != nil || used != len(handles) {
		return nil, wire.ErrMalformed
	}
	m.params = wire.NewDecoder(params)
	return m, nil
}

// claimObject decodes an object index from the parameters and
// deserializes that object. It fails for an index out of range or already
// claimed, or an object the driver rejects.
func (m *inMessage) claimObject() (DriverHandle, error) {
	i := m.params.U32()
	if m.params.Failed() || uint64(i) >= uint64(len(m.objects)) || m.objects[i].claimed {
		m.params.Fail()
		return InvalidDriverHandle, wire.ErrMalformed
	}
	o := &m.objects[i]
	o.claimed = true
	if o.relayed != InvalidDriverHandle {
		return o.relayed, nil
	}
	h, err := m.driver.Deserialize(o.data, o.handles, m.transport)
	if err != nil {
		closeHandles(m.driver, o.handles)
		m.params.Fail()
		return InvalidDriverHandle, err
	}
	return h, nil
}

// closeUnclaimed closes the transmitted handles of every object no
// parameter claimed (ipcz owns what a transport delivers).
func (m *inMessage) closeUnclaimed() {
	for i := range m.objects {
		o := &m.objects[i]
		if o.claimed {
			continue
		}
		o.claimed = true
		if o.relayed != InvalidDriverHandle {
			m.driver.Close(o.relayed)
		}
		for _, h := range o.handles {
			m.driver.Close(h)
		}
	}
}
