package state

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// TestPromoteCanary: the leader's decision holds an update in canary;
// promote continues it (updating, promoted, same version); promote
// without a hold is a one-line conflict; rollback during the canary goes
// back to the update's FromVersion even after a weight-only write.
func TestPromoteCanary(t *testing.T) {
	h := bootstrapped(t)
	if err := h.fails(api.CmdPromoteService, api.CodeConflict, api.PromoteServicePayload{Name: "web"}); err.Message != `service "web" has no update held in canary to promote (no update)` {
		t.Fatalf("error %q", err.Message)
	}
	h.fails(api.CmdPromoteService, api.CodeNotFound, api.PromoteServicePayload{Name: "nope"})
	s := testSpec("web")
	s.Env = []string{"V=2"}
	p := uint64(20)
	s.Update = &api.UpdatePolicy{TrafficNew: &p}
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: s})
	if err := h.fails(api.CmdPromoteService, api.CodeConflict, api.PromoteServicePayload{Name: "web"}); err.Message != `service "web" has no update held in canary to promote (its update is updating)` {
		t.Fatalf("error %q", err.Message)
	}
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Services: []api.ServiceUpdate{{ServiceID: "svc-web", Version: 2, State: api.UpdateCanary, Message: "held"}}})
	if st := h.web().UpdateStatus; !st.Held() || !st.Active() || st.Message != "held" {
		t.Fatalf("after the hold: %+v", st)
	}
	// A weight-only write keeps the hold.
	q := uint64(50)
	s.Update = &api.UpdatePolicy{TrafficNew: &q}
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: s})
	if svc := h.web(); !svc.UpdateStatus.Held() || svc.Version != 3 || svc.UpdateStatus.ToVersion != 2 {
		t.Fatalf("after a weight change: v%d %+v", svc.Version, svc.UpdateStatus)
	}
	h.ok(api.CmdPromoteService, api.PromoteServicePayload{Name: "web"})
	svc := h.web()
	if st := svc.UpdateStatus; st.State != api.UpdateUpdating || !st.Promoted || svc.Version != 3 {
		t.Fatalf("after promote: v%d %+v", svc.Version, st)
	}
	if api.CanaryPhase(svc) || api.RollbackDefault(svc) != 2 {
		t.Fatalf("a promoted update is in its canary phase, or rolls back to %d", api.RollbackDefault(svc))
	}
}

func TestRollbackDuringCanaryGoesToFromVersion(t *testing.T) {
	h := bootstrapped(t)
	s := testSpec("web")
	s.Env = []string{"V=2"}
	p := uint64(20)
	s.Update = &api.UpdatePolicy{TrafficNew: &p}
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: s})
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Services: []api.ServiceUpdate{{ServiceID: "svc-web", Version: 2, State: api.UpdateCanary}}})
	q := uint64(50)
	s.Update = &api.UpdatePolicy{TrafficNew: &q}
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: s})
	h.ok(api.CmdRollbackService, api.RollbackServicePayload{Name: "web"})
	svc := h.web()
	if svc.Version != 4 || len(svc.Spec.Env) != 0 || svc.UpdateStatus.State != api.UpdateRollbackStarted || *svc.Spec.Update.TrafficNew != 50 {
		t.Fatalf("after rollback: v%d %v %+v", svc.Version, svc.Spec.Env, svc.UpdateStatus)
	}
}

// TestCanaryIsDeterministic replays a canary's log on two FSMs.
func TestCanaryIsDeterministic(t *testing.T) {
	h := bootstrapped(t)
	var log [][]byte
	add := func(typ api.CommandType, p any) {
		h.now = h.now.Add(1e6)
		log = append(log, encode(t, typ, "", h.now, p))
	}
	s := testSpec("web")
	s.Env = []string{"V=2"}
	s.Update = &api.UpdatePolicy{Canary: 1}
	add(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: s})
	add(api.CmdWriteTasks, api.WriteTasksPayload{Services: []api.ServiceUpdate{{ServiceID: "svc-web", Version: 2, State: api.UpdateCanary}}})
	add(api.CmdPromoteService, api.PromoteServicePayload{Name: "web"})
	add(api.CmdWriteTasks, api.WriteTasksPayload{Services: []api.ServiceUpdate{{ServiceID: "svc-web", Version: 2, State: api.UpdateCompleted}}})
	other := bootstrapped(t)
	for _, e := range log {
		h.raw(e)
		other.raw(e)
	}
	a, _ := json.Marshal(h.web())
	b, _ := json.Marshal(other.web())
	if !bytes.Equal(a, b) {
		t.Fatalf("replicas differ:\n%s\n%s", a, b)
	}
	if st := h.web().UpdateStatus; st.State != api.UpdateCompleted || !st.Promoted {
		t.Fatalf("final status %+v", st)
	}
}
