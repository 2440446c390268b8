package mojo

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/ipcz/driver/inprocess"
	"golang.org/x/sys/unix"
)

// waitFor polls cond for up to 10 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// readMessage waits for and reads one message without handles.
func readMessage(t testing.TB, c *Core, h Handle) string {
	t.Helper()
	buf := make([]byte, 1024)
	var got string
	waitFor(t, "a message", func() bool {
		n, _, r := c.ReadMessage(h, buf, nil, 0)
		if r == ResultShouldWait {
			return false
		}
		ok(t, "ReadMessage", r)
		got = string(buf[:n])
		return true
	})
	return got
}

// readHandles waits for and reads one message, returning its handles.
func readHandles(t testing.TB, c *Core, h Handle, n int) []Handle {
	t.Helper()
	hs := make([]Handle, n)
	buf := make([]byte, 1024)
	waitFor(t, "a message with handles", func() bool {
		_, nh, r := c.ReadMessage(h, buf, hs, 0)
		if r == ResultShouldWait {
			return false
		}
		ok(t, "ReadMessage", r)
		if int(nh) != n {
			t.Fatalf("%d handles, want %d", nh, n)
		}
		return true
	})
	return hs
}

// twoCores returns a broker core and a child core connected by an
// invitation carrying one pipe, and the pipe's two ends.
func twoCores(t testing.TB, mode inprocess.Mode) (broker, child *Core, a, b Handle) {
	t.Helper()
	d := newTestDriver(mode)
	broker, err := NewCore(d, true)
	if err != nil {
		t.Fatal(err)
	}
	child, err = NewCore(d, false)
	if err != nil {
		t.Fatal(err)
	}
	x, y := d.NewTransportPair(true, false)
	inv := broker.CreateInvitation()
	a, r := inv.AttachMessagePipe("pipe")
	ok(t, "AttachMessagePipe", r)
	ok(t, "Send", inv.Send(x, 0))
	in, r := child.AcceptInvitation(y, 0)
	ok(t, "AcceptInvitation", r)
	b, r = in.ExtractMessagePipe("pipe")
	ok(t, "ExtractMessagePipe", r)
	t.Cleanup(func() {
		_ = child.Shutdown()
		_ = broker.Shutdown()
	})
	return broker, child, a, b
}

var modes = []inprocess.Mode{inprocess.Sync, inprocess.Async}

func TestInvitation(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			d := newTestDriver(mode)
			broker, _ := NewCore(d, true)
			child, _ := NewCore(d, false)
			defer broker.Shutdown()
			defer child.Shutdown()
			x, y := d.NewTransportPair(true, false)

			inv := broker.CreateInvitation()
			first, r := inv.AttachMessagePipe("first")
			ok(t, "Attach(first)", r)
			second, r := inv.AttachMessagePipe("second")
			ok(t, "Attach(second)", r)
			_, r = inv.AttachMessagePipe("first")
			expect(t, "Attach(first) again", r, ResultAlreadyExists)

			// The invitee extracts "second" before anything arrived, and
			// writes to it at once.
			in, r := child.AcceptInvitation(y, 0)
			ok(t, "AcceptInvitation", r)
			second2, r := in.ExtractMessagePipe("second")
			ok(t, "Extract(second) early", r)
			ok(t, "early write", child.WriteMessage(second2, []byte("early"), nil, 0))
			missing, r := in.ExtractMessagePipe("missing")
			ok(t, "Extract(missing) early", r)

			ok(t, "Send", inv.Send(x, 0))
			expect(t, "Send again", inv.Send(x, 0), ResultFailedPrecondition)
			_, r = inv.AttachMessagePipe("late")
			expect(t, "Attach after Send", r, ResultFailedPrecondition)

			first2, r := in.ExtractMessagePipe("first")
			ok(t, "Extract(first)", r)
			_, r = in.ExtractMessagePipe("first")
			expect(t, "Extract(first) again", r, ResultNotFound)

			if got := readMessage(t, broker, second); got != "early" {
				t.Fatalf("second got %q", got)
			}
			ok(t, "broker writes first", broker.WriteMessage(first, []byte("hello child"), nil, 0))
			if got := readMessage(t, child, first2); got != "hello child" {
				t.Fatalf("first2 got %q", got)
			}
			ok(t, "child writes first", child.WriteMessage(first2, []byte("hello broker"), nil, 0))
			if got := readMessage(t, broker, first); got != "hello broker" {
				t.Fatalf("first got %q", got)
			}
			// A name nobody attached: its pipe's peer is closed.
			waitFor(t, "missing peer closed", func() bool {
				return state(t, child, missing).Satisfies(HandleSignalPeerClosed)
			})
			late, r := in.ExtractMessagePipe("also missing")
			ok(t, "Extract(also missing) late", r)
			expectState(t, child, late, HandleSignalPeerClosed, HandleSignalPeerClosed)
			closeAll(t, child, first2, second2, missing, late)
			closeAll(t, broker, first, second)
		})
	}
}

