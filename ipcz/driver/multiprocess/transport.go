package multiprocess

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ipcz-go/ipcz-go/internal/futex"
	"github.com/ipcz-go/ipcz-go/internal/shm"
	"github.com/ipcz-go/ipcz-go/ipcz"
)

// Back-pressure limits of a transport's send queue (see the package
// documentation).
const (
	// MaxQueuedBytes is the back-pressure threshold: while at least this
	// many bytes wait in a transport's send queue, Transmit blocks its
	// caller until the queue drains below it (except on the driver's
	// reader goroutines, which never block).
	MaxQueuedBytes = 8 << 20
	// maxQueuedFDs is the same threshold for descriptors.
	maxQueuedFDs = 4 * MaxMessageHandles

	// maxQueuedBytesInHandler and maxQueuedFDsInHandler bound the queue
	// for Transmit calls made from activity handlers, which never block:
	// past them such a Transmit fails with ResourceExhausted.
	maxQueuedBytesInHandler = 512 << 20
	maxQueuedFDsInHandler   = 16 * MaxMessageHandles
)

// transportState is where a transport is in its life. States only move
// forward: idle → active → deactivating → deactivated.
type transportState uint8

const (
	stateIdle         transportState = iota // not yet activated
	stateActive                             // its reader delivers to the handler
	stateDeactivating                       // the final call is on its way
	stateDeactivated                        // the final call was made
)

// transport is one end of a Unix stream socket.
type transport struct {
	d *Driver // immutable

	mu struct {
		sync.Mutex
		// state is the life-cycle state. Guarded by mu.
		state transportState
		// closed is set by Close, and by Serialize when it takes the
		// socket away. Guarded by mu.
		closed bool
		// fd is the socket while the transport is idle, owned by it; -1
		// once activated (file owns it then), serialized or closed.
		// Guarded by mu.
		fd int
		// sock owns the socket from activation on. Set once by
		// ActivateTransport. Guarded by mu.
		sock *sock
	}

	// stopping is set when deactivation begins; the reader checks it
	// before each delivery. Atomic.
	stopping atomic.Bool
	// stop is closed when deactivation begins; a reader that has reported
	// an error waits on it. Immutable (the channel).
	stop chan struct{}
	// peerGone is set when a send found the peer's end closed (EPIPE or
	// ECONNRESET): the reader then delivers what is left in the socket
	// and reports the error instead of waiting for more. Atomic.
	peerGone atomic.Bool
	// sockReady is set by the socket watcher of a reader in ring mode
	// whenever the socket may have something to read (or has hung up).
	// Atomic.
	sockReady atomic.Bool
	// fault is set when the producer found the peer's ring words
	// corrupt; the reader then reports the error. Atomic.
	fault atomic.Bool

	in struct {
		sync.Mutex
		// ring is the peer's ring while the reader consumes it, so that
		// other goroutines can wake the reader through its doorbell.
		// Set by the reader; cleared by it before it unmaps the ring.
		// Guarded by in.
		ring *ring
	}

	w struct {
		sync.Mutex
		// queue holds the frames waiting for the socket to become
		// writable, oldest first. Guarded by w.
		queue []*outFrame
		// queuedBytes and queuedFDs are what queue still has to send.
		// Guarded by w.
		queuedBytes, queuedFDs int
		// writing is set while a writer goroutine owns the queue; it is
		// set whenever queue is not empty. Guarded by w.
		writing bool
		// gone is set once the peer's end was found closed: frames are
		// then dropped. Guarded by w.
		gone bool
		// stopped is set when deactivation begins and closed when Close
		// is called; both make waiting Transmit calls give up. Guarded
		// by w.
		stopped, closed bool
		// bufs and fds are scratch space for building a sendmsg.
		// Guarded by w.
		bufs [][]byte
		fds  []int
		// spare holds the data buffers of frames sent from the queue,
		// for reuse by the next frames queued. Guarded by w.
		spare [][]byte
		// direct is the frame being sent by sendDirect, and directErr
		// its result. Guarded by w.
		direct    *outFrame
		directErr error
		// seq is the sequence number of the next message. Guarded by w.
		seq uint64
		// ring is our outbound ring, nil if we offered none; unmapped and
		// cleared by close. Guarded by w.
		ring *producer
	}
	// sendDirectFn is t.sendDirect, bound once so that each Transmit does
	// not allocate a closure. Immutable.
	sendDirectFn func(fd uintptr)
	// drained is signalled whenever the queue shrinks or the transport
	// stops; Transmit calls blocked by back-pressure wait on it. Its L is
	// &w.Mutex.
	drained sync.Cond
}

func (*transport) kind() kind { return kindTransport }

// sock is an active transport's socket, registered with the Go poller so
// that the reader and writer park goroutines, not threads, while they wait.
type sock struct {
	file *os.File        // immutable; owns the descriptor
	rc   syscall.RawConn // immutable; file's raw connection
}

