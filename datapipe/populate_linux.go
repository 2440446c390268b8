package datapipe

import "golang.org/x/sys/unix"

// populate asks the kernel to back the mapped ring with pages now, in one
// call, rather than one page fault at a time during the first pass of the
// stream. It is only a hint: older kernels refuse it and nothing changes.
func populate(ring []byte) {
	if len(ring) >= populateMin {
		_ = unix.Madvise(ring, unix.MADV_POPULATE_WRITE)
	}
}

// populateMin is the smallest ring worth populating: smaller ones fault
// in a handful of pages.
const populateMin = 256 << 10
