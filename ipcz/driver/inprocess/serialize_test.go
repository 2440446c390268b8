package inprocess

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/ipcz-go/ipcz-go/ipcz"
)

// serializable makes one object of each serializable kind.
var serializable = []struct {
	name string
	kind kind
	make func(t *testing.T, d *Driver) ipcz.DriverHandle
}{
	{"transport", kindTransport, func(t *testing.T, d *Driver) ipcz.DriverHandle {
		a, b := d.NewTransportPair(false, false)
		closeLater(t, d, b)
		return a
	}},
	{"memory", kindMemory, func(t *testing.T, d *Driver) ipcz.DriverHandle {
		m, err := d.AllocateSharedMemory(16)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}},
	{"blob", kindBlob, func(t *testing.T, d *Driver) ipcz.DriverHandle { return d.NewBlob([]byte("b")) }},
}

const fill = 0xEE
const fillHandle = ipcz.DriverHandle(0xEEEE)

func filled(n int) []byte { return bytes.Repeat([]byte{fill}, n) }

func filledHandles(n int) []ipcz.DriverHandle {
	hs := make([]ipcz.DriverHandle, n)
	for i := range hs {
		hs[i] = fillHandle
	}
	return hs
}

// TestSerializeTwoPass checks the capacity rules of ipcz.h: exact sizes
// with ResourceExhausted and nothing written when either buffer is too
// small, then success, after which the driver owns the object.
func TestSerializeTwoPass(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		x, y := d.NewTransportPair(true, false)
		closeLater(t, d, x, y)
		for _, s := range serializable {
			t.Run(s.name, func(t *testing.T) {
				h := s.make(t, d)
				closeLater(t, d, h)
				for _, c := range []struct {
					name       string
					data       []byte
					handles    []ipcz.DriverHandle
					wantResult error
				}{
					{"nil", nil, nil, ipcz.ResourceExhausted},
					{"noHandles", filled(64), nil, ipcz.ResourceExhausted},
					{"shortData", filled(SerializedNumBytes - 1), filledHandles(4), ipcz.ResourceExhausted},
					{"noData", nil, filledHandles(4), ipcz.ResourceExhausted},
				} {
					nb, nh, err := d.Serialize(h, x, c.data, c.handles)
					wantErr(t, c.name, err, c.wantResult)
					if nb != SerializedNumBytes || nh != SerializedNumHandles {
						t.Errorf("%s: sizes %d, %d; want %d, %d", c.name, nb, nh, SerializedNumBytes, SerializedNumHandles)
					}
					if !bytes.Equal(c.data, filled(len(c.data))) || !slices.Equal(c.handles, filledHandles(len(c.handles))) {
						t.Errorf("%s: buffers were written", c.name)
					}
				}
				// The object is still ours after the failed passes.
				if d.mu.Lookup(h) == nil {
					t.Fatal("object consumed by a failed Serialize")
				}

				data, hs := filled(SerializedNumBytes+3), filledHandles(SerializedNumHandles+2)
				nb, nh, err := d.Serialize(h, x, data, hs)
				if err != nil || nb != SerializedNumBytes || nh != SerializedNumHandles {
					t.Fatalf("Serialize = %d, %d, %v", nb, nh, err)
				}
				if got := binary.LittleEndian.Uint32(data); got != uint32(s.kind) {
					t.Errorf("kind word %d, want %d", got, s.kind)
				}
				if got := binary.LittleEndian.Uint32(data[4:]); got != 0 {
					t.Errorf("reserved word %d", got)
				}
				if !bytes.Equal(data[SerializedNumBytes:], filled(3)) || !slices.Equal(hs[1:], filledHandles(2)) {
					t.Error("wrote past the serialized form")
				}
				if hs[0] == 0 || hs[0] == h {
					t.Errorf("serialized handle %d (object was %d)", hs[0], h)
				}
				// Ownership passed to the driver.
				wantErr(t, "Close(original)", d.Close(h), ipcz.InvalidArgument)
				if got := d.LiveObjects().Serialized; got != 1 {
					t.Errorf("%d serialized objects, want 1", got)
				}
				got, err := d.Deserialize(data[:nb], hs[:nh], y)
				if err != nil {
					t.Fatalf("Deserialize: %v", err)
				}
				if k := d.mu.Lookup(got).kind(); k != s.kind {
					t.Errorf("deserialized kind %d, want %d", k, s.kind)
				}
				wantErr(t, "Close(deserialized)", d.Close(got), nil)
			})
		}
	})
}

