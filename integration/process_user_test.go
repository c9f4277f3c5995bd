package integration

import (
	"fmt"
	"os/user"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// TestProcessServiceUser: a process service created with --user nobody
// runs its command as nobody (its output, read back through service logs,
// says uid 65534), and service inspect shows the user. A service whose
// user the node does not know fails its task with the name in the task's
// error, and the orchestrator replaces it as after any failed start.
func TestProcessServiceUser(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("this host has no user nobody: %v", err)
	}
	c := startCluster(t, 1, "--runtime", "process")
	a := c.agents[0]

	if out, err := a.CLI("service", "create", "whoami", "--detach", "--runtime", "process", "--user", "nobody",
		"--", "sh", "-c", `echo "uid=$(id -u)"; exec sleep 600`); err != nil {
		t.Fatalf("service create: %v\n%s", err, out)
	}
	waitRunning(t, a, "whoami", 1, 30*time.Second)
	want := "uid=" + nobody.Uid
	harness.WaitFor(t, 10*time.Second, "the task's output "+want, func() (bool, string) {
		out, err := a.CLI("service", "logs", "whoami")
		if err != nil {
			return false, fmt.Sprintf("%v: %s", err, out)
		}
		return strings.Contains(out, want+"\n"), out
	})
	if nobody.Uid != "65534" {
		t.Logf("nobody is uid %s on this host", nobody.Uid)
	}
	if out, err := a.CLI("service", "inspect", "whoami"); err != nil || !strings.Contains(out, `"user": "nobody"`) {
		t.Errorf("service inspect does not show the user: %v\n%s", err, out)
	}

	const ghost = "shoal-no-such-user"
	if out, err := a.CLI("service", "create", "ghost", "--detach", "--runtime", "process", "--user", ghost,
		"--restart-delay", "100ms", "--", "sh", "-c", "exec sleep 600"); err != nil {
		t.Fatalf("service create: %v\n%s", err, out)
	}
	wantErr := fmt.Sprintf("user %q: no such user on this node", ghost)
	harness.WaitFor(t, 30*time.Second, "two failed attempts naming the user", func() (bool, string) {
		ts, err := tasks(a, "ghost")
		if err != nil {
			return false, err.Error()
		}
		failed := 0
		var seen []string
		for _, x := range ts {
			seen = append(seen, fmt.Sprintf("%s %q", x.State, x.Error))
			if x.State == api.TaskRunning {
				return false, "a task of an unknown user runs: " + strings.Join(seen, "; ")
			}
			if x.State == api.TaskFailed && strings.Contains(x.Error, wantErr) {
				failed++
			}
		}
		return failed >= 2, strings.Join(seen, "; ")
	})
}
