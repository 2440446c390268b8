package mojo

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/internal/leakcheck"
)

func init() {
	registerCrossChild("hostile-datapipe", childHostileDataPipe)
}

// The pipe of the hostile tests: 4-byte elements (so that a counter can be
// off by less than one) and a ring whose size no transfer of the tests
// divides.
const (
	hostileElem     = 4
	hostileCapacity = 4000
)

// The layout of a pipe's region (see datapipe/shared.go): the ring, then,
// at the capacity rounded up to a cache line, the header of shared words.
const (
	hostileHeaderOffset = (hostileCapacity + 63) &^ 63
	hostileRegionSize   = hostileHeaderOffset + 128
)

// hostileWords are the header's words the hostile child pokes: offset in
// the header and width in bytes.
var hostileWords = map[string]struct{ off, size uint64 }{
	"written":         {0, 8},
	"consumerWaiting": {8, 4},
	"read":            {64, 8},
	"producerWaiting": {72, 4},
}

// hostileCase is one way a child holding one end of a pipe scribbles over
// the pipe's shared memory, and what the parent, holding the other end,
// must see. Before run, 1000 bytes of the pattern stream were written and
// 600 of them read, and the parent has validated the child's counter
// (written 1000, read 600).
type hostileCase struct {
	name string
	// child is the end the child holds: "consumer" or "producer".
	child string
	// run drives the child (with cmd, which sends a command on control and
	// checks the reply) and checks the parent's end h.
	run func(t *testing.T, c *Core, h, control Handle, cmd func(msg, reply string))
}

// Signal sets of the parent's end.
const (
	sigR   = HandleSignalReadable
	sigW   = HandleSignalWritable
	sigPC  = HandleSignalPeerClosed
	sigNDR = HandleSignalNewDataReadable
)

// hostileConsumerClosed checks a producer whose consumer stored an
// impossible counter: PEER_CLOSED for good, every write failing; a valid
// counter stored afterwards is never looked at.
func hostileConsumerClosed(t *testing.T, c *Core, p Handle, cmd func(msg, reply string)) {
	t.Helper()
	expectState(t, c, p, sigPC, sigPC)
	_, r := c.WriteData(p, make([]byte, hostileElem), 0)
	expect(t, "WriteData", r, ResultFailedPrecondition)
	_, r = c.WriteData(p, make([]byte, 8000), WriteDataFlagAllOrNone)
	expect(t, "WriteData(ALL_OR_NONE)", r, ResultFailedPrecondition)
	_, r = c.BeginWriteData(p, 0)
	expect(t, "BeginWriteData", r, ResultFailedPrecondition)
	cmd("poke read 1000", "poked") // what an honest consumer could store
	expectState(t, c, p, sigPC, sigPC)
	_, r = c.WriteData(p, make([]byte, hostileElem), 0)
	expect(t, "WriteData after a valid counter", r, ResultFailedPrecondition)
}

// readExactly reads everything readable from consumer h, requiring n bytes
// in one ReadData; if off is not negative they must be the pattern stream
// from off.
func readExactly(t *testing.T, c *Core, h Handle, n uint32, off int64) {
	t.Helper()
	buf := make([]byte, 2*hostileCapacity)
	got, r := c.ReadData(h, buf, uint32(len(buf)), 0)
	ok(t, "ReadData", r)
	if got != n {
		t.Fatalf("ReadData read %d bytes, want %d", got, n)
	}
	if off >= 0 && !matchesPattern(buf[:got], uint64(off)) {
		t.Fatalf("ReadData: bytes are not the stream at [%d, %d)", off, off+int64(got))
	}
}

