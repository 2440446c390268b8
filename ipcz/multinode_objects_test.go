package ipcz_test

import (
	"fmt"
	"testing"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/stretchr/testify/require"
)

// reportsAfter returns the bad-activity reports made since the first n.
func reportsAfter(d *mnDriver, n int) []mnReport {
	return d.badReports()[n:]
}

// TestRejectParcelFromAnotherNode: rejecting a parcel that came from
// another node reaches the receiving node's driver with the receiving
// node's transport to the sender and the context given, once per reject,
// over initial portals and over a direct link made by an introduction;
// the link stays up. Rejecting a local parcel is FailedPrecondition.
func TestRejectParcelFromAnotherNode(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 2)
		const a, b, c = 0, 1, 2
		net.ch(b, c)
		check := func(from, to int, ctx uintptr, twoPhase bool) {
			t.Helper()
			before := len(d.badReports())
			tag := fmt.Sprintf("bad %s->%s", nodeLetter(from), nodeLetter(to))
			require.NoError(t, net.ch(from, to).Put([]byte(tag), nil, nil))
			in := net.ch(to, from)
			waitLocalParcels(t, in, 1)
			var v *ipcz.Validator
			if twoPhase {
				data, n, err := in.BeginGet(true, true)
				require.NoError(t, err)
				require.Equal(t, tag, string(data))
				require.Zero(t, n)
				var objects []ipcz.Object
				objects, v, err = in.EndGetValidated(len(data), 0, 0)
				require.NoError(t, err)
				require.Empty(t, objects)
			} else {
				buf := make([]byte, 64)
				n, _, validator, err := in.GetValidated(0, buf, nil)
				require.NoError(t, err)
				require.Equal(t, tag, string(buf[:n]))
				v = validator
			}
			require.NotNil(t, v)
			require.Empty(t, reportsAfter(d, before))
			require.NoError(t, v.Reject(ctx))
			require.Equal(t, []mnReport{{
				Node:      nodeLetter(to),
				Transport: net.transport[[2]int{to, from}],
				Context:   ctx,
			}}, reportsAfter(d, before))
			require.NoError(t, v.Close())
			require.Equal(t, ipcz.InvalidArgument, v.Reject(ctx))
			require.Len(t, reportsAfter(d, before), 1)
			// Rejecting is only a report: the link stays up.
			pingPong(t, net.ch(from, to), in, "still up")
		}
		check(b, a, 1001, false)
		check(a, b, 1002, true)
		check(c, b, 1003, false)
		check(b, c, 1004, true)

		// A parcel put on this node has no transport to blame.
		x, y, err := net.nodes[b].OpenPortals()
		require.NoError(t, err)
		require.NoError(t, x.Put([]byte("local"), nil, nil))
		_, _, v, err := y.GetValidated(0, make([]byte, 8), nil)
		require.NoError(t, err)
		require.Equal(t, ipcz.FailedPrecondition, v.Reject(7))
	})
}

// TestRejectParcelFromMovedPortal: the parcel's source is the node link it
// last arrived over: once a moved portal's route is direct, a reject
// blames the sender's node.
func TestRejectParcelFromMovedPortal(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 2)
		const a, b, c = 0, 1, 2
		net.ch(b, c)
		p, q, err := net.nodes[b].OpenPortals()
		require.NoError(t, err)
		q = net.send(b, a, q)
		q = net.send(a, c, q)
		net.requireNoProxiesEventually()
		require.NoError(t, p.Put([]byte("from B"), nil, nil))
		waitLocalParcels(t, q, 1)
		before := len(d.badReports())
		_, _, v, err := q.GetValidated(0, make([]byte, 16), nil)
		require.NoError(t, err)
		require.NoError(t, v.Reject(99))
		require.Equal(t, []mnReport{{
			Node: "C", Transport: net.transport[[2]int{c, b}], Context: 99,
		}}, reportsAfter(d, before))
	})
}

// blobs makes n boxes of blobs on node with distinct contents.
func blobs(t *testing.T, d *mnDriver, node *ipcz.Node, tag string, n int) []ipcz.Object {
	t.Helper()
	var out []ipcz.Object
	for i := range n {
		box, err := node.Box(d.newBlob(t, []byte(fmt.Sprintf("%s blob %d", tag, i))))
		require.NoError(t, err)
		out = append(out, box)
	}
	return out
}