// newTransport makes an idle transport owning fd, a non-blocking,
// close-on-exec Unix stream socket.
func newTransport(d *Driver, fd int) *transport {
	t := &transport{d: d, stop: make(chan struct{})}
	t.mu.fd = fd
	t.drained.L = &t.w.Mutex
	t.sendDirectFn = t.sendDirect
	return t
}

// lookupTransport returns the transport named by h, or nil.
func (d *Driver) lookupTransport(h ipcz.DriverHandle) *transport {
	t, _ := d.lookup(h).(*transport)
	return t
}

// isIdle reports whether t can still be serialized.
func (t *transport) isIdle() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.mu.closed && t.mu.state == stateIdle
}

// takeIdleFD hands t's socket over to the caller, if t is idle, and marks
// t closed. It returns -1 otherwise.
func (t *transport) takeIdleFD() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed || t.mu.state != stateIdle {
		return -1
	}
	fd := t.mu.fd
	t.mu.fd, t.mu.closed = -1, true
	return fd
}

// CreateTransports makes a new socketpair; both ends are idle transports
// that can be serialized and sent to other processes (transport0 and
// transport1 only have to be transports).
//
// Errors: InvalidArgument if transport0 or transport1 is not a transport;
// ResourceExhausted if the socketpair cannot be made.
func (d *Driver) CreateTransports(transport0, transport1 ipcz.DriverHandle) (ipcz.DriverHandle, ipcz.DriverHandle, error) {
	if d.lookupTransport(transport0) == nil || d.lookupTransport(transport1) == nil {
		return 0, 0, ipcz.InvalidArgument
	}
	return d.NewTransportPair()
}

