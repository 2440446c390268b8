package ipcz

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSmokePutGet(t *testing.T) {
	n, err := CreateNode(newTestDriver(), 0, 0)
	require.NoError(t, err)
	a, b, err := n.OpenPortals()
	require.NoError(t, err)
	require.NoError(t, a.Put([]byte("hello"), nil, nil))
	buf := make([]byte, 16)
	nb, nh, err := b.Get(0, buf, nil)
	require.NoError(t, err)
	require.Equal(t, 5, nb)
	require.Equal(t, 0, nh)
	require.Equal(t, "hello", string(buf[:nb]))
	_, _, err = b.Get(0, buf, nil)
	require.Equal(t, Unavailable, err)
	require.NoError(t, a.Close())
	s, err := b.QueryStatus()
	require.NoError(t, err)
	require.Equal(t, PortalStatusPeerClosed|PortalStatusDead, s.Flags)
	_, _, err = b.Get(0, buf, nil)
	require.Equal(t, NotFound, err)
}
