package shm

import (
	"fmt"
	"math"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// requiredSeals are the seals every region must carry. F_SEAL_SHRINK is the
// one that matters for safety: without it, whoever holds a writable
// descriptor could ftruncate the file below the length of our mapping, and
// our next access to the truncated pages would raise SIGBUS and kill this
// process. F_SEAL_GROW makes the size a fixed property of the region, so
// the size validated once stays true.
const requiredSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW

// writeSeals are the seals after which no new writable mapping can be made.
const writeSeals = unix.F_SEAL_WRITE | unix.F_SEAL_FUTURE_WRITE

// Create makes a new writable region of size bytes, initially zeroed. The
// name is only a debugging label (it shows in /proc/PID/fd as
// "memfd:name"); it must not contain a NUL byte.
//
// The file is created with memfd_create(MFD_CLOEXEC|MFD_ALLOW_SEALING),
// sized with ftruncate, and sealed with F_SEAL_SHRINK|F_SEAL_GROW so that
// no process holding it, including a hostile receiver, can resize it while
// it is mapped. F_SEAL_SEAL is deliberately not set, so that
// SealFutureWrites remains possible.
func Create(name string, size int) (*Region, error) {
	if size <= 0 {
		return nil, fmt.Errorf("shm: invalid size %d", size)
	}
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("ftruncate", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, requiredSeals); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("fcntl(F_ADD_SEALS)", err)
	}
	return &Region{fd: fd, size: size}, nil
}