// NewTransportPair makes a new socketpair and returns its two ends as idle
// transports, for connecting two nodes of this process or for sending
// either end elsewhere.
//
// Errors: ResourceExhausted if the socketpair cannot be made.
func (d *Driver) NewTransportPair() (a, b ipcz.DriverHandle, err error) {
	fa, fb, err := socketPair()
	if err != nil {
		return 0, 0, ipcz.ResourceExhausted
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.insertLocked(newTransport(d, fa)), d.insertLocked(newTransport(d, fb)), nil
}

// ActivateTransport sends the transport's setup frame (offering a new
// ring, if the driver uses the fast path and one can be made) and starts
// its reader goroutine, which delivers every message (including those
// that arrived while t was idle) to handler, in order, one call at a
// time.
//
// Errors: InvalidArgument if transport is not a transport or handler is
// nil; FailedPrecondition if it was activated before.
func (d *Driver) ActivateTransport(transport ipcz.DriverHandle, handler ipcz.ActivityHandler) error {
	t := d.lookupTransport(transport)
	if t == nil || handler == nil {
		return ipcz.InvalidArgument
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.mu.closed:
		return ipcz.InvalidArgument
	case t.mu.state != stateIdle:
		return ipcz.FailedPrecondition
	}
	// The socket is non-blocking, so os.NewFile registers it with the
	// poller: the reader and writer park goroutines, not threads.
	file := os.NewFile(uintptr(t.mu.fd), "ipcz-transport")
	rc, err := file.SyscallConn()
	if err != nil { // not reachable for a socket
		return ipcz.Internal
	}
	s := &sock{file: file, rc: rc}
	t.mu.sock, t.mu.fd = s, -1
	t.sendSetup(s)
	t.mu.state = stateActive
	d.goroutines.Add(1)
	go t.readLoop(transport, s, handler)
	return nil
}

// Setup frame: {u32 version; u32 flags; u32 ring capacity; u32 zero},
// with the ring's memfd as its one descriptor if flags has setupRing.
const (
	setupSize    = 16
	setupVersion = 1
	setupRing    = 1
)

// sendSetup sends the setup frame, the first frame of each end: it offers
// a new outbound ring if the driver uses the fast path (and one can be
// made), or none. Called by ActivateTransport with t.mu held (the only
// place where two of the driver's locks nest: t.mu, then t.w).
func (t *transport) sendSetup(s *sock) {
	var payload [setupSize]byte
	binary.LittleEndian.PutUint32(payload[0:], setupVersion)
	f := &outFrame{data: payload[:]}
	var p *producer
	if capacity := t.d.opts.ringCapacity; capacity > 0 {
		r, region, err := newRing(capacity)
		if err == nil {
			fd, err := region.Release()
			if err == nil {
				p = &producer{r: r}
				f.objs = []*transmissible{{fd: fd}}
				binary.LittleEndian.PutUint32(payload[4:], setupRing)
				binary.LittleEndian.PutUint32(payload[8:], uint32(capacity))
			} else {
				r.unmap()
			}
		}
	}
	putFrameHeader(&f.hdr, len(f.data), len(f.objs), frameSetup, 0)
	t.w.Lock()
	t.w.ring = p
	t.w.Unlock()
	if err := t.send(s, f, false); err != nil {
		// Not reachable: activation precedes closing and stopping.
		t.dropLocked(f)
	}
}

// DeactivateTransport begins deactivation: the reader delivers nothing
// more (frames already received are dropped and their descriptors
// closed) and makes the handler's final TransportActivityDeactivated call,
// after the call in progress, if any, returns (so possibly before
// DeactivateTransport returns, possibly after). Transmit fails from now
// on; frames already queued for sending still go out until the transport
// is closed. Deactivating again has no effect.
//
// Errors: InvalidArgument if transport is not a transport;
// FailedPrecondition if it was never activated.
func (d *Driver) DeactivateTransport(transport ipcz.DriverHandle) error {
	t := d.lookupTransport(transport)
	if t == nil {
		return ipcz.InvalidArgument
	}
	t.mu.Lock()
	switch {
	case t.mu.closed:
		t.mu.Unlock()
		return ipcz.InvalidArgument
	case t.mu.state == stateIdle:
		t.mu.Unlock()
		return ipcz.FailedPrecondition
	case t.mu.state != stateActive:
		t.mu.Unlock()
		return nil
	}
	t.mu.state = stateDeactivating
	s := t.mu.sock
	t.mu.Unlock()
	t.beginStop(s)
	return nil
}

// beginStop tells the reader and any blocked Transmit that deactivation
// has begun. The caller moved t from active to deactivating, so this runs
// once per transport.
func (t *transport) beginStop(s *sock) {
	t.stopping.Store(true)
	close(t.stop)
	t.w.Lock()
	t.w.stopped = true
	t.drained.Broadcast()
	t.w.Unlock()
	t.wakeReader(s)
}

// wakeReader makes the reader (and the socket watcher of a reader in ring
// mode) look at the transport's flags at once: it interrupts whichever is
// parked in the poller, and rings the doorbell of a reader that sleeps on
// the peer's ring. The flag the reader is to notice must be set before.
// It never depends on anything the peer writes.
func (t *transport) wakeReader(s *sock) {
	s.interruptReader()
	t.in.Lock()
	if r := t.in.ring; r != nil {
		r.w.wake()
	}
	t.in.Unlock()
}

// interruptReader makes a reader parked in the poller return at once. The
// flag the reader is to notice must be set before.
func (s *sock) interruptReader() {
	_ = s.file.SetReadDeadline(time.Unix(1, 0)) // fails only once closed, which wakes it too
}

// close is called when t's handle is closed.
func (t *transport) close() {
	t.mu.Lock()
	if t.mu.closed {
		t.mu.Unlock()
		return
	}
	t.mu.closed = true
	fd, s := t.mu.fd, t.mu.sock
	t.mu.fd = -1
	active := t.mu.state == stateActive
	if active {
		t.mu.state = stateDeactivating
	}
	t.mu.Unlock()
	if s == nil {
		closeFD(fd)
		return
	}
	if active {
		t.beginStop(s)
	}
	t.w.Lock()
	t.w.closed = true
	t.drained.Broadcast()
	if p := t.w.ring; p != nil {
		t.w.ring = nil
		p.r.unmap() // the peer keeps its own mapping
	}
	t.w.Unlock()
	// Closing the file wakes the parked reader and writer, and waits for
	// them to leave the poller; neither holds a lock of ours then, and no
	// lock of ours is held here.
	_ = s.file.Close()
}

// Transmit sends data and the descriptors of handles (transmissible
// objects from Serialize or from a handler call) to the peer as one
// message, where they arrive as one handler call, in order. A message
// without descriptors goes through the transport's ring if it has one and
// the message fits (see the package documentation); otherwise it goes on
// the socket as one frame: the sendmsg is tried at once on the caller's
// goroutine, and what the socket does not take is copied into the
// transport's queue and sent by a writer goroutine when the socket
// becomes writable.
//
// Back-pressure: while MaxQueuedBytes or more (or 16384 descriptors) are
// queued, Transmit blocks until the queue drains below that, the
// transport is deactivated or closed, or the peer goes away. A Transmit
// made on one of the driver's reader goroutines (from an activity handler)
// never blocks, because a reader that waits for its peer to read can
// deadlock with a peer doing the same; it fails with ResourceExhausted if
// the queue has grown past 512 MiB instead.
//
// Once the peer's end is closed, frames are dropped (their descriptors
// closed) and Transmit returns nil: the peer is gone, and the transport's
// TransportActivityError call follows once everything the peer sent has
// been delivered. Likewise a frame partly sent when the peer goes away.
//
// On success the driver owns the handles. Errors (the caller then keeps
// the handles): InvalidArgument if transport is not a transport, if a
// handle is not a transmissible object or appears twice, or if there are
// more than 64 handles per byte of the frame (8 + len(data); see the
// package documentation: only a message of more than 512 handles with
// little data can hit this); ResourceExhausted
// for more than MaxMessageBytes of data or MaxMessageHandles handles, or
// the handler limit above; FailedPrecondition if the transport is not
// active (not activated yet, or deactivating); InvalidArgument if it is
// closed while Transmit waits.
func (d *Driver) Transmit(transport ipcz.DriverHandle, data []byte, handles []ipcz.DriverHandle) error {
	t := d.lookupTransport(transport)
	if t == nil {
		return ipcz.InvalidArgument
	}
	if len(data) > MaxMessageBytes || len(handles) > MaxMessageHandles {
		return ipcz.ResourceExhausted
	}
	if fdGroups(len(handles)) > frameHeaderSize+len(data) {
		return ipcz.InvalidArgument // no byte to carry some descriptors
	}
	t.mu.Lock()
	closed, state, s := t.mu.closed, t.mu.state, t.mu.sock
	t.mu.Unlock()
	switch {
	case closed:
		return ipcz.InvalidArgument
	case state != stateActive:
		return ipcz.FailedPrecondition
	}
	objs, ok := d.takeTransmissible(handles)
	if !ok {
		return ipcz.InvalidArgument
	}
	f := outFrame{data: data, objs: objs}
	if err := t.send(s, &f, true); err != nil {
		d.restoreTransmissible(handles, objs)
		return err
	}
	return nil
}

// takeTransmissible removes the transmissible objects named by hs from the
// table, all or none; ok is false if one is not a transmissible object or
// appears twice.
func (d *Driver) takeTransmissible(hs []ipcz.DriverHandle) (objs []*transmissible, ok bool) {
	if len(hs) == 0 {
		return nil, true
	}
	objs = make([]*transmissible, 0, len(hs))
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, h := range hs {
		o, isT := d.mu.LookupLocked(h).(*transmissible)
		if !isT {
			for i, o := range objs {
				d.restoreLocked(hs[i], o)
			}
			return nil, false
		}
		d.removeLocked(h, o)
		objs = append(objs, o)
	}
	return objs, true
}

// restoreTransmissible undoes takeTransmissible.
func (d *Driver) restoreTransmissible(hs []ipcz.DriverHandle, objs []*transmissible) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, o := range objs {
		d.restoreLocked(hs[i], o)
	}
}

