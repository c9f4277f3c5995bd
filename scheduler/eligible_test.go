package scheduler

import (
	"slices"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// TestEligibleIsScheduleStaticFilters: Eligible keeps the nodes Schedule
// could ever use for the spec (ready, active, runtime, constraints), and
// Fits adds what changes with the tasks placed (here MaxPerNode).
func TestEligibleIsScheduleStaticFilters(t *testing.T) {
	sp := api.ServiceSpec{Runtime: "process", MaxPerNode: 1}
	cons, err := api.ParseConstraints([]string{"node.labels.zone!=c"})
	if err != nil {
		t.Fatal(err)
	}
	sp.Constraints = cons
	ok := node("a", nil, 0, 0)
	down := node("b", nil, 0, 0)
	down.Status = api.NodeDown
	drain := node("c", nil, 0, 0)
	drain.Availability = api.AvailabilityDrain
	zoneC := node("d", map[string]string{"zone": "c"}, 0, 0)
	noRuntime := node("e", nil, 0, 0)
	noRuntime.Runtimes = []string{"containerd"}
	full := node("f", nil, 0, 0)
	var ids []string
	for _, n := range Eligible([]*api.Node{ok, down, drain, zoneC, noRuntime, full}, "s", &sp) {
		ids = append(ids, n.ID)
	}
	if !slices.Equal(ids, []string{"a", "f"}) {
		t.Fatalf("eligible = %v, want [a f]", ids)
	}
	candidate := tasks("s", 1, sp)[0]
	if !Fits(ok, nil, candidate) {
		t.Error("an empty eligible node does not fit")
	}
	if Fits(full, []*api.Task{running("x", "s", "f", sp)}, candidate) {
		t.Error("a node at max per node fits")
	}
	if Fits(drain, nil, candidate) {
		t.Error("a draining node fits")
	}
}
