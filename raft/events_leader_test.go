package raft

import (
	"context"
	"strconv"
	"testing"
	"time"
)

func TestLeaderElectedIsALocalEventWithTheTerm(t *testing.T) {
	tr := newTestRafts(t, "a")
	a := tr.members["a"].c
	a.TrackLeader()
	sub, err := a.FSM().SubscribeEvents(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.BootstrapSelf(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		evs, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("no leader_elected event: %v", err)
		}
		for _, e := range evs {
			if e.Action != "leader_elected" {
				continue
			}
			_, term := a.LeaderTerm()
			if !e.Local || e.ID != "a" || e.Attrs["term"] == "" || e.Attrs["term"] != itoa(term) {
				t.Fatalf("event %+v, want a local leader_elected for a in term %d", e, term)
			}
			return
		}
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
