package ipcz

import "sync/atomic"

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
