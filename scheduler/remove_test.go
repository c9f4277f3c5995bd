package scheduler

import (
	"fmt"
	"slices"
	"testing"

	"github.com/shoal-project/shoal/api"
)

func removalIDs(ts []*api.Task) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

func TestSelectForRemovalKeepsSpread(t *testing.T) {
	// 10 tasks: n1 holds 4, n2 4, n3 2. Removing 4 must leave 2/2/2.
	var ts []*api.Task
	place := []string{"n1", "n1", "n1", "n1", "n2", "n2", "n2", "n2", "n3", "n3"}
	for i, n := range place {
		ts = append(ts, running(fmt.Sprintf("t%02d", i+1), "web", n, api.ServiceSpec{}))
		ts[i].Slot = uint64(i + 1)
	}
	got := SelectForRemoval(ts, 4)
	left := map[string]int{}
	for _, tk := range ts {
		if !slices.Contains(got, tk) {
			left[tk.NodeID]++
		}
	}
	if len(got) != 4 || left["n1"] != 2 || left["n2"] != 2 || left["n3"] != 2 {
		t.Fatalf("removed %v, left %v", removalIDs(got), left)
	}
	// Always the fullest node; among equally full nodes the higher slot:
	// n2 (slots 5-8) before n1 (slots 1-4).
	if want := []string{"t08", "t04", "t07", "t03"}; !slices.Equal(removalIDs(got), want) {
		t.Fatalf("order %v, want %v", removalIDs(got), want)
	}
}

func TestSelectForRemovalPrefersNotRunning(t *testing.T) {
	ts := []*api.Task{
		running("a", "web", "n1", api.ServiceSpec{}), running("b", "web", "n1", api.ServiceSpec{}),
		running("c", "web", "n2", api.ServiceSpec{}), running("d", "web", "n2", api.ServiceSpec{}),
	}
	for i, tk := range ts {
		tk.Slot = uint64(4 - i)
	}
	// Slots: a=4, b=3 on n1; c=2, d=1 on n2. c is still preparing, so
	// it goes before a despite its lower slot.
	ts[2].Status.State = api.TaskPreparing
	got := SelectForRemoval(ts, 2)
	if want := []string{"c", "a"}; !slices.Equal(removalIDs(got), want) {
		t.Fatalf("removed %v, want %v (not-running first, then the other node's highest slot)", removalIDs(got), want)
	}
}

func TestSelectForRemovalUnassignedFirstAndBounds(t *testing.T) {
	ts := []*api.Task{
		running("a", "web", "n1", api.ServiceSpec{}), running("b", "web", "n1", api.ServiceSpec{}),
		{ID: "p1", ServiceID: "web", Slot: 3}, {ID: "p2", ServiceID: "web", Slot: 7}, nil,
	}
	if got := SelectForRemoval(ts, 1); !slices.Equal(removalIDs(got), []string{"p2"}) {
		t.Fatalf("got %v, want the unassigned task with the highest slot", removalIDs(got))
	}
	if got := SelectForRemoval(ts, 10); len(got) != 4 || got[0].ID != "p2" || got[1].ID != "p1" {
		t.Fatalf("got %v, want all four, unassigned first", removalIDs(got))
	}
	if got := SelectForRemoval(ts, 0); got != nil {
		t.Fatalf("n=0 removed %v", removalIDs(got))
	}
	if got := SelectForRemoval(nil, 3); len(got) != 0 {
		t.Fatalf("no tasks removed %v", removalIDs(got))
	}
}

func TestSelectForRemovalPerService(t *testing.T) {
	// Two services on the same nodes: spread is kept per service.
	var ts []*api.Task
	for i, n := range []string{"n1", "n1", "n1", "n2"} {
		ts = append(ts, running(fmt.Sprintf("web%d", i), "web", n, api.ServiceSpec{}))
	}
	for i, n := range []string{"n2", "n2"} {
		ts = append(ts, running(fmt.Sprintf("db%d", i), "db", n, api.ServiceSpec{}))
	}
	got := SelectForRemoval(ts, 2)
	for _, tk := range got {
		if tk.ServiceID != "web" || tk.NodeID != "n1" {
			t.Fatalf("removed %v, want two web tasks from n1", removalIDs(got))
		}
	}
}