// TestSerializeWithoutTransport checks probing with no transport: Aborted
// with forced brokering, otherwise the transport does not matter.
func TestSerializeWithoutTransport(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		for _, s := range serializable {
			h := s.make(t, d)
			closeLater(t, d, h)
			nb, nh, err := d.Serialize(h, 0, nil, nil)
			if d.Mode() == AsyncForcedBrokering {
				if err != ipcz.Aborted || nb != 0 || nh != 0 {
					t.Errorf("%s: got %d, %d, %v; want 0, 0, Aborted", s.name, nb, nh, err)
				}
				continue
			}
			if err != ipcz.ResourceExhausted || nb != SerializedNumBytes || nh != SerializedNumHandles {
				t.Errorf("%s: probe got %d, %d, %v", s.name, nb, nh, err)
			}
			data, hs := serializeNew(t, d, h, 0)
			x, y := d.NewTransportPair(false, false)
			closeLater(t, d, x, y)
			got, err := d.Deserialize(data, []ipcz.DriverHandle{hs}, y)
			if err != nil {
				t.Fatalf("%s: Deserialize: %v", s.name, err)
			}
			closeLater(t, d, got)
		}
	})
}

// TestForcedBrokering checks Serialize's answers in AsyncForcedBrokering
// mode over transports between brokers and non-brokers, including those
// made by CreateTransports, and that the other modes never refuse.
func TestForcedBrokering(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		forced := d.Mode() == AsyncForcedBrokering
		nbA, nbB := d.NewTransportPair(false, false) // non-broker ↔ non-broker
		brA, brB := d.NewTransportPair(true, false)  // broker ↔ non-broker
		bbA, bbB := d.NewTransportPair(true, true)   // broker ↔ broker
		closeLater(t, d, nbA, nbB, brA, brB, bbA, bbB)

		// A broker B with links to non-brokers A and C introduces them.
		bToA, aToB := d.NewTransportPair(true, false)
		bToC, cToB := d.NewTransportPair(true, false)
		closeLater(t, d, bToA, aToB, bToC, cToB)
		forA, forC, err := d.CreateTransports(bToA, bToC)
		if err != nil {
			t.Fatal(err)
		}
		closeLater(t, d, forA, forC)
		// Non-broker A introduced to broker B2 by C's side of a link.
		xToB2, b2ToX := d.NewTransportPair(false, true)
		closeLater(t, d, xToB2, b2ToX)
		forB2, forA2, err := d.CreateTransports(xToB2, bToA)
		if err != nil {
			t.Fatal(err)
		}
		closeLater(t, d, forB2, forA2)

		denied := ipcz.PermissionDenied
		if !forced {
			denied = ipcz.ResourceExhausted
		}
		for _, c := range []struct {
			name      string
			transport ipcz.DriverHandle
			want      error // for a probe with no buffers
		}{
			{"nonBroker/a", nbA, denied},
			{"nonBroker/b", nbB, denied},
			{"broker/brokerEnd", brA, ipcz.ResourceExhausted},
			{"broker/nonBrokerEnd", brB, ipcz.ResourceExhausted},
			{"brokers", bbA, ipcz.ResourceExhausted},
			{"introduced/A", forA, denied},
			{"introduced/C", forC, denied},
			{"introducedToBroker/B2", forB2, ipcz.ResourceExhausted},
			{"introducedToBroker/A", forA2, ipcz.ResourceExhausted},
			{"newTransportOverBrokerLink", bToA, ipcz.ResourceExhausted},
		} {
			for _, s := range serializable {
				h := s.make(t, d)
				closeLater(t, d, h)
				nb, nh, err := d.Serialize(h, c.transport, nil, nil)
				wantErr(t, c.name+"/"+s.name, err, c.want)
				if err == ipcz.PermissionDenied && (nb != 0 || nh != 0) {
					t.Errorf("%s/%s: sizes %d, %d with PermissionDenied", c.name, s.name, nb, nh)
				}
				// With room, the object goes exactly when the probe says so.
				data, hs := make([]byte, 8), make([]ipcz.DriverHandle, 1)
				_, _, err = d.Serialize(h, c.transport, data, hs)
				if c.want == ipcz.ResourceExhausted {
					wantErr(t, c.name+"/"+s.name+"/full", err, nil)
					closeLater(t, d, hs[0])
				} else {
					wantErr(t, c.name+"/"+s.name+"/full", err, c.want)
				}
			}
		}
		// The introduced transports themselves go over the broker's links.
		if _, _, err := d.Serialize(forA, bToA, nil, nil); err != ipcz.ResourceExhausted {
			t.Errorf("probe of new transport over broker link: %v", err)
		}
	})
}

