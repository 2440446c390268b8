// Package wire encodes and decodes the little-endian binary messages that
// ipcz nodes exchange.
//
// Trust model: a Decoder's input comes from another node and may be
// anything. No Decoder method panics or allocates more than its input
// justifies: every length and count is checked against the bytes that
// remain before it is used, and the first violation makes the Decoder
// fail (every later read returns zero values) so a caller can decode a
// whole message and check Err once.
package wire

import (
	"encoding/binary"
	"errors"
)

// ErrMalformed is returned by Decoder.Err and Decoder.Finish for input
// that is truncated, too long, or has an impossible length or count.
var ErrMalformed = errors.New("wire: malformed message")

// Encoder appends values to a byte slice. The zero value is ready to use.
type Encoder struct {
	buf []byte
}

// NewEncoder returns an Encoder whose buffer has room for capacity bytes.
func NewEncoder(capacity int) *Encoder { return &Encoder{buf: make([]byte, 0, capacity)} }

// Bytes returns the encoded bytes.
func (e *Encoder) Bytes() []byte { return e.buf }

// Len is the number of bytes encoded so far.
func (e *Encoder) Len() int { return len(e.buf) }

func (e *Encoder) U8(v uint8)   { e.buf = append(e.buf, v) }
func (e *Encoder) U16(v uint16) { e.buf = binary.LittleEndian.AppendUint16(e.buf, v) }
func (e *Encoder) U32(v uint32) { e.buf = binary.LittleEndian.AppendUint32(e.buf, v) }
func (e *Encoder) U64(v uint64) { e.buf = binary.LittleEndian.AppendUint64(e.buf, v) }

// Bool encodes v as one byte, 0 or 1.
func (e *Encoder) Bool(v bool) {
	if v {
		e.U8(1)
	} else {
		e.U8(0)
	}
}

// Blob encodes b with a u32 length prefix.
func (e *Encoder) Blob(b []byte) {
	e.U32(uint32(len(b)))
	e.buf = append(e.buf, b...)
}

// Raw appends b as is.
func (e *Encoder) Raw(b []byte) { e.buf = append(e.buf, b...) }

// Decoder reads values from a byte slice it does not trust.
type Decoder struct {
	buf    []byte
	off    int
	failed bool
}

// NewDecoder returns a Decoder over b. It never modifies b.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Remaining is the number of bytes not yet read.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

// Failed reports whether a read has failed.
func (d *Decoder) Failed() bool { return d.failed }

// Fail marks the input malformed (for checks the caller makes itself).
func (d *Decoder) Fail() { d.failed = true }

// Err returns ErrMalformed if any read failed.
func (d *Decoder) Err() error {
	if d.failed {
		return ErrMalformed
	}
	return nil
}

// Finish returns ErrMalformed if any read failed or bytes remain unread.
func (d *Decoder) Finish() error {
	if d.failed || d.off != len(d.buf) {
		return ErrMalformed
	}
	return nil
}

// take returns the next n bytes, or nil (and fails) if there are fewer.
func (d *Decoder) take(n int) []byte {
	if d.failed || n < 0 || n > len(d.buf)-d.off {
		d.failed = true
		return nil
	}
	b := d.buf[d.off : d.off+n : d.off+n]
	d.off += n
	return b
}

func (d *Decoder) U8() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *Decoder) U16() uint16 {
	if b := d.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *Decoder) U32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *Decoder) U64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// Bool decodes one byte that must be 0 or 1.
func (d *Decoder) Bool() bool {
	switch d.U8() {
	case 0:
		return false
	case 1:
		return true
	}
	d.failed = true
	return false
}

// Blob decodes a u32-length-prefixed byte string of at most max bytes. The
// result aliases the input.
func (d *Decoder) Blob(max int) []byte {
	n := d.U32()
	if d.failed || uint64(n) > uint64(max) {
		d.failed = true
		return nil
	}
	b := d.take(int(n))
	if b == nil {
		return nil
	}
	return b
}

// Raw returns the next n bytes as is (aliasing the input).
func (d *Decoder) Raw(n int) []byte { return d.take(n) }

// Count decodes a u32 element count for elements of at least minElemSize
// encoded bytes each, failing if the count exceeds max or the bytes that
// remain could not hold that many elements. It lets a caller size a slice
// before decoding its elements without trusting the count.
func (d *Decoder) Count(max, minElemSize int) int {
	n := d.U32()
	if d.failed || uint64(n) > uint64(max) {
		d.failed = true
		return 0
	}
	if minElemSize > 0 && uint64(n)*uint64(minElemSize) > uint64(d.Remaining()) {
		d.failed = true
		return 0
	}
	return int(n)
}