func TestInvitationFlags(t *testing.T) {
	d := newTestDriver(inprocess.Async)
	broker, _ := NewCore(d, true)
	child, _ := NewCore(d, false)
	x, y := d.NewTransportPair(true, false)
	defer d.Close(y)
	inv := broker.CreateInvitation()
	a, _ := inv.AttachMessagePipe("a")
	expect(t, "broker sends with SHARE_BROKER", inv.Send(x, SendInvitationFlagShareBroker), ResultInvalidArgument)
	// The invitation is used up; its pipe's peer is closed.
	expectState(t, broker, a, HandleSignalPeerClosed, HandleSignalPeerClosed)
	inv2 := child.CreateInvitation()
	expect(t, "non-broker sends without SHARE_BROKER", inv2.Send(x, 0), ResultInvalidArgument)
	_, r := child.AcceptInvitation(y, 7)
	expect(t, "unknown accept flags", r, ResultInvalidArgument)
	inv3 := broker.CreateInvitation()
	b, _ := inv3.AttachMessagePipe("b")
	ok(t, "Close", inv3.Close())
	expect(t, "Close again", inv3.Close(), ResultFailedPrecondition)
	expectState(t, broker, b, HandleSignalPeerClosed, HandleSignalPeerClosed)
	closeAll(t, broker, a, b)
	d.Close(x)
}

// Notifications caused by another node's traffic carry FROM_SYSTEM.
func TestFromSystem(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			broker, child, a, b := twoCores(t, mode)
			var rec recorder
			w, _ := child.CreateWatcher(rec.callback)
			ok(t, "Watch", child.Watch(w, b, HandleSignalReadable, 7))
			ok(t, "Arm", child.ArmWatcher(w, nil, nil, nil, nil))
			ok(t, "broker writes", broker.WriteMessage(a, []byte("x"), nil, 0))
			var ns []notification
			waitFor(t, "the notification", func() bool {
				ns = append(ns, rec.take()...)
				return len(ns) > 0
			})
			if len(ns) != 1 || ns[0].context != 7 || ns[0].result != ResultOK || ns[0].flags != WatcherNotificationFlagFromSystem {
				t.Fatalf("notifications %v", ns)
			}
			closeAll(t, child, w, b)
			closeAll(t, broker, a)
		})
	}
}

