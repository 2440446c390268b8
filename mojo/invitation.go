package mojo

import (
	"encoding/binary"
	"sync"

	"github.com/ipcz-go/ipcz-go/ipcz"
)

// Invitations connect a new process to this one: the inviter attaches
// named message pipes to an invitation and sends it over a driver
// transport (a socket to the child); the child accepts it from the other
// end of the transport and extracts the pipes by name. This is modern
// Mojo's invitation model (mojo/public/c/system/invitation.h) expressed
// with this era's types, as a Go API.
//
// Under ipcz, Send and Accept are Node.ConnectNode with one initial
// portal, the bootstrap portal. The inviter puts one parcel on it: the
// attachment names and, as objects, the far ends of the attached pipes.
// The acceptor may extract a name before that parcel arrives: it gets a
// pipe at once, whose other end is merged (ipcz.MergePortals) with the
// received end when the parcel comes, so messages written early flow
// through. A name that does not arrive leaves its pipe with a closed peer.
//
// Bootstrap parcel (little-endian): uint32 count, then count times
// (uint32 length, name bytes); the objects are count portals in the same
// order. It comes from another process and is validated.

// SendInvitationFlags are given to OutgoingInvitation.Send.
type SendInvitationFlags uint32

// SendInvitationFlagShareBroker lets a non-broker invite a process into
// its broker's network (ipcz.ConnectNodeShareBroker); the invitee must
// accept with AcceptInvitationFlagInheritBroker. A broker sends without
// flags.
const SendInvitationFlagShareBroker SendInvitationFlags = 1 << 0

// AcceptInvitationFlags are given to Core.AcceptInvitation.
type AcceptInvitationFlags uint32

// AcceptInvitationFlagInheritBroker accepts an invitation sent with
// SendInvitationFlagShareBroker (ipcz.ConnectNodeInheritBroker). Without
// it the inviter must be the broker.
const AcceptInvitationFlagInheritBroker AcceptInvitationFlags = 1 << 0

// maxInvitationNameBytes bounds an attachment name.
const maxInvitationNameBytes = 1024

// OutgoingInvitation is an invitation being prepared (MojoCreateInvitation
// of the modern API).
type OutgoingInvitation struct {
	c *Core // immutable

	mu sync.Mutex
	// names and ends are the attachments: their names and the far ends of
	// their pipes, to be sent. Guarded by mu.
	names []string
	ends  []*ipcz.Portal
	// done is set once the invitation is sent or closed. Guarded by mu.
	done bool
}

// CreateInvitation returns a new, empty invitation.
func (c *Core) CreateInvitation() *OutgoingInvitation { return &OutgoingInvitation{c: c} }

