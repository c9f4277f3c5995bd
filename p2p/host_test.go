package p2p

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"golang.org/x/time/rate"
)

const (
	echoProto protocol.ID = "/shoal/test-echo/1"
	openProto protocol.ID = "/shoal/test-open/1"
	memProto  protocol.ID = "/shoal/test-members/1"
)

// serveEcho echoes every accepted connection until l is closed.
func serveEcho(t *testing.T, h *Host, proto protocol.ID, membersOnly bool) {
	t.Helper()
	l, err := h.Listen(proto, membersOnly)
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
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
}

// pingRPC registers method "ping" answering "pong" on proto.
func pingRPC(t *testing.T, h *Host, proto protocol.ID, membersOnly bool) {
	t.Helper()
	err := h.HandleRPC(proto, membersOnly, func(context.Context, peer.ID, string, json.RawMessage) (any, error) {
		return "pong", nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// call calls "ping" on proto with a short deadline.
func call(from, to *Host, proto protocol.ID) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var out string
	err := from.Call(ctx, to.ID(), proto, "ping", nil, &out)
	if err == nil && out != "pong" {
		return io.ErrUnexpectedEOF
	}
	return err
}

// echo dials proto on to, writes msg and reads it back.
func echo(from, to *Host, proto protocol.ID, msg string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := from.Dial(ctx, to.ID(), proto)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, len(msg))
	_, err = io.ReadFull(c, buf)
	return string(buf), err
}

func TestNewHostValidation(t *testing.T) {
	key := newKey(t)
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{ListenIP: "127.0.0.1"}, "no identity key"},
		{Config{Key: key, ListenIP: "localhost"}, "not an IP address"},
		{Config{Key: key, ListenIP: "127.0.0.1", Port: 70000}, "out of range"},
	}
	for _, c := range cases {
		if _, err := NewHost(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewHost(%+v): got %v, want error containing %q", c.cfg, err, c.want)
		}
	}
}

func TestHostAddrAndSetPeerAddr(t *testing.T) {
	h := newTestHost(t, GaterOptions{})
	host, port, err := net.SplitHostPort(h.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr() = %q, want 127.0.0.1 with a real port", h.Addr())
	}
	id := newPeerID(t)
	for _, bad := range []string{"nohostport", "1.2.3.4:0", "1.2.3.4:x", ":80"} {
		if err := h.SetPeerAddr(id, bad); err == nil {
			t.Errorf("SetPeerAddr(%q) accepted", bad)
		}
	}
	if err := h.SetPeerAddr("", "1.2.3.4:5"); err == nil {
		t.Error("SetPeerAddr with an empty peer ID accepted")
	}
	h.SetPeerAddr(id, "10.0.0.1:1000")
	if err := h.SetPeerAddr(id, "10.0.0.2:2000"); err != nil {
		t.Fatal(err)
	}
	addrs := h.LibP2P().Peerstore().Addrs(id)
	if len(addrs) != 1 || addrs[0].String() != "/ip4/10.0.0.2/tcp/2000" {
		t.Fatalf("peerstore addrs = %v, want only the new address", addrs)
	}
	// Setting the same address again is a no-op; back to the first
	// address is not.
	h.SetPeerAddr(id, "10.0.0.2:2000")
	h.SetPeerAddr(id, "10.0.0.1:1000")
	addrs = h.LibP2P().Peerstore().Addrs(id)
	if len(addrs) != 1 || addrs[0].String() != "/ip4/10.0.0.1/tcp/1000" {
		t.Fatalf("peerstore addrs = %v, want the first address again", addrs)
	}
}

