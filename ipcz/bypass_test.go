package ipcz_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/stretchr/testify/require"
)

// testNetwork is a broker and several non-broker nodes connected to it,
// each with one initial portal pair to the broker.
type testNetwork struct {
	driver   *mnDriver
	broker   *ipcz.Node
	nodes    []*ipcz.Node
	toNode   []*ipcz.Portal // broker's portal to nodes[i]
	toBroker []*ipcz.Portal // nodes[i]'s portal to the broker
}

func newTestNetwork(t *testing.T, d *mnDriver, n int) *testNetwork {
	t.Helper()
	net := &testNetwork{driver: d}
	var err error
	net.broker, err = ipcz.CreateNode(d.forNode("broker"), 0, ipcz.CreateNodeAsBroker)
	require.NoError(t, err)
	for i := range n {
		node, err := ipcz.CreateNode(d.forNode(fmt.Sprintf("node%d", i)), 0, 0)
		require.NoError(t, err)
		tb, tn := d.newTransportPair(t, true, false)
		bp, err := net.broker.ConnectNode(tb, 1, 0)
		require.NoError(t, err)
		np, err := node.ConnectNode(tn, 1, d.clientFlags())
		require.NoError(t, err)
		net.nodes = append(net.nodes, node)
		net.toNode = append(net.toNode, bp[0])
		net.toBroker = append(net.toBroker, np[0])
	}
	t.Cleanup(func() {
		for _, node := range net.nodes {
			node.Close()
		}
		net.broker.Close()
	})
	return net
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// pingPong checks a route end to end in both directions.
func pingPong(t *testing.T, a, b *ipcz.Portal, tag string) {
	t.Helper()
	require.NoError(t, a.Put([]byte("ping "+tag), nil, nil))
	data, _ := waitMessage(t, b)
	require.Equal(t, "ping "+tag, string(data))
	require.NoError(t, b.Put([]byte("pong "+tag), nil, nil))
	data, _ = waitMessage(t, a)
	require.Equal(t, "pong "+tag, string(data))
}

// TestRouteThroughBrokerBecomesDirect: B makes a pair, sends one end to
// the broker A, which sends it on to C. B and C end linked directly: no
// proxy is left on A, B and C have a link, and the broker carries none of
// the route's parcels afterwards.
func TestRouteThroughBrokerBecomesDirect(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newTestNetwork(t, d, 2)
		b, c := net.nodes[0], net.nodes[1]
		p, q, err := b.OpenPortals()
		require.NoError(t, err)
		require.NoError(t, net.toBroker[0].Put([]byte("q"), []ipcz.Object{q}, nil))
		_, objs := waitMessage(t, net.toNode[0])
		require.NoError(t, net.toNode[1].Put([]byte("q"), objs, nil))
		_, objs = waitMessage(t, net.toBroker[1])
		q = objs[0].(*ipcz.Portal)
		pingPong(t, p, q, "first")

		eventually(t, "no proxies", func() bool {
			return net.broker.Stats().Proxies == 0 && b.Stats().Proxies == 0 && c.Stats().Proxies == 0
		})
		require.Contains(t, b.Stats().LinkedNodes, c.Name())
		require.Contains(t, c.Stats().LinkedNodes, b.Name())

		before := net.broker.Stats()
		for i := range 50 {
			pingPong(t, p, q, fmt.Sprint(i))
		}
		after := net.broker.Stats()
		require.Equal(t, before.ParcelsSent, after.ParcelsSent, "the broker forwarded parcels")
		require.Equal(t, before.ParcelsReceived, after.ParcelsReceived)
	})
}

// connectViaBroker gives nodes[i] and nodes[j] of net a portal pair,
// routed through the broker and then made direct.
func connectViaBroker(t *testing.T, net *testNetwork, i, j int) (*ipcz.Portal, *ipcz.Portal) {
	t.Helper()
	p, q, err := net.nodes[i].OpenPortals()
	require.NoError(t, err)
	require.NoError(t, net.toBroker[i].Put(nil, []ipcz.Object{q}, nil))
	_, objs := waitMessage(t, net.toNode[i])
	require.NoError(t, net.toNode[j].Put(nil, objs, nil))
	_, objs = waitMessage(t, net.toBroker[j])
	q = objs[0].(*ipcz.Portal)
	pingPong(t, p, q, "connect")
	return p, q
}

