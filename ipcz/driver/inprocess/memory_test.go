package inprocess

import (
	"bytes"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/ipcz-go/ipcz-go/ipcz"
)

// TestMemoryLifetimes checks allocation, duplication and mapping, and that
// mappings outlive every memory handle.
func TestMemoryLifetimes(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		for _, size := range []int{1, 7, 8, 100, 4096} {
			m, err := d.AllocateSharedMemory(size)
			if err != nil {
				t.Fatal(err)
			}
			info, err := d.GetSharedMemoryInfo(m)
			if err != nil || info.RegionNumBytes != size {
				t.Fatalf("info = %+v, %v; want %d bytes", info, err, size)
			}
			dup, err := d.DuplicateSharedMemory(m)
			if err != nil || dup == m {
				t.Fatalf("Duplicate = %d, %v", dup, err)
			}
			if info, err := d.GetSharedMemoryInfo(dup); err != nil || info.RegionNumBytes != size {
				t.Fatalf("dup info = %+v, %v", info, err)
			}
			map1, b1, err := d.MapSharedMemory(m)
			if err != nil {
				t.Fatal(err)
			}
			if len(b1) != size || cap(b1) != size || !bytes.Equal(b1, make([]byte, size)) {
				t.Fatalf("mapping: len %d cap %d, zeroed %v", len(b1), cap(b1), bytes.Equal(b1, make([]byte, size)))
			}
			// Close the original before mapping the duplicate.
			wantErr(t, "Close(memory)", d.Close(m), nil)
			wantErr(t, "Map(closed)", func() error { _, _, err := d.MapSharedMemory(m); return err }(), ipcz.InvalidArgument)
			map2, b2, err := d.MapSharedMemory(dup)
			if err != nil {
				t.Fatal(err)
			}
			wantErr(t, "Close(dup)", d.Close(dup), nil)
			if got := d.LiveObjects(); got.Memories != 0 || got.Mappings != 2 {
				t.Fatalf("objects %+v", got)
			}
			// Both mappings still show the same bytes.
			b1[size-1] = 0x5A
			if b2[size-1] != 0x5A {
				t.Fatal("mappings of one region differ")
			}
			wantErr(t, "Close(map1)", d.Close(map1), nil)
			b2[0] = 0xA5
			wantErr(t, "Close(map2)", d.Close(map2), nil)
			wantErr(t, "Close(map2) again", d.Close(map2), ipcz.InvalidArgument)
		}
		if got := d.AllocationCount(); got != 5 {
			t.Errorf("AllocationCount = %d, want 5", got)
		}
	})
}

// TestMemoryAtomics uses 64-bit atomics on every 8-byte word of a region,
// which needs 8-byte alignment.
func TestMemoryAtomics(t *testing.T) {
	d := newDriver(t, Sync)
	m, err := d.AllocateSharedMemory(64)
	if err != nil {
		t.Fatal(err)
	}
	mp, b, err := d.MapSharedMemory(m)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, d, m, mp)
	for i := 0; i < len(b); i += 8 {
		w := wordAt(b, i)
		if w.Add(uint64(i)+1) != uint64(i)+1 {
			t.Fatal("word not zero")
		}
	}
	if b[0] != 1 || b[8] != 9 {
		t.Fatalf("atomics did not write the region: %v", b[:16])
	}
}

// TestAllocationCounts checks per-node counting through NodeDriver views.
func TestAllocationCounts(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		broker, client := d.ForNode("broker"), d.ForNode("client")
		var _ ipcz.Driver = broker
		if broker.Name() != "broker" || broker.Driver() != d {
			t.Fatal("view does not describe itself")
		}
		for range 3 {
			m, err := broker.AllocateSharedMemory(16)
			if err != nil {
				t.Fatal(err)
			}
			closeLater(t, d, m)
		}
		if _, err := client.AllocateSharedMemory(0); err != ipcz.InvalidArgument {
			t.Fatalf("client: %v", err)
		}
		if broker.AllocationCount() != 3 || client.AllocationCount() != 0 || d.AllocationCount() != 3 {
			t.Fatalf("counts: broker %d, client %d, total %d",
				broker.AllocationCount(), client.AllocationCount(), d.AllocationCount())
		}
	})
}

