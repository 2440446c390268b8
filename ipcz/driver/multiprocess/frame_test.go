package multiprocess

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// wireChunk is what one sendmsg put on the wire: bytes and descriptors.
type wireChunk struct {
	b   []byte
	fds []int
}

// encode sends frames through outFrame as a socket that takes at most
// limit(len) bytes per sendmsg would, and returns the chunks. Fake
// descriptors are numbered from firstFD.
func encode(t testing.TB, msgs [][]byte, nfds []int, limit func(int) int) []wireChunk {
	var chunks []wireChunk
	fd := 1000
	for i, m := range msgs {
		f := outFrame{data: m}
		for range nfds[i] {
			f.objs = append(f.objs, &transmissible{fd: fd})
			fd++
		}
		putFrameHeader(&f.hdr, len(m), nfds[i], frameMessage, uint64(i))
		var bufs [][]byte
		var fds []int
		sentFDs := 0
		for !f.done() {
			bufs, fds = f.chunk(bufs, fds)
			all := bytes.Join(bufs, nil)
			require.NotEmpty(t, all)
			n := max(1, min(len(all), limit(len(all))))
			chunks = append(chunks, wireChunk{b: all[:n], fds: slices.Clone(fds)})
			sent := f.advance(n)
			require.Len(t, sent, len(fds))
			sentFDs += len(sent)
		}
		require.Equal(t, nfds[i], sentFDs)
	}
	return chunks
}

// decodeStream receives chunks as Linux delivers a stream socket's data:
// one read may glue consecutive chunks, but ends after the first chunk
// whose descriptors it took; a chunk may be split at any point, and its
// descriptors come with its first piece. readSize picks the size of each
// read.
func decodeStream(chunks []wireChunk, readSize func() int) (msgs [][]byte, fdsOut [][]int, left []int, err error) {
	var dec frameDecoder
	ci, off := 0, 0
	for ci < len(chunks) {
		buf := dec.space()
		want := min(len(buf), max(1, readSize()))
		n := 0
		var fds []int
		for n < want && ci < len(chunks) {
			c := chunks[ci]
			if off == 0 {
				fds = append(fds, c.fds...)
			}
			k := copy(buf[n:want], c.b[off:])
			n += k
			off += k
			if off == len(c.b) {
				ci, off = ci+1, 0
				if len(c.fds) > 0 {
					break // a read ends after the skb whose descriptors it took
				}
			}
		}
		if err := dec.commit(n, fds); err != nil {
			return msgs, fdsOut, dec.takeFDs(), err
		}
		for {
			f, ok, err := dec.next()
			if err != nil {
				return msgs, fdsOut, dec.takeFDs(), err
			}
			if !ok {
				break
			}
			if f.typ != frameMessage || f.seq != uint64(len(msgs)) {
				return msgs, fdsOut, dec.takeFDs(), errMalformed
			}
			msgs = append(msgs, bytes.Clone(f.data))
			fdsOut = append(fdsOut, slices.Clone(f.fds))
		}
	}
	return msgs, fdsOut, dec.takeFDs(), nil
}

func TestFramesRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 300 {
		n := 1 + r.IntN(20)
		msgs := make([][]byte, n)
		nfds := make([]int, n)
		for i := range msgs {
			size := r.IntN(200)
			if r.IntN(10) == 0 {
				size = r.IntN(300 << 10)
			}
			msgs[i] = pattern(size, uint64(iter*100+i))
			if r.IntN(3) == 0 {
				nfds[i] = r.IntN(3 * fdsPerSendmsg)
			}
			if nfds[i] > 0 && frameHeaderSize+size < fdGroups(nfds[i]) {
				nfds[i] = 0
			}
		}
		chunks := encode(t, msgs, nfds, func(max int) int { return 1 + r.IntN(max) })
		got, gotFDs, left, err := decodeStream(chunks, func() int { return 1 + r.IntN(100<<10) })
		require.NoError(t, err)
		require.Empty(t, left)
		require.Equal(t, len(msgs), len(got))
		next := 1000
		for i := range msgs {
			require.True(t, bytes.Equal(msgs[i], got[i]), "message %d", i)
			require.Len(t, gotFDs[i], nfds[i])
			for _, fd := range gotFDs[i] {
				require.Equal(t, next, fd)
				next++
			}
		}
	}
}

func TestOutFrameGroups(t *testing.T) {
	f := outFrame{data: []byte("abcdefgh")}
	for i := range 2*fdsPerSendmsg + 3 {
		f.objs = append(f.objs, &transmissible{fd: i})
	}
	putFrameHeader(&f.hdr, len(f.data), len(f.objs), frameMessage, 0)
	var bufs [][]byte
	var fds []int
	// Group 0 on byte 0, group 1 on byte 1, the last group on the rest.
	for g, want := range []int{1, 1, frameHeaderSize + 8 - 2} {
		bufs, fds = f.chunk(bufs, fds)
		require.Equal(t, want, len(bytes.Join(bufs, nil)), "group %d", g)
		require.Equal(t, min(fdsPerSendmsg, len(f.objs)-g*fdsPerSendmsg), len(fds))
		require.Equal(t, g*fdsPerSendmsg, fds[0])
		f.advance(want)
	}
	require.True(t, f.done())
	require.Zero(t, f.unsentFDs())
}

