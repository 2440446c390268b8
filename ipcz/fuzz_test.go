package ipcz

import (
	"testing"
	"unsafe"

	"github.com/ipcz-go/ipcz-go/internal/wire"
)

// fuzzDriver accepts every transmission and deserializes any object of at
// most 16 bytes and 2 handles, so fuzzed messages reach the code behind
// the decoders.
type fuzzDriver struct{ *testDriver }

func (d fuzzDriver) Transmit(DriverHandle, []byte, []DriverHandle) error { return nil }

func (d fuzzDriver) Deserialize(data []byte, handles []DriverHandle, _ DriverHandle) (DriverHandle, error) {
	if len(data) > 16 || len(handles) > 2 {
		return InvalidDriverHandle, InvalidArgument
	}
	return d.newObject(), nil
}

func (d fuzzDriver) Serialize(h, _ DriverHandle, _ []byte, _ []DriverHandle) (int, int, error) {
	return 0, 0, nil
}

// fuzzNode is a node with two established links (to names 1 and 2), each
// with two routes bound to initial sublinks 0 and 1.
type fuzzNode struct {
	node   *Node
	links  [2]*NodeLink
	routes [2][2]*Router
}

func newFuzzNode(t testing.TB) *fuzzNode {
	drv := fuzzDriver{newTestDriver()}
	n, err := CreateNode(drv, 0, CreateNodeAsBroker)
	if err != nil {
		t.Fatal(err)
	}
	f := &fuzzNode{node: n}
	for i := range f.links {
		words := make([]uint64, (primaryBufferSize+7)/8)
		buf := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), primaryBufferSize)
		memory, err := newNodeLinkMemory(drv, sideA, drv.newObject(), buf)
		if err != nil {
			t.Fatal(err)
		}
		l := newNodeLink(n, drv.newObject())
		l.role = roleBrokerToNonBroker
		for j := range f.routes[i] {
			r := newRouter()
			l.initialRouters = append(l.initialRouters, r)
			f.routes[i][j] = r
		}
		if err := l.completeHandshake(n.Name(), NodeName{High: 1, Low: uint64(i + 1)}, sideA, false, 2, memory); err != nil {
			t.Fatal(err)
		}
		f.links[i] = l
	}
	return f
}

// checkInvariants fails if the fuzzed message harmed the other link.
func (f *fuzzNode) checkInvariants(t *testing.T) {
	l := f.links[1]
	l.mu.Lock()
	phase := l.phase
	l.mu.Unlock()
	if phase != phaseEstablished {
		t.Fatal("the other link failed")
	}
	for _, r := range f.routes[1] {
		if _, err := r.queryStatus(); err != nil {
			t.Fatal(err)
		}
		if s, _ := r.queryStatus(); s.Flags != 0 {
			t.Fatalf("a route on the other link changed: %+v", s)
		}
	}
}

// frame builds a message frame with the given parameters.
func frame(t msgType, objects int, params func(e *wire.Encoder)) []byte {
	var e wire.Encoder
	params(&e)
	objs := make([]serializedObject, objects)
	data, _ := encodeFrame(t, objs, e.Bytes())
	return data
}

