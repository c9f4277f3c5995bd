package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

func TestServiceCreateWaitsForConvergence(t *testing.T) {
	f := newFakeAPI(t)
	out, errOut, code := f.cli("service", "create", "web", "--replicas", "2", "--env", "A=1,2", "-e", "B=",
		"--cpu", "0.5", "--memory", "64MiB", "--constraint", "node.labels.zone==a", "--placement-pref", "spread=node.labels.zone",
		"--publish", "8080", "-p", "53/udp", "--max-per-node", "1", "--restart-condition", "on-failure", "--restart-delay", "2s",
		"--restart-max-attempts", "3", "--restart-window", "1m", "--stop-grace-period", "5s", "--label", "team=web",
		"--workdir", "/srv", "--", "/bin/sleep", "100")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "svcweb\noverall progress: 0 out of 2 tasks\n1/2: starting\n2/2: starting\n" +
		"overall progress: 2 out of 2 tasks\n1/2: running\n2/2: running\nverify: Service converged\n"
	if out != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out, want)
	}
	_, bodies := f.log()
	var spec api.ServiceSpec
	if err := json.Unmarshal([]byte(bodies[0]), &spec); err != nil {
		t.Fatal(err)
	}
	wantSpec := api.ServiceSpec{
		Name: "web", Runtime: "process", Command: []string{"/bin/sleep", "100"}, Env: []string{"A=1,2", "B="}, WorkDir: "/srv",
		Mode: api.ModeReplicated, Replicas: 2, Reservations: api.Resources{NanoCPUs: 5e8, MemoryBytes: 64 << 20},
		Constraints: []api.Constraint{{Key: "node.labels.zone", Op: api.OpEq, Value: "a"}}, Preferences: []api.PlacementPreference{{Spread: "node.labels.zone"}},
		Ports: []api.PortSpec{{TargetPort: 8080, Protocol: "tcp", Mode: api.PublishIngress}, {TargetPort: 53, Protocol: "udp", Mode: api.PublishIngress}}, MaxPerNode: 1,
		Restart: api.RestartPolicy{Condition: api.RestartOnFailure, Delay: api.Duration(2 * time.Second), MaxAttempts: 3,
			Window: api.Duration(time.Minute)},
		StopGracePeriod: api.Duration(5 * time.Second), Labels: map[string]string{"team": "web"},
	}
	if !reflect.DeepEqual(spec, wantSpec) {
		t.Fatalf("sent spec\n%+v\nwant\n%+v", spec, wantSpec)
	}
}

func TestServiceCreateDetachAndImage(t *testing.T) {
	f := newFakeAPI(t)
	out, errOut, code := f.cli("service", "create", "cache", "--image", "redis:7", "--mode", "global", "-d", "--", "--port", "7000")
	if code != 0 || out != "svccache\n" {
		t.Fatalf("exit %d, %q %q", code, out, errOut)
	}
	reqs, bodies := f.log()
	if len(reqs) != 1 {
		t.Fatalf("--detach still polled: %v", reqs)
	}
	var spec api.ServiceSpec
	_ = json.Unmarshal([]byte(bodies[0]), &spec)
	if spec.Runtime != "containerd" || spec.Mode != api.ModeGlobal || spec.Replicas != 0 || spec.Command != nil ||
		!reflect.DeepEqual(spec.Args, []string{"--port", "7000"}) {
		t.Fatalf("spec = %+v", spec)
	}
}

func TestServiceCreateGlobalWaitsForEveryNode(t *testing.T) {
	f := newFakeAPI(t)
	out, errOut, code := f.cli("service", "create", "agent", "--mode", "global", "--", "/bin/agent")
	want := "svcagent\noverall progress: 0 out of 2 tasks\nn1: starting\nn2: starting\n" +
		"overall progress: 2 out of 2 tasks\nn1: running\nn2: running\nverify: Service converged\n"
	if code != 0 || out != want {
		t.Fatalf("exit %d %s\noutput:\n%s\nwant:\n%s", code, errOut, out, want)
	}
}

