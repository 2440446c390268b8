package inprocess

import (
	"testing"

	"github.com/ipcz-go/ipcz-go/ipcz"
)

// fixture holds one object of every kind, closed at cleanup.
type fixture struct {
	d          *Driver
	ta, tb     ipcz.DriverHandle // idle pair, ta's node a broker
	mem        ipcz.DriverHandle
	mapping    ipcz.DriverHandle
	blob       ipcz.DriverHandle
	serialized ipcz.DriverHandle // a serialized blob
	closed     ipcz.DriverHandle // a handle that was valid once
	nop        ipcz.ActivityHandler
}

func newFixture(t *testing.T, d *Driver) *fixture {
	f := &fixture{d: d, nop: func([]byte, []ipcz.DriverHandle, ipcz.TransportActivityFlags) error { return nil }}
	f.ta, f.tb = d.NewTransportPair(true, false)
	var err error
	if f.mem, err = d.AllocateSharedMemory(64); err != nil {
		t.Fatal(err)
	}
	if f.mapping, _, err = d.MapSharedMemory(f.mem); err != nil {
		t.Fatal(err)
	}
	f.blob = d.NewBlob([]byte("blob"))
	_, f.serialized = serializeNew(t, d, d.NewBlob(nil), f.ta)
	f.closed = d.NewBlob(nil)
	if err := d.Close(f.closed); err != nil {
		t.Fatal(err)
	}
	closeLater(t, d, f.ta, f.tb, f.mem, f.mapping, f.blob, f.serialized)
	return f
}

