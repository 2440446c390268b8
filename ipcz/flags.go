package ipcz

// Flag types and values, with the values of ipcz.h. Each flag type is a
// uint32 bit set, as in the C header.

// TransportActivityFlags are given by a driver to a transport's activity
// handler.
type TransportActivityFlags uint32

const (
	// TransportActivityError reports an unrecoverable transport error; ipcz
	// deactivates the transport in response.
	TransportActivityError TransportActivityFlags = 1 << 0
	// TransportActivityDeactivated is the driver's final call for a
	// transport, after which its handler is never called again.
	TransportActivityDeactivated TransportActivityFlags = 1 << 1
)

// CreateNodeFlags are given to CreateNode.
type CreateNodeFlags uint32

// CreateNodeAsBroker makes the new node the broker of its network.
const CreateNodeAsBroker CreateNodeFlags = 1 << 0

// ConnectNodeFlags are given to Node.ConnectNode.
type ConnectNodeFlags uint32

const (
	ConnectNodeToBroker             ConnectNodeFlags = 1 << 0
	ConnectNodeInheritBroker        ConnectNodeFlags = 1 << 1
	ConnectNodeShareBroker          ConnectNodeFlags = 1 << 2
	ConnectNodeToAllocationDelegate ConnectNodeFlags = 1 << 3
)

// BeginPutFlags are given to Portal.BeginPut.
type BeginPutFlags uint32

// BeginPutAllowPartial lets BeginPut succeed with less capacity than asked
// for when put limits would otherwise be exceeded.
const BeginPutAllowPartial BeginPutFlags = 1 << 0

// EndPutFlags are given to Portal.EndPut.
type EndPutFlags uint32

// EndPutAbort cancels the two-phase put in progress.
const EndPutAbort EndPutFlags = 1 << 0

// GetFlags are given to Portal.Get.
type GetFlags uint32

// GetPartial lets Get return part of a parcel that does not fit.
const GetPartial GetFlags = 1 << 0

// EndGetFlags are given to Portal.EndGet.
type EndGetFlags uint32

// EndGetAbort cancels the two-phase get in progress.
const EndGetAbort EndGetFlags = 1 << 0

// UnboxFlags are given to Box.Unbox.
type UnboxFlags uint32

// UnboxPeek returns the boxed driver handle without consuming the box.
const UnboxPeek UnboxFlags = 1 << 0

// PortalStatusFlags appear in PortalStatus.Flags.
type PortalStatusFlags uint32

const (
	// PortalStatusPeerClosed: the opposite portal is closed.
	PortalStatusPeerClosed PortalStatusFlags = 1 << 0
	// PortalStatusDead: the opposite portal is closed and every parcel it
	// sent has been retrieved; nothing more can be got or put.
	PortalStatusDead PortalStatusFlags = 1 << 1
)

// TrapConditionFlags name the conditions a trap observes.
type TrapConditionFlags uint32

const (
	TrapRemoved               TrapConditionFlags = 1 << 0
	TrapPeerClosed            TrapConditionFlags = 1 << 1
	TrapDead                  TrapConditionFlags = 1 << 2
	TrapAboveMinLocalParcels  TrapConditionFlags = 1 << 3
	TrapAboveMinLocalBytes    TrapConditionFlags = 1 << 4
	TrapBelowMaxRemoteParcels TrapConditionFlags = 1 << 5
	TrapBelowMaxRemoteBytes   TrapConditionFlags = 1 << 6
	TrapNewLocalParcel        TrapConditionFlags = 1 << 7
	TrapConsumedRemoteParcel  TrapConditionFlags = 1 << 8
)

// PortalStatus is the status of a portal, as IpczPortalStatus.
type PortalStatus struct {
	Flags            PortalStatusFlags
	NumLocalParcels  int
	NumLocalBytes    int
	NumRemoteParcels int
	NumRemoteBytes   int
}

// PutLimits bound the queue of the opposite portal, as IpczPutLimits. A put
// fails with ResourceExhausted when it would leave more than
// MaxQueuedParcels parcels or more than MaxQueuedBytes bytes queued there;
// a zero field therefore admits nothing. Pass a nil *PutLimits for none.
type PutLimits struct {
	MaxQueuedParcels int
	MaxQueuedBytes   int
}

// TrapConditions say when a trap fires, as IpczTrapConditions.
type TrapConditions struct {
	Flags            TrapConditionFlags
	MinLocalParcels  int
	MinLocalBytes    int
	MaxRemoteParcels int
	MaxRemoteBytes   int
}

// TrapEvent is given to a trap's handler, as IpczTrapEvent.
type TrapEvent struct {
	Context        uintptr
	ConditionFlags TrapConditionFlags
	Status         PortalStatus
}

// TrapHandler is called once when a trap fires. It runs with no ipcz lock
// held and may call any ipcz function.
type TrapHandler func(event *TrapEvent)
