package multiprocess

import (
	"errors"
	"testing"

	"github.com/ipcz-go/ipcz-go/internal/shm"
	"github.com/ipcz-go/ipcz-go/ipcz"
	"golang.org/x/sys/unix"
)

var _ ipcz.SharedMemoryFileDescriptorDriver = (*Driver)(nil)

func TestWrapAndUnwrapSharedMemoryFileDescriptor(t *testing.T) {
	d := New()
	r, err := shm.Create("test", 4096)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := r.Release()
	if err != nil {
		t.Fatal(err)
	}
	// Too small a size claim is refused and the fd stays the caller's.
	if _, err := d.WrapSharedMemoryFileDescriptor(fd, 8192, false); !errors.Is(err, ipcz.InvalidArgument) {
		t.Fatalf("oversized wrap: %v", err)
	}
	mem, err := d.WrapSharedMemoryFileDescriptor(fd, 4096, false)
	if err != nil {
		t.Fatal(err)
	}
	mapping, b, err := d.MapSharedMemory(mem)
	if err != nil {
		t.Fatal(err)
	}
	copy(b, "shared")
	fd2, err := d.UnwrapSharedMemoryFileDescriptor(mem)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.UnwrapSharedMemoryFileDescriptor(mem); !errors.Is(err, ipcz.InvalidArgument) {
		t.Fatalf("second unwrap: %v", err)
	}
	// The fd taken out is the same region, and can be wrapped read-only.
	ro, err := d.WrapSharedMemoryFileDescriptor(fd2, 4096, true)
	if err != nil {
		t.Fatal(err)
	}
	readOnly, err := d.IsSharedMemoryReadOnly(ro)
	if err != nil || !readOnly {
		t.Fatalf("read-only: %v %v", readOnly, err)
	}
	roFD, err := d.UnwrapSharedMemoryFileDescriptor(ro)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Mmap(roFD, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err == nil {
		t.Fatal("a read-only region mapped writable")
	}
	view, err := unix.Mmap(roFD, 0, 4096, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	if string(view[:6]) != "shared" {
		t.Fatalf("read %q", view[:6])
	}
	unix.Munmap(view)
	unix.Close(roFD)
	if err := d.Close(mapping); err != nil {
		t.Fatal(err)
	}
	// A descriptor that is not a sealed memfd is refused.
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	if _, err := d.WrapSharedMemoryFileDescriptor(p[0], 1, false); !errors.Is(err, ipcz.InvalidArgument) {
		t.Fatalf("pipe: %v", err)
	}
}
