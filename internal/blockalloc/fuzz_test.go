package blockalloc

import (
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzAllocatorCorruptRegion treats the fuzz input as the contents of a
// region left by a hostile peer, plus a block size selector and a script
// of operations (allocations, frees of held, arbitrary or invalid offsets,
// and further corruption between operations). Whatever the input, nothing
// may panic or hang, every offset Alloc returns must be an aligned block
// inside the region, every error must be one of the package's, and an
// invalid offset must always be refused as such.
func FuzzAllocatorCorruptRegion(f *testing.F) {
	allocs := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	mixed := []byte{0, 0, 2, 0, 3, 0x00, 0x40, 4, 0, 0, 0xFF, 0, 1, 7, 3, 0xFF, 0xC0, 0, 0}

	f.Add(make([]byte, 9*64), uint8(3), allocs) // zeroed: a full free list
	f.Add(make([]byte, 3*8), uint8(0), mixed)
	f.Add([]byte{}, uint8(1), allocs)

	head := make([]byte, 9*64)
	binary.NativeEndian.PutUint64(head, 0xFFFF_FFFF_0000_0100) // head past the end
	f.Add(head, uint8(3), mixed)

	cycle := make([]byte, 5*16)
	binary.NativeEndian.PutUint32(cycle[16:], 0xFFFFFFFF) // block 1 -> block 1
	f.Add(cycle, uint8(1), allocs)

	wild := make([]byte, 5*32)
	binary.NativeEndian.PutUint32(wild[64:], 0x7FFFFFFF) // block 2 -> far away
	f.Add(wild, uint8(2), mixed)

	ones := make([]byte, 17*8)
	for i := range ones {
		ones[i] = 0xFF
	}
	f.Add(ones, uint8(0), mixed)

	f.Fuzz(func(t *testing.T, contents []byte, blockSizeSel uint8, ops []byte) {
		if len(contents) > 8<<10 {
			contents = contents[:8<<10]
		}
		if len(ops) > 4096 {
			ops = ops[:4096]
		}
		bs := 8 << (blockSizeSel % 4)
		region := alignedBytes(len(contents))
		copy(region, contents)
		a, err := New(region, bs)
		if err != nil {
			if !errors.Is(err, ErrInvalidRegion) || len(region) >= 2*bs {
				t.Fatalf("New(%d bytes, %d) = %v", len(region), bs, err)
			}
			return
		}
		n := a.NumBlocks()
		if n != len(region)/bs-1 {
			t.Fatalf("NumBlocks = %d, want %d", n, len(region)/bs-1)
		}
		var held []int
		for i := 0; i < len(ops); i++ {
			op := ops[i]
			switch op % 5 {
			case 0, 1:
				off, err := a.Alloc()
				checkAllocResult(t, a, off, err)
				if err == nil {
					held = append(held, off)
				}
			case 2:
				if len(held) > 0 {
					k := int(op/5) % len(held)
					checkFreeResult(t, a.Free(held[k]))
					held = append(held[:k], held[k+1:]...)
				}
			case 3:
				if i+2 >= len(ops) {
					return
				}
				off := int(int16(binary.BigEndian.Uint16(ops[i+1:])))
				if op&0x80 != 0 {
					off *= bs // often a block boundary, sometimes out of range
				}
				i += 2
				err := a.Free(off)
				if off <= 0 || off%bs != 0 || off/bs > n {
					if !errors.Is(err, ErrInvalidOffset) {
						t.Fatalf("Free(%d) with %d blocks of %d = %v, want ErrInvalidOffset", off, n, bs, err)
					}
				} else {
					checkFreeResult(t, err)
				}
			case 4:
				if i+3 >= len(ops) {
					return
				}
				pos := int(binary.BigEndian.Uint16(ops[i+1:])) % len(region)
				region[pos] = ops[i+3]
				i += 3
			}
		}
		c, err := a.CountFree()
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("CountFree = %v", err)
			}
		} else if c < 0 || c > n {
			t.Fatalf("CountFree = %d outside [0, %d]", c, n)
		}
	})
}
