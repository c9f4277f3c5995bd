package p2p

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestRaftStreamLayerRoundTrip(t *testing.T) {
	a := newTestHost(t, GaterOptions{})
	b := newTestHost(t, GaterOptions{})
	makeMembers(t, a, b)
	la, err := NewRaftStreamLayer(a)
	if err != nil {
		t.Fatal(err)
	}
	defer la.Close()
	lb, err := NewRaftStreamLayer(b)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	if la.Addr().String() != a.ID().String() {
		t.Fatalf("Addr() = %s, want %s", la.Addr(), a.ID())
	}

	accepted := make(chan error, 1)
	go func() {
		c, err := la.Accept()
		if err != nil {
			accepted <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil {
			accepted <- err
			return
		}
		_, err = c.Write([]byte(strings.ToUpper(string(buf))))
		accepted <- err
	}()
	c, err := lb.Dial(raft.ServerAddress(a.ID().String()), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("vote")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "VOTE" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}
	if !b.cm.IsProtected(a.ID(), "raft") {
		t.Fatal("raft peer not protected in the connection manager")
	}

	if _, err := lb.Dial("not-a-peer-id", time.Second); err == nil || !strings.Contains(err.Error(), "not a peer ID") {
		t.Fatalf("bad address: got %v", err)
	}
	la.Close()
	if _, err := la.Accept(); err == nil {
		t.Fatal("Accept after Close succeeded")
	}
}

func TestRaftTransportOverStreamLayer(t *testing.T) {
	a := newTestHost(t, GaterOptions{})
	b := newTestHost(t, GaterOptions{})
	makeMembers(t, a, b)
	la, err := NewRaftStreamLayer(a)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := NewRaftStreamLayer(b)
	if err != nil {
		t.Fatal(err)
	}
	ta := raft.NewNetworkTransport(la, 2, 5*time.Second, io.Discard)
	defer ta.Close()
	tb := raft.NewNetworkTransport(lb, 2, 5*time.Second, io.Discard)
	defer tb.Close()
	if string(ta.LocalAddr()) != a.ID().String() {
		t.Fatalf("LocalAddr = %s, want the peer ID", ta.LocalAddr())
	}
	go func() {
		for rpc := range ta.Consumer() {
			req := rpc.Command.(*raft.RequestVoteRequest)
			rpc.Respond(&raft.RequestVoteResponse{Term: req.Term, Granted: true}, nil)
		}
	}()
	var resp raft.RequestVoteResponse
	req := raft.RequestVoteRequest{RPCHeader: raft.RPCHeader{ID: []byte("b"), Addr: []byte(tb.LocalAddr())}, Term: 7}
	if err := tb.RequestVote("a", ta.LocalAddr(), &req, &resp); err != nil {
		t.Fatal(err)
	}
	if !resp.Granted || resp.Term != 7 {
		t.Fatalf("response %+v", resp)
	}
}

func TestRaftStreamLayerRefusesNonMember(t *testing.T) {
	a := newTestHost(t, GaterOptions{})
	b := newTestHost(t, GaterOptions{})
	b.Gater().AllowOutbound(a.ID())
	b.SetPeerAddr(a.ID(), a.Addr())
	la, err := NewRaftStreamLayer(a)
	if err != nil {
		t.Fatal(err)
	}
	defer la.Close()
	go func() { // echo whatever a member-only listener wrongly accepts
		for {
			c, err := la.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	lb, err := NewRaftStreamLayer(b)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	c, err := lb.Dial(raft.ServerAddress(a.ID().String()), 5*time.Second)
	if err == nil {
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("x"))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("non-member stream was served")
		}
	}
}
