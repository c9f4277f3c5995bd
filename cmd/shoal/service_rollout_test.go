package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

func TestServiceCreateUpdatePolicyFlags(t *testing.T) {
	f := newFakeAPI(t)
	_, stderr, code := f.cli("service", "create", "web", "--detach",
		"--update-parallelism", "2", "--update-delay", "3s", "--update-order", "start-first", "--update-monitor", "10s",
		"--update-max-failure-ratio", "0.2", "--update-failure-action", "rollback", "--update-min-healthy", "1s",
		"--rollback-parallelism", "0", "--rollback-failure-action", "continue", "--", "/bin/sleep", "100")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	spec := f.services["web"].Spec
	want := api.UpdatePolicy{Parallelism: 2, Delay: api.Duration(3 * time.Second), Order: api.UpdateStartFirst,
		Monitor: api.Duration(10 * time.Second), MaxFailureRatio: 0.2, FailureAction: api.FailureRollback, MinHealthy: api.Duration(time.Second)}
	if spec.Update == nil || *spec.Update != want {
		t.Fatalf("update policy %+v; want %+v", spec.Update, want)
	}
	if spec.Rollback == nil || *spec.Rollback != (api.UpdatePolicy{Parallelism: api.MaxReplicas, FailureAction: api.FailureContinue}) {
		t.Fatalf("rollback policy %+v", spec.Rollback)
	}
	// An update changes only the flags given.
	if _, stderr, code := f.cli("service", "update", "web", "--detach", "--update-delay", "0s"); code != 0 {
		t.Fatalf("update: exit %d: %s", code, stderr)
	}
	want.Delay = 0
	if got := f.services["web"].Spec.Update; *got != want {
		t.Fatalf("after update: %+v; want %+v", got, want)
	}
}

func TestServiceUpdatePolicyFlagErrors(t *testing.T) {
	f := newFakeAPI(t)
	f.addService(api.ServiceSpec{Name: "web", Command: []string{"/bin/sleep", "100"}, Replicas: 2})
	for args, want := range map[string]string{
		"--update-order sideways":            `spec.update.order: "sideways" is not stop-first or start-first`,
		"--rollback-failure-action rollback": "spec.rollback.failure_action: a rollback cannot roll back",
		"--update-max-failure-ratio 2":       "spec.update.max_failure_ratio: 2 is not between 0 and 1",
	} {
		_, stderr, code := f.cli(append([]string{"service", "update", "web", "--detach"}, strings.Fields(args)...)...)
		if code == 0 || !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%s: exit %d, stderr %q; want one line with %q", args, code, stderr, want)
		}
	}
}

// versionedWeb stores a service "web" at version 3 with two earlier
// versions kept.
func versionedWeb(f *fakeAPI) {
	f.addService(api.ServiceSpec{Name: "web", Command: []string{"/bin/sleep", "100"}, Replicas: 2, Env: []string{"V=3"},
		Update: &api.UpdatePolicy{Parallelism: 2}})
	s := f.services["web"]
	v1 := api.ServiceSpec{Name: "web", Command: []string{"/bin/sleep", "100"}, Replicas: 2}
	v1.Normalize()
	v2 := v1
	v2.Env = []string{"V=2"}
	v2.Replicas = 3
	s.Version, s.UpdatedBy = 3, "alice"
	s.Previous = []api.VersionedSpec{
		{Version: 2, Spec: v2, UpdatedAt: fixedNow.Add(-time.Hour), UpdatedBy: "local"},
		{Version: 1, Spec: v1, UpdatedAt: fixedNow.Add(-2 * time.Hour)},
	}
}

func TestServiceHistory(t *testing.T) {
	f := newFakeAPI(t)
	versionedWeb(f)
	out, stderr, code := f.cli("service", "history", "web")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	l := lines(out)
	wantWords(t, l[0], "VERSION", "UPDATED", "BY", "CHANGES")
	wantWords(t, l[1], "3", "(current)", "2", "minutes", "ago", "alice", "env,", "replicas,", "update.parallelism")
	wantWords(t, l[2], "2", "About", "an", "hour", "ago", "local", "env,", "replicas")
	wantWords(t, l[3], "1", "2", "hours", "ago", "-", "created")
	out, _, _ = f.cli("service", "history", "web", "-o", "json")
	var rows []historyRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 3 || strings.Join(rows[0].Changes, ",") != "env,replicas,update.parallelism" {
		t.Fatalf("history -o json: %v %s", err, out)
	}
	// After a rollback to 1, version 4 runs as version 1 again.
	if _, stderr, code := f.cli("service", "rollback", "web", "--to", "1", "--detach"); code != 0 {
		t.Fatalf("rollback: %s", stderr)
	}
	out, _, _ = f.cli("service", "history", "web")
	if l := lines(out); !strings.Contains(l[1], "(runs as version 1)") || strings.Contains(l[2], "runs as") {
		t.Fatalf("history after a rollback:\n%s", out)
	}
}

