package state

import (
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestEmptyStore(t *testing.T) {
	s := NewStore()
	if _, ok := s.Cluster(); ok {
		t.Fatal("empty store has a cluster")
	}
	if s.Nodes() != nil || s.Services() != nil || s.Tasks() != nil || s.AppliedIndex() != 0 {
		t.Fatal("empty store is not empty")
	}
	if _, ok := s.Node(""); ok {
		t.Fatal("found a node with an empty id")
	}
}

func TestWatchFiresOnceAndRenews(t *testing.T) {
	h := bootstrapped(t)
	w1 := h.fsm.store.Watch()
	if w2 := h.fsm.store.Watch(); w1 != w2 {
		t.Fatal("two Watch calls without a change gave different channels")
	}
	select {
	case <-w1:
		t.Fatal("watch fired without a change")
	default:
	}
	h.ok(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "n1", Status: api.NodeDown})
	select {
	case <-w1:
	default:
		t.Fatal("watch not fired by a commit")
	}
	w3 := h.fsm.store.Watch()
	select {
	case <-w3:
		t.Fatal("fresh watch channel already closed")
	default:
	}
}

func TestViewIsASnapshot(t *testing.T) {
	h := bootstrapped(t)
	v := h.fsm.store.View()
	idx := v.Index()
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: testNode("n3", "node-3")})
	if _, ok := v.Node("n3"); ok || len(v.Nodes()) != 2 || v.Index() != idx {
		t.Fatal("a view saw a later commit")
	}
	if len(h.fsm.store.Nodes()) != 3 || h.fsm.store.AppliedIndex() != idx+1 {
		t.Fatal("the store did not see the commit")
	}
}

func TestStoreIndexes(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdCreateService, api.CreateServicePayload{ServiceID: "svc-web2", Spec: testSpec("web2")})
	other := newTask("u1", 1)
	other.ServiceID = "svc-web2"
	retry := newTask("t1b", 1)
	retry.Attempt = 1
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{
		Create: []api.Task{newTask("t1", 1), retry, newTask("t2", 2), other},
		Assign: []api.TaskAssignment{{TaskID: "t1", NodeID: "n1"}, {TaskID: "t2", NodeID: "n2"}, {TaskID: "u1", NodeID: "n1"}},
	})
	ids := func(ts []*api.Task) (out []string) {
		for _, t := range ts {
			out = append(out, t.ID)
		}
		return out
	}
	checks := []struct {
		name string
		got  []*api.Task
		want []string
	}{
		{"all", h.fsm.store.Tasks(), []string{"t1", "t1b", "t2", "u1"}},
		{"by service", h.fsm.store.TasksByService("svc-web"), []string{"t1", "t1b", "t2"}},
		{"by service prefix-safe", h.fsm.store.TasksByService("svc-we"), nil},
		{"by node", h.fsm.store.TasksByNode("n1"), []string{"t1", "u1"}},
		{"by slot", h.fsm.store.TasksBySlot("svc-web", 1), []string{"t1", "t1b"}},
		{"by slot other service", h.fsm.store.TasksBySlot("svc-web2", 1), []string{"u1"}},
		{"empty slot", h.fsm.store.TasksBySlot("svc-web", 3), nil},
	}
	for _, c := range checks {
		if got := ids(c.got); !equalStrings(got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if s, ok := h.fsm.store.Service("svc-web2"); !ok || s.Spec.Name != "web2" {
		t.Fatalf("service by id = %+v", s)
	}
	if _, ok := h.fsm.store.ServiceByName("web3"); ok {
		t.Fatal("found a service that does not exist")
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
