package state

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// spawned returns a new task of the web service at version v without a
// spec, as the leader's spawnForm writes it.
func spawned(id string, slot, v uint64) api.Task {
	t := newTask(id, slot)
	t.SpecVersion, t.Spec = v, api.ServiceSpec{}
	return t
}

func TestSpawnTakesTheServiceSpecOfItsVersion(t *testing.T) {
	h := bootstrapped(t)
	v2 := testSpec("web")
	v2.Command = []string{"sleep", "2000"}
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: v2})

	r := h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Spawn: []api.Task{spawned("t1", 1, 2), spawned("t2", 2, 1)}}).(*WriteTasksResult)
	if r.Created != 2 {
		t.Fatalf("created %d, want 2", r.Created)
	}
	if got := mustTask(t, h.fsm.store, "t1"); !reflect.DeepEqual(got.Spec, v2) || got.ServiceName != "web" {
		t.Fatalf("t1 (version 2) runs %+v, want %+v", got.Spec, v2)
	}
	if got := mustTask(t, h.fsm.store, "t2"); !reflect.DeepEqual(got.Spec, testSpec("web")) {
		t.Fatalf("t2 (version 1, kept in Previous) runs %+v", got.Spec)
	}

	// A version the service does not keep, or a spawn that carries a spec,
	// fails the whole batch: nothing is half applied.
	e := h.fails(api.CmdWriteTasks, api.CodeConflict, api.WriteTasksPayload{Spawn: []api.Task{spawned("t3", 3, 2), spawned("t4", 4, 9)}})
	if !strings.Contains(e.Message, "no spec version 9") {
		t.Fatalf("error %q does not name the version", e.Message)
	}
	withSpec := newTask("t5", 5)
	h.fails(api.CmdWriteTasks, api.CodeInvalid, api.WriteTasksPayload{Spawn: []api.Task{withSpec}})
	if _, ok := h.fsm.store.Task("t3"); ok {
		t.Fatal("a failed batch left a spawned task behind")
	}
}

// A spawned task's entry carries no spec on the wire, yet replicas that
// apply it store equal tasks (what the state feed and followers rely on).
func TestSpawnEntryHasNoSpecAndReplicasAgree(t *testing.T) {
	raw, err := json.Marshal(api.WriteTasksPayload{Spawn: []api.Task{spawned("t1", 1, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), `"spec"`) || strings.Contains(string(raw), "sleep") {
		t.Fatalf("spawn entry carries a spec: %s", raw)
	}
	if got := api.ProtocolOf(api.Command{Type: api.CmdWriteTasks, Payload: raw}); got != 6 {
		t.Fatalf("a spawn needs protocol %d, want 6", got)
	}
	a, b := bootstrapped(t), bootstrapped(t)
	data := encode(t, api.CmdWriteTasks, "req-1", a.now, api.WriteTasksPayload{Spawn: []api.Task{spawned("t1", 1, 1)}})
	a.raw(data)
	b.raw(data)
	ta, tb := mustTask(t, a.fsm.store, "t1"), mustTask(t, b.fsm.store, "t1")
	if !reflect.DeepEqual(ta, tb) || ta.Spec.Name != "web" {
		t.Fatalf("replicas disagree: %+v vs %+v", ta, tb)
	}
}
