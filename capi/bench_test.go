package capi_test

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/ipcz-go/ipcz-go/ipcz/driver/multiprocess"
	"github.com/ipcz-go/ipcz-go/mojo"
)

// The cost of the C boundary: each benchmark does the same work from Go
// (mojo.Core methods, no cgo) and from C through libmojo.so
// (testdata/c/bench.c, which measures itself and prints ns/op), so the
// difference per call is what the boundary costs.
//
//	go test -run '^$' -bench . -benchtime 2x ./capi/   (quick)
//	go test -run '^$' -bench . -count 6 ./capi/        (for benchstat)

// benchChildEnv makes the test binary run benchChild: the Go side of the
// cross-process benchmarks starts the binary itself as its child.
const benchChildEnv = "CAPI_BENCH_CHILD"

func init() {
	if os.Getenv(benchChildEnv) == "1" {
		os.Exit(benchChild())
	}
}

// runC runs the C benchmark with n iterations and reports its ns/op (and
// MB/s, if it prints one).
func runC(b *testing.B, mode string, n int, size int) {
	b.Helper()
	bin := compile(b, "bench", "-O2")
	b.ResetTimer()
	stdout, stderr, err := run(b, bin, mode, strconv.Itoa(n), strconv.Itoa(size))
	b.StopTimer()
	if err != nil {
		b.Fatalf("bench %s: %v\n%s%s", mode, err, stdout, stderr)
	}
	for _, line := range strings.Split(stdout, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			b.Fatalf("bad output %q", line)
		}
		switch f[0] {
		case "ns/op":
			b.ReportMetric(v, "ns/op")
		case "MB/s":
			b.ReportMetric(v, "MB/s")
		}
	}
}

func goCore(b *testing.B) *mojo.Core {
	c, err := mojo.NewCore(multiprocess.New(), true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Shutdown() })
	return c
}

// BenchmarkQuery is MojoQueryHandleSignalsState: the smallest call with a
// handle lookup, so nearly all of the C figure's excess is the boundary.
func BenchmarkQuery(b *testing.B) {
	b.Run("go", func(b *testing.B) {
		c := goCore(b)
		h, other, _ := c.CreateMessagePipe(nil)
		defer c.Close(other)
		for b.Loop() {
			if _, r := c.QueryHandleSignalsState(h); r != mojo.ResultOK {
				b.Fatal(r)
			}
		}
	})
	b.Run("c", func(b *testing.B) { needGCC(b); runC(b, "query", max(b.N, 100000), 0) })
}

// BenchmarkLocalWriteRead is MojoWriteMessage + MojoReadMessage of 64
// bytes on a pipe within the process (two calls per op).
func BenchmarkLocalWriteRead(b *testing.B) {
	b.Run("go", func(b *testing.B) {
		c := goCore(b)
		x, y, _ := c.CreateMessagePipe(nil)
		data := make([]byte, 64)
		buf := make([]byte, 64)
		for b.Loop() {
			if r := c.WriteMessage(x, data, nil, 0); r != mojo.ResultOK {
				b.Fatal(r)
			}
			if _, _, r := c.ReadMessage(y, buf, nil, 0); r != mojo.ResultOK {
				b.Fatal(r)
			}
		}
	})
	b.Run("c", func(b *testing.B) { needGCC(b); runC(b, "local", max(b.N, 100000), 64) })
}

// BenchmarkCrossProcessPingPong is a 64-byte round trip with a child
// process over a message pipe; both sides wait with a watcher.
func BenchmarkCrossProcessPingPong(b *testing.B) {
	b.Run("go", func(b *testing.B) {
		c, pipe, wait := spawnGoChild(b)
		data := make([]byte, 64)
		buf := make([]byte, 64)
		roundTrip := func() {
			if r := c.WriteMessage(pipe, data, nil, 0); r != mojo.ResultOK {
				b.Fatal(r)
			}
			for {
				_, _, r := c.ReadMessage(pipe, buf, nil, 0)
				if r == mojo.ResultOK {
					return
				}
				if r != mojo.ResultShouldWait || wait() != mojo.ResultOK {
					b.Fatal(r)
				}
			}
		}
		for range 100 {
			roundTrip()
		}
		b.ResetTimer()
		for range b.N {
			roundTrip()
		}
	})
	b.Run("c", func(b *testing.B) { needGCC(b); runC(b, "pingpong", max(b.N, 2000), 64) })
}