// hostileProducerClosed checks a consumer whose producer stored an
// impossible counter: PEER_CLOSED for good; the bytes validated before
// (validated of them, from offset 600 of the stream) stay readable, intact
// unless ringGarbage; then every read fails, even after a valid counter is
// stored.
func hostileProducerClosed(t *testing.T, c *Core, h Handle, cmd func(msg, reply string), validated uint32, ringGarbage bool) {
	t.Helper()
	expectState(t, c, h, sigR|sigPC, sigR|sigPC)
	off := int64(600)
	if ringGarbage {
		off = -1
	}
	readExactly(t, c, h, validated, off)
	hostileProducerDrained(t, c, h)
	cmd("poke written 4600", "poked") // what an honest producer could store
	hostileProducerDrained(t, c, h)
}

// hostileProducerDrained checks a consumer whose producer is closed (or
// taken for closed) and whose validated bytes were all read.
func hostileProducerDrained(t *testing.T, c *Core, h Handle) {
	t.Helper()
	expectState(t, c, h, sigPC, sigPC)
	_, r := c.ReadData(h, make([]byte, hostileElem), hostileElem, 0)
	expect(t, "ReadData", r, ResultFailedPrecondition)
	_, r = c.ReadData(h, make([]byte, hostileElem), hostileElem, ReadDataFlagAllOrNone)
	expect(t, "ReadData(ALL_OR_NONE)", r, ResultFailedPrecondition)
	_, r = c.BeginReadData(h, 0)
	expect(t, "BeginReadData", r, ResultFailedPrecondition)
	n, r := c.ReadData(h, nil, 0, ReadDataFlagQuery)
	if r != ResultOK || n != 0 {
		t.Fatalf("ReadData(QUERY) = %d, %v; want 0, OK", n, r)
	}
}

