package state

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/shoal-project/shoal/api"
)

func (h *harness) web() *api.Service {
	h.t.Helper()
	svc, ok := h.fsm.Store().Service("svc-web")
	if !ok {
		h.t.Fatal("service web not found")
	}
	return svc
}

func TestUpdateStartsAnUpdateStatus(t *testing.T) {
	h := bootstrapped(t)
	if st := h.web().UpdateStatus; st != nil {
		t.Fatalf("a new service has update status %+v", st)
	}
	s := testSpec("web")
	s.Replicas = 5
	s.Update = &api.UpdatePolicy{Parallelism: 2}
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: s})
	if st := h.web().UpdateStatus; st != nil {
		t.Fatalf("a scale and a policy change started an update: %+v", st)
	}
	s.Env = []string{"V=2"}
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: s, By: "alice"})
	svc := h.web()
	want := api.UpdateStatus{State: api.UpdateUpdating, StartedAt: h.now, Message: "update in progress", FromVersion: 2, ToVersion: 3}
	if st := svc.UpdateStatus; st == nil || *st != want {
		t.Fatalf("update status %+v; want %+v", st, want)
	}
	if svc.UpdatedBy != "alice" || svc.Previous[0].Version != 2 || svc.Previous[0].UpdatedBy != "" {
		t.Fatalf("history: by %q, previous %+v", svc.UpdatedBy, svc.Previous[0])
	}
}

func TestWriteTasksAdvancesTheUpdate(t *testing.T) {
	h := bootstrapped(t)
	s := testSpec("web")
	s.Env = []string{"V=2"}
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: s})
	// A decision about another version is stale.
	res := h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Services: []api.ServiceUpdate{{ServiceID: "svc-web", Version: 1, State: api.UpdateCompleted}}}).(*WriteTasksResult)
	if res.Updates != 0 || len(res.Skipped) != 1 || h.web().UpdateStatus.State != api.UpdateUpdating {
		t.Fatalf("a stale decision applied: %+v", res)
	}
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Services: []api.ServiceUpdate{{ServiceID: "svc-web", Version: 2, State: api.UpdatePaused, Message: "update paused: x"}}})
	if st := h.web().UpdateStatus; st.State != api.UpdatePaused || st.Message != "update paused: x" || !st.CompletedAt.IsZero() {
		t.Fatalf("after pause: %+v", st)
	}
	// A paused update takes no more decisions; a new spec starts another.
	res = h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Services: []api.ServiceUpdate{{ServiceID: "svc-web", Version: 2, State: api.UpdateCompleted}}}).(*WriteTasksResult)
	if res.Updates != 0 {
		t.Fatalf("a paused update completed: %+v", res)
	}
	s.Env = []string{"V=3"}
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: s})
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Services: []api.ServiceUpdate{{ServiceID: "svc-web", Version: 3, State: api.UpdateCompleted, Message: "update completed"}}})
	if st := h.web().UpdateStatus; st.State != api.UpdateCompleted || !st.CompletedAt.Equal(h.now) || st.FromVersion != 2 {
		t.Fatalf("after completion: %+v", st)
	}
}

func TestWriteTasksRollsBack(t *testing.T) {
	h := bootstrapped(t)
	s := testSpec("web")
	s.Env = []string{"BROKEN=1"}
	s.Update = &api.UpdatePolicy{FailureAction: api.FailureRollback}
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: s})
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Services: []api.ServiceUpdate{{ServiceID: "svc-web", Version: 2, State: api.UpdateRollbackStarted, Message: "boom"}}})
	svc := h.web()
	if svc.Version != 3 || !api.RunsSame(svc.Spec, testSpec("web")) || svc.Spec.Update == nil || svc.Spec.Update.FailureAction != api.FailureRollback {
		t.Fatalf("after the rollback: version %d, spec %+v", svc.Version, svc.Spec)
	}
	want := api.UpdateStatus{State: api.UpdateRollbackStarted, StartedAt: h.now, Message: "rolled back to version 1: boom", FromVersion: 2, ToVersion: 3}
	if *svc.UpdateStatus != want || svc.Previous[0].Version != 2 {
		t.Fatalf("status %+v, previous %d", svc.UpdateStatus, svc.Previous[0].Version)
	}
	// A rollback cannot be rolled back by the orchestrator.
	res := h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Services: []api.ServiceUpdate{{ServiceID: "svc-web", Version: 3, State: api.UpdateRollbackStarted}}}).(*WriteTasksResult)
	if res.Updates != 0 || h.web().Version != 3 {
		t.Fatalf("a rollback rolled back: %+v", res)
	}
}

