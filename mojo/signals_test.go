package mojo

import (
	"math/rand/v2"
	"testing"
)

// signalTracker checks, query after query, that satisfied is a subset of
// satisfiable and that a signal that left satisfiable never comes back.
type signalTracker struct {
	lost HandleSignals
}

func (s *signalTracker) check(t *testing.T, step int, st HandleSignalsState) {
	t.Helper()
	if st.Satisfied&^st.Satisfiable != 0 {
		t.Fatalf("step %d: satisfied %v not within satisfiable %v", step, st.Satisfied, st.Satisfiable)
	}
	if back := st.Satisfiable & s.lost; back != 0 {
		t.Fatalf("step %d: %v satisfiable again", step, back)
	}
	s.lost |= (HandleSignalReadable | HandleSignalWritable | HandleSignalPeerClosed | HandleSignalNewDataReadable) &^ st.Satisfiable
}

// Random operations on both ends of a message pipe and of a data pipe,
// ending with closures: the signal invariants hold at every step.
func TestSignalsMonotonic(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		c := newCore(t)
		a, b := pipe(t, c)
		p, cons, _ := c.CreateDataPipe(&CreateDataPipeOptions{StructSize: 16, ElementNumBytes: 1, CapacityNumBytes: 16})
		tracks := map[Handle]*signalTracker{a: {}, b: {}, p: {}, cons: {}}
		open := map[Handle]bool{a: true, b: true, p: true, cons: true}
		buf := make([]byte, 16)
		for step := range 300 {
			switch rng.IntN(12) {
			case 0, 1:
				c.WriteMessage(a, []byte("m"), nil, 0)
			case 2, 3:
				c.ReadMessage(b, buf, nil, ReadMessageFlagMayDiscard)
			case 4:
				c.WriteMessage(b, []byte("n"), nil, 0)
			case 5:
				c.ReadMessage(a, buf, nil, 0)
			case 6:
				c.WriteData(p, buf[:rng.IntN(10)], 0)
			case 7:
				c.ReadData(cons, buf, uint32(rng.IntN(10)), ReadDataFlags(rng.IntN(2)*int(ReadDataFlagPeek)))
			case 8:
				if w, r := c.BeginWriteData(p, 0); r == ResultOK {
					c.EndWriteData(p, uint32(rng.IntN(len(w)+1)))
				}
			case 9:
				if rb, r := c.BeginReadData(cons, 0); r == ResultOK {
					c.EndReadData(cons, uint32(rng.IntN(len(rb)+1)))
				}
			case 10, 11:
				if step > 150 {
					hs := []Handle{a, b, p, cons}
					h := hs[rng.IntN(4)]
					if open[h] {
						c.Close(h)
						open[h] = false
					}
				}
			}
			for h, tr := range tracks {
				if open[h] {
					s, r := c.QueryHandleSignalsState(h)
					ok(t, "Query", r)
					tr.check(t, step, s)
				}
			}
		}
		for h := range open {
			if open[h] {
				c.Close(h)
			}
		}
	}
}