func TestServiceDiff(t *testing.T) {
	f := newFakeAPI(t)
	versionedWeb(f)
	out, stderr, code := f.cli("service", "diff", "web")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := "version 2 -> version 3\nenv: [\"V=2\"] -> [\"V=3\"]\nreplicas: 3 -> 2\nupdate.parallelism: - -> 2\n"
	if out != want {
		t.Fatalf("diff =\n%s\nwant\n%s", out, want)
	}
	out, _, _ = f.cli("service", "diff", "web", "1", "2")
	if out != "version 1 -> version 2\nenv: - -> [\"V=2\"]\nreplicas: 2 -> 3\n" {
		t.Fatalf("diff 1 2 =\n%s", out)
	}
	_, stderr, code = f.cli("service", "diff", "web", "7")
	if code == 0 || !strings.Contains(stderr, "service web keeps no version 7 (kept: 3, 2, 1)") {
		t.Fatalf("diff 7: exit %d %q", code, stderr)
	}
}

func TestUpdateVerdict(t *testing.T) {
	info := func(st *api.UpdateStatus) api.ServiceInfo {
		return api.ServiceInfo{Service: api.Service{Spec: api.ServiceSpec{Name: "web"}, UpdateStatus: st}}
	}
	for _, c := range []struct {
		st    *api.UpdateStatus
		ended bool
		err   string
	}{
		{nil, true, ""},
		{&api.UpdateStatus{State: api.UpdateUpdating, FromVersion: 1, ToVersion: 2}, false, ""},
		{&api.UpdateStatus{State: api.UpdateCompleted, FromVersion: 1, ToVersion: 2}, true, ""},
		{&api.UpdateStatus{State: api.UpdatePaused, FromVersion: 1, ToVersion: 2, Message: "update paused: task x failed"}, false, "service web: update paused: task x failed"},
		{&api.UpdateStatus{State: api.UpdateRollbackStarted, FromVersion: 2, ToVersion: 3}, false, ""},
		{&api.UpdateStatus{State: api.UpdateRollbackCompleted, FromVersion: 2, ToVersion: 3, Message: "rollback completed: rolled back to version 1: task x failed"},
			false, "service web: the update to version 2 was rolled back (now version 3, rollback completed): rolled back to version 1: task x failed"},
		{&api.UpdateStatus{State: api.UpdateCompleted, FromVersion: 0, ToVersion: 1}, true, ""}, // an older update
		{&api.UpdateStatus{State: api.UpdateUpdating, FromVersion: 2, ToVersion: 3}, true, ""},  // someone else's
	} {
		ended, err := updateVerdict(info(c.st), 2)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if ended != c.ended || got != c.err {
			t.Errorf("%+v: %v %q; want %v %q", c.st, ended, got, c.ended, c.err)
		}
	}
}

func TestServiceRollbackCommands(t *testing.T) {
	f := newFakeAPI(t)
	versionedWeb(f)
	out, stderr, code := f.cli("service", "rollback", "web", "--to", "1", "--detach")
	if code != 0 || out != "service web rolled back from version 3 (now version 4)\n" {
		t.Fatalf("rollback --to 1: exit %d %q %q", code, out, stderr)
	}
	if s := f.services["web"]; s.Version != 4 || len(s.Spec.Env) != 0 {
		t.Fatalf("after rollback: %+v", s.Service)
	}
	out, stderr, code = f.cli("service", "update", "web", "--rollback", "--detach")
	if code != 0 || out != "service web rolled back from version 4 (now version 5)\n" {
		t.Fatalf("update --rollback: exit %d %q %q", code, out, stderr)
	}
	reqs, bodies := f.log()
	if last := reqs[len(reqs)-1]; last != "POST /v1/services/web/rollback" || bodies[len(bodies)-1] != "{}\n" && bodies[len(bodies)-1] != "{}" {
		t.Fatalf("last request %s %q", last, bodies[len(bodies)-1])
	}
	if _, stderr, code := f.cli("service", "update", "web", "--rollback", "--env", "A=1"); code == 0 || !strings.Contains(stderr, "--rollback takes no other change") {
		t.Fatalf("update --rollback --env: exit %d %q", code, stderr)
	}
}
