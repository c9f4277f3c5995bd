package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestUpdatePolicyDefaults(t *testing.T) {
	var p *UpdatePolicy
	want := UpdatePolicy{Parallelism: 1, Order: UpdateStopFirst, Monitor: Duration(5 * time.Second), FailureAction: FailurePause}
	if got := p.Effective(); got != want {
		t.Fatalf("defaults %+v; want %+v", got, want)
	}
	q := &UpdatePolicy{Parallelism: 3, Order: UpdateStartFirst, Delay: Duration(time.Second)}
	if got := q.Effective(); got.Parallelism != 3 || got.Order != UpdateStartFirst || got.Delay != Duration(time.Second) || got.Monitor != DefaultUpdateMonitor {
		t.Fatalf("effective %+v", got)
	}
}

func TestUpdatePolicyValidation(t *testing.T) {
	for _, c := range []struct {
		update, rollback *UpdatePolicy
		want             string
	}{
		{&UpdatePolicy{Order: "sideways"}, nil, `spec.update.order: "sideways" is not stop-first or start-first`},
		{&UpdatePolicy{FailureAction: "explode"}, nil, `spec.update.failure_action: "explode" is not pause, continue or rollback`},
		{nil, &UpdatePolicy{FailureAction: FailureRollback}, `spec.rollback.failure_action: a rollback cannot roll back; want pause or continue`},
		{&UpdatePolicy{MaxFailureRatio: 1.5}, nil, `spec.update.max_failure_ratio: 1.5 is not between 0 and 1`},
		{&UpdatePolicy{Delay: Duration(-time.Second)}, nil, `spec.update.delay: -1s is negative`},
		{nil, &UpdatePolicy{Monitor: Duration(-time.Second)}, `spec.rollback.monitor: -1s is negative`},
		{&UpdatePolicy{FailureAction: FailureRollback, MaxFailureRatio: 0.2, Order: UpdateStartFirst}, &UpdatePolicy{Parallelism: 4}, ""},
	} {
		s := ServiceSpec{Name: "web", Command: []string{"sleep"}, Replicas: 1, Update: c.update, Rollback: c.rollback}
		checkValid(t, s, c.want)
	}
	global := ServiceSpec{Name: "agent", Command: []string{"sleep"}, Mode: ModeGlobal,
		Ports: []PortSpec{{Port: 9100, Mode: PublishHost}}, Rollback: &UpdatePolicy{Order: UpdateStartFirst}}
	checkValid(t, global, "spec.rollback.order: start-first would run two tasks of a global service on one node, and both publish host port 9100; use stop-first")
	global.Ports[0].Mode, global.Ports[0].TargetPort = PublishIngress, 9101 // process tasks: ingress on another port than theirs
	checkValid(t, global, "")
}

// checkValid validates s and wants the error want ("" for none).
func checkValid(t *testing.T, s ServiceSpec, want string) {
	t.Helper()
	got := ""
	if err := s.Validate(); err != nil {
		got = err.Error()
	}
	if got != want {
		t.Errorf("update %+v, rollback %+v: %q; want %q", s.Update, s.Rollback, got, want)
	}
}

func TestUpdatePolicyProtocol(t *testing.T) {
	spec := ServiceSpec{Name: "web", Labels: map[string]string{"update": "x", "by": "y"}}
	payload := func(p any) Command {
		b, _ := json.Marshal(p)
		return Command{Type: CmdUpdateService, Payload: b}
	}
	if v := ProtocolOf(payload(UpdateServicePayload{Name: "web", Spec: spec})); v != 1 {
		t.Fatalf("labels named update and by need protocol %d", v)
	}
	spec.Update = &UpdatePolicy{Parallelism: 2}
	if v := ProtocolOf(payload(UpdateServicePayload{Name: "web", Spec: spec})); v != 5 {
		t.Fatalf("an update policy needs protocol %d; want 5", v)
	}
	if v := SpecProtocol(&spec); v != 1 {
		t.Fatalf("placing a task of a spec with an update policy needs protocol %d; want 1", v)
	}
	if v := ProtocolOf(payload(UpdateServicePayload{Name: "web", By: "alice"})); v != 5 {
		t.Fatalf("by needs protocol %d; want 5", v)
	}
	if v := ProtocolOf(Command{Type: CmdRollbackService}); v != 5 {
		t.Fatalf("service.rollback needs protocol %d", v)
	}
	b, _ := json.Marshal(WriteTasksPayload{Services: []ServiceUpdate{{ServiceID: "s", Version: 2, State: UpdatePaused}}})
	if v := ProtocolOf(Command{Type: CmdWriteTasks, Payload: b}); v != 5 {
		t.Fatalf("service_updates need protocol %d", v)
	}
}

func TestParseManifestUpdatePolicy(t *testing.T) {
	toml := `[[service]]
name = "web"
command = ["x"]
update = { parallelism = 2, delay = "10s", order = "start-first", monitor = "30s", max_failure_ratio = 0.25, failure_action = "rollback", min_healthy = "5s" }
rollback = { parallelism = 0, max_failure_ratio = 1 }
`
	specs, err := ParseManifest("s.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	want := UpdatePolicy{Parallelism: 2, Delay: Duration(10 * time.Second), Order: UpdateStartFirst, Monitor: Duration(30 * time.Second),
		MaxFailureRatio: 0.25, FailureAction: FailureRollback, MinHealthy: Duration(5 * time.Second)}
	if s := specs[0]; s.Update == nil || *s.Update != want || s.Rollback == nil || *s.Rollback != (UpdatePolicy{MaxFailureRatio: 1}) {
		t.Fatalf("update %+v rollback %+v", s.Update, s.Rollback)
	}
	doc := `{"name": "web", "command": ["x"], "update": {"parallelism": 3, "max_failure_ratio": 0.5}}`
	specs, err = ParseManifest("s.json", []byte(doc))
	if err != nil || specs[0].Update.Parallelism != 3 || specs[0].Update.MaxFailureRatio != 0.5 {
		t.Fatalf("JSON: %+v, %v", specs, err)
	}
	for doc, want := range map[string]string{
		`{"name": "web", "command": ["x"], "update": {"max_failure_ratio": 2}}`: `key "update.max_failure_ratio": 2 is not between 0 and 1`,
		`{"name": "web", "command": ["x"], "update": {"speed": 2}}`:             `unknown key "update.speed"`,
		`{"name": "web", "command": ["x"], "rollback": 2}`:                      `key "rollback": must be a table`,
	} {
		if _, err := ParseManifest("s.json", []byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want %q", doc, err, want)
		}
	}
}