func TestMembersDialAndCall(t *testing.T) {
	a := newTestHost(t, GaterOptions{})
	b := newTestHost(t, GaterOptions{})
	makeMembers(t, a, b)
	serveEcho(t, b, echoProto, true)
	pingRPC(t, b, memProto, true)

	got, err := echo(a, b, echoProto, "hello")
	if err != nil || got != "hello" {
		t.Fatalf("echo = %q, %v", got, err)
	}
	if err := call(a, b, memProto); err != nil {
		t.Fatalf("member call: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := a.Dial(ctx, b.ID(), echoProto)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.RemoteAddr().String() != b.ID().String() || c.LocalAddr().String() != a.ID().String() || c.RemoteAddr().Network() != Network {
		t.Fatalf("addrs %v -> %v", c.LocalAddr(), c.RemoteAddr())
	}
	if _, err := a.Dial(ctx, a.ID(), echoProto); err == nil {
		t.Fatal("dial to self succeeded")
	}
}

func TestNonMemberRefusedOnMembersOnly(t *testing.T) {
	a := newTestHost(t, GaterOptions{})
	b := newTestHost(t, GaterOptions{}) // not a member of a
	b.Gater().AllowOutbound(a.ID())
	b.SetPeerAddr(a.ID(), a.Addr())
	pingRPC(t, a, memProto, true)
	pingRPC(t, a, openProto, false)
	serveEcho(t, a, echoProto, true)

	if err := call(b, a, openProto); err != nil {
		t.Fatalf("pending peer refused on an open protocol: %v", err)
	}
	if err := call(b, a, memProto); err == nil {
		t.Fatal("non-member served on a members-only RPC protocol")
	}
	if _, err := echo(b, a, echoProto, "x"); err == nil {
		t.Fatal("non-member served on a members-only stream protocol")
	}
	// A host that neither knows a nor may dial it is refused locally.
	c := newTestHost(t, GaterOptions{})
	c.SetPeerAddr(a.ID(), a.Addr())
	if err := call(c, a, openProto); err == nil {
		t.Fatal("dial to a non-member allowed without AllowOutbound")
	}
}

// joiner returns a host allowed to dial to, which does not know it.
func joiner(t *testing.T, to *Host) *Host {
	h := newTestHost(t, GaterOptions{})
	h.Gater().AllowOutbound(to.ID())
	h.SetPeerAddr(to.ID(), to.Addr())
	return h
}

func TestPendingLimitAndExpiry(t *testing.T) {
	a := newTestHost(t, GaterOptions{MaxPending: 1, PendingTTL: 2 * time.Second, PendingRate: rate.Inf})
	pingRPC(t, a, openProto, false)
	b, c := joiner(t, a), joiner(t, a)

	if err := call(b, a, openProto); err != nil {
		t.Fatalf("first pending peer refused: %v", err)
	}
	if err := call(c, a, openProto); err == nil {
		t.Fatal("second pending peer admitted with MaxPending 1")
	}
	waitFor(t, 5*time.Second, "expired pending peer to be disconnected", func() bool {
		return a.LibP2P().Network().Connectedness(b.ID()) != network.Connected
	})
	waitFor(t, 5*time.Second, "a freed pending slot to admit another peer", func() bool {
		return call(c, a, openProto) == nil
	})
}

func TestPendingRateLimit(t *testing.T) {
	a := newTestHost(t, GaterOptions{MaxPending: 10, PendingRate: rate.Every(time.Hour), PendingBurst: 1})
	pingRPC(t, a, openProto, false)
	b, c := joiner(t, a), joiner(t, a)
	if err := call(b, a, openProto); err != nil {
		t.Fatalf("first pending peer refused: %v", err)
	}
	if err := call(c, a, openProto); err == nil {
		t.Fatal("pending peer admitted beyond the rate limit")
	}
	a.Gater().AddMember(c.ID())
	if err := call(c, a, openProto); err != nil {
		t.Fatalf("member refused: %v", err)
	}
}

func TestRemovedMemberDisconnected(t *testing.T) {
	a := newTestHost(t, GaterOptions{PendingTTL: 200 * time.Millisecond})
	b := newTestHost(t, GaterOptions{})
	makeMembers(t, a, b)
	pingRPC(t, a, memProto, true)
	if err := call(b, a, memProto); err != nil {
		t.Fatal(err)
	}
	a.Gater().RemoveMember(b.ID())
	waitFor(t, 5*time.Second, "removed member to be disconnected", func() bool {
		return a.LibP2P().Network().Connectedness(b.ID()) != network.Connected
	})
}

func TestBlockPartitionsAndUnblockHeals(t *testing.T) {
	a := newTestHost(t, GaterOptions{})
	b := newTestHost(t, GaterOptions{})
	makeMembers(t, a, b)
	pingRPC(t, a, memProto, true)
	pingRPC(t, b, memProto, true)
	if err := call(a, b, memProto); err != nil {
		t.Fatal(err)
	}

	a.Gater().Block(b.ID())
	if err := a.Disconnect(b.ID()); err != nil {
		t.Fatal(err)
	}
	if err := call(a, b, memProto); err == nil {
		t.Fatal("a reached blocked b")
	}
	waitFor(t, 5*time.Second, "b to see the connection closed", func() bool {
		return b.LibP2P().Network().Connectedness(a.ID()) != network.Connected
	})
	if err := call(b, a, memProto); err == nil {
		t.Fatal("blocked b reached a")
	}

	a.Gater().Unblock(b.ID())
	waitFor(t, 5*time.Second, "a->b to heal", func() bool { return call(a, b, memProto) == nil })
	a.Disconnect(b.ID())
	waitFor(t, 5*time.Second, "b->a to heal", func() bool { return call(b, a, memProto) == nil })
}

func TestRestartedPeerRedialedWithoutBackoff(t *testing.T) {
	for _, samePort := range []bool{false, true} {
		name := "new port"
		if samePort {
			name = "same port"
		}
		t.Run(name, func(t *testing.T) {
			a := newTestHost(t, GaterOptions{})
			bKey := newKey(t)
			b := newTestHostKey(t, bKey, 0, GaterOptions{})
			makeMembers(t, a, b)
			pingRPC(t, b, memProto, true)
			if err := call(a, b, memProto); err != nil {
				t.Fatal(err)
			}
			_, portStr, _ := net.SplitHostPort(b.Addr())
			b.Close()
			waitFor(t, 5*time.Second, "a to see b gone", func() bool {
				return a.LibP2P().Network().Connectedness(b.ID()) != network.Connected
			})
			// Failed dials put b's address on libp2p's dial backoff.
			for range 2 {
				if err := call(a, b, memProto); err == nil {
					t.Fatal("call to a closed host succeeded")
				}
			}
			port := 0
			if samePort {
				port = mustAtoi(t, portStr)
			}
			b2 := newTestHostKey(t, bKey, port, GaterOptions{})
			b2.Gater().AddMember(a.ID())
			pingRPC(t, b2, memProto, true)
			if err := a.SetPeerAddr(b2.ID(), b2.Addr()); err != nil {
				t.Fatal(err)
			}
			if err := call(a, b2, memProto); err != nil {
				t.Fatalf("restarted peer not dialed at once: %v", err)
			}
		})
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestManyConcurrentStreams holds more streams open to one peer on one
// protocol than libp2p's default per-protocol-peer limit (64 inbound) allows.
func TestManyConcurrentStreams(t *testing.T) {
	a := newTestHost(t, GaterOptions{})
	b := newTestHost(t, GaterOptions{})
	makeMembers(t, a, b)
	serveEcho(t, b, echoProto, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const n = 300
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := a.Dial(ctx, b.ID(), echoProto)
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Write([]byte{byte(i)}); err != nil {
			t.Fatalf("stream %d write: %v", i, err)
		}
	}
	for i, c := range conns {
		var b [1]byte
		if _, err := io.ReadFull(c, b[:]); err != nil || b[0] != byte(i) {
			t.Fatalf("stream %d: read %v, %v", i, b[0], err)
		}
	}
}

func TestListenerAcceptEndsOnHostClose(t *testing.T) {
	h := newTestHost(t, GaterOptions{})
	l, err := h.Listen(echoProto, false)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, err := l.Accept(); errc <- err }()
	h.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after host Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still blocked after host Close")
	}
	if _, err := h.Listen("", false); err == nil {
		t.Fatal("Listen with an empty protocol accepted")
	}
}
