package ipcz

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMergePreconditions(t *testing.T) {
	type portals struct{ a, b, c, d *Portal }
	cases := []struct {
		name  string
		prep  func(t *testing.T, e *apiEnv, p portals) (first, second *Portal)
		want  error
		dead1 bool // first is dead anyway (not to be checked afterwards)
	}{
		{"same portal", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) { return p.b, p.b }, InvalidArgument, false},
		{"peers", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) { return p.a, p.b }, InvalidArgument, false},
		{"peers, reversed", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) { return p.b, p.a }, InvalidArgument, false},
		{"peers, one moved", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			require.NoError(t, p.c.Put(nil, []Object{p.a}, nil))
			_, objs := getParcel(t, p.d)
			return objs[0].(*Portal), p.b
		}, InvalidArgument, false},
		{"peers with puts", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			mustPut(t, p.a, "x")
			return p.a, p.b
		}, InvalidArgument, false},
		{"different nodes", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			x, _ := newAPIEnv(t).pair()
			return p.b, x
		}, InvalidArgument, false},
		{"first closed", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			require.NoError(t, p.b.Close())
			return p.b, p.c
		}, InvalidArgument, true},
		{"put on first", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			mustPut(t, p.b, "x")
			return p.b, p.c
		}, FailedPrecondition, false},
		{"put on second", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			mustPut(t, p.c, "x")
			return p.b, p.c
		}, FailedPrecondition, false},
		{"empty put on second", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			mustPut(t, p.c, "")
			return p.b, p.c
		}, FailedPrecondition, false},
		{"two-phase put committed on first", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			_, err := p.b.BeginPut(0, 0, nil)
			require.NoError(t, err)
			require.NoError(t, p.b.EndPut(0, nil, 0))
			return p.b, p.c
		}, FailedPrecondition, false},
		{"get on first", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			mustPut(t, p.a, "x")
			getParcel(t, p.b)
			return p.b, p.c
		}, FailedPrecondition, false},
		{"get on second", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			mustPut(t, p.d, "x")
			getParcel(t, p.c)
			return p.b, p.c
		}, FailedPrecondition, false},
		{"partial get on second", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			mustPut(t, p.d, "xy")
			_, _, err := p.c.Get(GetPartial, make([]byte, 1), nil)
			require.NoError(t, err)
			return p.b, p.c
		}, FailedPrecondition, false},
		{"two-phase get on first", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			mustPut(t, p.a, "x")
			_, _, err := p.b.BeginGet(true, true)
			require.NoError(t, err)
			_, err = p.b.EndGet(1, 0, 0)
			require.NoError(t, err)
			return p.b, p.c
		}, FailedPrecondition, false},
		{"two-phase put pending on first", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			_, err := p.b.BeginPut(1, 0, nil)
			require.NoError(t, err)
			return p.b, p.c
		}, FailedPrecondition, false},
		{"two-phase get pending on second", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			mustPut(t, p.d, "x")
			_, _, err := p.c.BeginGet(true, true)
			require.NoError(t, err)
			return p.b, p.c
		}, FailedPrecondition, false},
		// What does not prevent a merge.
		{"puts, limits and a pending put on the peers", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			mustPut(t, p.a, "x")
			require.Equal(t, ResourceExhausted, p.a.Put([]byte("x"), nil, &PutLimits{MaxQueuedParcels: 1, MaxQueuedBytes: 9}))
			mustPut(t, p.d, "y")
			_, err := p.d.BeginPut(1, 0, nil)
			require.NoError(t, err)
			return p.b, p.c
		}, nil, false},
		{"failed put and get", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			require.Equal(t, ResourceExhausted, p.b.Put([]byte("x"), nil, &PutLimits{}))
			requireGetErr(t, p.c, Unavailable)
			_, err := p.b.BeginPut(1, 0, nil)
			require.NoError(t, err)
			require.NoError(t, p.b.EndPut(0, nil, EndPutAbort))
			mustPut(t, p.d, "q")
			_, _, err = p.c.BeginGet(true, true)
			require.NoError(t, err)
			_, err = p.c.EndGet(0, 0, EndGetAbort)
			require.NoError(t, err)
			return p.b, p.c
		}, nil, false},
		{"queued parcels and traps", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			mustPut(t, p.a, "x")
			mustPut(t, p.d, "y")
			mustTrap(t, p.b, TrapConditions{Flags: TrapPeerClosed}, func(*TrapEvent) {}, 0)
			return p.b, p.c
		}, nil, false},
		{"a received portal", func(t *testing.T, e *apiEnv, p portals) (*Portal, *Portal) {
			x, y := e.pair()
			require.NoError(t, x.Put(nil, []Object{p.c}, nil))
			_, objs := getParcel(t, y)
			return p.b, objs[0].(*Portal)
		}, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newAPIEnv(t)
			a, b := e.pair()
			cc, d := e.pair()
			first, second := c.prep(t, e, portals{a, b, cc, d})
			err := MergePortals(first, second)
			require.Equal(t, c.want, err)
			if err == nil {
				for _, p := range []*Portal{first, second} {
					_, err := p.QueryStatus()
					require.Equal(t, InvalidArgument, err, "a merged handle is dead")
				}
				return
			}
			// On failure both handles are still live.
			if !c.dead1 {
				_, err = first.QueryStatus()
				require.NoError(t, err)
			}
			_, err = second.QueryStatus()
			require.NoError(t, err)
		})
	}
}