// FromFD adopts fd, a descriptor received from another (untrusted)
// process, after checking that it is safe to map:
//
//   - it is a regular file on tmpfs (a memfd), not a pipe, socket, device
//     or file on disk;
//   - it carries both F_SEAL_SHRINK and F_SEAL_GROW, so its size is fixed
//     (a region without F_SEAL_SHRINK is refused: its sender could shrink
//     it under our mapping and make us fault);
//   - its size is greater than zero;
//   - it was opened for reading (O_RDONLY or O_RDWR).
//
// The seals are checked before the size is read: seals cannot be removed,
// so once both are present the size read afterwards is final.
//
// On success the Region owns fd (and marks it close-on-exec). On failure
// fd is left open and still belongs to the caller. Errors wrap
// ErrNotRegion or ErrUnsealed, or a system call error.
//
// FromFD does not limit the size; compare Size with what the protocol
// expects before mapping.
func FromFD(fd int) (*Region, error) {
	if fd < 0 {
		return nil, fmt.Errorf("%w: invalid descriptor %d", ErrNotRegion, fd)
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return nil, os.NewSyscallError("fstatfs", err)
	}
	if sfs.Type != unix.TMPFS_MAGIC {
		return nil, fmt.Errorf("%w: filesystem type %#x is not tmpfs", ErrNotRegion, sfs.Type)
	}
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err == unix.EINVAL {
		return nil, fmt.Errorf("%w: file does not support sealing", ErrNotRegion)
	}
	if err != nil {
		return nil, os.NewSyscallError("fcntl(F_GET_SEALS)", err)
	}
	if seals&requiredSeals != requiredSeals {
		return nil, fmt.Errorf("%w: seals are %#x, need %#x", ErrUnsealed, seals, requiredSeals)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, os.NewSyscallError("fstat", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%w: not a regular file (mode %#o)", ErrNotRegion, st.Mode)
	}
	if st.Size <= 0 || uint64(st.Size) > math.MaxInt {
		return nil, fmt.Errorf("%w: unusable size %d", ErrNotRegion, st.Size)
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl(F_GETFL)", err)
	}
	var readOnly bool
	switch fl & unix.O_ACCMODE {
	case unix.O_RDONLY:
		readOnly = true
	case unix.O_RDWR:
		readOnly = seals&writeSeals != 0
	default:
		return nil, fmt.Errorf("%w: descriptor is not open for reading", ErrNotRegion)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("fcntl(F_SETFD)", err)
	}
	return &Region{fd: fd, size: int(st.Size), readOnly: readOnly}, nil
}

// Dup returns a new Region with its own descriptor (close-on-exec) for the
// same memory and the same access mode as r.
func (r *Region) Dup() (*Region, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fd < 0 {
		return nil, ErrClosed
	}
	fd, err := unix.FcntlInt(uintptr(r.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl(F_DUPFD_CLOEXEC)", err)
	}
	return &Region{fd: fd, size: r.size, readOnly: r.readOnly}, nil
}

// DupReadOnly returns a new read-only Region for the same memory. Its
// descriptor is a fresh open of the same file with O_RDONLY (made by
// opening /proc/self/fd/N), not a dup: dup would share r's open file
// description and with it the write permission. The kernel refuses a
// writable MAP_SHARED mapping of an O_RDONLY descriptor (mmap fails with
// EACCES), and refuses to mprotect a read-only shared mapping of it to
// writable, so a process that receives only this descriptor cannot modify
// the memory through it, while writable mappings made from r keep working.
//
// (F_SEAL_FUTURE_WRITE is not used here because seals apply to the file,
// not to a descriptor: it would stop the writer from making new writable
// mappings too. See SealFutureWrites for when that is wanted.)
//
// Limitation: the receiver can itself reopen /proc/self/fd/N with O_RDWR
// if the file's permission bits allow it (memfds are created mode 0777 and
// owned by the creator's uid). Against a receiver running as the same uid
// with /proc available, the read-only property therefore relies on the
// receiver's sandbox; use SealFutureWrites for a guarantee that does not.
//
// DupReadOnly requires /proc to be mounted.
func (r *Region) DupReadOnly() (*Region, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fd < 0 {
		return nil, ErrClosed
	}
	var orig unix.Stat_t
	if err := unix.Fstat(r.fd, &orig); err != nil {
		return nil, os.NewSyscallError("fstat", err)
	}
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(r.fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("open(/proc/self/fd)", err)
	}
	// Make sure the reopen reached the same file (it always should; this
	// guards against /proc not being what we expect).
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("fstat", err)
	}
	if st.Dev != orig.Dev || st.Ino != orig.Ino {
		unix.Close(fd)
		return nil, fmt.Errorf("shm: reopening /proc/self/fd/%d gave a different file", r.fd)
	}
	return &Region{fd: fd, size: r.size, readOnly: true}, nil
}

// SealFutureWrites adds F_SEAL_FUTURE_WRITE to the file: from now on no
// process, whatever descriptor it holds, can make a new writable mapping
// or write(2) to it, while writable mappings that already exist (typically
// the creator's) keep working. Unlike DupReadOnly this holds even against
// a receiver that reopens the file through /proc. It is irrevocable, and
// the region (and every duplicate of it) then maps only read-only.
//
// It requires a writable descriptor; on a read-only region it returns
// ErrReadOnly.
func (r *Region) SealFutureWrites() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fd < 0 {
		return ErrClosed
	}
	if r.readOnly {
		return ErrReadOnly
	}
	if _, err := unix.FcntlInt(uintptr(r.fd), unix.F_ADD_SEALS, unix.F_SEAL_FUTURE_WRITE); err != nil {
		return os.NewSyscallError("fcntl(F_ADD_SEALS)", err)
	}
	return nil
}

// Close closes the region's descriptor. Mappings made from it stay valid.
// A second Close returns ErrClosed.
func (r *Region) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fd < 0 {
		return ErrClosed
	}
	fd := r.fd
	r.fd = -1
	if err := unix.Close(fd); err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}

// Map maps the whole region into this process with MAP_SHARED, readable,
// and also writable if writable is true. Asking for a writable mapping of
// a read-only region fails with ErrReadOnly. The mapping does not depend
// on r afterwards: it stays valid after r is closed.
func Map(r *Region, writable bool) (*Mapping, error) {
	if writable && r.readOnly {
		return nil, ErrReadOnly
	}
	prot := unix.PROT_READ
	if writable {
		prot |= unix.PROT_WRITE
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fd < 0 {
		return nil, ErrClosed
	}
	data, err := unix.Mmap(r.fd, 0, r.size, prot, unix.MAP_SHARED)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	return &Mapping{data: data, writable: writable}, nil
}

// Unmap removes the mapping. Afterwards Bytes returns nil, and the memory
// it returned before must not be touched. A second Unmap returns
// ErrUnmapped.
func (m *Mapping) Unmap() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		return ErrUnmapped
	}
	data := m.data
	m.data = nil
	if err := unix.Munmap(data); err != nil {
		return os.NewSyscallError("munmap", err)
	}
	return nil
}
