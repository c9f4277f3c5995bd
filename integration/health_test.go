package integration

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// TestHealthCheckReplacesUnhealthyTask: a process service with a cmd
// health check reaches healthy (service ps shows it); once the check
// fails, within interval × retries (plus slack) the task is reported
// failed "unhealthy: ..." and a new task of its slot runs and turns
// healthy when the check passes again.
func TestHealthCheckReplacesUnhealthyTask(t *testing.T) {
	c := startCluster(t, 1, "--runtime", "process")
	a := c.agents[0]
	flag := filepath.Join(t.TempDir(), "healthy")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := a.CLI("service", "create", "web", "--detach", "--runtime", "process", "--restart-delay", "200ms",
		"--health-cmd", "test -f "+flag, "--health-interval", "200ms", "--health-retries", "2",
		"--", "sh", "-c", "exec sleep 600"); err != nil {
		t.Fatalf("service create: %v\n%s", err, out)
	}
	var first api.TaskInfo
	harness.WaitFor(t, 30*time.Second, "web.1 healthy", func() (bool, string) {
		ts, err := tasks(a, "web")
		if err != nil || len(ts) != 1 {
			return false, fmt.Sprintf("%v %+v", err, ts)
		}
		first = ts[0]
		return first.State == api.TaskRunning && first.Health == api.HealthHealthy, fmt.Sprintf("%s %q", first.State, first.Health)
	})
	if out, err := a.CLI("service", "ps", "web"); err != nil || !strings.Contains(out, "Running (healthy)") {
		t.Fatalf("service ps: %v\n%s", err, out)
	}
	if out, err := a.CLI("service", "ps", "web", "-o", "json"); err != nil || !strings.Contains(out, `"health": "healthy"`) {
		t.Fatalf("service ps -o json: %v\n%s", err, out)
	}

	broken := time.Now()
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	// interval × retries is 400ms; reports, the stop and the restart
	// delay add a little.
	harness.WaitFor(t, 10*time.Second, "web.1 failed unhealthy", func() (bool, string) {
		ts, err := tasks(a, "web")
		if err != nil {
			return false, err.Error()
		}
		for _, x := range ts {
			if x.ID == first.ID {
				return x.State == api.TaskFailed && strings.HasPrefix(x.Error, "unhealthy: exit code 1"), fmt.Sprintf("%s %q %q", x.State, x.Health, x.Error)
			}
		}
		return false, "the first task is gone"
	})
	t.Logf("unhealthy task failed %s after its check broke", time.Since(broken).Round(time.Millisecond))
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 20*time.Second, "a new healthy task in slot 1", func() (bool, string) {
		ts, err := tasks(a, "web")
		if err != nil {
			return false, err.Error()
		}
		detail := ""
		for _, x := range ts {
			detail += fmt.Sprintf("%s.%d %s %q %q; ", x.ID[:8], x.Slot, x.State, x.Health, x.Error)
			if x.ID != first.ID && x.Slot == first.Slot && x.State == api.TaskRunning && x.Health == api.HealthHealthy {
				return true, ""
			}
		}
		return false, detail
	})
}

// TestHealthCmdAsUser: a process service's cmd check runs as the
// service's user (--health-cmd is a shell line, as docker's): a check
// that holds only for that user's uid passes, one that wants root fails
// and the task is failed with the check's output.
func TestHealthCmdAsUser(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("this host has no user nobody: %v", err)
	}
	c := startCluster(t, 1, "--runtime", "process")
	a := c.agents[0]
	for _, s := range []struct{ name, uid string }{{"asuser", nobody.Uid}, {"asroot", "0"}} {
		if out, err := a.CLI("service", "create", s.name, "--detach", "--runtime", "process", "--user", "nobody",
			"--restart-delay", "200ms", "--health-interval", "200ms", "--health-retries", "2",
			"--health-cmd", `u=$(id -u); echo "uid $u"; test "$u" = `+s.uid,
			"--", "sh", "-c", "exec sleep 600"); err != nil {
			t.Fatalf("service create %s: %v\n%s", s.name, err, out)
		}
	}
	harness.WaitFor(t, 30*time.Second, "asuser.1 healthy", func() (bool, string) {
		ts, err := tasks(a, "asuser")
		if err != nil || len(ts) != 1 {
			return false, fmt.Sprintf("%v %+v", err, ts)
		}
		return ts[0].State == api.TaskRunning && ts[0].Health == api.HealthHealthy, fmt.Sprintf("%s %q %q", ts[0].State, ts[0].Health, ts[0].Error)
	})
	want := "unhealthy: exit code 1: uid " + nobody.Uid
	harness.WaitFor(t, 30*time.Second, "asroot.1 failed "+want, func() (bool, string) {
		ts, err := tasks(a, "asroot")
		if err != nil {
			return false, err.Error()
		}
		detail := ""
		for _, x := range ts {
			detail += fmt.Sprintf("%s %q %q; ", x.State, x.Health, x.Error)
			if x.State == api.TaskFailed && x.Error == want {
				return true, ""
			}
		}
		return false, detail
	})
}
