package shm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ipcz-go/ipcz-go/internal/leakcheck"
	"golang.org/x/sys/unix"
)

// childEnv selects a helper-process role when the test binary is re-run
// as a child (see TestMain).
const childEnv = "SHM_TEST_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role))
	}
	// Warm up anything the runtime opens lazily (the poller's epoll fd)
	// so that fd counts taken by tests are comparable.
	leakcheck.WarmUpPoller()
	os.Exit(m.Run())
}

// runChild is the body of the helper process. It receives the region as
// fd 3, validates it with FromFD, and writes a pattern through its own
// mapping.
func runChild(role string) int {
	switch role {
	case "write-pattern":
		r, err := FromFD(3)
		if err != nil {
			fmt.Fprintln(os.Stderr, "FromFD:", err)
			return 2
		}
		m, err := Map(r, true)
		if err != nil {
			fmt.Fprintln(os.Stderr, "Map:", err)
			return 3
		}
		b := m.Bytes()
		if b[0] != 0xA5 {
			fmt.Fprintf(os.Stderr, "child read %#x, want 0xa5\n", b[0])
			return 4
		}
		for i := 1; i < len(b); i++ {
			b[i] = byte(i * 7)
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown role", role)
	return 1
}

func mustCreate(t *testing.T, size int) *Region {
	t.Helper()
	r, err := Create("shm-test", size)
	if err != nil {
		t.Fatalf("Create(%d): %v", size, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func mustMap(t *testing.T, r *Region, writable bool) *Mapping {
	t.Helper()
	m, err := Map(r, writable)
	if err != nil {
		t.Fatalf("Map(writable=%v): %v", writable, err)
	}
	t.Cleanup(func() { m.Unmap() })
	return m
}

func TestCreateMapWriteReadThroughDups(t *testing.T) {
	leakcheck.CheckFDs(t)
	const size = 3*4096 + 5
	r := mustCreate(t, size)
	d, err := r.Dup()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if d.FD() == r.FD() {
		t.Fatalf("Dup returned the same fd %d", d.FD())
	}
	if got := d.Size(); got != size {
		t.Fatalf("dup Size() = %d, want %d", got, size)
	}
	m1 := mustMap(t, r, true)
	m2 := mustMap(t, d, true)
	b1, b2 := m1.Bytes(), m2.Bytes()
	if len(b1) != size || len(b2) != size {
		t.Fatalf("len(Bytes()) = %d, %d, want %d", len(b1), len(b2), size)
	}
	if &b1[0] == &b2[0] {
		t.Fatal("two mappings share an address; want distinct mappings")
	}
	for i, c := range b2 {
		if c != 0 {
			t.Fatalf("fresh region byte %d = %#x, want 0", i, c)
		}
	}
	for i := range b1 {
		b1[i] = byte(i % 251)
	}
	for i, c := range b2 {
		if want := byte(i % 251); c != want {
			t.Fatalf("byte %d read through second mapping = %#x, want %#x", i, c, want)
		}
	}
	b2[size-1] = 0xEE
	if b1[size-1] != 0xEE {
		t.Fatalf("last byte through first mapping = %#x, want 0xee", b1[size-1])
	}
	if !m1.Writable() || r.ReadOnly() || d.ReadOnly() {
		t.Fatalf("Writable()=%v r.ReadOnly()=%v d.ReadOnly()=%v, want true,false,false", m1.Writable(), r.ReadOnly(), d.ReadOnly())
	}
}

func TestSizeAndSeals(t *testing.T) {
	leakcheck.CheckFDs(t)
	const size = 12345
	r := mustCreate(t, size)
	if got := r.Size(); got != size {
		t.Fatalf("Size() = %d, want %d", got, size)
	}
	var st unix.Stat_t
	if err := unix.Fstat(r.FD(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != size {
		t.Fatalf("fstat size = %d, want %d", st.Size, size)
	}
	seals, err := unix.FcntlInt(uintptr(r.FD()), unix.F_GET_SEALS, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW; seals != want {
		t.Fatalf("seals = %#x, want %#x", seals, want)
	}
	if err := unix.Ftruncate(r.FD(), 0); err != unix.EPERM {
		t.Fatalf("ftruncate(0) on sealed region = %v, want EPERM", err)
	}
	if err := unix.Ftruncate(r.FD(), 2*size); err != unix.EPERM {
		t.Fatalf("ftruncate(2*size) on sealed region = %v, want EPERM", err)
	}
	fdFlags, err := unix.FcntlInt(uintptr(r.FD()), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fdFlags&unix.FD_CLOEXEC == 0 {
		t.Fatal("region fd is not close-on-exec")
	}
}

func TestCreateInvalid(t *testing.T) {
	leakcheck.CheckFDs(t)
	for _, size := range []int{0, -1} {
		if r, err := Create("bad", size); err == nil {
			r.Close()
			t.Errorf("Create(size %d) succeeded, want error", size)
		}
	}
	if r, err := Create("nul\x00name", 4096); err == nil {
		r.Close()
		t.Error("Create with a NUL in the name succeeded, want error")
	}
}

func TestFromFDAdoptsSealedRegion(t *testing.T) {
	leakcheck.CheckFDs(t)
	r := mustCreate(t, 8192)
	mustMap(t, r, true).Bytes()[100] = 42
	fd, err := unix.Dup(r.FD()) // what SCM_RIGHTS would deliver
	if err != nil {
		t.Fatal(err)
	}
	got, err := FromFD(fd)
	if err != nil {
		unix.Close(fd)
		t.Fatalf("FromFD: %v", err)
	}
	t.Cleanup(func() { got.Close() })
	if got.FD() != fd || got.Size() != 8192 || got.ReadOnly() {
		t.Fatalf("FromFD region: fd %d size %d readOnly %v, want %d 8192 false", got.FD(), got.Size(), got.ReadOnly(), fd)
	}
	if c := mustMap(t, got, false).Bytes()[100]; c != 42 {
		t.Fatalf("adopted region byte 100 = %d, want 42", c)
	}
	fdFlags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fdFlags&unix.FD_CLOEXEC == 0 {
		t.Fatal("adopted fd is not close-on-exec")
	}
}

// memfd makes a raw memfd of the given size with the given flags and seals,
// for feeding FromFD.
func memfd(t *testing.T, flags, size, seals int) int {
	t.Helper()
	fd, err := unix.MemfdCreate("raw", flags|unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if size > 0 {
		if err := unix.Ftruncate(fd, int64(size)); err != nil {
			t.Fatal(err)
		}
	}
	if seals != 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
			t.Fatal(err)
		}
	}
	return fd
}

func TestFromFDRejects(t *testing.T) {
	leakcheck.CheckFDs(t)
	const sealing = unix.MFD_ALLOW_SEALING
	tests := []struct {
		name string
		fd   func(t *testing.T) int
		want error
	}{
		{"memfd without seals", func(t *testing.T) int { return memfd(t, sealing, 4096, 0) }, ErrUnsealed},
		{"memfd that cannot be sealed", func(t *testing.T) int { return memfd(t, 0, 4096, 0) }, ErrUnsealed},
		{"memfd sealed against growing only", func(t *testing.T) int { return memfd(t, sealing, 4096, unix.F_SEAL_GROW) }, ErrUnsealed},
		{"memfd sealed against shrinking only", func(t *testing.T) int { return memfd(t, sealing, 4096, unix.F_SEAL_SHRINK) }, ErrUnsealed},
		{"sealed empty memfd", func(t *testing.T) int {
			return memfd(t, sealing, 0, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW)
		}, ErrNotRegion},
		{"pipe", func(t *testing.T) int {
			var p [2]int
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			unix.Close(p[1])
			return p[0]
		}, ErrNotRegion},
		{"socket", func(t *testing.T) int {
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			return fd
		}, ErrNotRegion},
		{"regular file on disk", func(t *testing.T) int {
			path := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(path, make([]byte, 4096), 0o600); err != nil {
				t.Fatal(err)
			}
			fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			return fd
		}, ErrNotRegion},
		{"/dev/null", func(t *testing.T) int {
			fd, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			return fd
		}, ErrNotRegion},
		{"write-only descriptor of a sealed memfd", func(t *testing.T) int {
			fd := memfd(t, sealing, 4096, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW)
			defer unix.Close(fd)
			wo, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_WRONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			return wo
		}, ErrNotRegion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fd := tc.fd(t)
			defer unix.Close(fd)
			r, err := FromFD(fd)
			if err == nil {
				r.Close()
				t.Fatalf("FromFD succeeded, want %v", tc.want)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("FromFD error = %v, want %v", err, tc.want)
			}
			// On failure the caller still owns the fd: it must be open.
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
				t.Fatalf("fd closed by failed FromFD: %v", err)
			}
		})
	}
	if _, err := os.Stat("/dev/shm"); err == nil {
		t.Run("tmpfs file that is not a memfd", func(t *testing.T) {
			f, err := os.CreateTemp("/dev/shm", "shm-test-")
			if err != nil {
				t.Skip("cannot create a file in /dev/shm:", err)
			}
			os.Remove(f.Name())
			defer f.Close()
			if err := f.Truncate(4096); err != nil {
				t.Fatal(err)
			}
			r, err := FromFD(int(f.Fd()))
			if err == nil {
				r.Close()
				t.Fatal("FromFD of a plain tmpfs file succeeded, want ErrUnsealed")
			}
			if !errors.Is(err, ErrUnsealed) {
				t.Fatalf("FromFD error = %v, want ErrUnsealed", err)
			}
		})
	}
	if _, err := FromFD(-1); !errors.Is(err, ErrNotRegion) {
		t.Errorf("FromFD(-1) error = %v, want ErrNotRegion", err)
	}
	// A descriptor number that is not open.
	fd := memfd(t, sealing, 4096, 0)
	unix.Close(fd)
	if _, err := FromFD(fd); !errors.Is(err, unix.EBADF) {
		t.Errorf("FromFD(closed fd) error = %v, want EBADF", err)
	}
}

func TestDupReadOnlyIsEnforcedByKernel(t *testing.T) {
	leakcheck.CheckFDs(t)
	const size = 2 * 4096
	r := mustCreate(t, size)
	w := mustMap(t, r, true).Bytes()
	w[0] = 1

	ro, err := r.DupReadOnly()
	if err != nil {
		t.Fatalf("DupReadOnly: %v", err)
	}
	t.Cleanup(func() { ro.Close() })
	if !ro.ReadOnly() || ro.Size() != size {
		t.Fatalf("read-only dup: ReadOnly() %v Size() %d, want true %d", ro.ReadOnly(), ro.Size(), size)
	}
	fl, err := unix.FcntlInt(uintptr(ro.FD()), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fl&unix.O_ACCMODE != unix.O_RDONLY {
		t.Fatalf("read-only dup access mode = %#x, want O_RDONLY", fl&unix.O_ACCMODE)
	}

	// The kernel refuses a writable shared mapping of the descriptor.
	if b, err := unix.Mmap(ro.FD(), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != unix.EACCES {
		if err == nil {
			unix.Munmap(b)
		}
		t.Fatalf("mmap(PROT_WRITE, MAP_SHARED) of read-only fd: err = %v, want EACCES", err)
	}
	// And write(2) through it.
	if _, err := unix.Pwrite(ro.FD(), []byte{9}, 0); err != unix.EBADF {
		t.Fatalf("pwrite on read-only fd: err = %v, want EBADF", err)
	}
	// Map refuses before asking the kernel.
	if m, err := Map(ro, true); !errors.Is(err, ErrReadOnly) {
		if err == nil {
			m.Unmap()
		}
		t.Fatalf("Map(read-only, writable) error = %v, want ErrReadOnly", err)
	}

	// A read-only mapping sees the writer's stores, before and after it
	// was made, and cannot be made writable with mprotect.
	rm := mustMap(t, ro, false)
	if rm.Writable() {
		t.Fatal("read-only mapping reports Writable()")
	}
	rb := rm.Bytes()
	w[1] = 2
	if rb[0] != 1 || rb[1] != 2 {
		t.Fatalf("read-only mapping sees %d %d, want 1 2", rb[0], rb[1])
	}
	if err := unix.Mprotect(rb, unix.PROT_READ|unix.PROT_WRITE); err != unix.EACCES {
		t.Fatalf("mprotect(PROT_WRITE) of read-only shared mapping: err = %v, want EACCES", err)
	}

	// A private (copy-on-write) writable mapping is allowed, but its
	// writes never reach the shared memory.
	priv, err := unix.Mmap(ro.FD(), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	priv[0] = 77
	if w[0] != 1 || rb[0] != 1 {
		t.Fatalf("private write leaked into shared memory: %d %d, want 1 1", w[0], rb[0])
	}
	unix.Munmap(priv)

	// Dup of a read-only region, and adopting its fd, stay read-only.
	ro2, err := ro.Dup()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro2.Close() })
	if !ro2.ReadOnly() {
		t.Fatal("Dup of read-only region is not read-only")
	}
	raw, err := unix.Dup(ro.FD())
	if err != nil {
		t.Fatal(err)
	}
	adopted, err := FromFD(raw)
	if err != nil {
		unix.Close(raw)
		t.Fatal(err)
	}
	t.Cleanup(func() { adopted.Close() })
	if !adopted.ReadOnly() {
		t.Fatal("FromFD of an O_RDONLY fd is not read-only")
	}
	if err := ro.SealFutureWrites(); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("SealFutureWrites on read-only region = %v, want ErrReadOnly", err)
	}
	// The writer is unaffected.
	m2 := mustMap(t, r, true)
	m2.Bytes()[2] = 3
	if rb[2] != 3 {
		t.Fatalf("read-only mapping sees %d after writer's new mapping wrote 3", rb[2])
	}
}

func TestSealFutureWrites(t *testing.T) {
	leakcheck.CheckFDs(t)
	const size = 4096
	r := mustCreate(t, size)
	w := mustMap(t, r, true).Bytes()
	if err := r.SealFutureWrites(); err != nil {
		t.Fatalf("SealFutureWrites: %v", err)
	}
	seals, err := unix.FcntlInt(uintptr(r.FD()), unix.F_GET_SEALS, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_FUTURE_WRITE; seals != want {
		t.Fatalf("seals = %#x, want %#x", seals, want)
	}
	// The existing writable mapping keeps working.
	w[10] = 10
	rm := mustMap(t, r, false)
	if rm.Bytes()[10] != 10 {
		t.Fatalf("read back %d, want 10", rm.Bytes()[10])
	}
	// New writable mappings fail for everyone, even through a fresh O_RDWR
	// open of the file (the bypass DupReadOnly cannot stop).
	if m, err := Map(r, true); !errors.Is(err, unix.EPERM) {
		if err == nil {
			m.Unmap()
		}
		t.Fatalf("Map(writable) after seal: err = %v, want EPERM", err)
	}
	rw, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", r.FD()), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rw)
	if b, err := unix.Mmap(rw, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != unix.EPERM {
		if err == nil {
			unix.Munmap(b)
		}
		t.Fatalf("mmap(PROT_WRITE) of reopened fd after seal: err = %v, want EPERM", err)
	}
	// A region adopted from the sealed file knows it is read-only.
	raw, err := unix.Dup(r.FD())
	if err != nil {
		t.Fatal(err)
	}
	adopted, err := FromFD(raw)
	if err != nil {
		unix.Close(raw)
		t.Fatal(err)
	}
	defer adopted.Close()
	if !adopted.ReadOnly() {
		t.Fatal("FromFD of a write-sealed region is not read-only")
	}
}

func TestMappingOutlivesRegion(t *testing.T) {
	leakcheck.CheckFDs(t)
	before := len(leakcheck.OpenFDs())
	r, err := Create("outlive", 4096)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.Dup()
	if err != nil {
		t.Fatal(err)
	}
	m1, err := Map(r, true)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Map(d, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(leakcheck.OpenFDs()); n != before {
		t.Fatalf("%d fds open with regions closed, want %d", n, before)
	}
	m1.Bytes()[4095] = 0x5A
	if got := m2.Bytes()[4095]; got != 0x5A {
		t.Fatalf("after Close, second mapping reads %#x, want 0x5a", got)
	}
	if err := m1.Unmap(); err != nil {
		t.Fatal(err)
	}
	if got := m2.Bytes()[4095]; got != 0x5A {
		t.Fatalf("after first Unmap, second mapping reads %#x, want 0x5a", got)
	}
	if err := m2.Unmap(); err != nil {
		t.Fatal(err)
	}
}

func TestUnmapTwiceIsError(t *testing.T) {
	leakcheck.CheckFDs(t)
	r := mustCreate(t, 4096)
	m, err := Map(r, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Unmap(); err != nil {
		t.Fatalf("first Unmap: %v", err)
	}
	if err := m.Unmap(); !errors.Is(err, ErrUnmapped) {
		t.Fatalf("second Unmap = %v, want ErrUnmapped", err)
	}
	if b := m.Bytes(); b != nil {
		t.Fatalf("Bytes() after Unmap has length %d, want nil", len(b))
	}
	if _, err := m.Uint32At(0); !errors.Is(err, ErrUnmapped) {
		t.Fatalf("Uint32At after Unmap = %v, want ErrUnmapped", err)
	}
}

func TestCloseTwiceAndUseAfterClose(t *testing.T) {
	leakcheck.CheckFDs(t)
	r, err := Create("close", 4096)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := r.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	if fd := r.FD(); fd != -1 {
		t.Fatalf("FD() after Close = %d, want -1", fd)
	}
	if _, err := r.Dup(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Dup after Close = %v, want ErrClosed", err)
	}
	if _, err := r.DupReadOnly(); !errors.Is(err, ErrClosed) {
		t.Fatalf("DupReadOnly after Close = %v, want ErrClosed", err)
	}
	if _, err := Map(r, false); !errors.Is(err, ErrClosed) {
		t.Fatalf("Map after Close = %v, want ErrClosed", err)
	}
	if err := r.SealFutureWrites(); !errors.Is(err, ErrClosed) {
		t.Fatalf("SealFutureWrites after Close = %v, want ErrClosed", err)
	}
	if got := r.Size(); got != 4096 {
		t.Fatalf("Size() after Close = %d, want 4096", got)
	}
}

func TestWordAccessors(t *testing.T) {
	leakcheck.CheckFDs(t)
	const size = 4096
	r := mustCreate(t, size)
	m := mustMap(t, r, true)
	other := mustMap(t, r, false).Bytes()

	p, err := m.Uint32At(8)
	if err != nil {
		t.Fatal(err)
	}
	atomic.StoreUint32(p, 0xDEADBEEF)
	if got := binary.NativeEndian.Uint32(other[8:]); got != 0xDEADBEEF {
		t.Fatalf("word read through other mapping = %#x, want 0xdeadbeef", got)
	}
	q, err := m.Uint64At(size - 8)
	if err != nil {
		t.Fatal(err)
	}
	atomic.StoreUint64(q, 0x0102030405060708)
	if got := binary.NativeEndian.Uint64(other[size-8:]); got != 0x0102030405060708 {
		t.Fatalf("u64 read through other mapping = %#x", got)
	}
	for _, off := range []int{-4, 2, size - 2, size} {
		if _, err := m.Uint32At(off); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("Uint32At(%d) = %v, want ErrOutOfRange", off, err)
		}
	}
	for _, off := range []int{-8, 4, size - 4, size} {
		if _, err := m.Uint64At(off); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("Uint64At(%d) = %v, want ErrOutOfRange", off, err)
		}
	}
}

// TestCrossProcess sends a region to a child process (as fd 3), which
// adopts it with FromFD, checks a byte the parent wrote and writes a
// pattern the parent then reads.
func TestCrossProcess(t *testing.T) {
	leakcheck.CheckFDs(t)
	const size = 8192
	r := mustCreate(t, size)
	b := mustMap(t, r, true).Bytes()
	b[0] = 0xA5

	d, err := r.Dup()
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(d.FD()), "region") // takes ownership of d's fd
	defer f.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// A race-enabled child otherwise sleeps 1s at exit.
	cmd.Env = append(os.Environ(), childEnv+"=write-pattern", "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	for i := 1; i < size; i++ {
		if want := byte(i * 7); b[i] != want {
			t.Fatalf("byte %d written by child = %#x, want %#x", i, b[i], want)
		}
	}
}
