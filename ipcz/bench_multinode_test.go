package ipcz_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/inprocess"
)

// benchNetwork connects a broker and n clients over the asynchronous
// in-process driver, outside any test.
func benchNetwork(b *testing.B, n int) (*ipcz.Node, []*ipcz.Node, []*ipcz.Portal, []*ipcz.Portal) {
	d := inprocess.New(inprocess.Async)
	broker, _ := ipcz.CreateNode(d.ForNode("broker"), 0, ipcz.CreateNodeAsBroker)
	var clients []*ipcz.Node
	var toClient, toBroker []*ipcz.Portal
	for i := range n {
		c, _ := ipcz.CreateNode(d.ForNode(fmt.Sprint("client", i)), 0, 0)
		tb, tc := d.NewTransportPair(true, false)
		bp, err := broker.ConnectNode(tb, 1, 0)
		if err != nil {
			b.Fatal(err)
		}
		cp, err := c.ConnectNode(tc, 1, ipcz.ConnectNodeToBroker)
		if err != nil {
			b.Fatal(err)
		}
		clients = append(clients, c)
		toClient = append(toClient, bp[0])
		toBroker = append(toBroker, cp[0])
	}
	b.Cleanup(func() {
		for _, c := range clients {
			c.Close()
		}
		broker.Close()
	})
	return broker, clients, toClient, toBroker
}

// spinMessage waits for a parcel without sleeping.
func spinMessage(b *testing.B, p *ipcz.Portal) []byte {
	for {
		data, _, err := p.GetMessage()
		if err == nil {
			return data
		}
		if err != ipcz.Unavailable {
			b.Fatal(err)
		}
		runtime.Gosched()
	}
}

// BenchmarkCrossNodePingPong bounces a parcel between two nodes in one
// process over the asynchronous in-process driver: one op is a round trip.
func BenchmarkCrossNodePingPong(b *testing.B) {
	for _, size := range []int{64, 4096, 65536} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			_, _, toClient, toBroker := benchNetwork(b, 1)
			msg := make([]byte, size)
			// Warm the route and the shared-memory pools.
			for range 10 {
				toBroker[0].Put(msg, nil, nil)
				spinMessage(b, toClient[0])
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					data := spinMessage(b, toClient[0])
					if len(data) == 0 {
						return
					}
					toClient[0].Put(data, nil, nil)
				}
			}()
			b.SetBytes(int64(2 * size))
			b.ReportAllocs()
			for b.Loop() {
				if err := toBroker[0].Put(msg, nil, nil); err != nil {
					b.Fatal(err)
				}
				spinMessage(b, toBroker[0])
			}
			toBroker[0].Put(nil, nil, nil)
			<-done
		})
	}
}

// BenchmarkChannelPingPong is the in-process baseline for
// BenchmarkCrossNodePingPong: the same round trip over two Go channels.
func BenchmarkChannelPingPong(b *testing.B) {
	for _, size := range []int{64, 4096, 65536} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			ping, pong := make(chan []byte, 1), make(chan []byte, 1)
			go func() {
				for m := range ping {
					pong <- append([]byte(nil), m...)
				}
			}()
			msg := make([]byte, size)
			b.SetBytes(int64(2 * size))
			for b.Loop() {
				ping <- append([]byte(nil), msg...)
				<-pong
			}
			close(ping)
		})
	}
}

// BenchmarkPortalTransfer measures how long a moved portal's route takes to
// settle direct: a pair made on client 0, one end sent through the broker
// to client 1, and then parcels bounced until no node has a proxy left.
func BenchmarkPortalTransfer(b *testing.B) {
	broker, clients, toClient, toBroker := benchNetwork(b, 2)
	nodes := []*ipcz.Node{broker, clients[0], clients[1]}
	proxies := func() int {
		n := 0
		for _, node := range nodes {
			n += node.Stats().Proxies
		}
		return n
	}
	b.ReportAllocs()
	for b.Loop() {
		p, q, _ := clients[0].OpenPortals()
		if err := toBroker[0].Put(nil, []ipcz.Object{q}, nil); err != nil {
			b.Fatal(err)
		}
		if err := toClient[1].Put(nil, spinObjects(b, toClient[0]), nil); err != nil {
			b.Fatal(err)
		}
		q = spinObjects(b, toBroker[1])[0].(*ipcz.Portal)
		for proxies() != 0 {
			p.Put([]byte("x"), nil, nil)
			spinMessage(b, q)
		}
		p.Close()
		q.Close()
	}
}

// spinObjects waits for a parcel without sleeping and returns its objects.
func spinObjects(b *testing.B, p *ipcz.Portal) []ipcz.Object {
	for {
		_, objs, err := p.GetMessage()
		if err == nil {
			return objs
		}
		if err != ipcz.Unavailable {
			b.Fatal(err)
		}
		runtime.Gosched()
	}
}
