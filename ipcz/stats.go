package ipcz

import (
	"fmt"
	"sync/atomic"
)

// NodeStats is a snapshot of a node's links and traffic, for tests and
// debugging.
type NodeStats struct {
	// Links is the number of established links to other nodes.
	Links int
	// LinkedNodes are the names of those nodes.
	LinkedNodes []NodeName
	// RemoteRouters counts the routers on this node that have a link to
	// another node, and Proxies those of them that only forward for a
	// portal that moved away.
	RemoteRouters int
	Proxies       int
	// ParcelsSent counts parcels sent to other nodes; ParcelBytesInline
	// and ParcelBytesShared split their data bytes by whether they went in
	// the message or through the node pair's shared memory.
	ParcelsSent       uint64
	ParcelBytesInline uint64
	ParcelBytesShared uint64
	// ParcelsReceived counts parcels received from other nodes.
	ParcelsReceived uint64
}

// nodeCounters are a node's traffic counters. Atomics.
type nodeCounters struct {
	parcelsSent       atomic.Uint64
	parcelBytesInline atomic.Uint64
	parcelBytesShared atomic.Uint64
	parcelsReceived   atomic.Uint64
}

// Stats returns a snapshot of the node's links and traffic.
func (n *Node) Stats() NodeStats {
	n.mu.Lock()
	links := make([]*NodeLink, 0, len(n.links))
	s := NodeStats{Links: len(n.links)}
	for name, l := range n.links {
		links = append(links, l)
		s.LinkedNodes = append(s.LinkedNodes, name)
	}
	n.mu.Unlock()
	routers := make(map[*Router]bool)
	for _, l := range links {
		l.mu.Lock()
		for _, rl := range l.sublinks {
			routers[rl.router] = true
		}
		l.mu.Unlock()
	}
	s.RemoteRouters = len(routers)
	for r := range routers {
		r.mu.Lock()
		if r.inward != nil {
			s.Proxies++
		}
		r.mu.Unlock()
	}
	s.ParcelsSent = n.counters.parcelsSent.Load()
	s.ParcelBytesInline = n.counters.parcelBytesInline.Load()
	s.ParcelBytesShared = n.counters.parcelBytesShared.Load()
	s.ParcelsReceived = n.counters.parcelsReceived.Load()
	return s
}

// DescribeRouters returns one line per router on this node that has a link
// to another node, describing its edges and state, for debugging.
func (n *Node) DescribeRouters() []string {
	n.mu.Lock()
	links := make([]*NodeLink, 0, len(n.links))
	for _, l := range n.links {
		links = append(links, l)
	}
	n.mu.Unlock()
	routers := make(map[*Router]bool)
	for _, l := range links {
		l.mu.Lock()
		for _, rl := range l.sublinks {
			routers[rl.router] = true
		}
		l.mu.Unlock()
	}
	var out []string
	for r := range routers {
		out = append(out, r.describe())
	}
	return out
}

// describe summarizes the router for debugging.
func (r *Router) describe() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	edge := func(e *routeEdge) string {
		if e == nil {
			return "-"
		}
		return fmt.Sprintf("{primary %s decaying %s to %d/%v from %d/%v}",
			describeLink(e.primary), describeLink(e.decaying),
			e.lengthToDecaying, e.hasLengthToDecaying, e.lengthFromDecaying, e.hasLengthFromDecaying)
	}
	return fmt.Sprintf("router %d: outward %s inward %s bridge %s in[base %d avail %d final %d/%v] out[base %d avail %d final %d/%v] closed %v bypassing %v/%v/%v",
		r.id, edge(&r.outward), edge(r.inward), edge(r.bridge),
		r.inbound.base, r.inbound.available, r.inbound.finalLength, r.inbound.hasFinalLength,
		r.outbound.base, r.outbound.available, r.outbound.finalLength, r.outbound.hasFinalLength,
		r.portalClosed, r.bypassing, r.bypassCommitted, r.bypassAbandoned)
}

func describeLink(l routerLink) string {
	if l == nil {
		return "nil"
	}
	where := "local"
	if rl, ok := l.(*remoteLink); ok {
		where = fmt.Sprintf("remote(%s sublink %d)", rl.nodeLink.RemoteName().String()[:8], rl.sublink)
	} else if p := l.localPeer(); p != nil {
		where = fmt.Sprintf("local(router %d)", p.id)
	}
	status := "nostate"
	if st := l.state(); st != nil {
		status = fmt.Sprintf("status %#x", st.status.Load())
	}
	return fmt.Sprintf("%s type %d side %d %s", where, l.linkType(), l.side(), status)
}