// send sends f or queues it (see Transmit). A message (numbered) gets the
// next sequence number and goes through our ring if it has no descriptors
// and fits, else on the socket; the setup frame is not numbered and has
// its header already. It returns an error only if nothing of f was sent,
// in which case f's objects are untouched.
func (t *transport) send(s *sock, f *outFrame, numbered bool) error {
	t.w.Lock()
	defer t.w.Unlock()
	switch {
	case t.w.closed:
		return ipcz.InvalidArgument
	case t.w.stopped:
		return ipcz.FailedPrecondition
	}
	p := t.w.ring
	if numbered && p != nil && len(f.objs) == 0 && !t.w.gone {
		ok, bad := p.write(t.w.seq, f.data)
		if ok {
			t.w.seq++
			p.notify()
			return nil
		}
		if bad {
			// The peer corrupted its head: our reader reports the error.
			// The message still goes, on the socket.
			t.fault.Store(true)
			t.wakeReader(s)
		}
	}
	var inHandler, checked bool
	for {
		switch {
		case t.w.closed:
			return ipcz.InvalidArgument
		case t.w.stopped:
			return ipcz.FailedPrecondition
		case t.w.gone:
			t.dropLocked(f)
			return nil
		}
		if t.w.queuedBytes < MaxQueuedBytes && t.w.queuedFDs < maxQueuedFDs {
			break
		}
		if !checked {
			inHandler, checked = onReaderGoroutine(), true
		}
		if inHandler {
			if t.w.queuedBytes >= maxQueuedBytesInHandler || t.w.queuedFDs >= maxQueuedFDsInHandler {
				return ipcz.ResourceExhausted
			}
			break
		}
		t.drained.Wait()
	}

	if numbered {
		seq := t.w.seq
		t.w.seq++
		putFrameHeader(&f.hdr, len(f.data), len(f.objs), frameMessage, seq)
		if p := t.w.ring; p != nil && !t.w.gone {
			// Tell a peer that sleeps on our ring to look at the socket.
			// The hint may precede the frame's bytes: the peer then
			// waits for them.
			defer p.notify()
			p.sentOnSocket(seq)
		}
	}
	if !t.w.writing {
		// Nothing queued: try the socket now.
		t.w.direct = f
		cerr := s.rc.Control(t.sendDirectFn)
		err := t.w.directErr
		t.w.direct, t.w.directErr = nil, nil
		if cerr != nil {
			return ipcz.InvalidArgument // closed under us
		}
		switch {
		case err == nil:
			return nil
		case err != errWouldBlock:
			t.peerGoneLocked(s)
			t.dropLocked(f)
			return nil
		}
	}
	f.own(t.spareLocked(len(f.data)))
	q := new(outFrame)
	*q = *f
	t.w.queue = append(t.w.queue, q)
	t.w.queuedBytes += q.size() - q.off
	t.w.queuedFDs += q.unsentFDs()
	if !t.w.writing {
		t.w.writing = true
		t.d.goroutines.Add(1)
		go t.writeLoop(s)
	}
	return nil
}

