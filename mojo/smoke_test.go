package mojo

import "testing"

func TestSmoke(t *testing.T) {
	c := newCore(t)
	a, b := pipe(t, c)
	ok(t, "WriteMessage", c.WriteMessage(a, []byte("hi"), nil, 0))
	buf := make([]byte, 8)
	n, nh, r := c.ReadMessage(b, buf, nil, 0)
	ok(t, "ReadMessage", r)
	if string(buf[:n]) != "hi" || nh != 0 {
		t.Fatalf("read %q %d", buf[:n], nh)
	}
	x, y := pipe(t, c)
	ok(t, "WriteMessage with handle", c.WriteMessage(a, []byte("h"), []Handle{x}, 0))
	hs := make([]Handle, 1)
	n, nh, r = c.ReadMessage(b, buf, hs, 0)
	ok(t, "ReadMessage with handle", r)
	if n != 1 || nh != 1 || hs[0] == 0 {
		t.Fatalf("got %d %d %v", n, nh, hs)
	}
	ok(t, "write through moved", c.WriteMessage(hs[0], []byte("xyz"), nil, 0))
	n, _, r = c.ReadMessage(y, buf, nil, 0)
	ok(t, "read from y", r)
	if string(buf[:n]) != "xyz" {
		t.Fatalf("got %q", buf[:n])
	}
	closeAll(t, c, a, b, hs[0], y)
	if c.NumHandles() != 0 {
		t.Fatalf("%d handles left", c.NumHandles())
	}
}