// The peers-of-each-other case must also be caught when the portals are
// peers through an earlier merge: after B and C are merged, A and D are a
// pair ("the net result will be a single portal pair: A ---- D").
func TestMergePeersThroughAnEarlierMerge(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	c, d := e.pair()
	require.NoError(t, MergePortals(b, c))
	err := MergePortals(a, d)
	require.Equal(t, InvalidArgument, err)
	requirePortalWorks(t, a, d)
}

func TestMergeCarriesParcelsBothWaysInOrder(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	c, d := e.pair()
	bx, h := e.box()
	x, y := e.pair()
	mustPut(t, a, "a1")
	require.NoError(t, a.Put([]byte("a2"), []Object{bx}, nil))
	mustPut(t, d, "d1")
	mustPut(t, d, "d2")

	require.NoError(t, MergePortals(b, c))
	mustPut(t, a, "a3")
	require.NoError(t, a.Put([]byte("a4"), []Object{x}, nil))
	mustPut(t, d, "d3")

	require.Equal(t, PortalStatus{NumLocalParcels: 4, NumLocalBytes: 8, NumRemoteParcels: 3, NumRemoteBytes: 6}, statusOf(t, d))
	s := statusOf(t, a)
	require.Equal(t, 3, s.NumLocalParcels)
	require.Equal(t, 6, s.NumLocalBytes)
	for _, want := range []string{"a1", "a2", "a3", "a4"} {
		got, objs := getParcel(t, d)
		require.Equal(t, want, got)
		switch want {
		case "a2":
			require.Len(t, objs, 1)
			hh, err := objs[0].(*Box).Unbox(0)
			require.NoError(t, err)
			require.Equal(t, h, hh)
		case "a4":
			require.Len(t, objs, 1)
			requirePortalWorks(t, objs[0].(*Portal), y)
		default:
			require.Empty(t, objs)
		}
	}
	for _, want := range []string{"d1", "d2", "d3"} {
		got, _ := getParcel(t, a)
		require.Equal(t, want, got)
	}
	requireGetErr(t, a, Unavailable)
	requireGetErr(t, d, Unavailable)
	requirePortalWorks(t, a, d)
}

func TestMergeClosurePropagates(t *testing.T) {
	for _, closer := range []string{"a", "d"} {
		t.Run(closer+" closes", func(t *testing.T) {
			e := newAPIEnv(t)
			a, b := e.pair()
			c, d := e.pair()
			require.NoError(t, MergePortals(b, c))
			from, to := a, d
			if closer == "d" {
				from, to = d, a
			}
			var log trapLog
			mustTrap(t, to, TrapConditions{Flags: TrapPeerClosed}, log.handler, 1)
			mustTrap(t, to, TrapConditions{Flags: TrapDead}, log.handler, 2)
			mustPut(t, from, "one")
			mustPut(t, from, "two")
			require.NoError(t, from.Close())
			require.Equal(t, []TrapEvent{ev(1, TrapPeerClosed, PortalStatus{Flags: PortalStatusPeerClosed, NumLocalParcels: 2, NumLocalBytes: 6})}, log.get())
			require.Equal(t, PortalStatusPeerClosed, statusOf(t, to).Flags)
			require.Equal(t, NotFound, to.Put([]byte("x"), nil, nil))
			got, _ := getParcel(t, to)
			require.Equal(t, "one", got)
			require.Len(t, log.get(), 1)
			got, _ = getParcel(t, to)
			require.Equal(t, "two", got)
			require.Equal(t, []TrapEvent{ev(2, TrapDead, PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead})}, log.get()[1:])
			requireGetErr(t, to, NotFound)
		})
	}
}

