package ipcz

import (
	"encoding/binary"
	"fmt"
)

// NodeName identifies a node within its network: 128 random bits from the
// driver. The zero name is never assigned.
type NodeName struct{ High, Low uint64 }

// IsValid reports whether the name is not zero.
func (n NodeName) IsValid() bool { return n != NodeName{} }

func (n NodeName) String() string { return fmt.Sprintf("%016x%016x", n.High, n.Low) }

// less orders names; the node with the lower name takes side A when two
// brokers connect.
func (n NodeName) less(m NodeName) bool {
	return n.High < m.High || (n.High == m.High && n.Low < m.Low)
}

// randomNodeName asks the driver for a fresh nonzero name.
func randomNodeName(d Driver) (NodeName, error) {
	var b [16]byte
	for {
		if err := d.GenerateRandomBytes(b[:]); err != nil {
			return NodeName{}, err
		}
		n := NodeName{binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])}
		if n.IsValid() {
			return n, nil
		}
	}
}