func TestDecoderRejects(t *testing.T) {
	frame := func(total, nfds uint32, data []byte) []byte { return rawFrame(total, nfds, data) }
	cases := []struct {
		name string
		b    []byte
		fds  int
	}{
		{"length below header", frame(frameHeaderSize-1, 0, nil), 0},
		{"unknown type", frame(frameHeaderSize, 2<<16, nil), 0},
		{"length zero", frame(0, 0, nil), 0},
		{"length above limit", frame(frameHeaderSize+MaxMessageBytes+1, 0, nil), 0},
		{"too many descriptors claimed", frame(64, MaxMessageHandles+1, make([]byte, 56)), 0},
		{"groups do not fit the frame", frame(frameHeaderSize, fdsPerSendmsg*frameHeaderSize+1, make([]byte, 0)), 0},
		{"descriptors missing", frame(frameHeaderSize+1, 1, []byte{0}), 0},
		{"descriptors of no frame", frame(frameHeaderSize+1, 0, []byte{0}), 1},
		{"descriptors beyond the claim", frame(100, 1, nil), 2},
		{"descriptors before any byte", nil, 1},
		{"descriptor flood", frame(100, 10, nil), MaxMessageHandles + 1},
	}
	for _, c := range cases {
		var dec frameDecoder
		buf := dec.space()
		n := copy(buf, c.b)
		fds := make([]int, c.fds)
		err := dec.commit(n, fds)
		for err == nil {
			var ok bool
			_, ok, err = dec.next()
			if !ok {
				break
			}
		}
		require.ErrorIs(t, err, errMalformed, c.name)
		require.Len(t, dec.takeFDs(), c.fds, c.name)
	}
}

func TestDecoderGrowsWithDataNotClaims(t *testing.T) {
	var dec frameDecoder
	buf := dec.space()
	n := copy(buf, rawFrame(frameHeaderSize+MaxMessageBytes, 0, nil))
	require.NoError(t, dec.commit(n, nil))
	// Feed 1 MiB of a frame that claims 256 MiB.
	for fed := 0; fed < 1<<20; {
		buf := dec.space()
		k := min(len(buf), 1<<20-fed)
		require.NoError(t, dec.commit(k, nil))
		fed += k
		_, ok, err := dec.next()
		require.NoError(t, err)
		require.False(t, ok)
	}
	require.LessOrEqual(t, len(dec.buf), 3<<20)
}

// FuzzFrameDecoder feeds arbitrary bytes, cut into arbitrary reads with
// arbitrary (fake) descriptors attached. The decoder must not panic, must
// hand out each descriptor at most once, and every descriptor must end up
// either in a frame or in takeFDs.
func FuzzFrameDecoder(f *testing.F) {
	f.Add(rawFrame(frameHeaderSize+3, 0, []byte("abc")), []byte{1, 0, 4})
	f.Add(rawFrame(frameHeaderSize+1, 2, []byte("x")), []byte{3, 2})
	f.Add(append(rawFrame(frameHeaderSize, 0, nil), rawFrame(frameHeaderSize+2, 1, []byte("yz"))...), []byte{8, 0, 9, 1})
	f.Add(rawFrame(0xffffffff, 0xffffffff, nil), []byte{8, 0})
	f.Fuzz(func(t *testing.T, stream []byte, cuts []byte) {
		var dec frameDecoder
		nextFD := 0
		seen := map[int]bool{}
		handedOut := 0
		for i := 0; len(stream) > 0; i++ {
			size, nfds := 1, 0
			if 2*i+1 < len(cuts) {
				size, nfds = int(cuts[2*i])+1, int(cuts[2*i+1])%(fdsPerSendmsg+1)
			}
			buf := dec.space()
			require.NotEmpty(t, buf)
			n := copy(buf, stream[:min(size, len(stream))])
			stream = stream[n:]
			fds := make([]int, nfds)
			for j := range fds {
				fds[j] = nextFD
				nextFD++
			}
			err := dec.commit(n, fds)
			for err == nil {
				f, ok, e := dec.next()
				err = e
				if !ok {
					break
				}
				require.LessOrEqual(t, len(f.data), MaxMessageBytes)
				for _, fd := range f.fds {
					require.False(t, seen[fd], "descriptor %d handed out twice", fd)
					seen[fd] = true
					handedOut++
				}
			}
			if err != nil {
				break
			}
		}
		left := dec.takeFDs()
		for _, fd := range left {
			require.False(t, seen[fd])
		}
		require.Equal(t, nextFD, handedOut+len(left))
	})
}

func TestFrameHeaderLayout(t *testing.T) {
	var hdr [frameHeaderSize]byte
	putFrameHeader(&hdr, 100, 3, frameSetup, 0x0102030405060708)
	require.Equal(t, uint32(116), binary.LittleEndian.Uint32(hdr[0:]))
	require.Equal(t, uint16(3), binary.LittleEndian.Uint16(hdr[4:]))
	require.Equal(t, uint16(frameSetup), binary.LittleEndian.Uint16(hdr[6:]))
	require.Equal(t, uint64(0x0102030405060708), binary.LittleEndian.Uint64(hdr[8:]))
}