func TestMergeWhenAPeerIsAlreadyClosed(t *testing.T) {
	t.Run("sender closed", func(t *testing.T) {
		e := newAPIEnv(t)
		a, b := e.pair()
		c, d := e.pair()
		mustPut(t, a, "before")
		require.NoError(t, a.Close())
		require.NoError(t, MergePortals(b, c))
		require.Equal(t, PortalStatus{Flags: PortalStatusPeerClosed, NumLocalParcels: 1, NumLocalBytes: 6}, statusOf(t, d))
		got, _ := getParcel(t, d)
		require.Equal(t, "before", got)
		require.Equal(t, PortalStatusPeerClosed|PortalStatusDead, statusOf(t, d).Flags)
		require.Equal(t, NotFound, d.Put(nil, nil, nil))
	})
	t.Run("receiver closed", func(t *testing.T) {
		e := newAPIEnv(t)
		a, b := e.pair()
		c, d := e.pair()
		bx, h := e.box()
		x, y := e.pair()
		require.NoError(t, a.Put([]byte("lost"), []Object{bx, x}, nil))
		require.NoError(t, d.Close())
		require.NoError(t, MergePortals(b, c))
		require.Equal(t, PortalStatusPeerClosed|PortalStatusDead, statusOf(t, a).Flags)
		require.Equal(t, NotFound, a.Put(nil, nil, nil))
		// What a sent, nobody will read: its objects are closed.
		require.False(t, e.drv.isOpen(h))
		require.Equal(t, PortalStatusPeerClosed|PortalStatusDead, statusOf(t, y).Flags)
	})
	t.Run("both closed", func(t *testing.T) {
		e := newAPIEnv(t)
		a, b := e.pair()
		c, d := e.pair()
		bx, h := e.box()
		require.NoError(t, a.Put(nil, []Object{bx}, nil))
		require.NoError(t, a.Close())
		require.NoError(t, d.Close())
		require.NoError(t, MergePortals(b, c))
		require.False(t, e.drv.isOpen(h))
		require.Zero(t, e.drv.numOpen())
	})
}

// mergeChain opens n pairs and merges them into one route, in the given
// order of junctions (junction i joins pair i and pair i+1). It returns
// the two ends.
func mergeChain(t *testing.T, e *apiEnv, n int, order []int) (*Portal, *Portal) {
	t.Helper()
	left := make([]*Portal, n)
	right := make([]*Portal, n)
	for i := range n {
		left[i], right[i] = e.pair()
	}
	for _, j := range order {
		require.NoError(t, MergePortals(right[j], left[j+1]), "junction %d", j)
	}
	return left[0], right[n-1]
}

func TestMergeChains(t *testing.T) {
	orders := map[string][]int{
		"left to right": {0, 1},
		"right to left": {1, 0},
	}
	for name, order := range orders {
		t.Run("three pairs, "+name, func(t *testing.T) {
			e := newAPIEnv(t)
			a, f := mergeChain(t, e, 3, order)
			for i := range 5 {
				mustPut(t, a, fmt.Sprintf("a%d", i))
				mustPut(t, f, fmt.Sprintf("f%d", i))
			}
			for i := range 5 {
				got, _ := getParcel(t, f)
				require.Equal(t, fmt.Sprintf("a%d", i), got)
				got, _ = getParcel(t, a)
				require.Equal(t, fmt.Sprintf("f%d", i), got)
			}
			require.NoError(t, a.Close())
			require.Equal(t, PortalStatusPeerClosed|PortalStatusDead, statusOf(t, f).Flags)
		})
	}

	t.Run("parcels queued in every pair before merging", func(t *testing.T) {
		e := newAPIEnv(t)
		const n = 4
		left := make([]*Portal, n)
		right := make([]*Portal, n)
		for i := range n {
			left[i], right[i] = e.pair()
		}
		// Only the outer ends may put; inner portals must stay unused.
		mustPut(t, left[0], "L0")
		mustPut(t, right[n-1], "R0")
		for _, j := range []int{1, 0, 2} {
			require.NoError(t, MergePortals(right[j], left[j+1]))
			mustPut(t, left[0], fmt.Sprintf("L%d", j+1))
			mustPut(t, right[n-1], fmt.Sprintf("R%d", j+1))
		}
		for _, want := range []string{"L0", "L2", "L1", "L3"} {
			got, _ := getParcel(t, right[n-1])
			require.Equal(t, want, got)
		}
		for _, want := range []string{"R0", "R2", "R1", "R3"} {
			got, _ := getParcel(t, left[0])
			require.Equal(t, want, got)
		}
	})

	t.Run("twelve pairs, random order", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for range 5 {
			e := newAPIEnv(t)
			order := rng.Perm(11)
			a, z := mergeChain(t, e, 12, order)
			bx, h := e.box()
			require.NoError(t, a.Put([]byte("end to end"), []Object{bx}, nil))
			got, objs := getParcel(t, z)
			require.Equal(t, "end to end", got)
			hh, err := objs[0].(*Box).Unbox(0)
			require.NoError(t, err)
			require.Equal(t, h, hh)
			requirePortalWorks(t, a, z)
			require.NoError(t, z.Close())
			require.Equal(t, PortalStatusPeerClosed|PortalStatusDead, statusOf(t, a).Flags)
		}
	})
}

