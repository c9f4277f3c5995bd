package orchestrator

import (
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/scheduler"
)

// TestPlaceDecidesNewAndPendingTogether: the orchestrator's new tasks go
// out placed, or pending with the reason; a task already pending in the
// view is assigned in the same payload; one decision books every node's
// room, so a one-task-per-node rule holds across both kinds.
func TestPlaceDecidesNewAndPendingTogether(t *testing.T) {
	s := spec("web", 2)
	s.MaxPerNode = 1
	e := newEnv(t) // n1
	e.createService("s1", s)
	e.write(Place(e.view(), Orchestrate(e.view(), e.now, e.newID), scheduler.Options{}))
	placed, pending := 0, 0
	for _, x := range e.view().Tasks() {
		switch x.Status.State {
		case api.TaskAssigned:
			placed++
		case api.TaskPending:
			pending++
			if !strings.Contains(x.Status.Err, "max") {
				t.Fatalf("pending task's reason %q does not name the per-node limit", x.Status.Err)
			}
		}
	}
	if placed != 1 || pending != 1 {
		t.Fatalf("one node, max one per node: %d placed, %d pending; want 1 and 1", placed, pending)
	}

	// A second service and a new node: the pending web task and the new
	// api tasks are placed by one pass, never two web tasks on a node.
	e.addNode("n2", nil)
	e.createService("s2", spec("api", 2))
	p := Place(e.view(), Orchestrate(e.view(), e.now, e.newID), scheduler.Options{})
	if len(p.Assign) != 1 || p.Assign[0].NodeID != "n2" {
		t.Fatalf("the pending web task: %+v, want assigned to n2", p.Assign)
	}
	if len(p.Create) != 2 {
		t.Fatalf("%d new tasks, want 2", len(p.Create))
	}
	nodes := map[string]bool{}
	for _, x := range p.Create {
		if x.Status.State != api.TaskAssigned || x.NodeID == "" {
			t.Fatalf("new task %s went out %s on %q, want placed", x.ID, x.Status.State, x.NodeID)
		}
		nodes[x.NodeID] = true
	}
	if len(nodes) != 2 {
		t.Fatalf("the new api tasks are on %v, want spread over both nodes", nodes)
	}
	e.write(p)
	if p := Place(e.view(), Orchestrate(e.view(), e.now, e.newID), scheduler.Options{}); !Empty(p) {
		t.Fatalf("not idempotent: %s", summary(p))
	}
	on := map[string]int{}
	for _, x := range e.live("s1") {
		on[x.NodeID]++
	}
	if on["n1"] != 1 || on["n2"] != 1 {
		t.Fatalf("web's tasks by node: %v, want one on each", on)
	}
}

// TestPlaceLeavesTheOrchestratorsOutputAlone: Place works on a copy of
// the new tasks (the caller's slice is not written).
func TestPlaceLeavesTheOrchestratorsOutputAlone(t *testing.T) {
	e := newEnv(t)
	e.createService("s1", spec("web", 2))
	o := Orchestrate(e.view(), e.now, e.newID)
	p := Place(e.view(), o, scheduler.Options{})
	if o.Create[0].NodeID != "" || o.Create[0].Status.State != api.TaskNew {
		t.Fatalf("Place changed its input: %+v", o.Create[0])
	}
	if p.Create[0].NodeID != "n1" {
		t.Fatalf("placed on %q", p.Create[0].NodeID)
	}
}