func TestServiceCreateUnplaceableExitsTwo(t *testing.T) {
	f := newFakeAPI(t)
	out, errOut, code := f.cli("service", "create", "web", "--constraint", "node.labels.zone==nowhere", "--timeout", "30ms", "--", "x")
	reason := "no node satisfies constraint node.labels.zone==nowhere"
	if code != 2 {
		t.Fatalf("exit %d; want 2\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "1/1: pending: "+reason+"\n") || !strings.Contains(out, "verify: "+reason+"\n") {
		t.Errorf("output lacks the reason:\n%s", out)
	}
	want := "shoal: service web: 1 of 1 tasks could not be placed within 30ms: " + reason + "\n"
	if errOut != want {
		t.Errorf("stderr %q; want %q", errOut, want)
	}
}

func TestServiceLsAndPs(t *testing.T) {
	f := newFakeAPI(t)
	f.addService(api.ServiceSpec{Name: "web", Command: []string{"/bin/sleep", "100"}, Replicas: 2})
	f.addService(api.ServiceSpec{Name: "cache", Image: "redis:7", Mode: api.ModeGlobal})
	out, _, code := f.cli("service", "ls")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	l := lines(out)
	wantWords(t, l[0], "NAME", "MODE", "REPLICAS", "IMAGE/COMMAND", "UPDATED", "UPDATE", "PORTS")
	wantWords(t, l[1], "cache", "global", "2/2", "redis:7", "2", "minutes", "ago", "-")
	wantWords(t, l[2], "web", "replicated", "2/2", "/bin/sleep", "100", "2", "minutes", "ago", "-")

	out, _, _ = f.cli("service", "ls", "-o", "json")
	var svcs []json.RawMessage
	if err := json.Unmarshal([]byte(out), &svcs); err != nil || len(svcs) != 2 {
		t.Fatalf("ls -o json: %v %s", err, out)
	}
	jsonKeys(t, svcs[1], "id", "name", "mode", "desired", "running", "version", "spec", "command")
	var web serviceSummary
	_ = json.Unmarshal(svcs[1], &web)
	if web.Name != "web" || web.Mode != api.ModeReplicated || web.Desired != 2 || web.Running != 2 {
		t.Errorf("web summary = %+v", web)
	}

	out, _, code = f.cli("service", "ps", "web")
	if code != 0 {
		t.Fatalf("ps exit %d", code)
	}
	l = lines(out)
	wantWords(t, l[0], "ID", "NAME", "NODE", "IP", "DESIRED", "STATE", "CURRENT", "STATE", "ERROR")
	wantWords(t, l[1], "taskweb1-v", "web.1", "n1", "-", "Running", "Running", "5", "seconds", "ago")
	wantWords(t, l[2], "taskweb2-v", "web.2", "n2", "-", "Running", "Running", "5", "seconds", "ago")

	out, _, _ = f.cli("service", "ps", "cache", "-o", "json")
	var tasks []json.RawMessage
	if err := json.Unmarshal([]byte(out), &tasks); err != nil || len(tasks) != 2 {
		t.Fatalf("ps -o json: %v %s", err, out)
	}
	jsonKeys(t, tasks[0], "id", "slot", "node", "desired_state", "state", "error", "ip")
	out, _, _ = f.cli("service", "ps", "cache")
	if !strings.Contains(out, "cache.n1 ") || !strings.Contains(out, "cache.n2 ") {
		t.Errorf("global task names are not NAME.NODE:\n%s", out)
	}

	out, _, _ = f.cli("service", "inspect", "web")
	jsonKeys(t, []byte(out), "id", "spec", "version", "desired", "running")
}

func TestServicePsShowsHistory(t *testing.T) {
	f := newFakeAPI(t)
	f.addService(api.ServiceSpec{Name: "web", Command: []string{"a"}, Replicas: 1})
	if _, errOut, code := f.cli("service", "update", "web", "--env", "A=1", "--detach"); code != 0 {
		t.Fatal(errOut)
	}
	f.cli("service", "ps", "web") // lets the fake replace the task
	out, _, _ := f.cli("service", "ps", "web", "--no-trunc")
	l := lines(out)
	if len(l) != 3 {
		t.Fatalf("want the new task and the old one:\n%s", out)
	}
	wantWords(t, l[1], "taskweb1-v2-xxxxxxxx", "web.1", "n1", "-", "Running", "Running", "5", "seconds", "ago")
	wantWords(t, l[2], "taskweb1-v1-xxxxxxxx", `\_`, "web.1", "n1", "-", "Shutdown", "Shutdown", "5", "seconds", "ago")
}

func TestServiceUpdateChangesOnlyGivenFlags(t *testing.T) {
	f := newFakeAPI(t)
	f.addService(api.ServiceSpec{Name: "web", Command: []string{"/bin/sleep", "100"}, Replicas: 2, Env: []string{"A=1"},
		Labels: map[string]string{"team": "x"}})
	out, errOut, code := f.cli("service", "update", "web", "--memory", "1G", "--timeout", "5s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "service web updated (version 2)\n") || !strings.HasSuffix(out, "verify: Service converged\n") {
		t.Fatalf("output:\n%s", out)
	}
	_, bodies := f.log()
	var req api.ServiceUpdateRequest
	_ = json.Unmarshal([]byte(bodies[0]), &req)
	if req.ExpectVersion != 1 || req.Spec == nil || req.Spec.Reservations.MemoryBytes != 1<<30 || req.Spec.Replicas != 2 ||
		!reflect.DeepEqual(req.Spec.Env, []string{"A=1"}) || req.Spec.Labels["team"] != "x" ||
		!reflect.DeepEqual(req.Spec.Command, []string{"/bin/sleep", "100"}) {
		t.Fatalf("update request = %s", bodies[0])
	}
	out, _, code = f.cli("service", "update", "web", "--memory", "1GiB")
	if code != 0 || out != "service web unchanged\n" {
		t.Fatalf("no-op update = %d %q", code, out)
	}
	out, _, code = f.cli("service", "update", "web", "-d", "--", "/bin/true")
	if code != 0 || out != "service web updated (version 3)\n" {
		t.Fatalf("command update = %d %q", code, out)
	}
	_, errOut, code = f.cli("service", "update", "nope", "--replicas", "1")
	if code != 1 || errOut != "shoal: service \"nope\" not found\n" {
		t.Fatalf("missing service = %d %q", code, errOut)
	}
}

func TestServiceScaleRmLogs(t *testing.T) {
	f := newFakeAPI(t)
	f.addService(api.ServiceSpec{Name: "web", Command: []string{"x"}, Replicas: 2})
	out, errOut, code := f.cli("service", "scale", "web=3")
	if code != 0 || !strings.HasPrefix(out, "service web scaled to 3\n") || !strings.HasSuffix(out, "3/3: running\nverify: Service converged\n") {
		t.Fatalf("scale = %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "1/3: starting") {
		t.Errorf("scale treated unchanged tasks as replaced:\n%s", out)
	}
	_, bodies := f.log()
	if bodies[0] != `{"replicas":3}` {
		t.Errorf("scale body = %s", bodies[0])
	}
	out, _, code = f.cli("service", "logs", "web", "-f", "--tail", "5")
	if code != 0 || out != "web.1 | hello\nweb.2 | world\n" {
		t.Fatalf("logs = %d %q", code, out)
	}
	if reqs, _ := f.log(); reqs[len(reqs)-1] != "GET /v1/services/web/logs?follow=true&tail=5" {
		t.Errorf("logs request = %s", reqs[len(reqs)-1])
	}
	out, errOut, code = f.cli("service", "rm", "web", "nope")
	if code != 1 || out != "service web removed\n" || !strings.Contains(errOut, `shoal: nope: service "nope" not found`) ||
		!strings.HasSuffix(errOut, "shoal: 1 of 2 failed: [nope]\n") {
		t.Fatalf("rm = %d %q %q", code, out, errOut)
	}
}

func TestWritesRetryWithOneRequestID(t *testing.T) {
	f := newFakeAPI(t)
	f.mu.Lock()
	f.failNext = 2
	f.mu.Unlock()
	if _, errOut, code := f.cli("token", "rotate", "-q"); code != 0 {
		t.Fatalf("rotate failed: %s", errOut)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqIDs) != 3 || f.reqIDs[0] == "" || f.reqIDs[0] != f.reqIDs[2] {
		t.Fatalf("request IDs %q", f.reqIDs)
	}
}

func TestApplyAndDelete(t *testing.T) {
	f := newFakeAPI(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "stack.toml")
	write := func(doc string) {
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("[[service]]\nname = \"web\"\ncommand = [\"/bin/sleep\", \"100\"]\nreplicas = 2\nmemory = \"64MiB\"\n\n" +
		"[[service]]\nname = \"db\"\nimage = \"redis:7\"\n")
	out, errOut, code := f.cli("apply", "-f", path)
	if code != 0 || out != "service web created\nservice db created\n" {
		t.Fatalf("first apply = %d %q %q", code, out, errOut)
	}
	out, _, _ = f.cli("apply", "-f", path)
	if out != "service web unchanged\nservice db unchanged\n" {
		t.Fatalf("second apply = %q", out)
	}
	write("[[service]]\nname = \"web\"\ncommand = [\"/bin/sleep\", \"100\"]\nreplicas = 3\nmemory = \"64MiB\"\n\n" +
		"[[service]]\nname = \"db\"\nimage = \"redis:7\"\n")
	out, _, _ = f.cli("apply", "-f", path)
	if out != "service web updated (version 2)\nservice db unchanged\n" {
		t.Fatalf("third apply = %q", out)
	}
	out, _, code = f.cliIn(`{"service": [{"name": "db", "image": "redis:7"}]}`, "delete", "-f", "-")
	if code != 0 || out != "service db removed\n" {
		t.Fatalf("delete = %d %q", code, out)
	}
	out, _, _ = f.cli("delete", "-f", path)
	if out != "service web removed\nservice db not found\n" {
		t.Fatalf("second delete = %q", out)
	}
	write("[[service]]\nname = \"web\"\ncommand = [\"x\"]\nreplica = 3\n")
	_, errOut, code = f.cli("apply", "-f", path)
	if code != 1 || errOut != "shoal: manifest "+path+": service \"web\": unknown key \"replica\"\n" {
		t.Fatalf("bad manifest = %d %q", code, errOut)
	}
	_, errOut, code = f.cli("apply", "-f", filepath.Join(dir, "missing.toml"))
	if code != 1 || !strings.Contains(errOut, "no such file or directory") {
		t.Fatalf("missing file = %d %q", code, errOut)
	}
}

func TestMeasure(t *testing.T) {
	spec := api.ServiceSpec{Name: "web", Command: []string{"x"}, Replicas: 2}
	spec.Normalize()
	info := api.ServiceInfo{Service: api.Service{Spec: spec, Version: 3}, Desired: 2}
	task := func(slot uint64, version uint64, replicas uint64, state api.TaskState) api.TaskInfo {
		s := spec
		s.Replicas = replicas
		return api.TaskInfo{Task: api.Task{ServiceName: "web", Slot: slot, SpecVersion: version, Spec: s, DesiredState: api.TaskRunning}, State: state}
	}
	// Tasks from before a scale (other Replicas, same spec) count as current.
	p := measure(info, []api.TaskInfo{task(1, 2, 1, api.TaskRunning), task(2, 3, 2, api.TaskRunning)})
	if !p.converged || p.running != 2 {
		t.Fatalf("scaled service: %+v", p)
	}
	// A task of an older spec keeps the rollout open.
	old := task(1, 1, 2, api.TaskRunning)
	old.Spec.Env = []string{"A=1"}
	p = measure(info, []api.TaskInfo{old, task(2, 3, 2, api.TaskRunning)})
	if p.converged {
		t.Fatalf("old spec counted as converged: %+v", p)
	}
	// Too many active tasks (scale down in progress) is not converged.
	p = measure(info, []api.TaskInfo{task(1, 3, 2, api.TaskRunning), task(2, 3, 2, api.TaskRunning), task(3, 3, 2, api.TaskRunning)})
	if p.converged || len(p.keys) != 2 {
		t.Fatalf("scale-down: %+v", p)
	}
	// Zero replicas with nothing active is converged.
	info.Desired, info.Spec.Replicas = 0, 0
	if p := measure(info, nil); !p.converged {
		t.Fatalf("zero replicas: %+v", p)
	}
}

// TestApplyCheckVersion: a manifest's version key is the stored version it
// was written against. A stale one refuses the whole manifest before any
// service is written; --check-version requires the key on existing
// services; a current one updates.
func TestApplyCheckVersion(t *testing.T) {
	f := newFakeAPI(t)
	path := filepath.Join(t.TempDir(), "stack.toml")
	write := func(doc string) {
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("[[service]]\nname = \"web\"\ncommand = [\"/bin/sleep\", \"100\"]\nreplicas = 2\n")
	if _, errOut, code := f.cli("apply", "-f", path); code != 0 {
		t.Fatalf("first apply: %d %q", code, errOut)
	}
	// Someone else scales web: version 2.
	if _, errOut, code := f.cli("service", "scale", "web=4", "--detach"); code != 0 {
		t.Fatalf("scale: %d %q", code, errOut)
	}
	// A manifest written against version 1, with a new service before it.
	write("[[service]]\nname = \"api\"\ncommand = [\"/bin/sleep\", \"100\"]\n\n" +
		"[[service]]\nname = \"web\"\nversion = 1\ncommand = [\"/bin/sleep\", \"100\"]\nreplicas = 3\n")
	_, errOut, code := f.cli("apply", "-f", path)
	if code == 0 || !strings.Contains(errOut, "service web is at version 2; the manifest was written against version 1") {
		t.Fatalf("stale apply: %d %q", code, errOut)
	}
	if _, ok := f.services["api"]; ok {
		t.Fatal("a refused manifest created a service")
	}
	// --check-version: the key is required on existing services.
	write("[[service]]\nname = \"web\"\ncommand = [\"/bin/sleep\", \"100\"]\nreplicas = 3\n")
	if _, errOut, code := f.cli("apply", "--check-version", "-f", path); code == 0 || !strings.Contains(errOut, "--check-version needs its version key (the stored version is 2)") {
		t.Fatalf("apply --check-version without the key: %d %q", code, errOut)
	}
	write("[[service]]\nname = \"web\"\nversion = 2\ncommand = [\"/bin/sleep\", \"100\"]\nreplicas = 3\n")
	if out, errOut, code := f.cli("apply", "--check-version", "-f", path); code != 0 || out != "service web updated (version 3)\n" {
		t.Fatalf("current apply: %d %q %q", code, out, errOut)
	}
	write("[[service]]\nname = \"web\"\nversion = 0\ncommand = [\"/bin/sleep\", \"100\"]\n")
	if _, errOut, code := f.cli("apply", "-f", path); code == 0 || !strings.Contains(errOut, `key "version": versions start at 1`) {
		t.Fatalf("version 0: %d %q", code, errOut)
	}
}

// TestServiceUpdateForce: --force with nothing else changes the spec's
// force counter (every task is replaced by the update policy), and a
// later apply of a manifest, which cannot say it, does not undo it.
func TestServiceUpdateForce(t *testing.T) {
	f := newFakeAPI(t)
	path := filepath.Join(t.TempDir(), "web.toml")
	if err := os.WriteFile(path, []byte("[[service]]\nname = \"web\"\ncommand = [\"/bin/sleep\", \"100\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := f.cli("apply", "-f", path); code != 0 {
		t.Fatalf("apply: %d %q", code, errOut)
	}
	if out, errOut, code := f.cli("service", "update", "web", "--force", "--detach"); code != 0 || out != "service web updated (version 2)\n" {
		t.Fatalf("update --force: %d %q %q", code, out, errOut)
	}
	if got := f.services["web"].Spec.ForceUpdate; got != 1 {
		t.Fatalf("force counter %d, want 1", got)
	}
	if out, _, code := f.cli("apply", "-f", path); code != 0 || out != "service web unchanged\n" {
		t.Fatalf("apply after --force: %d %q", code, out)
	}
}
