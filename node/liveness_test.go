package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/gossip"
)

func TestLiveSet(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	node := func(id string, st api.NodeStatus, age time.Duration) *api.Node {
		return &api.Node{ID: id, Status: st, UpdatedAt: now.Add(-age)}
	}
	nodes := []*api.Node{
		node("self", api.NodeReady, time.Hour),
		node("alive", api.NodeReady, time.Hour),
		node("suspect", api.NodeReady, time.Hour),
		node("suspect-gone", api.NodeReady, time.Hour),
		node("alive-gone", api.NodeReady, time.Hour), // gone before gossip noticed
		node("dead", api.NodeReady, time.Second),
		node("joiner", api.NodeReady, time.Second),    // registered, gossip not seen yet
		node("stale", api.NodeReady, time.Minute),     // not in gossip for long
		node("was-down", api.NodeDown, time.Second),   // marked down, not in gossip
		node("away", api.NodeRestarting, time.Second), // restarting, gossip forgot it
		node("restarted", api.NodeRestarting, time.Minute),
		node("back", api.NodeReady, time.Second),
	}
	long := now.Add(-time.Hour)
	seen := map[string]sighting{
		"alive": {gossip.MemberAlive, long}, "suspect": {gossip.MemberSuspect, long},
		"suspect-gone": {gossip.MemberSuspect, long}, "alive-gone": {gossip.MemberAlive, long},
		"dead":      {gossip.MemberDead, now},
		"restarted": {gossip.MemberAlive, now},
		"back":      {gossip.MemberLeft, now.Add(-2 * time.Second)}, // left, then registered again
	}
	gone := map[string]bool{"suspect-gone": true, "alive-gone": true}
	got := liveSet("self", nodes, seen, gone, now)
	want := map[string]bool{"self": true, "alive": true, "suspect": true, "joiner": true, "restarted": true, "back": true}
	for _, n := range nodes {
		if got[n.ID] != want[n.ID] {
			t.Errorf("%s: live = %v, want %v", n.ID, got[n.ID], want[n.ID])
		}
	}
}

func TestWantStatus(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	restarting := &api.Node{Status: api.NodeRestarting, RestartBy: now.Add(time.Second)}
	expired := &api.Node{Status: api.NodeRestarting, RestartBy: now}
	ready := &api.Node{Status: api.NodeReady}
	cases := []struct {
		n    *api.Node
		up   bool
		want api.NodeStatus
	}{
		{restarting, false, api.NodeRestarting},
		{restarting, true, api.NodeRestarting}, // it marks itself ready when it registers
		{expired, false, api.NodeDown},
		{expired, true, api.NodeReady},
		{ready, false, api.NodeDown},
		{ready, true, api.NodeReady},
	}
	for i, c := range cases {
		if got := wantStatus(c.n, c.up, now); got != c.want {
			t.Errorf("case %d: %s up=%v → %s, want %s", i, c.n.Status, c.up, got, c.want)
		}
	}
}

// TestRecordStatusesCommitsTogether: the status changes of nodes that died
// together are proposed at once (Raft batches them), not one commit after
// another; each is committed once, and a failure is logged, not retried
// here (the loop's next pass finds it again).
func TestRecordStatusesCommitsTogether(t *testing.T) {
	var changes []statusChange
	for i := range 100 {
		changes = append(changes, statusChange{&api.Node{ID: fmt.Sprintf("n%03d", i), Name: fmt.Sprintf("sim-%03d", i), Status: api.NodeReady}, api.NodeDown})
	}
	var mu sync.Mutex
	inFlight, most := 0, 0
	got := map[string]int{}
	release := make(chan struct{})
	giveUp, cancel := context.WithTimeout(context.Background(), 5*time.Second) // a sequential caller never fills the window
	defer cancel()
	submit := func(ctx context.Context, p api.SetNodeStatusPayload) error {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		got[p.NodeID]++
		if inFlight == statusWritesInFlight {
			close(release) // the most that may be in flight at once are
		}
		mu.Unlock()
		select {
		case <-release:
		case <-giveUp.Done():
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
		if p.NodeID == "n007" {
			return errors.New("no leader")
		}
		return nil
	}
	var logs bytes.Buffer
	recordStatuses(context.Background(), changes, submit, slog.New(slog.NewTextHandler(&logs, nil)))
	if most != statusWritesInFlight {
		t.Fatalf("at most %d status writes in flight, want %d", most, statusWritesInFlight)
	}
	if len(got) != 100 {
		t.Fatalf("%d nodes' statuses submitted, want 100", len(got))
	}
	for id, n := range got {
		if n != 1 {
			t.Fatalf("%s submitted %d times", id, n)
		}
	}
	if n := strings.Count(logs.String(), `msg="node status changed"`); n != 99 {
		t.Fatalf("%d changes logged, want 99:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `msg="node status not recorded" node=sim-007`) {
		t.Fatalf("the failed write is not logged:\n%s", logs.String())
	}
}
