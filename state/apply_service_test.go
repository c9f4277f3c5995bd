package state

import (
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestCreateService(t *testing.T) {
	h := bootstrapped(t)
	s, ok := h.fsm.store.ServiceByName("web")
	if !ok || s.ID != "svc-web" || s.Version != 1 || s.CreatedAt.IsZero() {
		t.Fatalf("web = %+v", s)
	}
	h.fails(api.CmdCreateService, api.CodeConflict, api.CreateServicePayload{ServiceID: "svc-2", Spec: testSpec("web")})
	h.fails(api.CmdCreateService, api.CodeConflict, api.CreateServicePayload{ServiceID: "svc-web", Spec: testSpec("api")})
	h.fails(api.CmdCreateService, api.CodeInvalid, api.CreateServicePayload{Spec: testSpec("api")})
	bad := testSpec("api")
	bad.Mode = "sometimes"
	h.fails(api.CmdCreateService, api.CodeInvalid, api.CreateServicePayload{ServiceID: "svc-api", Spec: bad})
	bad = testSpec("")
	h.fails(api.CmdCreateService, api.CodeInvalid, api.CreateServicePayload{ServiceID: "svc-api", Spec: bad})
	if n := len(h.fsm.store.Services()); n != 1 {
		t.Fatalf("%d services, want 1", n)
	}
}

func TestUpdateService(t *testing.T) {
	h := bootstrapped(t)
	h.fails(api.CmdUpdateService, api.CodeNotFound, api.UpdateServicePayload{Name: "nope", Spec: testSpec("nope")})
	h.fails(api.CmdUpdateService, api.CodeConflict, api.UpdateServicePayload{Name: "web", ExpectVersion: 7, Spec: testSpec("web")})
	h.fails(api.CmdUpdateService, api.CodeInvalid, api.UpdateServicePayload{Name: "web", Spec: testSpec("renamed")})
	v1, _ := h.fsm.store.ServiceByName("web")
	for i := 2; i <= 13; i++ {
		spec := testSpec("web")
		spec.Replicas = uint64(i)
		s := h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", ExpectVersion: uint64(i - 1), Spec: spec}).(*api.Service)
		if s.Version != uint64(i) {
			t.Fatalf("version %d, want %d", s.Version, i)
		}
	}
	s, _ := h.fsm.store.ServiceByName("web")
	if s.Spec.Replicas != 13 || len(s.Previous) != MaxPreviousSpecs {
		t.Fatalf("replicas %d, %d previous", s.Spec.Replicas, len(s.Previous))
	}
	for i, p := range s.Previous {
		if want := uint64(12 - i); p.Version != want || (want > 1 && p.Spec.Replicas != want) {
			t.Fatalf("previous[%d] = version %d replicas %d, want version %d", i, p.Version, p.Spec.Replicas, want)
		}
	}
	if v1.Version != 1 || len(v1.Previous) != 0 {
		t.Fatal("update mutated a record a reader held")
	}
	// An empty spec name means "the same name".
	spec := testSpec("")
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: spec})
	if s, ok := h.fsm.store.ServiceByName("web"); !ok || s.Version != 14 {
		t.Fatalf("web = %+v", s)
	}
}

func TestRemoveService(t *testing.T) {
	h := bootstrapped(t)
	done := newTask("t-done", 1)
	done.NodeID, done.Status.State = "n1", api.TaskComplete
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("t1", 1), newTask("t2", 2), done}})
	h.ok(api.CmdRemoveService, api.RemoveServicePayload{Name: "web"})
	if _, ok := h.fsm.store.ServiceByName("web"); ok {
		t.Fatal("service still there")
	}
	for _, id := range []string{"t1", "t2"} {
		if task := mustTask(t, h.fsm.store, id); task.DesiredState != api.TaskShutdown || !task.UpdatedAt.Equal(h.now) {
			t.Fatalf("%s desired %s", id, task.DesiredState)
		}
	}
	if task := mustTask(t, h.fsm.store, "t-done"); task.DesiredState != api.TaskRunning {
		t.Fatalf("ended task touched: desired %s", task.DesiredState)
	}
	h.fails(api.CmdRemoveService, api.CodeNotFound, api.RemoveServicePayload{Name: "web"})
}