func TestManualRollback(t *testing.T) {
	h := bootstrapped(t)
	for _, v := range []string{"V=2", "V=3"} {
		s := testSpec("web")
		s.Env = []string{v}
		h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: s})
	}
	h.ok(api.CmdRollbackService, api.RollbackServicePayload{Name: "web", By: "bob"})
	svc := h.web()
	if svc.Version != 4 || svc.Spec.Env[0] != "V=2" || svc.UpdatedBy != "bob" || svc.UpdateStatus.State != api.UpdateRollbackStarted {
		t.Fatalf("after rollback: v%d %v by %q %+v", svc.Version, svc.Spec.Env, svc.UpdatedBy, svc.UpdateStatus)
	}
	h.ok(api.CmdRollbackService, api.RollbackServicePayload{Name: "web", ToVersion: 1})
	if svc := h.web(); svc.Version != 5 || len(svc.Spec.Env) != 0 || svc.UpdateStatus.FromVersion != 4 {
		t.Fatalf("after rollback to 1: v%d %v %+v", svc.Version, svc.Spec.Env, svc.UpdateStatus)
	}
	if err := h.fails(api.CmdRollbackService, api.CodeInvalid, api.RollbackServicePayload{Name: "web", ToVersion: 9}); err.Message != `service "web": no version 9 to roll back to (kept: 4, 3, 2, 1)` {
		t.Fatalf("error %q", err.Message)
	}
	h.fails(api.CmdRollbackService, api.CodeNotFound, api.RollbackServicePayload{Name: "nope"})
}

// TestRolloutIsDeterministic replays one log on two FSMs: the service
// records, update status included, are byte for byte the same.
func TestRolloutIsDeterministic(t *testing.T) {
	h := bootstrapped(t)
	var log [][]byte
	add := func(typ api.CommandType, p any) {
		h.now = h.now.Add(1e6)
		log = append(log, encode(t, typ, "", h.now, p))
	}
	s := testSpec("web")
	s.Env = []string{"V=2"}
	add(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: s})
	add(api.CmdWriteTasks, api.WriteTasksPayload{Services: []api.ServiceUpdate{{ServiceID: "svc-web", Version: 2, State: api.UpdateRollbackStarted}}})
	add(api.CmdWriteTasks, api.WriteTasksPayload{Services: []api.ServiceUpdate{{ServiceID: "svc-web", Version: 3, State: api.UpdateRollbackCompleted}}})
	add(api.CmdRollbackService, api.RollbackServicePayload{Name: "web"})
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
	if st := h.web().UpdateStatus; st.State != api.UpdateRollbackStarted || st.FromVersion != 3 || h.web().Version != 4 {
		t.Fatalf("final status %+v", st)
	}
}

func TestUpdateResumesAPausedUpdate(t *testing.T) {
	h := bootstrapped(t)
	s := testSpec("web")
	s.Env = []string{"V=2"}
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: s})
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Services: []api.ServiceUpdate{{ServiceID: "svc-web", Version: 2, State: api.UpdatePaused}}})
	// A policy change resumes it: counted from now, towards version 3,
	// still from version 1.
	s.Update = &api.UpdatePolicy{FailureAction: api.FailureContinue}
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: s})
	want := api.UpdateStatus{State: api.UpdateUpdating, StartedAt: h.now, Message: "update resumed", FromVersion: 1, ToVersion: 3}
	if st := h.web().UpdateStatus; *st != want {
		t.Fatalf("status %+v; want %+v", st, want)
	}
	// A scale of a completed update leaves it as it is.
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Services: []api.ServiceUpdate{{ServiceID: "svc-web", Version: 3, State: api.UpdateCompleted}}})
	before := *h.web().UpdateStatus
	s.Replicas = 7
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: s})
	if st := h.web().UpdateStatus; *st != before {
		t.Fatalf("a scale changed the status: %+v", st)
	}
}

func TestRollbackThatCannotBeMadePauses(t *testing.T) {
	h := bootstrapped(t)
	s := testSpec("web")
	s.Env = []string{"V=2"}
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: s})
	// Eleven scales push version 1 out of the kept history.
	for r := uint64(4); r < 15; r++ {
		s.Replicas = r
		h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: s})
	}
	v := h.web().Version
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Services: []api.ServiceUpdate{{ServiceID: "svc-web", Version: v, State: api.UpdateRollbackStarted, Message: "boom"}}})
	svc := h.web()
	if svc.Version != v || svc.UpdateStatus.State != api.UpdatePaused ||
		svc.UpdateStatus.Message != `update paused: boom; cannot roll back: service "web": no version 1 to roll back to (kept: 12, 11, 10, 9, 8, 7, 6, 5, 4, 3)` {
		t.Fatalf("v%d %+v", svc.Version, svc.UpdateStatus)
	}
}