var hostileCases = []hostileCase{
	// The child holds the consumer and stores impossible values in its
	// counter, read.
	{"consumer/read-backwards", "consumer", func(t *testing.T, c *Core, p, _ Handle, cmd func(string, string)) {
		cmd("poke read 596", "poked")
		hostileConsumerClosed(t, c, p, cmd)
	}},
	{"consumer/read-mid-element", "consumer", func(t *testing.T, c *Core, p, _ Handle, cmd func(string, string)) {
		cmd("poke read 602", "poked")
		hostileConsumerClosed(t, c, p, cmd)
	}},
	{"consumer/read-past-written", "consumer", func(t *testing.T, c *Core, p, _ Handle, cmd func(string, string)) {
		cmd("poke read 1004", "poked")
		hostileConsumerClosed(t, c, p, cmd)
	}},
	{"consumer/read-top", "consumer", func(t *testing.T, c *Core, p, _ Handle, cmd func(string, string)) {
		cmd(fmt.Sprintf("poke read %d", uint64(math.MaxUint64)&^(hostileElem-1)), "poked")
		hostileConsumerClosed(t, c, p, cmd)
	}},
	// The child holds the consumer and scribbles the producer's counter
	// and both waiting flags: the producer never reads back its own
	// counter, and garbage in the flags costs wake-ups, nothing else.
	{"consumer/foreign-words", "consumer", func(t *testing.T, c *Core, p, _ Handle, cmd func(string, string)) {
		cmd(fmt.Sprintf("poke written %d", uint64(math.MaxUint64)), "poked")
		cmd("poke consumerWaiting 3735928559", "poked")
		cmd("poke producerWaiting 2147483649", "poked")
		expectState(t, c, p, sigW, sigW|sigPC)
		buf := make([]byte, hostileCapacity)
		fillPattern(buf, 1000)
		n, r := c.WriteData(p, buf, 0)
		if r != ResultOK || n != 3600 {
			t.Fatalf("WriteData = %d, %v; want 3600, OK", n, r)
		}
		_, r = c.WriteData(p, buf[:hostileElem], 0)
		expect(t, "WriteData into a full ring", r, ResultShouldWait)
		expectState(t, c, p, HandleSignalNone, sigW|sigPC)
		cmd("read 4000", "read 4600")
		expectState(t, c, p, sigW, sigW|sigPC)
		fillPattern(buf, 4600)
		n, r = c.WriteData(p, buf, WriteDataFlagAllOrNone)
		if r != ResultOK || n != hostileCapacity {
			t.Fatalf("WriteData = %d, %v; want %d, OK", n, r, hostileCapacity)
		}
		cmd("read 4000", "read 8600")
		expectState(t, c, p, sigW, sigW|sigPC)
	}},

	// The child holds the producer and stores impossible values in its
	// counter, written.
	{"producer/written-backwards", "producer", func(t *testing.T, c *Core, h, _ Handle, cmd func(string, string)) {
		cmd("poke written 996", "poked")
		hostileProducerClosed(t, c, h, cmd, 400, false)
	}},
	{"producer/written-mid-element", "producer", func(t *testing.T, c *Core, h, _ Handle, cmd func(string, string)) {
		cmd("poke written 1002", "poked")
		hostileProducerClosed(t, c, h, cmd, 400, false)
	}},
	{"producer/written-beyond-ring", "producer", func(t *testing.T, c *Core, h, _ Handle, cmd func(string, string)) {
		cmd(fmt.Sprintf("poke written %d", 600+hostileCapacity+hostileElem), "poked")
		hostileProducerClosed(t, c, h, cmd, 400, false)
	}},
	{"producer/written-top", "producer", func(t *testing.T, c *Core, h, _ Handle, cmd func(string, string)) {
		cmd(fmt.Sprintf("poke written %d", uint64(math.MaxUint64)), "poked")
		hostileProducerClosed(t, c, h, cmd, 400, false)
	}},
	// A counter a full ring ahead of the reader is valid: the consumer
	// reads a ring of stale bytes. The producer's next store, behind
	// that, is a counter going backwards.
	{"producer/written-full-ring-unwritten", "producer", func(t *testing.T, c *Core, h, _ Handle, cmd func(string, string)) {
		cmd("poke written 4600", "poked")
		expectState(t, c, h, sigR|sigNDR, sigR|sigNDR|sigPC)
		readExactly(t, c, h, hostileCapacity, -1)
		_, r := c.ReadData(h, make([]byte, hostileElem), hostileElem, 0)
		expect(t, "ReadData of an empty pipe", r, ResultShouldWait)
		expectState(t, c, h, HandleSignalNone, sigR|sigNDR|sigPC)
		cmd("poke written 1400", "poked")
		hostileProducerDrained(t, c, h)
	}},
	// The child holds the producer and scribbles the consumer's counter
	// and both waiting flags.
	{"producer/foreign-words", "producer", func(t *testing.T, c *Core, h, _ Handle, cmd func(string, string)) {
		cmd(fmt.Sprintf("poke read %d", uint64(math.MaxUint64)), "poked")
		cmd("poke consumerWaiting 3735928559", "poked")
		cmd("poke producerWaiting 2147483649", "poked")
		expectState(t, c, h, sigR, sigR|sigNDR|sigPC)
		readExactly(t, c, h, 400, 600)
		_, r := c.ReadData(h, make([]byte, hostileElem), hostileElem, 0)
		expect(t, "ReadData of an empty pipe", r, ResultShouldWait)
		expectState(t, c, h, HandleSignalNone, sigR|sigNDR|sigPC)
		cmd("write 4000", "wrote 5000")
		expectState(t, c, h, sigR|sigNDR, sigR|sigNDR|sigPC)
		readExactly(t, c, h, hostileCapacity, 1000)
	}},
	// Garbage in the ring is data: the consumer reads exactly the bytes
	// validly committed, and the pipe carries on.
	{"producer/ring", "producer", func(t *testing.T, c *Core, h, _ Handle, cmd func(string, string)) {
		cmd("write 2000", "wrote 3000")
		expectState(t, c, h, sigR|sigNDR, sigR|sigNDR|sigPC)
		cmd("ring", "scribbled")
		expectState(t, c, h, sigR|sigNDR, sigR|sigNDR|sigPC)
		readExactly(t, c, h, 2400, -1)
		_, r := c.ReadData(h, make([]byte, hostileElem), hostileElem, 0)
		expect(t, "ReadData of an empty pipe", r, ResultShouldWait)
		expectState(t, c, h, HandleSignalNone, sigR|sigNDR|sigPC)
		cmd("write 4000", "wrote 7000")
		expectState(t, c, h, sigR|sigNDR, sigR|sigNDR|sigPC)
		readExactly(t, c, h, hostileCapacity, 3000)
	}},
	{"producer/ring-and-counter", "producer", func(t *testing.T, c *Core, h, _ Handle, cmd func(string, string)) {
		cmd("write 2000", "wrote 3000")
		expectState(t, c, h, sigR|sigNDR, sigR|sigNDR|sigPC)
		cmd("ring", "scribbled")
		cmd(fmt.Sprintf("poke written %d", uint64(1)<<40), "poked")
		hostileProducerClosed(t, c, h, cmd, 2400, true)
	}},
	// A two-phase read in progress while the ring and the counter are
	// scribbled: its span stays the consumer's to read and end.
	{"producer/two-phase-read", "producer", func(t *testing.T, c *Core, h, _ Handle, cmd func(string, string)) {
		cmd("write 2000", "wrote 3000")
		expectState(t, c, h, sigR|sigNDR, sigR|sigNDR|sigPC)
		span, r := c.BeginReadData(h, 0)
		ok(t, "BeginReadData", r)
		if len(span) != 2400 || !matchesPattern(span, 600) {
			t.Fatalf("BeginReadData: %d bytes, want the stream at [600, 3000)", len(span))
		}
		cmd("ring", "scribbled")
		cmd("poke written 2", "poked")
		expectState(t, c, h, sigPC, sigR|sigPC)
		// The span is the shared ring: it holds the child's garbage now.
		for i, b := range span {
			if want := hostileGarbage(600 + i); b != want {
				t.Fatalf("span[%d] = %#x, want the garbage %#x", i, b, want)
			}
		}
		_, r = c.ReadData(h, make([]byte, hostileElem), hostileElem, 0)
		expect(t, "ReadData during the two-phase read", r, ResultBusy)
		expect(t, "EndReadData past the span", c.EndReadData(h, 2404), ResultInvalidArgument)
		span, r = c.BeginReadData(h, 0)
		ok(t, "BeginReadData again", r)
		if len(span) != 2400 {
			t.Fatalf("BeginReadData again: %d bytes, want 2400", len(span))
		}
		ok(t, "EndReadData", c.EndReadData(h, 2400))
		hostileProducerDrained(t, c, h)
	}},
	// The producer moves its counter on thousands of times, always
	// validly but without writing a byte, and scribbles the ring now and
	// then, while the consumer reads in every way it can: garbage data,
	// never a closed peer, and in the end exactly the bytes of the last
	// counter.
	{"producer/storm", "producer", testHostileStorm},
}

