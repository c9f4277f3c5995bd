package orchestrator

import (
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// TestDrainDeadlineBecomesStopDeadline: a drain with a deadline moves the
// node's task start-first, and the old task stops with that deadline; the
// replacement runs elsewhere.
func TestDrainDeadlineBecomesStopDeadline(t *testing.T) {
	e := threeNodes(t, spec("web", 3))
	e.converge(10)
	var old string
	for _, l := range e.live("s1") {
		if l.NodeID == "n2" {
			old = l.ID
		}
	}
	e.updateNode(api.UpdateNodePayload{NodeID: "n2", Availability: api.AvailabilityDrain, DrainDeadline: api.Duration(30 * time.Second)})
	n2, _ := e.view().Node("n2")
	if n2.DrainDeadline.IsZero() {
		t.Fatal("drain deadline not recorded")
	}
	if p := HandleNodeFailures(e.view()); !Empty(p) {
		t.Fatalf("node failures stops a running replicated task on a drain: %+v", p)
	}
	e.converge(10)
	if got := e.task(old); got.DesiredState != api.TaskShutdown || !got.StopDeadline.Equal(n2.DrainDeadline) {
		t.Fatalf("old task: desired %v, stop deadline %v; want shutdown by %v", got.DesiredState, got.StopDeadline, n2.DrainDeadline)
	}
	if on := e.perNode("s1"); on["n2"] != 0 || len(e.live("s1")) != 3 {
		t.Fatalf("after the drain: %v", on)
	}
}

// TestDrainPassedDeadlineStops: once the drain deadline has passed, a task
// whose replacement is not ready stops anyway.
func TestDrainPassedDeadlineStops(t *testing.T) {
	e := threeNodes(t, spec("web", 3))
	e.converge(10)
	var old string
	for _, l := range e.live("s1") {
		if l.NodeID == "n2" {
			old = l.ID
		}
	}
	e.updateNode(api.UpdateNodePayload{NodeID: "n2", Availability: api.AvailabilityDrain, DrainDeadline: api.Duration(time.Second)})
	p := Rebalance(e.view(), e.now, e.newID)
	if len(p.Create) != 1 || p.Create[0].Replaces != old {
		t.Fatalf("drain: %+v, want a replacement of %s", p, old)
	}
	e.write(p)
	e.now = e.now.Add(2 * time.Second)
	p = Rebalance(e.view(), e.now, e.newID)
	if len(p.Desire) != 1 || p.Desire[0].TaskID != old || p.Desire[0].StopDeadline.IsZero() {
		t.Fatalf("after the deadline: %+v, want %s stopped by the deadline", p, old)
	}
}