// TestBoxesBetweenNonBrokers sends boxes over a direct route between two
// non-brokers. Under forced brokering the driver cannot pass them directly,
// so they travel through the broker while the parcel itself goes direct.
func TestBoxesBetweenNonBrokers(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newTestNetwork(t, d, 2)
		p, q := connectViaBroker(t, net, 0, 1)
		eventually(t, "a direct route", func() bool { return net.broker.Stats().Proxies == 0 })
		for i := range 20 {
			a, err := net.nodes[0].Box(d.newBlob(t, []byte(fmt.Sprint("a", i))))
			require.NoError(t, err)
			b, err := net.nodes[0].Box(d.newBlob(t, []byte(fmt.Sprint("b", i))))
			require.NoError(t, err)
			x, y, err := net.nodes[0].OpenPortals()
			require.NoError(t, err)
			require.NoError(t, p.Put([]byte{byte(i)}, []ipcz.Object{a, x, b}, nil))
			data, objs := waitMessage(t, q)
			require.Equal(t, []byte{byte(i)}, data)
			require.Len(t, objs, 3)
			for k, want := range []string{fmt.Sprint("a", i), fmt.Sprint("b", i)} {
				h, err := objs[2*k].(*ipcz.Box).Unbox(0)
				require.NoError(t, err)
				require.Equal(t, want, d.takeBlob(t, h))
			}
			pingPong(t, y, objs[1].(*ipcz.Portal), fmt.Sprint(i))
			require.NoError(t, y.Close())
			require.NoError(t, objs[1].Close())
		}
	})
}

// TestMergedRouteWithOneLocalEndBecomesDirect: on the broker, x–y is a
// local pair and u–v a pair whose v went to a client. Merging y with u
// leaves x talking to v; the merged pair bypasses itself, so x ends with a
// remote link of its own to the client and no bridge router is left. Both
// orders of the merge are tried (the local end beyond either router).
func TestMergedRouteWithOneLocalEndBecomesDirect(t *testing.T) {
	for _, swap := range []bool{false, true} {
		t.Run(fmt.Sprint("swapped=", swap), func(t *testing.T) {
			forEachDriver(t, func(t *testing.T, d *mnDriver) {
				net := newTestNetwork(t, d, 1)
				broker := net.broker
				pingPong(t, net.toNode[0], net.toBroker[0], "connected")
				baseline := broker.Stats().RemoteRouters
				x, y, err := broker.OpenPortals()
				require.NoError(t, err)
				u, v, err := broker.OpenPortals()
				require.NoError(t, err)
				for i := range 20 {
					require.NoError(t, x.Put([]byte(fmt.Sprint("x", i)), nil, nil))
				}
				require.NoError(t, net.toNode[0].Put(nil, []ipcz.Object{v}, nil))
				_, objs := waitMessage(t, net.toBroker[0])
				v = objs[0].(*ipcz.Portal)
				for i := range 20 {
					require.NoError(t, v.Put([]byte(fmt.Sprint("v", i)), nil, nil))
				}
				if swap {
					require.NoError(t, ipcz.MergePortals(u, y))
				} else {
					require.NoError(t, ipcz.MergePortals(y, u))
				}
				for i := 20; i < 40; i++ {
					require.NoError(t, x.Put([]byte(fmt.Sprint("x", i)), nil, nil))
					require.NoError(t, v.Put([]byte(fmt.Sprint("v", i)), nil, nil))
				}
				for i := range 40 {
					data, _ := waitMessage(t, v)
					require.Equal(t, fmt.Sprint("x", i), string(data))
					data, _ = waitMessage(t, x)
					require.Equal(t, fmt.Sprint("v", i), string(data))
				}
				eventuallyf(t, func() bool {
					return broker.Stats().RemoteRouters == baseline+1 && broker.Stats().Proxies == 0
				}, func() string {
					return fmt.Sprintf("the merged pair was not bypassed: %d remote routers (baseline %d):\n%s",
						broker.Stats().RemoteRouters, baseline, strings.Join(broker.DescribeRouters(), "\n"))
				})
				pingPong(t, x, v, "direct")
				require.NoError(t, v.Close())
				waitStatus(t, x, ipcz.PortalStatusPeerClosed|ipcz.PortalStatusDead)
			})
		})
	}
}
