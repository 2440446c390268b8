package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// The baseline: the same bytes over a Unix stream socketpair, read and
// written with the Go standard library (so the goroutines park in the
// runtime's network poller, as a Go program's would).

// startRaw starts the child role with one end of a new socketpair as its
// descriptor 3 and returns the other end.
func startRaw(role string, size, n int) (net.Conn, *exec.Cmd, error) {
	fds, err := socketpair()
	if err != nil {
		return nil, nil, err
	}
	childEnd := os.NewFile(uintptr(fds[1]), "child")
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), roleEnv+"="+role, sizeEnv+"="+strconv.Itoa(size), countEnv+"="+strconv.Itoa(n))
	cmd.ExtraFiles = []*os.File{childEnd}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err = cmd.Start()
	childEnd.Close()
	parentEnd := os.NewFile(uintptr(fds[0]), "parent")
	defer parentEnd.Close()
	if err != nil {
		return nil, nil, err
	}
	conn, err := net.FileConn(parentEnd)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, nil, err
	}
	return conn, cmd, nil
}

// inherited returns descriptor 3 as a net.Conn.
func inherited() (net.Conn, error) {
	f := os.NewFile(3, "socket")
	defer f.Close()
	return net.FileConn(f)
}

// rawPingPong returns the median round trip of size bytes.
func rawPingPong(size, n int) (time.Duration, error) {
	conn, cmd, err := startRaw("raw-pingpong", size, n)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, max(size, 1))
	warm := n / 10
	times := make([]time.Duration, 0, n)
	for i := range warm + n {
		start := time.Now()
		if _, err := conn.Write(buf); err != nil {
			return 0, err
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			return 0, err
		}
		if i >= warm {
			times = append(times, time.Since(start))
		}
	}
	conn.Close()
	if err := cmd.Wait(); err != nil {
		return 0, err
	}
	return median(times), nil
}

func rawPingPongChild(size int) error {
	conn, err := inherited()
	if err != nil {
		return err
	}
	buf := make([]byte, max(size, 1))
	for {
		if _, err := io.ReadFull(conn, buf); err != nil {
			return nil // the parent is done
		}
		if _, err := conn.Write(buf); err != nil {
			return err
		}
	}
}

// rawBulk returns the bytes per second of n writes of size bytes, timed
// until the child has read them all and said so.
func rawBulk(size, n int) (float64, error) {
	conn, cmd, err := startRaw("raw-bulk", size, n)
	if err != nil {
		return 0, err
	}
	defer cmd.Wait()
	defer conn.Close()
	buf := make([]byte, size)
	var ack [1]byte
	// A warm-up round, then the measured one.
	if _, err := conn.Write(buf); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		return 0, err
	}
	start := time.Now()
	for range n {
		if _, err := conn.Write(buf); err != nil {
			return 0, err
		}
	}
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		return 0, err
	}
	return float64(size) * float64(n) / time.Since(start).Seconds(), nil
}

func rawBulkChild(size, n int) error {
	conn, err := inherited()
	if err != nil {
		return err
	}
	buf := make([]byte, size)
	for _, want := range []int{size, size * n} {
		for got := 0; got < want; {
			k, err := conn.Read(buf[:min(len(buf), want-got)])
			if err != nil {
				return fmt.Errorf("read: %w", err)
			}
			got += k
		}
		if _, err := conn.Write([]byte{1}); err != nil {
			return err
		}
	}
	return nil
}
