package orchestrator

import (
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestHandleNodeFailures(t *testing.T) {
	e := threeNodes(t, spec("web", 3))
	e.converge(10)
	byNode := map[string]*api.Task{}
	for _, l := range e.live("s1") {
		byNode[l.NodeID] = l
	}
	if p := HandleNodeFailures(e.view()); !Empty(p) {
		t.Fatalf("healthy cluster: %+v", p)
	}
	e.setStatus("n1", api.NodeDown)
	e.updateNode(api.UpdateNodePayload{NodeID: "n2", Availability: api.AvailabilityDrain})
	e.updateNode(api.UpdateNodePayload{NodeID: "n3", Availability: api.AvailabilityPause})
	p := HandleNodeFailures(e.view())
	// The running task on the draining n2 is left to Rebalance's
	// start-first move.
	want := api.WriteTasksPayload{
		Orphan: []api.TaskOrphan{{TaskID: byNode["n1"].ID, Reason: "node node-n1 is down"}},
	}
	if len(p.Orphan) != 1 || p.Orphan[0] != want.Orphan[0] || len(p.Desire) != 0 || len(p.Create)+len(p.Delete)+len(p.Assign) != 0 {
		t.Fatalf("payload = %+v, want %+v", p, want)
	}
	e.write(p)
	if p := HandleNodeFailures(e.view()); !Empty(p) {
		t.Fatalf("not idempotent: %+v", p)
	}
}

// TestDrainStopsWithAnOlderNode: with a node that cannot apply a move's
// fields (protocol 5), a drain stops the node's tasks as before.
func TestDrainStopsWithAnOlderNode(t *testing.T) {
	e := threeNodes(t, spec("web", 3))
	e.converge(10)
	old := node("n4", nil)
	old.Protocol = 5
	e.apply(api.CmdRegisterNode, api.RegisterNodePayload{Node: old})
	var onN2 string
	for _, l := range e.live("s1") {
		if l.NodeID == "n2" {
			onN2 = l.ID
		}
	}
	e.updateNode(api.UpdateNodePayload{NodeID: "n2", Availability: api.AvailabilityDrain})
	p := HandleNodeFailures(e.view())
	if len(p.Desire) != 1 || p.Desire[0].TaskID != onN2 || p.Desire[0].DesiredState != api.TaskShutdown {
		t.Fatalf("desire = %+v, want %s shut down", p.Desire, onN2)
	}
	if r := Rebalance(e.view(), e.now, e.newID); !Empty(r) {
		t.Fatalf("rebalance with a protocol 5 node: %+v", r)
	}
}

func TestHandleNodeFailuresRemovedNode(t *testing.T) {
	e := threeNodes(t, spec("web", 3))
	e.converge(10)
	var onN3 *api.Task
	for _, l := range e.live("s1") {
		if l.NodeID == "n3" {
			onN3 = l
		}
	}
	e.setStatus("n3", api.NodeDown)
	e.apply(api.CmdRemoveNode, api.RemoveNodePayload{NodeID: "n3"})
	p := HandleNodeFailures(e.view())
	if len(p.Orphan) != 1 || p.Orphan[0].TaskID != onN3.ID || p.Orphan[0].Reason != "node n3 was removed" {
		t.Fatalf("payload = %+v", p)
	}
}