// testHostileStorm is the storm case: see hostileCases.
func testHostileStorm(t *testing.T, c *Core, h, control Handle, cmd func(string, string)) {
	consumed := uint64(600)
	buf := make([]byte, hostileCapacity)
	send(t, c, control, "storm 3000")
	for i := 0; ; i++ {
		if s, r := c.QueryHandleSignalsState(control); r != ResultOK || s.Satisfied&HandleSignalReadable != 0 {
			break
		}
		switch i % 3 {
		case 0:
			n, r := c.ReadData(h, buf, uint32(len(buf)), 0)
			switch {
			case r == ResultOK && n > 0 && n%hostileElem == 0:
				consumed += uint64(n)
			case r == ResultShouldWait && n == 0:
			default:
				t.Fatalf("ReadData = %d, %v", n, r)
			}
		case 1:
			span, r := c.BeginReadData(h, 0)
			switch {
			case r == ResultOK && len(span) > 0 && len(span) <= hostileCapacity && len(span)%hostileElem == 0:
				n := uint32(len(span)/2) &^ (hostileElem - 1)
				ok(t, "EndReadData", c.EndReadData(h, n))
				consumed += uint64(n)
			case r == ResultShouldWait:
			default:
				t.Fatalf("BeginReadData = %d bytes, %v", len(span), r)
			}
		case 2:
			s := state(t, c, h)
			if s.Satisfied&^(sigR|sigNDR) != 0 || s.Satisfiable != sigR|sigNDR|sigPC {
				t.Fatalf("signals during the storm: %v", s)
			}
		}
	}
	var last uint64
	msg := recvString(t, c, control)
	if _, err := fmt.Sscanf(msg, "stormed %d", &last); err != nil || last < consumed {
		t.Fatalf("report %q after consuming up to %d", msg, consumed)
	}
	n, r := c.ReadData(h, nil, 0, ReadDataFlagQuery)
	if r != ResultOK || uint64(n) != last-consumed {
		t.Fatalf("ReadData(QUERY) = %d, %v; want %d readable", n, r, last-consumed)
	}
	cmd("poke written 3", "poked")
	if n > 0 {
		expectState(t, c, h, sigR|sigPC, sigR|sigPC)
		readExactly(t, c, h, n, -1)
	}
	hostileProducerDrained(t, c, h)
}

