package inprocess

import (
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/ipcz"
)

// BenchmarkTransmit measures one 64-byte Transmit and its delivery. In the
// async modes at most 1024 messages are in flight, so the figure is
// steady-state throughput, not the cost of growing a queue.
func BenchmarkTransmit(b *testing.B) {
	for _, mode := range []Mode{Sync, Async} {
		b.Run(mode.String(), func(b *testing.B) {
			d := New(mode)
			x, y := d.NewTransportPair(false, false)
			window := make(chan struct{}, 1024)
			done := make(chan struct{})
			handler := func(_ []byte, _ []ipcz.DriverHandle, flags ipcz.TransportActivityFlags) error {
				switch {
				case flags == 0:
					<-window
				case flags&ipcz.TransportActivityDeactivated != 0:
					close(done)
				}
				return nil
			}
			nop := func([]byte, []ipcz.DriverHandle, ipcz.TransportActivityFlags) error { return nil }
			if err := d.ActivateTransport(x, nop); err != nil {
				b.Fatal(err)
			}
			if err := d.ActivateTransport(y, handler); err != nil {
				b.Fatal(err)
			}
			msg := make([]byte, 64)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				window <- struct{}{}
				if err := d.Transmit(x, msg, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if !waitUntil(10*time.Second, func() bool { return len(window) == 0 }) {
				b.Fatal("messages not delivered")
			}
			_ = d.Close(x)
			_ = d.Close(y)
			<-done
			if !waitUntil(10*time.Second, func() bool { return d.RunningGoroutines() == 0 }) {
				b.Fatal("delivery goroutines still running")
			}
		})
	}
}