// requireBlobs checks that objects are boxes of the blobs made by blobs,
// in order, and unboxes and closes them.
func requireBlobs(t *testing.T, d *mnDriver, objects []ipcz.Object, tag string, n int) {
	t.Helper()
	require.Len(t, objects, n)
	for i, o := range objects {
		box, ok := o.(*ipcz.Box)
		require.True(t, ok, "object %d is %T", i, o)
		h, err := box.Unbox(0)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("%s blob %d", tag, i), d.takeBlob(t, h))
	}
}

// TestBoxesBetweenNodes: parcels with several boxes, and with a box and a
// portal, between a non-broker and the broker and between two
// non-brokers over a direct link (relayed through the broker when the
// driver cannot pass them directly), interleaved with plain parcels:
// everything arrives in order and every blob is intact; no blob is left
// behind.
func TestBoxesBetweenNodes(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 2)
		const a, b, c = 0, 1, 2
		net.ch(b, c)
		blobsBefore := d.liveBlobs()
		for _, pair := range [][2]int{{b, a}, {a, b}, {b, c}, {c, b}} {
			from, to := pair[0], pair[1]
			tag := nodeLetter(from) + nodeLetter(to)
			out, in := net.ch(from, to), net.ch(to, from)
			require.NoError(t, out.Put(seqParcel('s', 0, 12), nil, nil))
			require.NoError(t, out.Put([]byte(tag+" three"), blobs(t, d, net.nodes[from], tag+"3", 3), nil))
			require.NoError(t, out.Put(seqParcel('s', 1, 12), nil, nil))
			x, y, err := net.nodes[from].OpenPortals()
			require.NoError(t, err)
			mixed := append(blobs(t, d, net.nodes[from], tag+"m", 1), x)
			require.NoError(t, out.Put([]byte(tag+" box and portal"), mixed, nil))
			require.NoError(t, out.Put(seqParcel('s', 2, 12), nil, nil))
			twenty := blobs(t, d, net.nodes[from], tag+"20", 20)
			require.NoError(t, out.Put(nil, twenty, nil))

			r := &seqReader{stream: 's'}
			r.readN(t, in, 1)
			data, objects := waitMessage(t, in)
			require.Equal(t, tag+" three", string(data))
			requireBlobs(t, d, objects, tag+"3", 3)
			r.readN(t, in, 1)
			data, objects = waitMessage(t, in)
			require.Equal(t, tag+" box and portal", string(data))
			require.Len(t, objects, 2)
			requireBlobs(t, d, objects[:1], tag+"m", 1)
			moved, ok := objects[1].(*ipcz.Portal)
			require.True(t, ok)
			pingPong(t, moved, y, tag+" moved")
			r.readN(t, in, 1)
			data, objects = waitMessage(t, in)
			require.Empty(t, data)
			requireBlobs(t, d, objects, tag+"20", 20)
			require.NoError(t, moved.Close())
			require.NoError(t, y.Close())
		}
		require.Equal(t, blobsBefore, d.liveBlobs())

		// Boxes in parcels nobody reads are closed with the route.
		require.NoError(t, net.ch(b, c).Put(nil, blobs(t, d, net.nodes[b], "lost", 4), nil))
		waitLocalParcels(t, net.ch(c, b), 1)
		require.Equal(t, blobsBefore+4, d.liveBlobs())
		require.NoError(t, net.ch(c, b).Close())
		require.Equal(t, blobsBefore, d.liveBlobs())
	})
}

// TestBoxesThroughProxies: boxes ride along with a moving portal: parcels
// with boxes queued before q moves B→A→C, and put while it moves, all
// arrive at C with their blobs.
func TestBoxesThroughProxies(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *mnDriver) {
		net := newMNNet(t, d, 2)
		const a, b, c = 0, 1, 2
		net.ch(b, c)
		p, q, err := net.nodes[b].OpenPortals()
		require.NoError(t, err)
		require.NoError(t, p.Put([]byte("0"), blobs(t, d, net.nodes[b], "0", 2), nil))
		q = net.send(b, a, q)
		require.NoError(t, p.Put([]byte("1"), blobs(t, d, net.nodes[b], "1", 2), nil))
		q = net.send(a, c, q)
		require.NoError(t, p.Put([]byte("2"), blobs(t, d, net.nodes[b], "2", 2), nil))
		for i := range 3 {
			data, objects := waitMessage(t, q)
			require.Equal(t, fmt.Sprint(i), string(data))
			requireBlobs(t, d, objects, fmt.Sprint(i), 2)
		}
		net.requireNoProxiesEventually()
	})
}