// A child holding one end of a data pipe scribbles over the pipe's shared
// memory from its process: impossible counters (backwards, mid-element,
// beyond the other counter or a ring ahead), the other side's counter,
// garbage waiting flags, garbage in the ring, during a two-phase read.
// The parent's end takes an impossible counter for its peer's closure,
// for good: exact signals and results, the bytes validated before still
// readable, never a byte more. Everything else is only data. The message
// pipe to the same child and a second, honest child keep working, and
// nothing of the pipe is left here afterwards.
func TestCrossProcessHostileDataPipePeer(t *testing.T) {
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			testHostileDataPipePeer(t, tc)
		})
	}
}

func testHostileDataPipePeer(t *testing.T, tc hostileCase) {
	checkNoPipeMappingsLeft(t)
	b := newCrossBroker(t)
	c := b.c
	_, hs := b.spawn("hostile-datapipe", spawnOptions{}, "control")
	control := hs[0]
	_, hs = b.spawn("mover", spawnOptions{}, "control")
	honest := hs[0]
	cmd := func(msg, reply string) {
		t.Helper()
		send(t, c, control, msg)
		expectString(t, msg, recvString(t, c, control), reply)
	}

	p, cons, r := c.CreateDataPipe(&CreateDataPipeOptions{StructSize: 16, ElementNumBytes: hostileElem, CapacityNumBytes: hostileCapacity})
	ok(t, "CreateDataPipe", r)
	// Honest traffic: 1000 bytes written, 600 read, and each side has
	// validated the other's counter.
	var h Handle
	switch tc.child {
	case "consumer":
		h = p
		buf := make([]byte, 1000)
		fillPattern(buf, 0)
		n, r := c.WriteData(p, buf, 0)
		if r != ResultOK || n != 1000 {
			t.Fatalf("WriteData = %d, %v", n, r)
		}
		send(t, c, control, "consumer", cons)
		cmd("read 600", "read 600")
		expectState(t, c, p, sigW, sigW|sigPC)
	case "producer":
		h = cons
		send(t, c, control, "producer", p)
		cmd("write 1000", "wrote 1000")
		buf := make([]byte, 600)
		n, r := c.ReadData(cons, buf, 600, ReadDataFlagAllOrNone)
		if r != ResultOK || n != 600 || !matchesPattern(buf, 0) {
			t.Fatalf("ReadData = %d, %v", n, r)
		}
		expectState(t, c, cons, sigR, sigR|sigNDR|sigPC)
	}
	cmd("find 1000 600", "found")

	tc.run(t, c, h, control, cmd)

	// The message pipe to the hostile child works.
	cmd("ping", "pong")
	// So does a data pipe to the honest child, both ways.
	const honestBytes = 100_000
	hp, hc, r := c.CreateDataPipe(nil)
	ok(t, "CreateDataPipe", r)
	send(t, c, honest, fmt.Sprintf("consumer 0 %d", honestBytes), hc)
	if n, r := writeStream(t, c, hp, 0, honestBytes, 4800); r != ResultOK || n != honestBytes {
		t.Fatalf("writeStream to the honest child: %d, %v", n, r)
	}
	msg, hs := recv(t, c, honest)
	expectString(t, "honest child", string(msg), fmt.Sprintf("consumer at %d", honestBytes))
	if len(hs) != 1 {
		t.Fatalf("%d handles from the honest child", len(hs))
	}
	hc = hs[0]
	closeAll(t, c, hp)
	if n, r := readStream(t, c, hc, 0, 1<<50); r != ResultFailedPrecondition || n != 0 {
		t.Fatalf("readStream after the producer closed: %d, %v", n, r)
	}
	send(t, c, honest, "done")
	send(t, c, control, "done")
	closeAll(t, c, hc, h, honest, control)
}

