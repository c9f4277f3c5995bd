package node

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// TestAdmitServiceWrite checks admission against the task and service limits:
// a create or update past them is refused with one line naming the limit,
// and a write that does not raise usage passes even over a lowered limit.
func TestAdmitServiceWrite(t *testing.T) {
	h := &fakeReconcileHost{t: t, fsm: state.NewFSM(state.NewStore())}
	h.apply(api.CmdBootstrap, api.BootstrapPayload{Cluster: *joinTestCluster(), Node: api.Node{ID: "n1", Name: "n1"}})
	h.apply(api.CmdRegisterNode, api.RegisterNodePayload{Node: api.Node{ID: "n2", Name: "n2"}})
	spec := func(name string, replicas uint64) api.ServiceSpec {
		return api.ServiceSpec{Name: name, Runtime: "process", Command: []string{"x"}, Mode: api.ModeReplicated, Replicas: replicas}
	}
	h.apply(api.CmdCreateService, api.CreateServicePayload{ServiceID: "s1", Spec: spec("web", 6)})
	global := spec("agent", 0)
	global.Mode = api.ModeGlobal
	h.apply(api.CmdCreateService, api.CreateServicePayload{ServiceID: "s2", Spec: global})
	// In use: 6 + 2 (a global task on each of 2 nodes) = 8 tasks, 2 services.
	cmd := func(typ api.CommandType, p any) api.Command {
		raw, _ := json.Marshal(p)
		return api.Command{Type: typ, Payload: raw}
	}
	lim := LimitsConfig{MaxServices: 3, MaxTasks: 10}
	v := h.fsm.Store().View()
	cases := []struct {
		name string
		lim  LimitsConfig
		cmd  api.Command
		want string
	}{
		{"create within", lim, cmd(api.CmdCreateService, api.CreateServicePayload{Spec: spec("db", 2)}), ""},
		{"create past tasks", lim, cmd(api.CmdCreateService, api.CreateServicePayload{Spec: spec("db", 3)}), "11 tasks in all would pass the cluster's limit of 10 (limits.max_tasks); 8 are wanted now"},
		{"the report's request", lim, cmd(api.CmdCreateService, api.CreateServicePayload{Spec: spec("x", 100000)}), "limits.max_tasks"},
		{"scale up past", lim, cmd(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: spec("web", 9)}), "limits.max_tasks"},
		{"scale within", lim, cmd(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: spec("web", 8)}), ""},
		{"over a lowered limit, scaling down", LimitsConfig{MaxTasks: 4}, cmd(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: spec("web", 5)}), ""},
		{"over a lowered limit, scaling up", LimitsConfig{MaxTasks: 4}, cmd(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: spec("web", 7)}), "limits.max_tasks"},
		{"services full", LimitsConfig{MaxServices: 2}, cmd(api.CmdCreateService, api.CreateServicePayload{Spec: spec("db", 1)}), "limit of 2 services (limits.max_services)"},
		{"no limits", LimitsConfig{}, cmd(api.CmdCreateService, api.CreateServicePayload{Spec: spec("x", 100000)}), ""},
		{"an invalid spec forwarded", LimitsConfig{}, cmd(api.CmdCreateService, api.CreateServicePayload{Spec: spec("bad name!", 1)}), "name"},
		{"past the spec's own cap", LimitsConfig{}, cmd(api.CmdCreateService, api.CreateServicePayload{Spec: spec("x", 1<<30)}), "replicas"},
		{"other commands pass", LimitsConfig{MaxTasks: 1}, cmd(api.CmdRemoveService, api.RemoveServicePayload{Name: "web"}), ""},
	}
	for _, c := range cases {
		err := admitServiceWrite(c.lim, v, c.cmd)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || api.CodeOf(err) != api.CodeInvalid):
			t.Errorf("%s: %v, want an invalid error containing %q", c.name, err, c.want)
		}
	}
}

// TestAdmitRollback: a rollback is admitted as the spec it restores.
func TestAdmitRollback(t *testing.T) {
	h := &fakeReconcileHost{t: t, fsm: state.NewFSM(state.NewStore())}
	h.apply(api.CmdBootstrap, api.BootstrapPayload{Cluster: *joinTestCluster(), Node: api.Node{ID: "n1", Name: "n1"}})
	spec := api.ServiceSpec{Name: "web", Runtime: "process", Command: []string{"x"}, Mode: api.ModeReplicated, Replicas: 6}
	h.apply(api.CmdCreateService, api.CreateServicePayload{ServiceID: "s1", Spec: spec})
	spec.Replicas = 2
	h.apply(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: spec})
	v := h.fsm.Store().View()
	rollback := func(to uint64) api.Command {
		raw, _ := json.Marshal(api.RollbackServicePayload{Name: "web", ToVersion: to})
		return api.Command{Type: api.CmdRollbackService, Payload: raw}
	}
	lim := LimitsConfig{MaxTasks: 5}
	if err := admitServiceWrite(lim, v, rollback(0)); err == nil || !strings.Contains(err.Error(), "6 tasks in all would pass the cluster's limit of 5") {
		t.Fatalf("a rollback to 6 replicas past a limit of 5: %v", err)
	}
	if err := admitServiceWrite(lim, v, rollback(9)); err != nil {
		t.Fatalf("a rollback to a version not kept is the FSM's to refuse: %v", err)
	}
	if err := admitServiceWrite(LimitsConfig{MaxTasks: 6}, v, rollback(1)); err != nil {
		t.Fatalf("a rollback within the limit: %v", err)
	}
}
