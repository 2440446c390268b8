package multiprocess

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"golang.org/x/sys/unix"
)

// benchSizes are the message sizes of BenchmarkTransmit.
var benchSizes = []int{64, 4 << 10, 64 << 10}

// benchWindow is how many one-way messages may be in flight: enough to
// keep the pipe full, few enough that the messages still in flight when
// the timed loop ends are negligible.
const benchWindow = 1024

// BenchmarkTransmit measures the driver between two goroutines of one
// process over a socketpair ("driver"), next to the same traffic over a
// plain Go socketpair with the same framing and no descriptors ("raw"):
// one-way throughput with a bounded window, and ping-pong round trips.
func BenchmarkTransmit(b *testing.B) {
	for _, size := range benchSizes {
		name := fmt.Sprintf("%dB", size)
		if size >= 1<<10 {
			name = fmt.Sprintf("%dKiB", size>>10)
		}
		b.Run("driver/oneway/"+name, func(b *testing.B) { benchDriverOneWay(b, size) })
		b.Run("raw/oneway/"+name, func(b *testing.B) { benchRawOneWay(b, size) })
		b.Run("driver/pingpong/"+name, func(b *testing.B) { benchDriverPingPong(b, size) })
		b.Run("raw/pingpong/"+name, func(b *testing.B) { benchRawPingPong(b, size) })
	}
}

// benchPair returns two ends of a new transport pair, with handlers.
func benchPair(b *testing.B, d *Driver, ha, hb ipcz.ActivityHandler) (ipcz.DriverHandle, ipcz.DriverHandle) {
	ta, tb, err := d.NewTransportPair()
	if err != nil {
		b.Fatal(err)
	}
	for _, x := range []struct {
		t ipcz.DriverHandle
		h ipcz.ActivityHandler
	}{{ta, ha}, {tb, hb}} {
		done := make(chan struct{})
		h := x.h
		if err := d.ActivateTransport(x.t, func(data []byte, hs []ipcz.DriverHandle, flags ipcz.TransportActivityFlags) error {
			if flags&ipcz.TransportActivityDeactivated != 0 {
				close(done)
				return nil
			}
			if flags != 0 {
				return nil
			}
			return h(data, hs, flags)
		}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			d.DeactivateTransport(x.t)
			<-done
			d.Close(x.t)
		})
	}
	return ta, tb
}

func benchDriverOneWay(b *testing.B, size int) {
	d := New()
	window := make(chan struct{}, benchWindow)
	ta, _ := benchPair(b, d,
		func([]byte, []ipcz.DriverHandle, ipcz.TransportActivityFlags) error { return nil },
		func([]byte, []ipcz.DriverHandle, ipcz.TransportActivityFlags) error { <-window; return nil })
	buf := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		window <- struct{}{}
		if err := d.Transmit(ta, buf, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func benchDriverPingPong(b *testing.B, size int) {
	d := New()
	pong := make(chan struct{}, 1)
	var tb ipcz.DriverHandle
	ta, tb := benchPair(b, d,
		func([]byte, []ipcz.DriverHandle, ipcz.TransportActivityFlags) error { pong <- struct{}{}; return nil },
		func(data []byte, _ []ipcz.DriverHandle, _ ipcz.TransportActivityFlags) error {
			return d.Transmit(tb, data, nil)
		})
	buf := make([]byte, size)
	b.SetBytes(2 * int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Transmit(ta, buf, nil); err != nil {
			b.Fatal(err)
		}
		<-pong
	}
}

// rawPair returns a socketpair as two *os.File registered with the Go
// poller, as the driver's sockets are.
func rawPair(b *testing.B) (*os.File, *os.File) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	x, y := os.NewFile(uintptr(fds[0]), "x"), os.NewFile(uintptr(fds[1]), "y")
	b.Cleanup(func() {
		x.Close()
		y.Close()
	})
	return x, y
}

// rawWrite writes one frame: the header and data in one write.
func rawWrite(f *os.File, frame []byte) error {
	_, err := f.Write(frame)
	return err
}

// rawRead reads one frame into buf (which it may grow) and returns its
// data.
func rawRead(r *bufio.Reader, buf []byte) ([]byte, error) {
	var hdr [frameHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint32(hdr[:])) - frameHeaderSize
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	_, err := io.ReadFull(r, buf[:n])
	return buf[:n], err
}

// rawFrameOf returns a frame with size bytes of data.
func rawFrameOf(size int) []byte {
	frame := make([]byte, frameHeaderSize+size)
	var hdr [frameHeaderSize]byte
	putFrameHeader(&hdr, size, 0, frameMessage, 0)
	copy(frame, hdr[:])
	return frame
}

func benchRawOneWay(b *testing.B, size int) {
	x, y := rawPair(b)
	window := make(chan struct{}, benchWindow)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := bufio.NewReaderSize(y, readChunk)
		var buf []byte
		for {
			var err error
			if buf, err = rawRead(r, buf); err != nil {
				return
			}
			<-window
		}
	}()
	frame := rawFrameOf(size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		window <- struct{}{}
		if err := rawWrite(x, frame); err != nil {
			b.Fatal(err)
		}
	}
	x.Close()
	<-done
}

func benchRawPingPong(b *testing.B, size int) {
	x, y := rawPair(b)
	done := make(chan struct{})
	go func() { // the echo side
		defer close(done)
		r := bufio.NewReaderSize(y, readChunk)
		frame := rawFrameOf(size)
		var buf []byte
		for {
			var err error
			if buf, err = rawRead(r, buf); err != nil {
				return
			}
			copy(frame[frameHeaderSize:], buf)
			if rawWrite(y, frame) != nil {
				return
			}
		}
	}()
	r := bufio.NewReaderSize(x, readChunk)
	frame := rawFrameOf(size)
	var buf []byte
	b.SetBytes(2 * int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if err := rawWrite(x, frame); err != nil {
			b.Fatal(err)
		}
		var err error
		if buf, err = rawRead(r, buf); err != nil {
			b.Fatal(err)
		}
	}
	x.Close()
	<-done
}