// sendDirect is the poller callback of send's first attempt. Called with
// t.w held.
func (t *transport) sendDirect(fd uintptr) {
	t.w.directErr = t.flushLocked(int(fd), t.w.direct)
}

// Buffer reuse limits: at most maxSpare buffers of at most maxSpareBytes.
const (
	maxSpare      = 4
	maxSpareBytes = 1 << 20
)

// spareLocked returns a buffer to copy n bytes of a frame's data into: a
// spare one if one is large enough, or nil (to be allocated).
func (t *transport) spareLocked(n int) []byte {
	for i, b := range t.w.spare {
		if cap(b) >= n {
			last := len(t.w.spare) - 1
			t.w.spare[i], t.w.spare[last] = t.w.spare[last], nil
			t.w.spare = t.w.spare[:last]
			return b
		}
	}
	return nil
}

// recycleLocked keeps the data buffer of a frame sent from the queue.
func (t *transport) recycleLocked(f *outFrame) {
	if f.owned && cap(f.data) > 0 && cap(f.data) <= maxSpareBytes && len(t.w.spare) < maxSpare {
		t.w.spare = append(t.w.spare, f.data[:0])
	}
	f.data = nil
}

// flushLocked sends as much of f as the socket takes, closing each
// descriptor once the kernel has it. It returns nil when f is all sent,
// errWouldBlock when the socket is full, or the error of sendmsg.
func (t *transport) flushLocked(fd int, f *outFrame) error {
	for !f.done() {
		var fds []int
		t.w.bufs, fds = f.chunk(t.w.bufs, t.w.fds)
		t.w.fds = fds[:0]
		n, err := sendChunk(fd, t.w.bufs, fds)
		clear(t.w.bufs)
		if err != nil {
			return err
		}
		if n == 0 {
			return errWouldBlock // not reachable for a stream socket
		}
		for _, o := range f.advance(n) {
			closeFD(o.fd)
		}
	}
	return nil
}

// dropLocked discards the unsent part of f, closing its descriptors.
func (t *transport) dropLocked(f *outFrame) {
	for _, o := range f.objs[min(f.group*fdsPerSendmsg, len(f.objs)):] {
		closeFD(o.fd)
	}
	f.objs = nil
}

// peerGoneLocked records that the peer's end is closed, drops the queue
// and has the reader report the error once it has delivered what is left.
func (t *transport) peerGoneLocked(s *sock) {
	t.w.gone = true
	for _, q := range t.w.queue {
		t.dropLocked(q)
	}
	clear(t.w.queue)
	t.w.queue, t.w.queuedBytes, t.w.queuedFDs = nil, 0, 0
	t.drained.Broadcast()
	if !t.peerGone.Swap(true) {
		s.interruptReader()
	}
}

// writeLoop is the writer goroutine: it sends the queue, parking in the
// poller while the socket is full, and exits when the queue is empty or
// the transport is closed.
func (t *transport) writeLoop(s *sock) {
	defer t.d.goroutines.Add(-1)
	err := s.rc.Write(func(fd uintptr) bool {
		t.w.Lock()
		defer t.w.Unlock()
		for len(t.w.queue) > 0 {
			f := t.w.queue[0]
			bytes, fds := f.size()-f.off, f.unsentFDs()
			err := t.flushLocked(int(fd), f)
			t.w.queuedBytes -= bytes - (f.size() - f.off)
			t.w.queuedFDs -= fds - f.unsentFDs()
			t.drained.Broadcast()
			switch {
			case err == errWouldBlock:
				return false // park until writable
			case err != nil:
				t.peerGoneLocked(s)
				t.w.writing = false
				return true
			}
			t.recycleLocked(f)
			t.w.queue[0] = nil
			t.w.queue = t.w.queue[1:]
		}
		t.w.queue = nil
		t.w.writing = false
		return true
	})
	if err != nil { // the file was closed: drop what is left
		t.w.Lock()
		for _, q := range t.w.queue {
			t.dropLocked(q)
		}
		clear(t.w.queue)
		t.w.queue, t.w.queuedBytes, t.w.queuedFDs = nil, 0, 0
		t.w.writing = false
		t.drained.Broadcast()
		t.w.Unlock()
	}
}

// errStopped ends delivery because deactivation began.
var errStopped = errors.New("multiprocess: transport deactivated")

// errRejected ends delivery because the handler rejected a message.
var errRejected = errors.New("multiprocess: handler rejected a message")

// errPeerGone ends delivery because the peer's end is closed and nothing
// more is left to deliver.
var errPeerGone = errors.New("multiprocess: peer closed its end")

