package p2p

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestProbePeerID(t *testing.T) {
	a := newTestHost(t, GaterOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id, err := ProbePeerID(ctx, newKey(t), a.Addr())
	if err != nil || id != a.ID() {
		t.Fatalf("ProbePeerID = %s, %v, want %s", id, err, a.ID())
	}
	id, err = ProbePeerID(ctx, nil, a.Addr())
	if err != nil || id != a.ID() {
		t.Fatalf("ProbePeerID with an ephemeral key = %s, %v", id, err)
	}
}

// tcpServer listens on 127.0.0.1 and runs serve for each connection.
func tcpServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return l.Addr().String()
}

func TestProbePeerIDErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	httpish := tcpServer(t, func(c net.Conn) {
		defer c.Close()
		c.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\n"))
	})
	silent := tcpServer(t, func(c net.Conn) {
		defer c.Close()
		time.Sleep(5 * time.Second)
	})
	cases := []struct {
		addr, want string
		timeout    time.Duration
	}{
		{closed, "connection refused", 5 * time.Second},
		{httpish, "not a shoal/libp2p node", 5 * time.Second},
		{silent, "timed out", 300 * time.Millisecond},
		{"no-port", "missing port", time.Second},
	}
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		start := time.Now()
		_, err := ProbePeerID(ctx, nil, c.addr)
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("probe %s: got %v, want error containing %q", c.addr, err, c.want)
		}
		if d := time.Since(start); d > c.timeout+2*time.Second {
			t.Errorf("probe %s took %v", c.addr, d)
		}
	}
}
