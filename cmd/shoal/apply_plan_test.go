package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// TestPlanService: apply --dry-run's plan — a new service is created; an
// equal one (a publish mode the API filled in, empty and absent lists)
// is unchanged; a changed command replaces the running tasks; a replica
// count or an update policy alone replaces none.
func TestPlanService(t *testing.T) {
	base := api.ServiceSpec{Name: "web", Runtime: api.RuntimeProcess, Command: []string{"sleep", "1"}, Mode: api.ModeReplicated, Replicas: 2,
		Ports: []api.PortSpec{{Port: 8080, TargetPort: 80}}}
	stored := base
	stored.Ports = []api.PortSpec{{Port: 8080, TargetPort: 80, Mode: api.PublishIngress}}
	cur := &api.ServiceInfo{Service: api.Service{Spec: stored, Version: 4}, Running: 2}

	if p := planService(base, nil); p.Action != "create" || p.Replicas != 2 {
		t.Errorf("new service: %+v", p)
	}
	same := base
	same.Env = []string{}
	if p := planService(same, cur); p.Action != "unchanged" || p.Version != 4 {
		t.Errorf("equal spec: %+v", p)
	}
	cmd := base
	cmd.Command = []string{"sleep", "2"}
	p := planService(cmd, cur)
	if p.Action != "update" || p.Replaced != 2 || len(p.Changes) != 1 || p.Changes[0].Field != "command" {
		t.Errorf("changed command: %+v", p)
	}
	scaled := base
	scaled.Replicas = 5
	scaled.Update = &api.UpdatePolicy{Parallelism: 2}
	p = planService(scaled, cur)
	if p.Action != "update" || p.Replaced != 0 || len(p.Changes) != 2 {
		t.Errorf("replicas and policy only: %+v", p)
	}
	var out bytes.Buffer
	printPlan(&out, []servicePlan{planService(cmd, cur), p})
	for _, want := range []string{
		"service web: would be updated from version 4\n",
		`  command: ["sleep","1"] -> ["sleep","2"]` + "\n",
		"  its 2 running tasks would be replaced, per its update policy\n",
		"  replicas: 2 -> 5\n",
		"  update.parallelism: (none) -> 2\n",
		"  no task would be replaced (only the replica count or update policies change)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan output lacks %q:\n%s", want, out.String())
		}
	}
}