// reader is the state of a transport's reader goroutine.
type reader struct {
	t       *transport
	s       *sock
	h       ipcz.ActivityHandler
	dec     frameDecoder
	oob     []byte
	handles []ipcz.DriverHandle
	// next is the sequence number of the next message to deliver.
	next uint64
	// setupDone is set once the peer's setup frame was handled.
	setupDone bool
	// in is the peer's ring once its setup frame offered one; the reader
	// then runs in ring mode.
	in *consumer
	// held is a complete socket frame that is not the next message yet
	// (ring mode), valid while hasHeld: nothing is read from the socket
	// meanwhile, so its bytes stay put.
	held    inFrame
	hasHeld bool
	// eof is set once the socket reached its end (ring mode).
	eof bool
	// sharesCPU is the last answer of peerSharesCPU, and cpuChecks
	// counts the spinning waits (see sharesCPUWithPeer).
	sharesCPU bool
	cpuChecks uint32
	// sockDrained is set when a read of the socket found nothing more
	// and cleared by every read that found something (ring mode). Until
	// it is set, the socket may hold bytes that no readiness event will
	// announce again: the poller reports arrivals, not what is left.
	sockDrained bool
	// delivered is set by every handler call and cleared by wait, which
	// then first yields the processor (ring mode).
	delivered bool
	// ringBuf receives messages copied out of the ring.
	ringBuf []byte
	// The arguments and results of readFn, which is r.read bound once so
	// that each read does not allocate a closure; nonblocking says not to
	// park (ring mode).
	buf         []byte
	fds         []int
	n           int
	err         error
	nonblocking bool
	readFn      func(uintptr) bool
	controlFn   func(uintptr)
}

// readLoop is the reader goroutine of an active transport: it delivers
// messages until deactivation begins, reports the first error (end of
// stream, a broken socket, malformed traffic or ring contents, a rejected
// message) with TransportActivityError and then only waits for
// deactivation, and makes the final TransportActivityDeactivated call
// before it exits.
func (t *transport) readLoop(handle ipcz.DriverHandle, s *sock, h ipcz.ActivityHandler) {
	defer t.d.goroutines.Add(-1)
	r := &reader{t: t, s: s, h: h, oob: make([]byte, oobSpace)}
	r.readFn = r.read
	r.controlFn = func(fd uintptr) { r.read(fd) }
	err := r.run()
	if err != errStopped && !t.stopping.Load() {
		if errors.Is(err, errMalformed) {
			// The peer broke the framing or ring rules: reported like a
			// message ipcz rejects (context 0), before the error.
			t.d.recordBadActivity(BadActivityReport{Transport: handle})
		}
		h(nil, nil, ipcz.TransportActivityError)
		<-t.stop
	}
	if r.hasHeld {
		closeFDs(r.held.fds)
	}
	closeFDs(r.dec.takeFDs())
	closeFDs(r.fds)
	r.dec = frameDecoder{}
	if r.in != nil {
		t.in.Lock()
		t.in.ring = nil
		t.in.Unlock()
		r.in.r.unmap()
	}
	t.mu.Lock()
	t.mu.state = stateDeactivated
	t.mu.Unlock()
	h(nil, nil, ipcz.TransportActivityDeactivated)
}

// run delivers until deactivation (errStopped) or the first error.
func (r *reader) run() error {
	if err := r.runSocket(); err != nil || r.in == nil {
		return err
	}
	r.t.d.goroutines.Add(1)
	go r.t.watchSocket(r.s)
	return r.runRing()
}

// runSocket reads and delivers frames, parking in the poller, until the
// peer's setup frame offers a ring (it then returns nil with r.in set) or
// until deactivation or an error.
func (r *reader) runSocket() error {
	t := r.t
	for {
		if t.stopping.Load() {
			return errStopped
		}
		for {
			f, ok, err := r.dec.next()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if !r.setupDone {
				if err := r.setup(f); err != nil {
					return err
				}
				if r.in != nil {
					return nil
				}
				continue
			}
			if f.typ != frameMessage || f.seq != r.next {
				closeFDs(f.fds)
				return errMalformed
			}
			if err := r.deliver(f.data, f.fds); err != nil {
				return err
			}
		}
		err := r.receive()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// An interrupt: clear it, then look at the flags again (in that
			// order, so that a later interrupt is not lost).
			_ = r.s.file.SetReadDeadline(time.Time{})
			continue
		}
		if err != nil {
			return err
		}
	}
}

// setup handles the peer's setup frame, the first it sends: it maps the
// peer's ring if it offers one. Everything in it is validated: a version
// we speak, a capacity we accept, and a sealed memfd of exactly that
// ring's size, mapped writable.
func (r *reader) setup(f inFrame) error {
	r.setupDone = true
	if f.typ != frameSetup || len(f.data) != setupSize {
		closeFDs(f.fds)
		return errMalformed
	}
	version := binary.LittleEndian.Uint32(f.data[0:])
	flags := binary.LittleEndian.Uint32(f.data[4:])
	capacity := uint64(binary.LittleEndian.Uint32(f.data[8:]))
	zero := binary.LittleEndian.Uint32(f.data[12:])
	if version != setupVersion || zero != 0 {
		closeFDs(f.fds)
		return errMalformed
	}
	switch flags {
	case 0:
		if len(f.fds) != 0 || capacity != 0 {
			closeFDs(f.fds)
			return errMalformed
		}
		return nil
	case setupRing:
		if len(f.fds) != 1 || !validRingCapacity(capacity) {
			closeFDs(f.fds)
			return errMalformed
		}
	default:
		closeFDs(f.fds)
		return errMalformed
	}
	region, err := shm.FromFD(f.fds[0])
	if err != nil {
		closeFD(f.fds[0])
		return errMalformed
	}
	defer region.Close()
	rg, err := mapRing(region, capacity)
	if err != nil {
		return errMalformed
	}
	r.in = &consumer{r: rg}
	r.t.in.Lock()
	r.t.in.ring = rg
	r.t.in.Unlock()
	return nil
}

