package node

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

func TestSealedSecretsOpenOnlyWithTheirKeyAndID(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	sealed, err := sealSecret(key, "id1", []byte("hunter2"))
	if err != nil || bytes.Contains(sealed, []byte("hunter2")) {
		t.Fatalf("seal: %v %q", err, sealed)
	}
	if got, err := openSecret(key, "id1", sealed); err != nil || string(got) != "hunter2" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := openSecret(key, "id2", sealed); err == nil {
		t.Fatal("opened under another secret's ID")
	}
	if _, err := openSecret(bytes.Repeat([]byte{2}, 32), "id1", sealed); err == nil {
		t.Fatal("opened under another key")
	}
}

// The leader stamps a create: the entry it proposes carries the sealed
// value and the first data key, never the plaintext; and it releases the
// value only to the node a task that names it is assigned to.
func TestSecretStampAndRelease(t *testing.T) {
	h := &fakeReconcileHost{t: t, fsm: state.NewFSM(state.NewStore())}
	h.apply(api.CmdBootstrap, api.BootstrapPayload{Cluster: *joinTestCluster(), Node: api.Node{ID: "n1", Name: "n1", Runtimes: []string{"process"}}})
	h.apply(api.CmdRegisterNode, api.RegisterNodePayload{Node: api.Node{ID: "n2", Name: "n2", Runtimes: []string{"process"}}})
	raw, _ := json.Marshal(api.CreateSecretPayload{Name: "pw", Data: []byte("hunter2")})
	cmd := api.Command{Type: api.CmdCreateSecret, Payload: raw}
	c, _ := h.fsm.Store().Cluster()
	if err := stampSecret(&cmd, c); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(cmd.Payload, []byte("hunter2")) || bytes.Contains(cmd.Payload, []byte(`"data"`)) {
		t.Fatalf("stamped entry holds the plaintext: %s", cmd.Payload)
	}
	var p api.CreateSecretPayload
	json.Unmarshal(cmd.Payload, &p)
	h.apply(api.CmdCreateSecret, p)

	spec := api.ServiceSpec{Name: "db", Runtime: "process", Command: []string{"true"}, Mode: api.ModeReplicated, Replicas: 1, Secrets: []string{"pw"}}
	h.apply(api.CmdCreateService, api.CreateServicePayload{ServiceID: "svc-db", Spec: spec})
	other := spec
	other.Name, other.Secrets = "web", nil
	h.apply(api.CmdCreateService, api.CreateServicePayload{ServiceID: "svc-web", Spec: other})
	h.apply(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{
		{ID: "t-db", ServiceID: "svc-db", Slot: 1, SpecVersion: 1, Spec: spec, NodeID: "n2", DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskAssigned}},
		{ID: "t-web", ServiceID: "svc-web", Slot: 1, SpecVersion: 1, Spec: other, NodeID: "n2", DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskAssigned}},
	}})
	v := h.fsm.Store().View()
	if got, err := releaseSecret("n2", secretRequest{TaskID: "t-db", Name: "pw"}, v); err != nil || string(got) != "hunter2" {
		t.Fatalf("release to the task's node: %q %v", got, err)
	}
	for _, c := range []struct {
		from string
		req  secretRequest
	}{
		{"n1", secretRequest{TaskID: "t-db", Name: "pw"}},  // not its task
		{"n2", secretRequest{TaskID: "t-web", Name: "pw"}}, // its task, which does not use it
	} {
		if _, err := releaseSecret(c.from, c.req, v); api.CodeOf(err) != api.CodeForbidden {
			t.Errorf("%s %+v: %v, want forbidden", c.from, c.req, err)
		}
	}
	if _, err := releaseSecret("n2", secretRequest{TaskID: "nope", Name: "pw"}, v); api.CodeOf(err) != api.CodeNotFound {
		t.Errorf("unknown task: %v", err)
	}
}