// AttachMessagePipe attaches a new pipe under name and returns the local
// end; the invitee extracts the other end by the same name. Results:
// AlreadyExists if name is attached; InvalidArgument for a name longer than
// 1024 bytes; FailedPrecondition once the invitation is sent or closed.
func (inv *OutgoingInvitation) AttachMessagePipe(name string) (Handle, Result) {
	c := inv.c
	defer c.exit(c.enter())
	if len(name) > maxInvitationNameBytes {
		return HandleInvalid, ResultInvalidArgument
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.done {
		return HandleInvalid, ResultFailedPrecondition
	}
	for _, n := range inv.names {
		if n == name {
			return HandleInvalid, ResultAlreadyExists
		}
	}
	if len(inv.names) >= maxObjectsPerMessage {
		return HandleInvalid, ResultResourceExhausted
	}
	a, b, err := c.node.OpenPortals()
	if err != nil {
		return HandleInvalid, ResultInternal
	}
	h, r := c.addHandle(newMessagePipe(a))
	if r != ResultOK {
		_ = b.Close()
		return HandleInvalid, r
	}
	inv.names = append(inv.names, name)
	inv.ends = append(inv.ends, b)
	return h, ResultOK
}

// take ends the invitation's life, returning its attachments.
func (inv *OutgoingInvitation) take() ([]string, []*ipcz.Portal, bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.done {
		return nil, nil, false
	}
	inv.done = true
	names, ends := inv.names, inv.ends
	inv.names, inv.ends = nil, nil
	return names, ends, true
}

// Close abandons an invitation that was not sent: the attached pipes'
// local ends see their peers closed. Result: FailedPrecondition if already
// sent or closed.
func (inv *OutgoingInvitation) Close() Result {
	c := inv.c
	defer c.exit(c.enter())
	_, ends, ok := inv.take()
	if !ok {
		return ResultFailedPrecondition
	}
	for _, p := range ends {
		_ = p.Close()
	}
	return ResultOK
}

// Send sends the invitation over transport, a driver transport whose other
// end the invitee accepts from (for the multiprocess driver, a socket).
// This core's node connects to the invitee's; if it is the broker, the
// invitee joins its network. The invitation is used up whatever happens;
// on failure the attached pipes see their peers closed. Results:
// FailedPrecondition if already sent or closed; InvalidArgument for an
// invalid transport, or when a non-broker sends without
// SendInvitationFlagShareBroker (or a broker with it).
func (inv *OutgoingInvitation) Send(transport ipcz.DriverHandle, flags SendInvitationFlags) Result {
	c := inv.c
	defer c.exit(c.enter())
	names, ends, ok := inv.take()
	if !ok {
		return ResultFailedPrecondition
	}
	fail := func(r Result) Result {
		for _, p := range ends {
			_ = p.Close()
		}
		return r
	}
	var cf ipcz.ConnectNodeFlags
	share := flags&SendInvitationFlagShareBroker != 0
	switch {
	case flags&^SendInvitationFlagShareBroker != 0:
		return fail(ResultInvalidArgument)
	case c.node.IsBroker() && share, !c.node.IsBroker() && !share:
		return fail(ResultInvalidArgument)
	case share:
		cf = ipcz.ConnectNodeShareBroker
	}
	portals, err := c.node.ConnectNode(transport, 1, cf)
	if err != nil {
		return fail(ResultInvalidArgument)
	}
	boot := portals[0]
	size := 4
	for _, n := range names {
		size += 4 + len(n)
	}
	data := make([]byte, size)
	binary.LittleEndian.PutUint32(data, uint32(len(names)))
	p := 4
	for _, n := range names {
		binary.LittleEndian.PutUint32(data[p:], uint32(len(n)))
		p += 4
		p += copy(data[p:], n)
	}
	objects := make([]ipcz.Object, len(ends))
	for i, e := range ends {
		objects[i] = e
	}
	if err := boot.Put(data, objects, nil); err != nil {
		_ = boot.Close()
		return fail(ResultFailedPrecondition)
	}
	// The parcel goes out before the closure.
	_ = boot.Close()
	return ResultOK
}

// IncomingInvitation is an accepted invitation
// (MojoAcceptInvitation of the modern API).
type IncomingInvitation struct {
	c    *Core        // immutable
	boot *ipcz.Portal // immutable; the bootstrap portal

	mu sync.Mutex
	// received is set once the bootstrap parcel was taken (or will never
	// come). Guarded by mu.
	received bool
	// arrived maps the names received and not yet extracted to their
	// pipe ends. Guarded by mu.
	arrived map[string]*ipcz.Portal
	// pending maps names extracted before the parcel arrived to the
	// local portal to merge with the received end. Guarded by mu.
	pending map[string]*ipcz.Portal
	// extracted records every name extracted. Guarded by mu.
	extracted map[string]bool
	// closed is set by Close: attachments not extracted are closed,
	// including those still to arrive. Guarded by mu.
	closed bool
}

// AcceptInvitation accepts an invitation arriving over transport: this
// core's node connects to the inviter's (its broker, unless
// AcceptInvitationFlagInheritBroker). Pipes can be extracted at once.
// Result: InvalidArgument for an invalid transport or flags that do not fit
// the node (for example a node that already has a broker).
func (c *Core) AcceptInvitation(transport ipcz.DriverHandle, flags AcceptInvitationFlags) (*IncomingInvitation, Result) {
	defer c.exit(c.enter())
	if flags&^AcceptInvitationFlagInheritBroker != 0 {
		return nil, ResultInvalidArgument
	}
	cf := ipcz.ConnectNodeToBroker
	if flags&AcceptInvitationFlagInheritBroker != 0 {
		cf = ipcz.ConnectNodeInheritBroker
	}
	portals, err := c.node.ConnectNode(transport, 1, cf)
	if err != nil {
		return nil, ResultInvalidArgument
	}
	inv := &IncomingInvitation{
		c:         c,
		boot:      portals[0],
		pending:   make(map[string]*ipcz.Portal),
		extracted: make(map[string]bool),
	}
	inv.watch()
	return inv, ResultOK
}

// watch waits for the bootstrap parcel: it takes it now if it is there,
// or installs a trap that does.
func (inv *IncomingInvitation) watch() {
	for {
		conds := &ipcz.TrapConditions{Flags: ipcz.TrapAboveMinLocalParcels | ipcz.TrapDead}
		_, _, err := inv.boot.Trap(conds, func(*ipcz.TrapEvent) { inv.watch() }, 0)
		switch err {
		case nil:
			return
		case ipcz.FailedPrecondition:
			if inv.receive() {
				return
			}
		default: // the portal is gone
			inv.finish(nil)
			return
		}
	}
}

// receive takes the bootstrap parcel if there is one (or learns none will
// come) and reports whether the invitation is settled.
func (inv *IncomingInvitation) receive() bool {
	data, objs, err := inv.boot.GetMessage()
	switch err {
	case nil:
	case ipcz.Unavailable:
		return false
	default:
		inv.finish(nil)
		return true
	}
	arrived, ok := decodeBootstrap(data, objs)
	if !ok {
		closeObjects(objs)
	}
	inv.finish(arrived)
	return true
}

// decodeBootstrap validates the bootstrap parcel.
func decodeBootstrap(data []byte, objs []ipcz.Object) (map[string]*ipcz.Portal, bool) {
	if len(data) < 4 {
		return nil, false
	}
	count := int(binary.LittleEndian.Uint32(data))
	if count != len(objs) || count > maxObjectsPerMessage {
		return nil, false
	}
	arrived := make(map[string]*ipcz.Portal, count)
	p := 4
	for i := range count {
		if len(data)-p < 4 {
			return nil, false
		}
		n := int(binary.LittleEndian.Uint32(data[p:]))
		p += 4
		if n > maxInvitationNameBytes || n > len(data)-p {
			return nil, false
		}
		name := string(data[p : p+n])
		p += n
		portal, ok := objs[i].(*ipcz.Portal)
		if _, dup := arrived[name]; dup || !ok {
			return nil, false
		}
		arrived[name] = portal
	}
	if p != len(data) {
		return nil, false
	}
	return arrived, true
}

// finish records the received attachments (nil if none came) and connects
// the pipes extracted early.
func (inv *IncomingInvitation) finish(arrived map[string]*ipcz.Portal) {
	inv.mu.Lock()
	if inv.received {
		inv.mu.Unlock()
		for _, p := range arrived {
			_ = p.Close()
		}
		return
	}
	inv.received = true
	if arrived == nil {
		arrived = make(map[string]*ipcz.Portal)
	}
	pending := inv.pending
	inv.pending = nil
	type merge struct{ local, remote *ipcz.Portal }
	var merges []merge
	for name, q := range pending {
		merges = append(merges, merge{q, arrived[name]})
		delete(arrived, name)
	}
	var unwanted []*ipcz.Portal
	if inv.closed {
		for _, p := range arrived {
			unwanted = append(unwanted, p)
		}
		arrived = nil
	}
	inv.arrived = arrived
	inv.mu.Unlock()
	_ = inv.boot.Close()
	for _, p := range unwanted {
		_ = p.Close()
	}
	for _, m := range merges {
		if m.remote == nil || ipcz.MergePortals(m.local, m.remote) != nil {
			_ = m.local.Close()
			if m.remote != nil {
				_ = m.remote.Close()
			}
		}
	}
}

// ExtractMessagePipe returns the local end of the pipe attached under name
// (MojoExtractMessagePipeFromInvitation of the modern API). If the
// inviter attached no such name, the pipe's peer is closed. Results:
// NotFound if name was already extracted; FailedPrecondition after Close.
func (inv *IncomingInvitation) ExtractMessagePipe(name string) (Handle, Result) {
	c := inv.c
	defer c.exit(c.enter())
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.closed {
		return HandleInvalid, ResultFailedPrecondition
	}
	if inv.extracted[name] {
		return HandleInvalid, ResultNotFound
	}
	var local *ipcz.Portal
	if inv.received {
		local = inv.arrived[name]
		delete(inv.arrived, name)
		if local == nil {
			a, b, err := c.node.OpenPortals()
			if err != nil {
				return HandleInvalid, ResultInternal
			}
			_ = b.Close()
			local = a
		}
	} else {
		a, b, err := c.node.OpenPortals()
		if err != nil {
			return HandleInvalid, ResultInternal
		}
		inv.pending[name] = b
		local = a
	}
	h, r := c.addHandle(newMessagePipe(local))
	if r != ResultOK {
		return HandleInvalid, r
	}
	inv.extracted[name] = true
	return h, ResultOK
}

// Close releases the invitation: pipes not yet extracted are closed, now
// or when they arrive; pipes already extracted are unaffected.
func (inv *IncomingInvitation) Close() {
	c := inv.c
	defer c.exit(c.enter())
	inv.mu.Lock()
	inv.closed = true
	arrived := inv.arrived
	inv.arrived = nil
	inv.mu.Unlock()
	for _, p := range arrived {
		_ = p.Close()
	}
}
