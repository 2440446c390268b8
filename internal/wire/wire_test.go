package wire

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	e := NewEncoder(0)
	e.U8(0xab)
	e.U16(0xbeef)
	e.U32(0xdeadbeef)
	e.U64(0x0123456789abcdef)
	e.Bool(true)
	e.Bool(false)
	e.Blob([]byte("hello"))
	e.U32(3) // a count
	for i := range 3 {
		e.U16(uint16(i))
	}
	e.Raw([]byte{9, 9})
	require.Equal(t, 1+2+4+8+1+1+4+5+4+6+2, e.Len())

	d := NewDecoder(e.Bytes())
	require.Equal(t, uint8(0xab), d.U8())
	require.Equal(t, uint16(0xbeef), d.U16())
	require.Equal(t, uint32(0xdeadbeef), d.U32())
	require.Equal(t, uint64(0x0123456789abcdef), d.U64())
	require.True(t, d.Bool())
	require.False(t, d.Bool())
	require.Equal(t, []byte("hello"), d.Blob(16))
	n := d.Count(8, 2)
	require.Equal(t, 3, n)
	for i := range n {
		require.Equal(t, uint16(i), d.U16())
	}
	require.Equal(t, []byte{9, 9}, d.Raw(2))
	require.NoError(t, d.Finish())
}

func TestLittleEndianLayout(t *testing.T) {
	e := NewEncoder(0)
	e.U32(0x04030201)
	e.Blob([]byte{0xff})
	require.Equal(t, []byte{1, 2, 3, 4, 1, 0, 0, 0, 0xff}, e.Bytes())
}

func TestMalformedInput(t *testing.T) {
	tests := []struct {
		name   string
		input  []byte
		decode func(d *Decoder)
	}{
		{"short u16", []byte{1}, func(d *Decoder) { d.U16() }},
		{"short u32", []byte{1, 2, 3}, func(d *Decoder) { d.U32() }},
		{"short u64", []byte{1, 2, 3, 4, 5, 6, 7}, func(d *Decoder) { d.U64() }},
		{"bool not 0 or 1", []byte{2}, func(d *Decoder) { d.Bool() }},
		{"blob longer than input", []byte{5, 0, 0, 0, 1, 2}, func(d *Decoder) { d.Blob(100) }},
		{"blob longer than max", []byte{3, 0, 0, 0, 1, 2, 3}, func(d *Decoder) { d.Blob(2) }},
		{"blob length near 4 GiB", []byte{0xff, 0xff, 0xff, 0xff}, func(d *Decoder) { d.Blob(1 << 40) }},
		{"count above max", []byte{9, 0, 0, 0}, func(d *Decoder) { d.Count(8, 0) }},
		{"count beyond input", []byte{4, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7}, func(d *Decoder) { d.Count(100, 2) }},
		{"raw beyond input", []byte{1, 2}, func(d *Decoder) { d.Raw(3) }},
		{"negative raw", []byte{1, 2}, func(d *Decoder) { d.Raw(-1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(tt.input)
			tt.decode(d)
			require.True(t, d.Failed())
			require.ErrorIs(t, d.Err(), ErrMalformed)
			require.ErrorIs(t, d.Finish(), ErrMalformed)
			// A failed decoder stays failed and yields zero values.
			require.Equal(t, uint32(0), d.U32())
			require.Nil(t, d.Blob(10))
		})
	}
}

func TestFinishRejectsTrailingBytes(t *testing.T) {
	d := NewDecoder([]byte{1, 2})
	require.Equal(t, uint8(1), d.U8())
	require.NoError(t, d.Err())
	require.ErrorIs(t, d.Finish(), ErrMalformed)
}

// FuzzDecoder decodes arbitrary input with a fixed schema: it must never
// panic, and whatever decodes cleanly must re-encode to the same bytes.
func FuzzDecoder(f *testing.F) {
	e := NewEncoder(0)
	e.U32(7)
	e.Blob([]byte("abc"))
	e.U32(2)
	e.U64(1)
	e.U64(2)
	e.Bool(true)
	f.Add(e.Bytes())
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		d := NewDecoder(in)
		a := d.U32()
		blob := d.Blob(1 << 16)
		n := d.Count(1<<16, 8)
		vals := make([]uint64, 0, n)
		for range n {
			vals = append(vals, d.U64())
		}
		flag := d.Bool()
		if d.Finish() != nil {
			return
		}
		re := NewEncoder(len(in))
		re.U32(a)
		re.Blob(blob)
		re.U32(uint32(len(vals)))
		for _, v := range vals {
			re.U64(v)
		}
		re.Bool(flag)
		require.Equal(t, in, re.Bytes())
	})
}
