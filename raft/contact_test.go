package raft

import (
	"fmt"
	"io"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
)

// TestContactTransportRecordsAnsweredAppends: an answered AppendEntries
// records the time for the target's ID; an unanswered one does not.
func TestContactTransportRecordsAnsweredAppends(t *testing.T) {
	newTCP := func() *hraft.NetworkTransport {
		tr, err := hraft.NewTCPTransport("127.0.0.1:0", nil, 2, time.Second, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		return tr
	}
	a, b := NewContactTransport(newTCP()), newTCP()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a.now = func() time.Time { return at }
	type seen struct {
		heartbeat, answered bool
	}
	var observed []seen
	a.Observe(func(heartbeat bool, _ time.Duration, answered bool) {
		observed = append(observed, seen{heartbeat, answered})
	})
	go func() {
		for rpc := range b.Consumer() {
			rpc.Respond(&hraft.AppendEntriesResponse{Term: 1, Success: true}, nil)
		}
	}()
	if _, ok := a.LastContact("b"); ok {
		t.Fatal("contact before any append")
	}
	var resp hraft.AppendEntriesResponse
	if err := a.AppendEntries("b", b.LocalAddr(), &hraft.AppendEntriesRequest{Term: 1}, &resp); err != nil {
		t.Fatal(err)
	}
	if got, ok := a.LastContact("b"); !ok || !got.Equal(at) {
		t.Fatalf("last contact %v %v, want %v", got, ok, at)
	}
	if err := a.AppendEntries("b", b.LocalAddr(), &hraft.AppendEntriesRequest{Term: 1, Entries: []*hraft.Log{{Index: 1, Term: 1}}}, &resp); err != nil {
		t.Fatal(err)
	}
	dead := newTCP()
	addr := dead.LocalAddr()
	dead.Close()
	if err := a.AppendEntries("gone", addr, &hraft.AppendEntriesRequest{Term: 1}, &resp); err == nil {
		t.Fatal("append to a closed transport succeeded")
	}
	if _, ok := a.LastContact("gone"); ok {
		t.Fatal("a failed append counted as contact")
	}
	if want := []seen{{true, true}, {false, true}, {true, false}}; fmt.Sprint(observed) != fmt.Sprint(want) {
		t.Fatalf("observed %v, want %v (heartbeat, answered)", observed, want)
	}
	var _ hraft.WithClose = a // optional interfaces stay visible to raft
	var _ hraft.WithPreVote = a
}

// TestTransferLeadershipTo: the named voter takes over.
func TestTransferLeadershipTo(t *testing.T) {
	tr := newTestRafts(t, "a", "b", "c")
	if err := tr.members["a"].c.BootstrapSelf(); err != nil {
		t.Fatal(err)
	}
	l := tr.leader(5 * time.Second)
	tr.addVoter(l, "b")
	tr.addVoter(l, "c")
	if err := l.c.TransferLeadershipTo("c"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "c to lead", func() bool { return tr.members["c"].c.IsLeader() })
}