// BenchmarkCrossProcessDataPipe streams 64 KiB chunks through a data pipe
// (capacity 256 KiB) to a child, which reads them with two-phase reads.
func BenchmarkCrossProcessDataPipe(b *testing.B) {
	const chunk = 64 << 10
	b.Run("go", func(b *testing.B) {
		c, pipe, wait := spawnGoChild(b)
		p, cons, r := c.CreateDataPipe(&mojo.CreateDataPipeOptions{StructSize: 16, ElementNumBytes: 1, CapacityNumBytes: 4 * chunk})
		if r != mojo.ResultOK {
			b.Fatal(r)
		}
		if r := c.WriteMessage(pipe, nil, []mojo.Handle{cons}, 0); r != mojo.ResultOK {
			b.Fatal(r)
		}
		writable := waiter(c, p, mojo.HandleSignalWritable)
		data := make([]byte, chunk)
		b.SetBytes(chunk)
		b.ResetTimer()
		total := uint64(b.N) * chunk
		for sent := uint64(0); sent < total; {
			n, r := c.WriteData(p, data, 0)
			if r == mojo.ResultShouldWait {
				if writable() != mojo.ResultOK {
					b.Fatal("consumer gone")
				}
				continue
			}
			if r != mojo.ResultOK {
				b.Fatal(r)
			}
			sent += uint64(n)
		}
		c.Close(p)
		buf := make([]byte, 8)
		for {
			_, _, r := c.ReadMessage(pipe, buf, nil, 0)
			if r == mojo.ResultOK {
				break
			}
			if r != mojo.ResultShouldWait || wait() != mojo.ResultOK {
				b.Fatal(r)
			}
		}
	})
	b.Run("c", func(b *testing.B) { needGCC(b); runC(b, "datapipe", max(b.N, 200), chunk) })
}

// waiter returns a function that waits until one of signals holds on h,
// with one watcher re-armed on each call.
func waiter(c *mojo.Core, h mojo.Handle, signals mojo.HandleSignals) func() mojo.Result {
	ch := make(chan mojo.Result, 1)
	w, _ := c.CreateWatcher(func(_ uintptr, r mojo.Result, _ mojo.HandleSignalsState, _ mojo.WatcherNotificationFlags) {
		if r != mojo.ResultCancelled {
			select {
			case ch <- r:
			default:
			}
		}
	})
	c.Watch(w, h, signals, 1)
	ctx, res, st := make([]uintptr, 1), make([]mojo.Result, 1), make([]mojo.HandleSignalsState, 1)
	return func() mojo.Result {
		n := uint32(1)
		switch r := c.ArmWatcher(w, &n, ctx, res, st); r {
		case mojo.ResultOK:
			return <-ch
		case mojo.ResultFailedPrecondition:
			return res[0]
		default:
			return r
		}
	}
}

// spawnGoChild starts the test binary as a child running benchChild and
// returns the parent's core, the pipe to the child and a readable-waiter
// for it. The child is stopped at the end of the benchmark.
func spawnGoChild(b *testing.B) (*mojo.Core, mojo.Handle, func() mojo.Result) {
	d := multiprocess.New()
	c, err := mojo.NewCore(d, true)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchChildEnv+"=1")
	cmd.Stderr = os.Stderr
	t, err := d.Spawn(cmd)
	if err != nil {
		b.Fatal(err)
	}
	inv := c.CreateInvitation()
	pipe, _ := inv.AttachMessagePipe("pipe")
	if r := inv.Send(t, 0); r != mojo.ResultOK {
		b.Fatal(r)
	}
	b.Cleanup(func() {
		c.Close(pipe)
		_ = cmd.Wait()
		_ = c.Shutdown()
	})
	return c, pipe, waiter(c, pipe, mojo.HandleSignalReadable)
}

// benchChild is the Go child: it echoes messages, and drains a data pipe
// consumer it receives, answering with the byte count.
func benchChild() int {
	d := multiprocess.New()
	t, err := d.TransportFromEnvironment()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c, err := mojo.NewCore(d, false)
	if err != nil {
		return 1
	}
	inv, r := c.AcceptInvitation(t, 0)
	if r != mojo.ResultOK {
		return 1
	}
	pipe, _ := inv.ExtractMessagePipe("pipe")
	inv.Close()
	wait := waiter(c, pipe, mojo.HandleSignalReadable)
	buf := make([]byte, 1<<20)
	hs := make([]mojo.Handle, 1)
	for {
		n, nh, r := c.ReadMessage(pipe, buf, hs, 0)
		switch {
		case r == mojo.ResultShouldWait:
			if wait() != mojo.ResultOK {
				return 0
			}
			continue
		case r != mojo.ResultOK:
			return 0
		case nh == 1:
			readable := waiter(c, hs[0], mojo.HandleSignalReadable)
			var total uint64
			for {
				data, r := c.BeginReadData(hs[0], 0)
				if r == mojo.ResultShouldWait {
					if readable() != mojo.ResultOK {
						break
					}
					continue
				}
				if r != mojo.ResultOK {
					break
				}
				total += uint64(len(data))
				c.EndReadData(hs[0], uint32(len(data)))
			}
			c.Close(hs[0])
			msg := []byte(strconv.FormatUint(total, 10))
			c.WriteMessage(pipe, msg[:min(len(msg), 8)], nil, 0)
			continue
		}
		c.WriteMessage(pipe, buf[:n], nil, 0)
	}
}