// checkNoPipeMappingsLeft checks, once the test's other cleanups (the
// broker's shutdown among them) are done, that this process has no more
// mappings of the size of a hostile test's pipe than it had when the
// test began.
func checkNoPipeMappingsLeft(t *testing.T) {
	before := len(pipeMappings())
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		if !leakcheck.WaitUntil(crossTimeout, time.Millisecond, func() bool { return len(pipeMappings()) <= before }) {
			t.Errorf("pipe mappings left: %d before, %v after", before, pipeMappings())
		}
	})
}

// pipeMappings returns the address ranges of this process's shared
// mappings of driver memory the size of a hostile test's pipe region.
func pipeMappings() [][2]uint64 {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	page := uint64(os.Getpagesize())
	size := (uint64(hostileRegionSize) + page - 1) &^ (page - 1)
	var ranges [][2]uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != "/memfd:ipcz" || fields[1] != "rw-s" {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		a, _ := strconv.ParseUint(lo, 16, 64)
		b, _ := strconv.ParseUint(hi, 16, 64)
		if b-a == size {
			ranges = append(ranges, [2]uint64{a, b})
		}
	}
	return ranges
}

// childHostileDataPipe receives one end of a pipe and then does what the
// parent says, one command at a time, answering each:
//
//	read N, write N  honest traffic of the pattern stream (ALL_OR_NONE);
//	                 answers "read T" or "wrote T", T the total so far
//	find W R         finds the pipe's header in this process: the mapping
//	                 whose counters are written W and read R
//	poke WORD V      stores V in a word of the header (see hostileWords)
//	ring             fills the ring and the padding up to the header with
//	                 garbage
//	ping             answers pong
//	done             closes the pipe's end and exits
func childHostileDataPipe() {
	k := acceptCross()
	t, c := k.t, k.c
	control := k.extract("control")[0]
	msg, hs := recv(t, c, control)
	if len(hs) != 1 || (string(msg) != "consumer" && string(msg) != "producer") {
		t.Fatalf("message %q with %d handles", msg, len(hs))
	}
	h := hs[0]
	mem, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("open /proc/self/mem: %v", err)
	}
	defer mem.Close()
	var pos, header uint64
	for {
		msg := recvString(t, c, control)
		var reply string
		args := strings.Fields(msg)
		num := func(i int) uint64 {
			if len(args) <= i {
				t.Fatalf("command %q: too few arguments", msg)
			}
			v, err := strconv.ParseUint(args[i], 10, 64)
			if err != nil {
				t.Fatalf("command %q: %v", msg, err)
			}
			return v
		}
		switch args[0] {
		case "read":
			n := num(1)
			buf := make([]byte, n)
			got, r := c.ReadData(h, buf, uint32(n), ReadDataFlagAllOrNone)
			ok(t, "ReadData", r)
			if uint64(got) != n || !matchesPattern(buf, pos) {
				t.Fatalf("ReadData: %d bytes, want the stream at [%d, %d)", got, pos, pos+n)
			}
			pos += n
			reply = fmt.Sprintf("read %d", pos)
		case "write":
			buf := make([]byte, num(1))
			fillPattern(buf, pos)
			got, r := c.WriteData(h, buf, WriteDataFlagAllOrNone)
			ok(t, "WriteData", r)
			if int(got) != len(buf) {
				t.Fatalf("WriteData wrote %d of %d bytes", got, len(buf))
			}
			pos += uint64(got)
			reply = fmt.Sprintf("wrote %d", pos)
		case "find":
			header = findPipeHeader(t, mem, num(1), num(2))
			reply = "found"
		case "poke":
			w, known := hostileWords[args[1]]
			if header == 0 || !known {
				t.Fatalf("command %q before find or of an unknown word", msg)
			}
			b := binary.LittleEndian.AppendUint64(nil, num(2))
			if _, err := mem.WriteAt(b[:w.size], int64(header+w.off)); err != nil {
				t.Fatalf("poke: %v", err)
			}
			reply = "poked"
		case "ring":
			if header == 0 {
				t.Fatalf("command %q before find", msg)
			}
			scribbleRing(t, mem, header)
			reply = "scribbled"
		case "storm":
			// Counters an honest producer could store: never behind the
			// last, never behind the consumer's, never more than a ring
			// ahead of it.
			if header == 0 {
				t.Fatalf("command %q before find", msg)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			w, word := pos, make([]byte, 8)
			for i := range num(1) {
				if _, err := mem.ReadAt(word, int64(header+hostileWords["read"].off)); err != nil {
					t.Fatalf("storm: %v", err)
				}
				read := binary.LittleEndian.Uint64(word)
				w = min(max(w, read)+hostileElem*rng.Uint64N(64), read+hostileCapacity)
				binary.LittleEndian.PutUint64(word, w)
				if _, err := mem.WriteAt(word, int64(header+hostileWords["written"].off)); err != nil {
					t.Fatalf("storm: %v", err)
				}
				if i%64 == 0 {
					scribbleRing(t, mem, header)
				}
			}
			reply = fmt.Sprintf("stormed %d", w)
		case "ping":
			reply = "pong"
		case "done":
			closeAll(t, c, h)
			k.finish(control)
			return
		default:
			t.Fatalf("unknown command %q", msg)
		}
		send(t, c, control, reply)
	}
}