// seedFrames are well-formed messages of every kind a link dispatches.
func seedFrames() [][]byte {
	desc := routerDescriptor{newSublink: firstAllocatedSublink + 1, nextOutgoing: 3, nextIncoming: 2}
	return [][]byte{
		frame(msgAcceptParcel, 0, func(e *wire.Encoder) {
			e.U64(0)
			e.U64(0)
			e.U8(parcelDataInline)
			e.Blob([]byte("hello"))
			e.U32(0)
		}),
		frame(msgAcceptParcel, 1, func(e *wire.Encoder) {
			e.U64(1)
			e.U64(0)
			e.U8(parcelDataShared)
			encodeFragment(e, fragment{buffer: 0, offset: uint32(primaryBlocksStart + 64*2049 + 64), size: 32})
			e.U32(2)
			e.U8(parcelObjectPortal)
			encodeRouterDescriptor(e, &desc)
			e.U8(parcelObjectBox)
			e.U32(0)
		}),
		frame(msgRouteClosed, 0, func(e *wire.Encoder) { e.U64(0); e.U64(0) }),
		frame(msgPeerConsumed, 0, func(e *wire.Encoder) { e.U64(1) }),
		frame(msgFlushRouter, 0, func(e *wire.Encoder) { e.U64(0) }),
		frame(msgBypassPeer, 0, func(e *wire.Encoder) { e.U64(0); e.U64(7); e.U64(8); e.U64(1) }),
		frame(msgAcceptBypassLink, 0, func(e *wire.Encoder) {
			e.U64(1)
			e.U64(2)
			e.U64(0)
			e.U64(firstAllocatedSublink + 1)
			encodeFragment(e, fragment{})
			e.U64(5)
		}),
		frame(msgStopProxying, 0, func(e *wire.Encoder) { e.U64(0); e.U64(1); e.U64(2) }),
		frame(msgProxyWillStop, 0, func(e *wire.Encoder) { e.U64(0); e.U64(1) }),
		frame(msgBypassPeerWithLink, 0, func(e *wire.Encoder) {
			e.U64(0)
			e.U64(firstAllocatedSublink + 1)
			encodeFragment(e, fragment{})
			e.U64(4)
		}),
		frame(msgStopProxyingToLocalPeer, 0, func(e *wire.Encoder) { e.U64(0); e.U64(1) }),
		frame(msgBypassAbandoned, 0, func(e *wire.Encoder) { e.U64(0) }),
		frame(msgRequestIntroduction, 0, func(e *wire.Encoder) { e.U64(1); e.U64(2) }),
		frame(msgAcceptIntroduction, 2, func(e *wire.Encoder) {
			e.U64(9)
			e.U64(9)
			e.U8(1)
			e.U32(0)
			e.U32(0)
			e.U32(1)
		}),
		frame(msgRejectIntroduction, 0, func(e *wire.Encoder) { e.U64(9); e.U64(9) }),
		frame(msgAddBlockBuffer, 1, func(e *wire.Encoder) { e.U64(3); e.U32(256); e.U32(0) }),
		frame(msgBlockBufferAdded, 0, func(e *wire.Encoder) { e.U64(2) }),
		frame(msgSetLinkState, 0, func(e *wire.Encoder) {
			e.U64(firstAllocatedSublink + 1)
			encodeFragment(e, fragment{buffer: 0, offset: uint32(primaryBlocksStart + 64), size: 64})
		}),
		frame(msgRequestMemory, 0, func(e *wire.Encoder) { e.U64(1); e.U32(4096) }),
		frame(msgProvideMemory, 0, func(e *wire.Encoder) { e.U64(1); e.Bool(false) }),
		frame(msgRelayMessage, 1, func(e *wire.Encoder) {
			e.U64(1)
			e.U64(2)
			e.Blob(frame(msgFlushRouter, 0, func(e *wire.Encoder) { e.U64(0) }))
			e.U32(1)
			e.U32(0)
		}),
		frame(msgAcceptParcelDriverObjects, 1, func(e *wire.Encoder) { e.U64(0); e.U64(3); e.U32(1); e.U32(0) }),
		frame(msgReferNonBroker, 1, func(e *wire.Encoder) { e.U64(1); e.U32(1); e.U32(0) }),
		frame(msgRequestIndirectIntroduction, 0, func(e *wire.Encoder) { e.U64(1); e.U64(1); e.U64(2); e.U64(2) }),
	}
}

// FuzzNodeLinkMessage feeds arbitrary frames, with up to 8 driver handles,
// to an established link of a broker node: no input may panic, hang, or
// disturb the node's other link.
func FuzzNodeLinkMessage(f *testing.F) {
	for _, s := range seedFrames() {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, numHandles uint8) {
		n := newFuzzNode(t)
		drv := n.node.driver.(fuzzDriver)
		handles := make([]DriverHandle, numHandles%9)
		for i := range handles {
			handles[i] = drv.newObject()
		}
		n.links[0].onTransportActivity(data, handles, 0)
		n.checkInvariants(t)
	})
}

// FuzzAcceptParcel focuses on parcel deserialization: the fuzz input is the
// parameter block of an AcceptParcel (sequence numbers, inline or shared
// data, portal descriptors, boxes, relayed placeholders).
func FuzzAcceptParcel(f *testing.F) {
	for _, s := range seedFrames()[:2] {
		n := int(s[4]) | int(s[5])<<8 | int(s[6])<<16 | int(s[7])<<24
		f.Add(s[messageHeaderSize:messageHeaderSize+n], uint8(1))
	}
	f.Fuzz(func(t *testing.T, params []byte, numObjects uint8) {
		n := newFuzzNode(t)
		drv := n.node.driver.(fuzzDriver)
		objs := make([]serializedObject, numObjects%5)
		var handles []DriverHandle
		for i := range objs {
			objs[i] = serializedObject{handles: []DriverHandle{drv.newObject()}}
			handles = append(handles, objs[i].handles...)
		}
		data, _ := encodeFrame(msgAcceptParcel, objs, params)
		n.links[0].onTransportActivity(data, handles, 0)
		n.checkInvariants(t)
		// Whatever arrived on the fuzzed link's routes can be read or
		// refused without harm.
		for _, r := range n.routes[0] {
			buf := make([]byte, 64)
			for range 4 {
				if _, err := r.get(true, buf, make([]Object, 4)); err != nil {
					break
				}
			}
		}
	})
}
