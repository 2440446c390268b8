package ipcz_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/inprocess"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/multiprocess"
	"github.com/stretchr/testify/require"
)

// TestManyLinksWhileStatePoolGrows: a client sends one end of each of
// 12,000 pairs to the broker in a few large parcels, back to back, so
// that new links are announced while the link-state pool grows again
// and again (grown early, added as soon as sent, given through the
// broker by a delegate, or late through SetLinkState). Every route ends
// direct, which needs a state on each link, and carries a parcel each
// way.
func TestManyLinksWhileStatePoolGrows(t *testing.T) {
	const pairs, batch = 12000, 2000
	type setup struct {
		name  string
		flags ipcz.ConnectNodeFlags
		// newDrivers returns the drivers of the broker and the client, and
		// a connected transport pair.
		newDrivers func(t *testing.T) (broker, client ipcz.Driver, tb, tc ipcz.DriverHandle)
	}
	inproc := func(mode inprocess.Mode) func(t *testing.T) (ipcz.Driver, ipcz.Driver, ipcz.DriverHandle, ipcz.DriverHandle) {
		return func(t *testing.T) (ipcz.Driver, ipcz.Driver, ipcz.DriverHandle, ipcz.DriverHandle) {
			d := inprocess.New(mode)
			tb, tc := d.NewTransportPair(true, false)
			return d.ForNode("broker"), d.ForNode("client"), tb, tc
		}
	}
	setups := []setup{
		{"Async", ipcz.ConnectNodeToBroker, inproc(inprocess.Async)},
		{"AsyncDelegatedAlloc", ipcz.ConnectNodeToBroker | ipcz.ConnectNodeToAllocationDelegate, inproc(inprocess.AsyncDelegatedAlloc)},
		{"Multiprocess", ipcz.ConnectNodeToBroker, func(t *testing.T) (ipcz.Driver, ipcz.Driver, ipcz.DriverHandle, ipcz.DriverHandle) {
			d := multiprocess.New(multiprocess.FastPath(true))
			tb, tc, err := d.NewTransportPair()
			require.NoError(t, err)
			return d, d, tb, tc
		}},
	}
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			bd, cd, tb, tc := s.newDrivers(t)
			broker, err := ipcz.CreateNode(bd, 0, ipcz.CreateNodeAsBroker)
			require.NoError(t, err)
			defer broker.Close()
			client, err := ipcz.CreateNode(cd, 0, 0)
			require.NoError(t, err)
			defer client.Close()
			bp, err := broker.ConnectNode(tb, 1, 0)
			require.NoError(t, err)
			cp, err := client.ConnectNode(tc, 1, s.flags)
			require.NoError(t, err)
			toBroker, fromClient := cp[0], bp[0]

			local := make([]*ipcz.Portal, 0, pairs)
			for start := 0; start < pairs; start += batch {
				sent := make([]ipcz.Object, 0, batch)
				for range batch {
					x, y, err := client.OpenPortals()
					require.NoError(t, err)
					local = append(local, x)
					sent = append(sent, y)
				}
				require.NoError(t, toBroker.Put([]byte("ends"), sent, nil))
			}
			remote := make([]*ipcz.Portal, 0, pairs)
			for len(remote) < pairs {
				_, objects := getMessageWithin(t, fromClient)
				require.Len(t, objects, batch)
				for _, o := range objects {
					remote = append(remote, o.(*ipcz.Portal))
				}
			}

			for i := range pairs {
				require.NoError(t, local[i].Put(fmt.Appendf(nil, "l%d", i), nil, nil))
				require.NoError(t, remote[i].Put(fmt.Appendf(nil, "r%d", i), nil, nil))
			}
			for i := range pairs {
				data, _ := getMessageWithin(t, remote[i])
				require.Equal(t, fmt.Sprintf("l%d", i), string(data))
				data, _ = getMessageWithin(t, local[i])
				require.Equal(t, fmt.Sprintf("r%d", i), string(data))
			}
			deadline := time.Now().Add(30 * time.Second)
			for broker.Stats().Proxies+client.Stats().Proxies > 0 {
				require.False(t, time.Now().After(deadline), "proxies left: broker %+v, client %+v",
					broker.Stats().Proxies, client.Stats().Proxies)
				time.Sleep(5 * time.Millisecond)
			}
			require.Equal(t, pairs+1, client.Stats().RemoteRouters)
			require.Equal(t, pairs+1, broker.Stats().RemoteRouters)
			for i := range pairs {
				require.NoError(t, local[i].Close())
				require.NoError(t, remote[i].Close())
			}
			require.NoError(t, toBroker.Close())
			require.NoError(t, fromClient.Close())
		})
	}
}

// getMessageWithin polls p for a parcel for up to 30 s.
func getMessageWithin(t *testing.T, p *ipcz.Portal) ([]byte, []ipcz.Object) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, objects, err := p.GetMessage()
		if err != ipcz.Unavailable {
			require.NoError(t, err)
			return data, objects
		}
		require.False(t, time.Now().After(deadline), "timed out waiting for a parcel")
		time.Sleep(50 * time.Microsecond)
	}
}
