package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// healthyFlag is a file whose presence a cmd health check tests.
func healthyFlag(t *testing.T) string {
	flag := filepath.Join(t.TempDir(), "healthy")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return flag
}

// healthyTasks counts a service's tasks that run, are desired running
// and are healthy, and those of them that run spec.
func healthyTasks(ts []api.TaskInfo, spec api.ServiceSpec) (healthy, ofSpec int) {
	for _, x := range ts {
		if x.State == api.TaskRunning && x.DesiredState == api.TaskRunning && x.Health == api.HealthHealthy {
			healthy++
			if api.RunsSame(x.Spec, spec) {
				ofSpec++
			}
		}
	}
	return healthy, ofSpec
}

// waitHealthy waits until want tasks of a service run healthy, all of
// them its current spec.
func waitHealthy(t *testing.T, a *agentProc, name string, want int) {
	t.Helper()
	harness.WaitFor(t, 60*time.Second, fmt.Sprintf("%d healthy tasks of %s running its spec", want, name), func() (bool, string) {
		var s api.ServiceInfo
		if err := a.get("/v1/services/"+name, &s); err != nil {
			return false, err.Error()
		}
		ts, err := tasks(a, name)
		if err != nil {
			return false, err.Error()
		}
		healthy, cur := healthyTasks(ts, s.Spec)
		return healthy == want && cur == want, fmt.Sprintf("%d healthy, %d of version %d's spec", healthy, cur, s.Version)
	})
}

// pollUntilDone reads a service's tasks every 100 ms and hands them to
// check until done delivers a CLI command's output and error, which it
// returns; it fails the test after timeout.
func pollUntilDone(t *testing.T, a *agentProc, name string, done <-chan [2]string, timeout time.Duration, check func([]api.TaskInfo)) [2]string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		select {
		case res := <-done:
			return res
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the command on %s did not return within %s", name, timeout)
		}
		ts, err := tasks(a, name)
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		check(ts)
		time.Sleep(100 * time.Millisecond) // the polling interval
	}
}

// cliAsync runs a CLI command in the background.
func cliAsync(a *agentProc, args ...string) <-chan [2]string {
	done := make(chan [2]string, 1)
	go func() {
		out, err := a.CLI(args...)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		done <- [2]string{out, msg}
	}()
	return done
}

