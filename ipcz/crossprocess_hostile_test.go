package ipcz_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/internal/leakcheck"
	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/multiprocess"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Hostile children: each connects as an honest node, answers one parcel,
// then misbehaves in one way and waits for the broker to hang up.
var crossHostileModes = []struct {
	name string
	// cutOff says the broker must drop the child's link.
	cutOff bool
}{
	{"garbage-frames", true},
	{"ring-scribble", true},
	{"fd-flood", true},
	{"node-memory-scribble", false},
}

func init() {
	for _, m := range crossHostileModes {
		registerCrossRole("hostile-"+m.name, func(k *crossKid) int { return crossHostile(k, m.name) })
	}
}

// sharedMappings returns the address ranges of this process's shared
// memfd mappings whose name contains label.
func sharedMappings(label string) (ranges [][2]uint64) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) < 6 || !strings.Contains(line, label) || !strings.HasPrefix(fields[1], "rw") {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		a, _ := strconv.ParseUint(lo, 16, 64)
		b, _ := strconv.ParseUint(hi, 16, 64)
		ranges = append(ranges, [2]uint64{a, b})
	}
	return ranges
}

// scribble overwrites the given address ranges of this process with
// garbage, through /proc/self/mem (so no unsafe code is needed). A range
// may vanish meanwhile: scribbling over one ring can make this process's
// own reader drop the link and unmap it or the other, even while it is
// written. Some garbage must land.
func (k *crossKid) scribble(ranges [][2]uint64) {
	mem, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		k.fatalf("open /proc/self/mem: %v", err)
	}
	defer mem.Close()
	written := 0
	for _, r := range ranges {
		garbage := make([]byte, r[1]-r[0])
		for i := range garbage {
			garbage[i] = byte(i*131) ^ 0xA5
		}
		// Leave each page's first word alone now and then, so that some
		// values look plausible.
		for i := 0; i+8 <= len(garbage); i += 8 << 10 {
			binary.LittleEndian.PutUint64(garbage[i:], uint64(i))
		}
		n, err := mem.WriteAt(garbage, int64(r[0]))
		written += n
		if err != nil && (written == 0 || !errors.Is(err, unix.EIO)) {
			k.fatalf("write /proc/self/mem: %v", err)
		}
	}
}

// crossHostile misbehaves as mode says.
func crossHostile(k *crossKid, mode string) int {
	k.expect(k.broker, "hello")
	k.put(k.broker, "hello")
	k.expect(k.broker, "go")
	switch mode {
	case "garbage-frames":
		garbage := make([]byte, 64<<10)
		for i := range garbage {
			garbage[i] = byte(i * 7)
		}
		unix.Write(k.socketFD, garbage)
	case "ring-scribble":
		rings := sharedMappings("memfd:ipcz-ring")
		if len(rings) == 0 {
			k.fatalf("no ring mapped")
		}
		k.scribble(rings)
		// Wake the broker's reader: a parcel, whose Transmit finds the
		// ring's words corrupt too.
		k.broker.Put([]byte("after the scribbling"), nil, nil)
	case "fd-flood":
		// 10,000 descriptors, 64 per byte of a frame that claims the
		// most a frame may carry.
		null, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			k.fatalf("open: %v", err)
		}
		fds := make([]int, 64)
		for i := range fds {
			fds[i] = null
		}
		frame := make([]byte, 16+200)
		binary.LittleEndian.PutUint32(frame, uint32(len(frame)))
		binary.LittleEndian.PutUint16(frame[4:], multiprocess.MaxMessageHandles)
		for i := 0; i < 10000/64+1 && i < len(frame); i++ {
			if err := unix.Sendmsg(k.socketFD, frame[i:i+1], unix.UnixRights(fds...), nil, unix.MSG_NOSIGNAL); err != nil {
				break // cut off already
			}
		}
		unix.Close(null)
	case "node-memory-scribble":
		var node [][2]uint64
		for _, r := range sharedMappings("memfd:ipcz") {
			node = append(node, r)
		}
		rings := sharedMappings("memfd:ipcz-ring")
		node = removeRanges(node, rings)
		if len(node) == 0 {
			k.fatalf("no node memory mapped")
		}
		k.scribble(node)
		for i := range 20 {
			k.broker.Put([]byte(fmt.Sprint("after the scribbling ", i)), nil, nil)
			k.broker.Put(make([]byte, 3000), nil, nil)
		}
		// The route's state is garbage now: the broker's closing may
		// never be seen. Leave after a while.
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			if s, err := k.broker.QueryStatus(); err != nil || s.Flags&ipcz.PortalStatusPeerClosed != 0 {
				break
			}
			k.broker.GetMessage()
			time.Sleep(time.Millisecond)
		}
		return 0
	}
	k.untilPeerClosed(k.broker)
	return 0
}

// removeRanges returns the ranges of a that are not in b.
func removeRanges(a, b [][2]uint64) [][2]uint64 {
	var out [][2]uint64
	for _, r := range a {
		keep := true
		for _, x := range b {
			if r == x {
				keep = false
			}
		}
		if keep {
			out = append(out, r)
		}
	}
	return out
}

// TestCrossProcessHostileChildrenAreCutOff: a child that writes garbage
// frames, scribbles over its ring, floods descriptors or scribbles over
// the node pair's shared memory never takes the broker down; the first
// three lose their link; another child keeps working all along, and the
// hostile child's link leaves no descriptor or driver goroutine behind.
func TestCrossProcessHostileChildrenAreCutOff(t *testing.T) {
	for _, m := range crossHostileModes {
		t.Run(m.name, func(t *testing.T) {
			net := newCrossNet(t)
			good := net.spawn("echo", false)
			pingPongEcho(t, good.portal, "up")
			fdsBefore := len(leakcheck.OpenFDs())
			goroutinesBefore := net.d.RunningGoroutines()
			h := net.spawn("hostile-"+m.name, false)
			pingPongEcho(t, h.portal, "hello")
			require.NoError(t, h.portal.Put([]byte("go"), nil, nil))
			if m.cutOff {
				drainUntilDead(t, h.portal)
			} else {
				// The broker takes what comes until the child is done;
				// the link may or may not survive the scribbling.
				deadline := time.Now().Add(time.Second)
				for time.Now().Before(deadline) {
					h.portal.GetMessage()
					time.Sleep(time.Millisecond)
				}
			}
			require.NoError(t, h.portal.Close())
			for i := range 20 {
				pingPongEcho(t, good.portal, strconv.Itoa(i))
			}
			// The hostile child exits once its link is gone.
			select {
			case err := <-h.exited:
				h.exited <- err
			case <-time.After(20 * time.Second):
				if m.cutOff {
					t.Fatal("the hostile child was not cut off")
				}
				h.kill(t)
			}
			eventuallyDo(t, "the hostile child's descriptors and goroutines to go", func() bool {
				return net.d.RunningGoroutines() == goroutinesBefore && len(leakcheck.OpenFDs()) == fdsBefore
			}, func() string {
				return fmt.Sprintf("goroutines %d (before %d), %d descriptors (before %d)",
					net.d.RunningGoroutines(), goroutinesBefore, len(leakcheck.OpenFDs()), fdsBefore)
			})
		})
	}
}
