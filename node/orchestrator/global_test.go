package orchestrator

import (
	"maps"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// globalSpec returns a global service spec with constraints.
func globalSpec(cons ...string) api.ServiceSpec {
	s := spec("agent", 0)
	s.Mode = api.ModeGlobal
	cs, err := api.ParseConstraints(cons)
	if err != nil {
		panic(err)
	}
	s.Constraints = cs
	return s
}

func TestGlobalFollowsNodes(t *testing.T) {
	e := newEnv(t)
	e.addNode("n2", map[string]string{"zone": "a"})
	e.createService("g1", globalSpec())
	e.converge(10)
	if got := e.perNode("g1"); !maps.Equal(got, map[string]int{"n1": 1, "n2": 1}) {
		t.Fatalf("per node = %v", got)
	}
	// Created tasks carry their node and slot 0.
	for _, task := range e.live("g1") {
		if task.Slot != 0 || task.NodeID == "" {
			t.Fatalf("global task %+v", task)
		}
	}
	steps := []struct {
		name string
		do   func()
		want map[string]int
	}{
		{"a node joins", func() { e.addNode("n3", nil) }, map[string]int{"n1": 1, "n2": 1, "n3": 1}},
		{"a node goes down", func() { e.setStatus("n3", api.NodeDown) }, map[string]int{"n1": 1, "n2": 1}},
		{"it comes back", func() { e.setStatus("n3", api.NodeReady) }, map[string]int{"n1": 1, "n2": 1, "n3": 1}},
		{"a node drains", func() { e.updateNode(api.UpdateNodePayload{NodeID: "n1", Availability: api.AvailabilityDrain}) }, map[string]int{"n2": 1, "n3": 1}},
		{"a node pauses: it keeps its task", func() { e.updateNode(api.UpdateNodePayload{NodeID: "n2", Availability: api.AvailabilityPause}) }, map[string]int{"n2": 1, "n3": 1}},
		{"the drained node is active again", func() { e.updateNode(api.UpdateNodePayload{NodeID: "n1", Availability: api.AvailabilityActive}) }, map[string]int{"n1": 1, "n2": 1, "n3": 1}},
		{"a constraint", func() { e.updateService(globalSpec("node.labels.zone==a")) }, map[string]int{"n2": 1}},
		{"a label is added", func() {
			e.updateNode(api.UpdateNodePayload{NodeID: "n3", LabelAdd: map[string]string{"zone": "a"}})
		}, map[string]int{"n2": 1, "n3": 1}},
		{"a label is removed", func() { e.updateNode(api.UpdateNodePayload{NodeID: "n2", LabelRemove: []string{"zone"}}) }, map[string]int{"n3": 1}},
		{"a node is removed", func() {
			e.setStatus("n3", api.NodeDown)
			e.apply(api.CmdRemoveNode, api.RemoveNodePayload{NodeID: "n3"})
		}, map[string]int{}},
	}
	for _, s := range steps {
		s.do()
		e.converge(15)
		if got := e.perNode("g1"); !maps.Equal(got, s.want) {
			t.Fatalf("%s: per node = %v, want %v", s.name, got, s.want)
		}
		if n := len(e.live("g1")); n != len(s.want) {
			t.Fatalf("%s: %d live tasks, want %d", s.name, n, len(s.want))
		}
	}
}

func TestGlobalSkipsNodesWithoutTheRuntime(t *testing.T) {
	e := newEnv(t)
	n := node("n2", nil)
	n.Runtimes = []string{"containerd"}
	e.apply(api.CmdRegisterNode, api.RegisterNodePayload{Node: n})
	e.createService("g1", globalSpec())
	p := Orchestrate(e.view(), e.now, e.newID)
	if len(p.Create) != 1 || p.Create[0].NodeID != "n1" {
		t.Fatalf("payload = %+v", p)
	}
}

func TestGlobalRestartPolicy(t *testing.T) {
	s := globalSpec()
	s.Restart.Condition = api.RestartOnFailure
	e := newEnv(t)
	e.createService("g1", s)
	e.converge(10)
	first := e.live("g1")[0]
	e.fail(first.ID, 2)
	p := Orchestrate(e.view(), e.now, e.newID)
	if len(p.Create) != 1 || p.Create[0].NodeID != "n1" || p.Create[0].Attempt != 1 || p.Create[0].NotBefore.IsZero() {
		t.Fatalf("after a failure: %+v", p)
	}
	e.converge(10)
	e.fail(e.live("g1")[0].ID, 0)
	e.converge(10)
	if n := len(e.live("g1")); n != 0 {
		t.Fatalf("on-failure restarted a task that exited 0")
	}
}