// TestDeserializeValidation feeds Deserialize malformed inputs; nothing is
// consumed until a well-formed one succeeds, once.
func TestDeserializeValidation(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		x, y := d.NewTransportPair(true, false)
		closeLater(t, d, x, y)
		mem, err := d.AllocateSharedMemory(8)
		if err != nil {
			t.Fatal(err)
		}
		blobData, sBlob := serializeNew(t, d, d.NewBlob([]byte("z")), x)
		closeLater(t, d, mem, sBlob)
		word := func(k, r uint32) []byte {
			return binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, k), r)
		}
		for _, c := range []struct {
			name      string
			data      []byte
			handles   []ipcz.DriverHandle
			transport ipcz.DriverHandle
		}{
			{"noData", nil, []ipcz.DriverHandle{sBlob}, y},
			{"short", blobData[:7], []ipcz.DriverHandle{sBlob}, y},
			{"long", append(slices.Clone(blobData), 0), []ipcz.DriverHandle{sBlob}, y},
			{"kind0", word(0, 0), []ipcz.DriverHandle{sBlob}, y},
			{"kindMapping", word(uint32(kindMapping), 0), []ipcz.DriverHandle{sBlob}, y},
			{"kindSerialized", word(uint32(kindSerialized), 0), []ipcz.DriverHandle{sBlob}, y},
			{"kindHuge", word(1<<31|uint32(kindBlob), 0), []ipcz.DriverHandle{sBlob}, y},
			{"reserved", word(uint32(kindBlob), 1), []ipcz.DriverHandle{sBlob}, y},
			{"kindMismatch", word(uint32(kindMemory), 0), []ipcz.DriverHandle{sBlob}, y},
			{"noHandles", blobData, nil, y},
			{"twoHandles", blobData, []ipcz.DriverHandle{sBlob, sBlob}, y},
			{"zeroHandle", blobData, []ipcz.DriverHandle{0}, y},
			{"unknownHandle", blobData, []ipcz.DriverHandle{1 << 40}, y},
			{"unserializedHandle", word(uint32(kindMemory), 0), []ipcz.DriverHandle{mem}, y},
			{"zeroTransport", blobData, []ipcz.DriverHandle{sBlob}, 0},
			{"memoryTransport", blobData, []ipcz.DriverHandle{sBlob}, mem},
		} {
			h, err := d.Deserialize(c.data, c.handles, c.transport)
			if err != ipcz.InvalidArgument || h != 0 {
				t.Errorf("%s: got %d, %v; want 0, InvalidArgument", c.name, h, err)
			}
		}
		if got := d.LiveObjects(); got.Serialized != 1 || got.Memories != 1 {
			t.Fatalf("objects consumed by failed calls: %+v", got)
		}
		h, err := d.Deserialize(blobData, []ipcz.DriverHandle{sBlob}, y)
		if err != nil {
			t.Fatal(err)
		}
		closeLater(t, d, h)
		if b, err := d.BlobBytes(h); err != nil || string(b) != "z" {
			t.Errorf("BlobBytes = %q, %v", b, err)
		}
		if _, err := d.Deserialize(blobData, []ipcz.DriverHandle{sBlob}, y); err != ipcz.InvalidArgument {
			t.Errorf("second Deserialize: %v", err)
		}
	})
}

// FuzzDeserialize checks that Deserialize never panics and only succeeds
// on the one well-formed input.
func FuzzDeserialize(f *testing.F) {
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 0}, uint8(0), uint8(1))
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0}, uint8(1), uint8(1))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0}, uint8(2), uint8(1))
	f.Add([]byte{3, 0, 0, 0, 1, 0, 0, 0}, uint8(0), uint8(2))
	f.Add([]byte{}, uint8(3), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, pick, n uint8) {
		d := New(Sync)
		x, y := d.NewTransportPair(true, false)
		mem, _ := d.AllocateSharedMemory(8)
		_, sBlob := serializeNew(t, d, d.NewBlob(nil), x)
		_, sMem := serializeNew(t, d, mem, x)
		a, _ := d.NewTransportPair(false, false)
		_, sTransport := serializeNew(t, d, a, x)
		pool := []ipcz.DriverHandle{sBlob, sMem, sTransport, x, y, 0, 1 << 40}
		var hs []ipcz.DriverHandle
		for i := range int(n % 4) {
			hs = append(hs, pool[(int(pick)+i)%len(pool)])
		}
		h, err := d.Deserialize(data, hs, y)
		if err != nil {
			if h != 0 || err != ipcz.InvalidArgument {
				t.Fatalf("got %d, %v", h, err)
			}
			return
		}
		if len(data) != 8 || len(hs) != 1 {
			t.Fatalf("accepted %x with %d handles", data, len(hs))
		}
		if uint32(d.mu.Lookup(h).kind()) != binary.LittleEndian.Uint32(data) {
			t.Fatal("kind mismatch accepted")
		}
	})
}