// runRing delivers messages in sequence order from the peer's ring and
// from the socket, which carries the messages with descriptors and those
// that did not fit the ring. It sleeps on the ring's doorbell; the socket
// watcher rings it when the socket becomes readable, and deactivation
// rings it too.
func (r *reader) runRing() error {
	t, c := r.t, r.in
	for {
		if t.stopping.Load() {
			return errStopped
		}
		if t.fault.Load() {
			return errRingCorrupt
		}
		seq, inRing, err := c.peek()
		if err != nil {
			return err
		}
		if inRing && seq == r.next {
			r.ringBuf = c.take(r.ringBuf)
			if err := r.deliver(r.ringBuf, nil); err != nil {
				return err
			}
			continue
		}
		if inRing && seq < r.next {
			return errRingCorrupt
		}
		if r.hasHeld {
			// The socket's next frame was sent after every message
			// before it went into the ring, so the ring (loaded after
			// the frame arrived) has the next message or it is that
			// frame.
			if r.held.seq != r.next {
				return errMalformed
			}
			r.hasHeld = false
			if err := r.deliver(r.held.data, r.held.fds); err != nil {
				return err
			}
			continue
		}
		// Nothing to deliver from what we have. Read the socket if a
		// frame is due there (the ring is ahead, the producer says so,
		// or the watcher saw something), or to find its end.
		sockReady := t.sockReady.Swap(false)
		if !r.eof && (inRing || sockReady || !r.sockDrained || c.sockSeq() > r.next) {
			progress, err := r.receiveFrame()
			if err != nil {
				return err
			}
			if progress {
				continue
			}
		}
		if r.eof {
			// The peer is gone; all it sent before going was delivered
			// (the ring was loaded after the end was seen).
			return errPeerGone
		}
		// If the next message is due on the socket and the socket was
		// read dry, only its next readiness can bring it: waking for the
		// ring meanwhile would read the empty socket again and again
		// while the frame is still in the peer's send queue.
		r.wait(r.sockDrained && (inRing || c.sockSeq() > r.next))
	}
}

// receiveFrame reads from the socket without parking until a frame is
// complete (held in r.held), the socket has nothing more now, or it
// ends. progress says a frame is held or the end was found.
func (r *reader) receiveFrame() (progress bool, err error) {
	for {
		f, ok, err := r.dec.next()
		if err != nil {
			return false, err
		}
		if ok {
			if f.typ != frameMessage || f.seq < r.next {
				closeFDs(f.fds)
				return false, errMalformed
			}
			r.held, r.hasHeld = f, true
			return true, nil
		}
		r.nonblocking = true
		err = r.receive()
		r.nonblocking = false
		r.sockDrained = err == errWouldBlock
		switch {
		case err == errWouldBlock && r.t.peerGone.Load():
			// A send found the peer's end closed, and the socket has
			// nothing more: as good as its end.
			r.eof = true
			return true, nil
		case err == errWouldBlock:
			return false, nil
		case err == io.EOF:
			r.eof = true
			return true, nil
		case err != nil:
			return false, err
		}
	}
}

// Spinning before sleeping on the doorbell (see Spin).
const (
	// spinCheck is how many polls of the ring go between two looks at
	// the clock and yields.
	spinCheck = 64
	// spinOSYield is how many looks at the clock go between two yields
	// of the processor, when the process may run on several: a
	// peer that runs on another processor answers sooner if we keep ours,
	// and one that shares ours still gets it every few microseconds.
	spinOSYield = 8
)

// oneCPU is set if this process may run on one processor only (its
// affinity mask at start): every yield of the spin then gives the
// processor away, since a peer that shares it can only answer meanwhile.
var oneCPU = runtime.NumCPU() == 1