// A message pipe, a shared buffer and a platform handle sent to another
// node keep working.
func TestHandlesAcrossNodes(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			broker, child, a, b := twoCores(t, mode)
			x, y := pipe(t, broker)
			buf, _ := broker.CreateSharedBuffer(nil, 4096)
			m, _ := broker.MapBuffer(buf, 0, 4096, 0)
			copy(m[100:], "from the broker")
			var fds [2]int
			if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fds[0])
			ph, r := broker.WrapPlatformHandle(&PlatformHandle{StructSize: 16, Type: PlatformHandleTypeFileDescriptor, Value: uint64(fds[1])})
			ok(t, "WrapPlatformHandle", r)
			inv, _ := broker.WrapPlatformHandle(&PlatformHandle{StructSize: 16})

			ok(t, "send handles", broker.WriteMessage(a, []byte("four"), []Handle{x, buf, ph, inv}, 0))
			hs := readHandles(t, child, b, 4)

			ok(t, "child writes on the pipe", child.WriteMessage(hs[0], []byte("over x"), nil, 0))
			if got := readMessage(t, broker, y); got != "over x" {
				t.Fatalf("y got %q", got)
			}
			cm, r := child.MapBuffer(hs[1], 100, 15, 0)
			ok(t, "child maps", r)
			if string(cm) != "from the broker" {
				t.Fatalf("child sees %q", cm)
			}
			copy(cm, "from the child!")
			if string(m[100:115]) != "from the child!" {
				t.Fatalf("broker sees %q", m[100:115])
			}
			out := PlatformHandle{StructSize: 16}
			ok(t, "child unwraps", child.UnwrapPlatformHandle(hs[2], &out))
			if _, err := unix.Write(int(out.Value), []byte("fd!")); err != nil {
				t.Fatal(err)
			}
			unix.Close(int(out.Value))
			got := make([]byte, 3)
			if _, err := unix.Read(fds[0], got); err != nil || string(got) != "fd!" {
				t.Fatalf("read %q %v", got, err)
			}
			ok(t, "child unwraps the invalid handle", child.UnwrapPlatformHandle(hs[3], &out))
			if out.Type != PlatformHandleTypeInvalid {
				t.Fatalf("type %d", out.Type)
			}
			ok(t, "UnmapBuffer", child.UnmapBuffer(cm))
			ok(t, "UnmapBuffer", broker.UnmapBuffer(m))
			closeAll(t, child, hs[0], hs[1], b)
			closeAll(t, broker, y, a)
		})
	}
}

// streamer writes a numbered byte stream into a producer.
func streamBytes(from, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((from + i) * 7 % 251)
	}
	return b
}

