package api

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCanaryProtocol(t *testing.T) {
	spec := ServiceSpec{Name: "web", Command: []string{"x"}, Replicas: 3, Labels: map[string]string{"canary": "traffic_new"}}
	payload := func(p any) Command {
		b, _ := json.Marshal(p)
		return Command{Type: CmdUpdateService, Payload: b}
	}
	if v := ProtocolOf(payload(UpdateServicePayload{Name: "web", Spec: spec})); v != 1 {
		t.Fatalf("labels named canary need protocol %d", v)
	}
	spec.Update = &UpdatePolicy{Canary: 1}
	if v := ProtocolOf(payload(UpdateServicePayload{Name: "web", Spec: spec})); v != 6 {
		t.Fatalf("a canary needs protocol %d; want 6", v)
	}
	p := uint64(0)
	spec.Update = &UpdatePolicy{TrafficNew: &p}
	b, _ := json.Marshal(CreateServicePayload{Spec: spec})
	if v := ProtocolOf(Command{Type: CmdCreateService, Payload: b}); v != 6 {
		t.Fatalf("a traffic split of 0%% needs protocol %d; want 6", v)
	}
	if v := SpecProtocol(&spec); v != 1 {
		t.Fatalf("placing a task of a spec with a traffic split needs protocol %d; want 1", v)
	}
	if v := ProtocolOf(Command{Type: CmdPromoteService}); v != 6 {
		t.Fatalf("service.promote needs protocol %d", v)
	}
	b, _ = json.Marshal(WriteTasksPayload{Services: []ServiceUpdate{{ServiceID: "s", Version: 2, State: UpdateCanary}}})
	if v := ProtocolOf(Command{Type: CmdWriteTasks, Payload: b}); v != 6 {
		t.Fatalf("a canary decision needs protocol %d", v)
	}
	b, _ = json.Marshal(WriteTasksPayload{Services: []ServiceUpdate{{ServiceID: "s", Version: 2, State: UpdatePaused, Message: "canary failed"}}})
	if v := ProtocolOf(Command{Type: CmdWriteTasks, Payload: b}); v != 5 {
		t.Fatalf("a pause naming the canary needs protocol %d; want 5", v)
	}
}

func TestCanaryValidation(t *testing.T) {
	big := uint64(101)
	for _, c := range []struct {
		mut  func(*ServiceSpec)
		want string
	}{
		{func(s *ServiceSpec) { s.Update = &UpdatePolicy{TrafficNew: &big} }, "spec.update.traffic_new: 101 is not a percentage (0-100)"},
		{func(s *ServiceSpec) { s.Rollback = &UpdatePolicy{Canary: 1} }, "spec.rollback.canary: a rollback has no canary"},
		{func(s *ServiceSpec) { s.Mode = ModeGlobal; s.Replicas = 0; s.Update = &UpdatePolicy{Canary: 1} }, "spec.update: canary and traffic_new need a replicated service"},
	} {
		s := ServiceSpec{Name: "web", Command: []string{"x"}, Replicas: 3}
		c.mut(&s)
		s.Normalize()
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

func TestCanaries(t *testing.T) {
	p := uint64(20)
	for _, c := range []struct {
		pol  *UpdatePolicy
		want uint64
	}{{nil, 0}, {&UpdatePolicy{}, 0}, {&UpdatePolicy{Canary: 1}, 1}, {&UpdatePolicy{Canary: 9}, 3}, {&UpdatePolicy{TrafficNew: &p}, 3}} {
		if got := c.pol.Canaries(3); got != c.want {
			t.Errorf("%+v: %d canaries of 3, want %d", c.pol, got, c.want)
		}
	}
}

func TestParseManifestCanary(t *testing.T) {
	toml := `[[service]]
name = "web"
command = ["x"]
update = { canary = 1, traffic_new = 0 }
`
	specs, err := ParseManifest("s.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	if u := specs[0].Update; u == nil || u.Canary != 1 || u.TrafficNew == nil || *u.TrafficNew != 0 {
		t.Fatalf("update %+v", u)
	}
}