func service(t *testing.T, a *agentProc, name string) api.ServiceInfo {
	t.Helper()
	var s api.ServiceInfo
	if err := a.get("/v1/services/"+name, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestUpdateStartFirstHealthGated: a 6-replica service with a health check
// is updated 2 slots at a time, start-first: at every poll at least 6
// tasks run healthy, the update completes, and the CLI exits 0.
func TestUpdateStartFirstHealthGated(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	a := c.agents[0]
	flag := healthyFlag(t)
	createService(t, a, "web", "--replicas", "6", "--restart-delay", "200ms",
		"--health-cmd", "test -f "+flag, "--health-interval", "200ms", "--health-retries", "2",
		"--update-parallelism", "2", "--update-order", "start-first", "--update-monitor", "1s")
	waitHealthy(t, a, "web", 6)

	done := cliAsync(a, "service", "update", "web", "--env", "V=2", "--timeout", "120s")
	polls, most := 0, 0
	res := pollUntilDone(t, a, "web", done, 150*time.Second, func(ts []api.TaskInfo) {
		polls++
		healthy, _ := healthyTasks(ts, api.ServiceSpec{})
		if healthy < 6 {
			t.Fatalf("poll %d: %d healthy running tasks during a start-first update of 6", polls, healthy)
		}
		live := 0
		for _, x := range ts {
			if x.DesiredState == api.TaskRunning && !x.State.Terminal() {
				live++
			}
		}
		most = max(most, live)
	})
	if res[1] != "" || !strings.Contains(res[0], "update status: completed") {
		t.Fatalf("service update: %s\n%s", res[1], res[0])
	}
	if most <= 6 || most > 8 {
		t.Fatalf("at most %d live tasks during the update; start-first with parallelism 2 should run 7 or 8", most)
	}
	waitHealthy(t, a, "web", 6)
	if s := service(t, a, "web"); s.UpdateStatus == nil || s.UpdateStatus.State != api.UpdateCompleted {
		t.Fatalf("update status %+v", s.UpdateStatus)
	}
	t.Logf("%d polls, at most %d live tasks", polls, most)
}

// TestUpdateRollbackOnFailedHealth: an update whose health check fails,
// with --update-failure-action rollback, ends on the old spec (as version
// 3) with every replica healthy; the CLI exits non-zero and says so.
func TestUpdateRollbackOnFailedHealth(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	a := c.agents[0]
	flag := healthyFlag(t)
	createService(t, a, "web", "--replicas", "3", "--restart-delay", "200ms",
		"--health-cmd", "test -f "+flag, "--health-interval", "200ms", "--health-retries", "2")
	waitHealthy(t, a, "web", 3)
	orig := service(t, a, "web").Spec

	out, err := a.CLI("service", "update", "web", "--health-cmd", "test -f "+flag+".missing",
		"--update-failure-action", "rollback", "--update-monitor", "2s", "--timeout", "120s")
	if err == nil || !strings.Contains(out, "was rolled back") {
		t.Fatalf("service update: %v; want a non-zero exit that says it rolled back\n%s", err, out)
	}
	waitHealthy(t, a, "web", 3)
	s := service(t, a, "web")
	if s.Version != 3 || !api.RunsSame(s.Spec, orig) || s.UpdateStatus == nil || s.UpdateStatus.State != api.UpdateRollbackCompleted {
		t.Fatalf("after the rollback: version %d, status %+v, health %+v", s.Version, s.UpdateStatus, s.Spec.Health)
	}
	t.Logf("CLI said:\n%s", out)
}

// TestRollbackHistoryAndDiff: service rollback makes the previous spec a
// new version; history and diff name the fields each version changed.
func TestRollbackHistoryAndDiff(t *testing.T) {
	c := startCluster(t, 1, "--runtime", "process")
	a := c.agents[0]
	createService(t, a, "web", "--replicas", "2")
	if out, err := a.CLI("service", "update", "web", "--env", "V=2", "--replicas", "3", "--update-monitor", "500ms"); err != nil {
		t.Fatalf("service update: %v\n%s", err, out)
	}
	out, err := a.CLI("service", "diff", "web")
	if err != nil || out != "version 1 -> version 2\nenv: - -> [\"V=2\"]\nreplicas: 2 -> 3\nupdate.monitor: - -> \"500ms\"\n" {
		t.Fatalf("service diff: %v\n%s", err, out)
	}
	if out, err := a.CLI("service", "rollback", "web"); err != nil || !strings.Contains(out, "rolled back from version 2 (now version 3)") {
		t.Fatalf("service rollback: %v\n%s", err, out)
	}
	s := service(t, a, "web")
	if s.Version != 3 || len(s.Spec.Env) != 0 || s.Spec.Replicas != 2 || s.UpdateStatus.State != api.UpdateRollbackCompleted {
		t.Fatalf("after the rollback: version %d env %v replicas %d status %+v", s.Version, s.Spec.Env, s.Spec.Replicas, s.UpdateStatus)
	}
	waitRunning(t, a, "web", 2, 30*time.Second)
	out, err = a.CLI("service", "history", "web", "-o", "json")
	var rows []struct {
		Version uint64   `json:"version"`
		By      string   `json:"by"`
		Changes []string `json:"changes"`
		Note    string   `json:"note"`
		RunsAs  uint64   `json:"runs_as"`
	}
	if err != nil || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 3 {
		t.Fatalf("service history: %v\n%s", err, out)
	}
	if rows[0].Version != 3 || strings.Join(rows[0].Changes, ",") != "env,replicas" || rows[0].By == "" || rows[0].RunsAs != 1 ||
		rows[1].Version != 2 || strings.Join(rows[1].Changes, ",") != "env,replicas,update.monitor" || rows[2].Note != "created" {
		t.Fatalf("history %+v", rows)
	}
	if out, err := a.CLI("service", "diff", "web", "2", "3"); err != nil || out != "version 2 -> version 3\nenv: [\"V=2\"] -> -\nreplicas: 3 -> 2\n" {
		t.Fatalf("service diff 2 3: %v\n%s", err, out)
	}
	if out, err := a.CLI("service", "ls"); err != nil || !strings.Contains(out, "rollback_completed") {
		t.Fatalf("service ls: %v\n%s", err, out)
	}
}

// TestUpdateCarriesOnAfterLeaderDeath: the leader dies while an update is
// half done; the new leader carries the same update on from the stored
// status (not a new one) until every replica runs the new spec, healthy.
func TestUpdateCarriesOnAfterLeaderDeath(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	waitVoters(t, c.agents[0], 3)
	leader := c.leader()
	flag := healthyFlag(t)
	createService(t, leader, "web", "--replicas", "6", "--restart-delay", "200ms",
		"--health-cmd", "test -f "+flag, "--health-interval", "200ms", "--health-retries", "2",
		"--update-delay", "1s", "--update-monitor", "1s")
	waitHealthy(t, leader, "web", 6)
	if out, err := leader.CLI("service", "update", "web", "--detach", "--env", "V=2"); err != nil {
		t.Fatalf("service update: %v\n%s", err, out)
	}
	harness.WaitFor(t, 60*time.Second, "two slots updated", func() (bool, string) {
		ts, err := tasks(leader, "web")
		if err != nil {
			return false, err.Error()
		}
		_, at := healthyTasks(ts, service(t, leader, "web").Spec)
		return at >= 2, fmt.Sprintf("%d healthy at version 2", at)
	})
	if st := service(t, leader, "web").UpdateStatus; st.State != api.UpdateUpdating {
		t.Fatalf("the update ended before the leader died: %+v", st)
	}
	leader.Die()
	survivor := c.anyRunning(leader)
	harness.WaitFor(t, 90*time.Second, "the update completed under a new leader", func() (bool, string) {
		var s api.ServiceInfo
		if err := survivor.get("/v1/services/web", &s); err != nil {
			return false, err.Error()
		}
		return s.UpdateStatus != nil && s.UpdateStatus.State == api.UpdateCompleted, fmt.Sprintf("%+v", s.UpdateStatus)
	})
	waitHealthy(t, survivor, "web", 6)
	if s := service(t, survivor, "web"); s.Version != 2 || s.UpdateStatus.FromVersion != 1 || s.UpdateStatus.ToVersion != 2 {
		t.Fatalf("after the leader change: version %d, status %+v", s.Version, s.UpdateStatus)
	}
}

// TestUpdatePausesOnFailedHealth: with the default failure action, an
// update whose health check fails pauses after the first slot: the CLI
// exits non-zero with the reason, service ls shows paused, the other
// replicas keep the old spec; service rollback then ends it well.
func TestUpdatePausesOnFailedHealth(t *testing.T) {
	c := startCluster(t, 1, "--runtime", "process")
	a := c.agents[0]
	flag := healthyFlag(t)
	createService(t, a, "web", "--replicas", "3", "--restart-delay", "200ms",
		"--health-cmd", "test -f "+flag, "--health-interval", "200ms", "--health-retries", "2")
	waitHealthy(t, a, "web", 3)
	orig := service(t, a, "web").Spec

	out, err := a.CLI("service", "update", "web", "--health-cmd", "test -f "+flag+".missing", "--timeout", "60s")
	if err == nil || !strings.Contains(out, "service web: update paused: task") || !strings.Contains(out, "unhealthy") {
		t.Fatalf("service update: %v; want a non-zero exit with the pause's reason\n%s", err, out)
	}
	if out, err := a.CLI("service", "ls"); err != nil || !strings.Contains(out, "paused") {
		t.Fatalf("service ls: %v\n%s", err, out)
	}
	ts, err := tasks(a, "web")
	if err != nil {
		t.Fatal(err)
	}
	if _, old := healthyTasks(ts, orig); old != 2 {
		t.Fatalf("%d healthy tasks of the old spec while paused; want 2 (one slot was tried)", old)
	}
	if out, err := a.CLI("service", "rollback", "web", "--timeout", "60s"); err != nil || !strings.Contains(out, "update status: rollback_completed") {
		t.Fatalf("service rollback: %v\n%s", err, out)
	}
	waitHealthy(t, a, "web", 3)
	if s := service(t, a, "web"); !api.RunsSame(s.Spec, orig) || s.Version != 3 {
		t.Fatalf("after the rollback: version %d, health %+v", s.Version, s.Spec.Health)
	}
}