// After A-B and C-D are merged at B and C, A's view of the remote queue
// is D's queue: the seed defines num_remote_* as "queued on the opposite
// portal", and put limits and BELOW_MAX_REMOTE_* traps depend on it.
func TestMergeRemoteQueueStateAcrossTheMerge(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	c, d := e.pair()
	require.NoError(t, MergePortals(b, c))
	limits := &PutLimits{MaxQueuedParcels: 1, MaxQueuedBytes: 100}
	require.NoError(t, a.Put([]byte("1"), nil, limits))
	require.Equal(t, PortalStatus{NumRemoteParcels: 1, NumRemoteBytes: 1}, statusOf(t, a))
	require.Equal(t, ResourceExhausted, a.Put([]byte("2"), nil, limits))
	var log trapLog
	mustTrap(t, a, TrapConditions{Flags: TrapBelowMaxRemoteParcels | TrapConsumedRemoteParcel, MaxRemoteParcels: 1}, log.handler, 1)
	getParcel(t, d)
	require.Equal(t, PortalStatus{}, statusOf(t, a))
	require.Equal(t, []TrapEvent{ev(1, TrapBelowMaxRemoteParcels|TrapConsumedRemoteParcel, PortalStatus{})}, log.get())
	require.NoError(t, a.Put([]byte("2"), nil, limits))
}

// Put's "its (local) opposite" check must also see the peer through a
// merge: sending D through A when A and D are a pair would put D into its
// own inbound queue, where nobody can ever get it.
func TestPutPeerThroughAnEarlierMerge(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	c, d := e.pair()
	require.NoError(t, MergePortals(b, c))
	err := a.Put(nil, []Object{d}, nil)
	require.Equal(t, InvalidArgument, err)
	requirePortalWorks(t, a, d)
}

// TestMergedRouteBecomesDirect: after merging B with C, the bridge pair
// removes itself: A and D end linked directly (each other's local peer),
// nothing in flight is lost or reordered, and the pair's routers are gone
// from the route.
func TestMergedRouteBecomesDirect(t *testing.T) {
	e := newAPIEnv(t)
	a, b := e.pair()
	c, d := e.pair()
	for i := range 10 {
		mustPut(t, a, fmt.Sprint("a", i))
		mustPut(t, d, fmt.Sprint("d", i))
	}
	require.NoError(t, MergePortals(b, c))
	for i := 10; i < 20; i++ {
		mustPut(t, a, fmt.Sprint("a", i))
		mustPut(t, d, fmt.Sprint("d", i))
	}
	for i := range 20 {
		got, _ := getParcel(t, d)
		require.Equal(t, fmt.Sprint("a", i), got)
		got, _ = getParcel(t, a)
		require.Equal(t, fmt.Sprint("d", i), got)
	}
	ra, rd := a.router.Load(), d.router.Load()
	ra.mu.Lock()
	direct := ra.outward.primary != nil && ra.outward.primary.localPeer() == rd && ra.outward.decaying == nil
	ra.mu.Unlock()
	require.True(t, direct, "a and d are linked directly")
	// A merged route's ends are peers now.
	require.Equal(t, InvalidArgument, a.Put(nil, []Object{d}, nil))
	require.NoError(t, a.Close())
	require.Equal(t, PortalStatus{Flags: PortalStatusPeerClosed | PortalStatusDead}, statusOf(t, d))
}