// A data pipe endpoint sent to another node mid-stream keeps its place:
// no byte is lost or duplicated, whichever end moves.
func TestDataPipeMovesMidStream(t *testing.T) {
	const total = 1 << 20
	for _, mode := range modes {
		for _, moving := range []string{"consumer", "producer"} {
			t.Run(fmt.Sprintf("%v/%s", mode, moving), func(t *testing.T) {
				broker, child, a, b := twoCores(t, mode)
				p, cons, r := broker.CreateDataPipe(&CreateDataPipeOptions{StructSize: 16, ElementNumBytes: 1, CapacityNumBytes: 1000})
				ok(t, "CreateDataPipe", r)

				// write runs on core wc and handle h until total bytes went in.
				write := func(wc *Core, h Handle, from int) {
					for off := from; off < total; {
						n, r := wc.WriteData(h, streamBytes(off, min(777, total-off)), 0)
						switch r {
						case ResultOK:
							off += int(n)
						case ResultShouldWait:
							time.Sleep(10 * time.Microsecond)
						default:
							t.Errorf("WriteData: %v", r)
							return
						}
					}
				}
				// read reads on core rc and handle h, checking the stream,
				// until stop says to hand over, and returns the offset.
				read := func(rc *Core, h Handle, from int, stop func(int) bool) int {
					buf := make([]byte, 500)
					off := from
					for !stop(off) {
						n, r := rc.ReadData(h, buf, uint32(len(buf)), 0)
						switch r {
						case ResultOK:
							if !bytes.Equal(buf[:n], streamBytes(off, int(n))) {
								t.Errorf("corrupt stream at %d", off)
								return off
							}
							off += int(n)
						case ResultShouldWait:
							time.Sleep(10 * time.Microsecond)
						default:
							t.Errorf("ReadData at %d: %v", off, r)
							return off
						}
					}
					return off
				}

				var wg sync.WaitGroup
				switch moving {
				case "consumer":
					// The broker writes everything; the broker reads a
					// third, then sends the consumer to the child, which
					// reads the rest.
					wg.Add(1)
					go func() { defer wg.Done(); write(broker, p, 0) }()
					off := read(broker, cons, 0, func(off int) bool { return off >= total/3 })
					ok(t, "send consumer", broker.WriteMessage(a, binary.LittleEndian.AppendUint64(nil, uint64(off)), []Handle{cons}, 0))
					var moved Handle
					var start int
					waitFor(t, "the consumer", func() bool {
						buf, hs := make([]byte, 8), make([]Handle, 1)
						_, _, r := child.ReadMessage(b, buf, hs, 0)
						if r == ResultShouldWait {
							return false
						}
						ok(t, "read consumer", r)
						moved, start = hs[0], int(binary.LittleEndian.Uint64(buf))
						return true
					})
					end := read(child, moved, start, func(off int) bool { return off >= total })
					if end != total {
						t.Fatalf("read %d of %d bytes", end, total)
					}
					wg.Wait()
					closeAll(t, child, moved)
					closeAll(t, broker, p)
				case "producer":
					// The broker reads everything throughout; the broker
					// writes a third, then sends the producer to the child,
					// which writes the rest.
					done := make(chan int)
					go func() { done <- read(broker, cons, 0, func(off int) bool { return off >= total }) }()
					third := total / 3
					for off := 0; off < third; {
						n, r := broker.WriteData(p, streamBytes(off, min(777, third-off)), 0)
						if r == ResultShouldWait {
							time.Sleep(10 * time.Microsecond)
							continue
						}
						ok(t, "WriteData", r)
						off += int(n)
					}
					ok(t, "send producer", broker.WriteMessage(a, binary.LittleEndian.AppendUint64(nil, uint64(third)), []Handle{p}, 0))
					var moved Handle
					var start int
					waitFor(t, "the producer", func() bool {
						buf, hs := make([]byte, 8), make([]Handle, 1)
						_, _, r := child.ReadMessage(b, buf, hs, 0)
						if r == ResultShouldWait {
							return false
						}
						ok(t, "read producer", r)
						moved, start = hs[0], int(binary.LittleEndian.Uint64(buf))
						return true
					})
					write(child, moved, start)
					if end := <-done; end != total {
						t.Fatalf("read %d of %d bytes", end, total)
					}
					// Nothing more arrives once the moved producer closes.
					closeAll(t, child, moved)
					waitFor(t, "peer closed", func() bool {
						return state(t, broker, cons) == HandleSignalsState{Satisfied: HandleSignalPeerClosed, Satisfiable: HandleSignalPeerClosed}
					})
					closeAll(t, broker, cons)
				}
				closeAll(t, broker, a)
				closeAll(t, child, b)
			})
		}
	}
}

// Closing an accepted invitation closes what was not extracted, even if it
// arrives later.
func TestIncomingInvitationClose(t *testing.T) {
	d := newTestDriver(inprocess.Async)
	broker, _ := NewCore(d, true)
	child, _ := NewCore(d, false)
	defer broker.Shutdown()
	defer child.Shutdown()
	x, y := d.NewTransportPair(true, false)
	inv := broker.CreateInvitation()
	kept, _ := inv.AttachMessagePipe("kept")
	dropped, _ := inv.AttachMessagePipe("dropped")
	in, r := child.AcceptInvitation(y, 0)
	ok(t, "Accept", r)
	k, r := in.ExtractMessagePipe("kept")
	ok(t, "Extract(kept)", r)
	in.Close()
	_, r = in.ExtractMessagePipe("dropped")
	expect(t, "Extract after Close", r, ResultFailedPrecondition)
	ok(t, "Send", inv.Send(x, 0))
	waitFor(t, "dropped peer closed", func() bool {
		return state(t, broker, dropped).Satisfies(HandleSignalPeerClosed)
	})
	ok(t, "write kept", broker.WriteMessage(kept, []byte("still here"), nil, 0))
	if got := readMessage(t, child, k); got != "still here" {
		t.Fatalf("kept got %q", got)
	}
	closeAll(t, broker, kept, dropped)
	closeAll(t, child, k)
}