// TestNodeDriverForwards runs one round trip entirely through two views.
func TestNodeDriverForwards(t *testing.T) {
	forEachMode(t, func(t *testing.T, d *Driver) {
		na, nb := d.ForNode("a"), d.ForNode("b")
		x, y := d.NewTransportPair(true, false)
		var rx, ry recorder
		got := make(chan ipcz.DriverHandle, 1)
		ry.onMessage = func(data []byte, hs []ipcz.DriverHandle) error {
			h, err := nb.Deserialize(data, hs, y)
			if err == nil {
				got <- h
			}
			return err
		}
		wantErr(t, "Activate x", na.ActivateTransport(x, rx.handle), nil)
		wantErr(t, "Activate y", nb.ActivateTransport(y, ry.handle), nil)
		m, err := na.AllocateSharedMemory(8)
		if err != nil {
			t.Fatal(err)
		}
		dup, err := na.DuplicateSharedMemory(m)
		if err != nil {
			t.Fatal(err)
		}
		wantErr(t, "Close", na.Close(dup), nil)
		if info, err := na.GetSharedMemoryInfo(m); err != nil || info.RegionNumBytes != 8 {
			t.Fatalf("info %+v %v", info, err)
		}
		data, hs := make([]byte, 8), make([]ipcz.DriverHandle, 1)
		if _, _, err := na.Serialize(m, x, data, hs); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "Transmit", na.Transmit(x, data, hs), nil)
		h := <-got
		mp, _, err := nb.MapSharedMemory(h)
		if err != nil {
			t.Fatal(err)
		}
		n0, n1, err := na.CreateTransports(x, x)
		if err != nil {
			t.Fatal(err)
		}
		wantErr(t, "Report", nb.ReportBadTransportActivity(y, 7), nil)
		wantErr(t, "Random", nb.GenerateRandomBytes(make([]byte, 4)), nil)
		wantErr(t, "Deactivate x", na.DeactivateTransport(x), nil)
		wantErr(t, "Deactivate y", nb.DeactivateTransport(y), nil)
		waitFor(t, "final calls", func() bool { return rx.deactivated() && ry.deactivated() })
		for _, h := range []ipcz.DriverHandle{x, y, h, mp, n0, n1} {
			wantErr(t, "Close", nb.Close(h), nil)
		}
		if r := d.BadActivityReports(); len(r) != 1 || r[0].Node != "b" {
			t.Errorf("reports %+v", r)
		}
	})
}

// TestBadActivityReports checks recording and the hook.
func TestBadActivityReports(t *testing.T) {
	d := newDriver(t, Async)
	a, b := d.NewTransportPair(false, false)
	closeLater(t, d, a, b)
	var hooked atomic.Int32
	d.SetBadActivityHook(func(r BadActivityReport) {
		hooked.Add(1)
		// The hook may call back into the driver.
		if _, err := d.GetSharedMemoryInfo(r.Transport); err != ipcz.InvalidArgument {
			t.Errorf("GetSharedMemoryInfo in hook: %v", err)
		}
	})
	wantErr(t, "report a", d.ReportBadTransportActivity(a, 1), nil)
	wantErr(t, "report b", d.ForNode("n").ReportBadTransportActivity(b, ^uintptr(0)), nil)
	wantErr(t, "report bogus", d.ReportBadTransportActivity(99999, 3), ipcz.InvalidArgument)
	d.SetBadActivityHook(nil)
	wantErr(t, "report a again", d.ReportBadTransportActivity(a, 4), nil)
	want := []BadActivityReport{{"", a, 1}, {"n", b, ^uintptr(0)}, {"", a, 4}}
	if got := d.BadActivityReports(); !slices.Equal(got, want) {
		t.Errorf("reports %+v, want %+v", got, want)
	}
	if hooked.Load() != 2 {
		t.Errorf("hook called %d times, want 2", hooked.Load())
	}
}

func TestGenerateRandomBytes(t *testing.T) {
	d := newDriver(t, Sync)
	wantErr(t, "empty", d.GenerateRandomBytes(nil), nil)
	b1, b2 := make([]byte, 32), make([]byte, 32)
	wantErr(t, "b1", d.GenerateRandomBytes(b1), nil)
	wantErr(t, "b2", d.GenerateRandomBytes(b2), nil)
	if bytes.Equal(b1, b2) || bytes.Equal(b1, make([]byte, 32)) {
		t.Errorf("not random: %x %x", b1, b2)
	}
}

// TestBlobs checks NewBlob's copy and BlobBytes's copy.
func TestBlobs(t *testing.T) {
	d := newDriver(t, Sync)
	src := []byte("abc")
	h := d.NewBlob(src)
	closeLater(t, d, h)
	src[0] = 'X'
	got, err := d.BlobBytes(h)
	if err != nil || string(got) != "abc" {
		t.Fatalf("BlobBytes = %q, %v", got, err)
	}
	got[1] = 'Y'
	if again, _ := d.BlobBytes(h); string(again) != "abc" {
		t.Fatalf("blob changed through BlobBytes result: %q", again)
	}
	empty := d.NewBlob(nil)
	closeLater(t, d, empty)
	if b, err := d.BlobBytes(empty); err != nil || len(b) != 0 {
		t.Fatalf("empty blob: %q, %v", b, err)
	}
	if c := d.LiveObjects(); c.Blobs != 2 || c.Total() != 2 {
		t.Fatalf("LiveObjects %+v", c)
	}
}