// active activates h with a handler that ignores everything; closing h at
// cleanup makes the final call.
func (f *fixture) active(t *testing.T, h ipcz.DriverHandle) ipcz.DriverHandle {
	if err := f.d.ActivateTransport(h, f.nop); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestArgumentErrors checks the exact result of every argument error of
// every method, in every mode.
func TestArgumentErrors(t *testing.T) {
	const bogus = ipcz.DriverHandle(1 << 40)
	buf := func() ([]byte, []ipcz.DriverHandle) {
		return make([]byte, 64), make([]ipcz.DriverHandle, 4)
	}
	cases := []struct {
		name string
		want error
		call func(t *testing.T, f *fixture) error
	}{
		// Close
		{"Close/zero", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error { return f.d.Close(0) }},
		{"Close/unknown", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error { return f.d.Close(bogus) }},
		{"Close/closed", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error { return f.d.Close(f.closed) }},
		{"Close/twice", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			if err := f.d.Close(f.blob); err != nil {
				t.Fatal(err)
			}
			return f.d.Close(f.blob)
		}},

		// Serialize: the object is checked first.
		{"Serialize/zero", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			d, h := buf()
			_, _, err := f.d.Serialize(0, f.ta, d, h)
			return err
		}},
		{"Serialize/unknown", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			d, h := buf()
			_, _, err := f.d.Serialize(bogus, f.ta, d, h)
			return err
		}},
		{"Serialize/mapping", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			d, h := buf()
			_, _, err := f.d.Serialize(f.mapping, f.ta, d, h)
			return err
		}},
		{"Serialize/serialized", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			d, h := buf()
			_, _, err := f.d.Serialize(f.serialized, f.ta, d, h)
			return err
		}},
		{"Serialize/activeTransport", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			d, h := buf()
			_, _, err := f.d.Serialize(f.active(t, f.tb), f.ta, d, h)
			return err
		}},
		{"Serialize/unserializableWithoutTransport", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, _, err := f.d.Serialize(f.mapping, 0, nil, nil)
			return err
		}},
		{"Serialize/bogusTransport", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			d, h := buf()
			_, _, err := f.d.Serialize(f.blob, bogus, d, h)
			return err
		}},
		{"Serialize/memoryAsTransport", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			d, h := buf()
			_, _, err := f.d.Serialize(f.blob, f.mem, d, h)
			return err
		}},

		// Deserialize
		{"Deserialize/zeroTransport", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, err := f.d.Deserialize([]byte{3, 0, 0, 0, 0, 0, 0, 0}, []ipcz.DriverHandle{f.serialized}, 0)
			return err
		}},
		{"Deserialize/memoryAsTransport", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, err := f.d.Deserialize([]byte{3, 0, 0, 0, 0, 0, 0, 0}, []ipcz.DriverHandle{f.serialized}, f.mem)
			return err
		}},
		{"Deserialize/notSerialized", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, err := f.d.Deserialize([]byte{3, 0, 0, 0, 0, 0, 0, 0}, []ipcz.DriverHandle{f.blob}, f.tb)
			return err
		}},

		// CreateTransports
		{"CreateTransports/zero0", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, _, err := f.d.CreateTransports(0, f.ta)
			return err
		}},
		{"CreateTransports/zero1", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, _, err := f.d.CreateTransports(f.ta, 0)
			return err
		}},
		{"CreateTransports/memory", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, _, err := f.d.CreateTransports(f.ta, f.mem)
			return err
		}},
		{"CreateTransports/closed", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, _, err := f.d.CreateTransports(f.closed, f.ta)
			return err
		}},

		// ActivateTransport
		{"ActivateTransport/zero", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			return f.d.ActivateTransport(0, f.nop)
		}},
		{"ActivateTransport/memory", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			return f.d.ActivateTransport(f.mem, f.nop)
		}},
		{"ActivateTransport/serialized", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			return f.d.ActivateTransport(f.serialized, f.nop)
		}},
		{"ActivateTransport/nilHandler", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			return f.d.ActivateTransport(f.ta, nil)
		}},
		{"ActivateTransport/twice", ipcz.FailedPrecondition, func(t *testing.T, f *fixture) error {
			return f.d.ActivateTransport(f.active(t, f.ta), f.nop)
		}},
		{"ActivateTransport/afterDeactivation", ipcz.FailedPrecondition, func(t *testing.T, f *fixture) error {
			if err := f.d.DeactivateTransport(f.active(t, f.ta)); err != nil {
				t.Fatal(err)
			}
			return f.d.ActivateTransport(f.ta, f.nop)
		}},

		// DeactivateTransport
		{"DeactivateTransport/zero", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			return f.d.DeactivateTransport(0)
		}},
		{"DeactivateTransport/blob", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			return f.d.DeactivateTransport(f.blob)
		}},
		{"DeactivateTransport/idle", ipcz.FailedPrecondition, func(t *testing.T, f *fixture) error {
			return f.d.DeactivateTransport(f.ta)
		}},
		{"DeactivateTransport/twiceIsNoop", nil, func(t *testing.T, f *fixture) error {
			if err := f.d.DeactivateTransport(f.active(t, f.ta)); err != nil {
				t.Fatal(err)
			}
			return f.d.DeactivateTransport(f.ta)
		}},

		// Transmit
		{"Transmit/zero", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			return f.d.Transmit(0, []byte("x"), nil)
		}},
		{"Transmit/mapping", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			return f.d.Transmit(f.mapping, []byte("x"), nil)
		}},
		{"Transmit/zeroHandle", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			return f.d.Transmit(f.ta, nil, []ipcz.DriverHandle{0})
		}},
		{"Transmit/unserializedHandle", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			return f.d.Transmit(f.ta, nil, []ipcz.DriverHandle{f.blob})
		}},
		{"Transmit/duplicateHandle", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			return f.d.Transmit(f.ta, nil, []ipcz.DriverHandle{f.serialized, f.serialized})
		}},
		{"Transmit/afterDeactivation", ipcz.FailedPrecondition, func(t *testing.T, f *fixture) error {
			if err := f.d.DeactivateTransport(f.active(t, f.ta)); err != nil {
				t.Fatal(err)
			}
			return f.d.Transmit(f.ta, []byte("x"), nil)
		}},
		{"Transmit/closedPeer", ipcz.Unavailable, func(t *testing.T, f *fixture) error {
			if err := f.d.Close(f.tb); err != nil {
				t.Fatal(err)
			}
			return f.d.Transmit(f.ta, []byte("x"), nil)
		}},
		{"Transmit/idleSenderIsFine", nil, func(t *testing.T, f *fixture) error {
			return f.d.Transmit(f.ta, []byte("x"), nil)
		}},

		// ReportBadTransportActivity
		{"ReportBadTransportActivity/zero", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			return f.d.ReportBadTransportActivity(0, 1)
		}},
		{"ReportBadTransportActivity/memory", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			return f.d.ReportBadTransportActivity(f.mem, 1)
		}},

		// AllocateSharedMemory
		{"AllocateSharedMemory/zero", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, err := f.d.AllocateSharedMemory(0)
			return err
		}},
		{"AllocateSharedMemory/negative", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, err := f.d.AllocateSharedMemory(-1)
			return err
		}},
		{"AllocateSharedMemory/tooLarge", ipcz.ResourceExhausted, func(t *testing.T, f *fixture) error {
			_, err := f.d.AllocateSharedMemory(MaxSharedMemoryBytes + 1)
			return err
		}},

		// GetSharedMemoryInfo, DuplicateSharedMemory, MapSharedMemory
		{"GetSharedMemoryInfo/zero", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, err := f.d.GetSharedMemoryInfo(0)
			return err
		}},
		{"GetSharedMemoryInfo/mapping", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, err := f.d.GetSharedMemoryInfo(f.mapping)
			return err
		}},
		{"GetSharedMemoryInfo/transport", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, err := f.d.GetSharedMemoryInfo(f.ta)
			return err
		}},
		{"DuplicateSharedMemory/zero", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, err := f.d.DuplicateSharedMemory(0)
			return err
		}},
		{"DuplicateSharedMemory/mapping", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, err := f.d.DuplicateSharedMemory(f.mapping)
			return err
		}},
		{"DuplicateSharedMemory/blob", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, err := f.d.DuplicateSharedMemory(f.blob)
			return err
		}},
		{"MapSharedMemory/zero", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, _, err := f.d.MapSharedMemory(0)
			return err
		}},
		{"MapSharedMemory/mapping", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, _, err := f.d.MapSharedMemory(f.mapping)
			return err
		}},
		{"MapSharedMemory/serializedMemory", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			m, err := f.d.AllocateSharedMemory(8)
			if err != nil {
				t.Fatal(err)
			}
			_, s := serializeNew(t, f.d, m, f.ta)
			closeLater(t, f.d, s)
			_, _, err = f.d.MapSharedMemory(s)
			return err
		}},

		// Blobs
		{"BlobBytes/zero", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, err := f.d.BlobBytes(0)
			return err
		}},
		{"BlobBytes/memory", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, err := f.d.BlobBytes(f.mem)
			return err
		}},
		{"BlobBytes/serialized", ipcz.InvalidArgument, func(t *testing.T, f *fixture) error {
			_, err := f.d.BlobBytes(f.serialized)
			return err
		}},
	}
	forEachMode(t, func(t *testing.T, d *Driver) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				f := newFixture(t, d)
				wantErr(t, c.name, c.call(t, f), c.want)
			})
		}
	})
}

// TestErrorsAreResults checks that errors are bare Results that ResultOf
// maps back, never OK.
func TestErrorsAreResults(t *testing.T) {
	d := newDriver(t, Sync)
	err := d.Close(12345)
	if r, ok := err.(ipcz.Result); !ok || r != ipcz.InvalidArgument || ipcz.ResultOf(err) != ipcz.InvalidArgument {
		t.Fatalf("Close(bogus) = %#v", err)
	}
}

func TestNewPanicsOnUnknownMode(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New(99) did not panic")
		}
	}()
	New(Mode(99))
}

func TestModeString(t *testing.T) {
	for m, want := range map[Mode]string{
		Sync: "Sync", Async: "Async", AsyncDelegatedAlloc: "AsyncDelegatedAlloc",
		AsyncForcedBrokering: "AsyncForcedBrokering", Mode(7): "Mode(7)",
	} {
		if got := m.String(); got != want {
			t.Errorf("Mode(%d).String() = %q, want %q", int(m), got, want)
		}
	}
}