// scribbleRing fills the ring of the pipe whose header is at header, and
// the padding up to the header, with garbage (hostileGarbage).
func scribbleRing(t childTB, mem *os.File, header uint64) {
	garbage := make([]byte, hostileHeaderOffset)
	for i := range garbage {
		garbage[i] = hostileGarbage(i)
	}
	if _, err := mem.WriteAt(garbage, int64(header-hostileHeaderOffset)); err != nil {
		t.Fatalf("scribbling the ring: %v", err)
	}
}

// hostileGarbage is the byte the child's "ring" command stores at offset
// i of the ring.
func hostileGarbage(i int) byte { return byte(i*131) ^ 0xA5 }

// findPipeHeader returns the address of the header of the one pipe region
// mapped in this process whose counters are written and read.
func findPipeHeader(t childTB, mem *os.File, written, read uint64) uint64 {
	var found []uint64
	for _, m := range pipeMappings() {
		h := make([]byte, 128)
		addr := m[0] + hostileHeaderOffset
		if _, err := mem.ReadAt(h, int64(addr)); err != nil {
			t.Fatalf("read /proc/self/mem at %#x: %v", addr, err)
		}
		if binary.LittleEndian.Uint64(h[hostileWords["written"].off:]) == written &&
			binary.LittleEndian.Uint64(h[hostileWords["read"].off:]) == read {
			found = append(found, addr)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d pipe headers with written %d and read %d", len(found), written, read)
	}
	return found[0]
}