// wait returns when the ring or the transport's flags may have changed
// (only the flags if socketOnly): after polling for up to the driver's
// spin time (yielding the processor now and then, so that a peer or
// goroutine that shares it can run), it sleeps on the doorbell.
//
// If handler calls were made since the last wait, it first yields once:
// a goroutine that a handler woke (to take the message elsewhere, say)
// is next in line on this goroutine's processor, and the Go scheduler
// lets no other processor take it for some microseconds. Yielding at
// once runs it now, on this thread; otherwise it waits for the spin's
// first yield or for a thread woken to steal it, and under load either
// can take tens of microseconds.
func (r *reader) wait(socketOnly bool) {
	t, c := r.t, r.in
	ready := func() bool {
		return t.stopping.Load() || t.sockReady.Load() || t.fault.Load() ||
			!socketOnly && (c.pending() || c.sockSeq() > r.next)
	}
	if r.delivered {
		r.delivered = false
		yield(oneCPU)
	}
	if spin := t.d.opts.spin; spin > 0 {
		start := time.Now()
		osYieldEvery := spinOSYield
		for i := 1; ; i++ {
			if ready() {
				return
			}
			if i%spinCheck == 0 {
				if i == spinCheck && !oneCPU && r.sharesCPUWithPeer() {
					osYieldEvery = 1
				}
				if time.Since(start) > spin {
					break
				}
				yield(oneCPU || i%(spinCheck*osYieldEvery) == 0)
			}
		}
	}
	w := &c.r.w
	bell := atomic.LoadUint32(w.doorbell)
	atomic.StoreUint32(w.waiting, 1)
	if !ready() {
		_ = futex.Wait(w.doorbell, bell, futex.Forever)
	}
	atomic.StoreUint32(w.waiting, 0)
}

// cpuCheckEvery is how many spinning waits reuse one answer of
// peerSharesCPU: processes move between processors far less often than
// messages come, and the check costs a system call.
const cpuCheckEvery = 16

// sharesCPUWithPeer is peerSharesCPU, asked afresh every cpuCheckEvery
// calls.
func (r *reader) sharesCPUWithPeer() bool {
	if r.cpuChecks%cpuCheckEvery == 0 {
		r.sharesCPU = r.peerSharesCPU()
	}
	r.cpuChecks++
	return r.sharesCPU
}

// peerSharesCPU records the processor this reader spins on in the ring
// it consumes and reports whether the peer's reader last spun on the
// same one (as it recorded in our ring). Two readers that share a
// processor must yield it to each other at once, or each waits out the
// other's spin; two on different processors answer each other soonest if
// they keep theirs.
func (r *reader) peerSharesCPU() bool {
	cpu, ok := currentCPU()
	if !ok {
		return false
	}
	atomic.StoreUint32(r.in.r.w.cpu, cpu+1)
	t := r.t
	t.w.Lock()
	defer t.w.Unlock()
	p := t.w.ring
	return p != nil && atomic.LoadUint32(p.r.w.cpu) == cpu+1
}

// watchSocket is the socket watcher of a reader in ring mode: parked in
// the poller, it sets sockReady and wakes the reader whenever the socket
// becomes readable or hangs up, until deactivation or close.
func (t *transport) watchSocket(s *sock) {
	defer t.d.goroutines.Add(-1)
	notify := func(uintptr) bool {
		t.sockReady.Store(true)
		t.in.Lock()
		if r := t.in.ring; r != nil {
			r.w.wake()
		}
		t.in.Unlock()
		return false // park until the next readiness
	}
	for !t.stopping.Load() {
		err := s.rc.Read(notify)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return // closed
		}
		// An interrupt (deactivation, or a send that found the peer
		// gone): clear it and look at the flags again; Read calls notify
		// at once, so the reader looks at the socket.
		_ = s.file.SetReadDeadline(time.Time{})
	}
}

// receive reads once from the socket, parking until there is something
// to read (unless nonblocking), and hands what came to the decoder.
func (r *reader) receive() error {
	r.buf = r.dec.space()
	var err error
	if r.nonblocking {
		err = r.s.rc.Control(r.controlFn)
	} else {
		err = r.s.rc.Read(r.readFn)
	}
	r.buf = nil
	if err != nil {
		return err
	}
	if r.err != nil {
		return r.err
	}
	err = r.dec.commit(r.n, r.fds)
	r.fds = r.fds[:0]
	return err
}

// read is the poller callback of receive. It returns false to park.
func (r *reader) read(fd uintptr) bool {
	r.n, r.fds, r.err = recvChunk(int(fd), r.buf, r.oob, r.fds[:0])
	if r.err == errWouldBlock {
		if r.nonblocking {
			return true
		}
		if r.t.peerGone.Load() {
			r.err = errPeerGone // all that the peer sent was delivered
			return true
		}
		return false
	}
	return true
}

// deliver makes the handler call for the next message, unless
// deactivation has begun. It owns fds.
func (r *reader) deliver(data []byte, fds []int) error {
	t := r.t
	if t.stopping.Load() {
		closeFDs(fds)
		return errStopped
	}
	d := t.d
	r.handles = r.handles[:0]
	if len(fds) > 0 {
		d.mu.Lock()
		for _, fd := range fds {
			r.handles = append(r.handles, d.insertLocked(&transmissible{fd: fd}))
		}
		d.mu.Unlock()
	}
	r.next++
	r.delivered = true
	if err := r.h(data, r.handles, 0); err != nil {
		// What ipcz did not consume of the rejected message is ours.
		d.closeHandles(r.handles)
		return errRejected
	}
	return nil
}
