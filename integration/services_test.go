package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

const loopCmd = `while true; do echo "tick $SHOAL_SERVICE.$SHOAL_SLOT on $SHOAL_NODE"; sleep 1; done`

// createService creates a process service through the CLI, detached.
func createService(t testing.TB, a *agentProc, name string, args ...string) {
	t.Helper()
	full := append([]string{"service", "create", name, "--detach", "--runtime", "process"}, args...)
	full = append(full, "--", "sh", "-c", loopCmd)
	if out, err := a.CLI(full...); err != nil {
		t.Fatalf("service create: %v\n%s", err, out)
	}
}

// tasks returns a service's tasks as `service ps -o json` shows them.
func tasks(a *agentProc, name string) ([]api.TaskInfo, error) {
	var ts []api.TaskInfo
	err := a.get("/v1/services/"+name+"/tasks", &ts)
	return ts, err
}

// running returns the running tasks (desired running too), by node name.
func runningByNode(ts []api.TaskInfo) map[string]int {
	m := map[string]int{}
	for _, t := range ts {
		if t.State == api.TaskRunning && t.DesiredState == api.TaskRunning {
			m[t.NodeName]++
		}
	}
	return m
}

// waitRunning waits until the service has want running tasks, none on the
// excluded nodes, and no slot with two running tasks.
func waitRunning(t testing.TB, a *agentProc, name string, want int, timeout time.Duration, exclude ...string) []api.TaskInfo {
	t.Helper()
	var last []api.TaskInfo
	harness.WaitFor(t, timeout, fmt.Sprintf("%d running tasks of %s", want, name), func() (bool, string) {
		ts, err := tasks(a, name)
		if err != nil {
			return false, err.Error()
		}
		last = ts
		byNode := runningByNode(ts)
		total := 0
		for n, c := range byNode {
			for _, x := range exclude {
				if n == x {
					return false, fmt.Sprintf("still running on %s: %v", x, byNode)
				}
			}
			total += c
		}
		slots := map[uint64]int{}
		for _, t := range ts {
			if t.State == api.TaskRunning && t.Slot > 0 {
				slots[t.Slot]++
				if slots[t.Slot] > 1 {
					return false, fmt.Sprintf("slot %d has two running tasks", t.Slot)
				}
			}
		}
		detail := fmt.Sprintf("running by node: %v", byNode)
		for _, t := range ts {
			if t.State != api.TaskRunning && t.DesiredState == api.TaskRunning {
				detail += fmt.Sprintf("; %s.%d %s %s", t.ServiceName, t.Slot, t.State, t.Error)
			}
		}
		return total == want, detail
	})
	return last
}

// TestReplicatedServiceSpreadsAndRestarts: replicas spread evenly; a task
// whose process is killed is replaced in its slot by the restart policy.
func TestReplicatedServiceSpreadsAndRestarts(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	a := c.agents[0]
	createService(t, a, "web", "--replicas", "6", "--restart-delay", "200ms")
	ts := waitRunning(t, a, "web", 6, 30*time.Second)
	for n, count := range runningByNode(ts) {
		if count != 2 {
			t.Fatalf("uneven spread: %s has %d (%v)", n, count, runningByNode(ts))
		}
	}
	var victim api.TaskInfo
	for _, x := range ts {
		if x.State == api.TaskRunning && x.Status.PID > 0 {
			victim = x
			break
		}
	}
	if err := syscall.Kill(victim.Status.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill task process %d: %v", victim.Status.PID, err)
	}
	harness.WaitFor(t, 20*time.Second, "the killed task replaced", func() (bool, string) {
		ts, err := tasks(a, "web")
		if err != nil {
			return false, err.Error()
		}
		var old *api.TaskInfo
		replaced := false
		for i, x := range ts {
			if x.ID == victim.ID {
				old = &ts[i]
			} else if x.Slot == victim.Slot && x.State == api.TaskRunning {
				replaced = true
			}
		}
		if old == nil || old.State != api.TaskFailed || old.Status.ExitCode == nil || *old.Status.ExitCode != 137 {
			return false, fmt.Sprintf("old task: %+v", old)
		}
		return replaced, "no running replacement in slot yet"
	})
	waitRunning(t, a, "web", 6, 10*time.Second)
	if out, err := a.CLI("service", "logs", "web", "--tail", "1"); err != nil || !strings.Contains(out, "tick web.") {
		t.Fatalf("service logs: %v\n%s", err, out)
	}
}

// TestNodeDeathMovesTasks: after kill -9 of a non-leader agent and its
// task processes, its tasks run elsewhere.
func TestNodeDeathMovesTasks(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	leader := c.leader()
	createService(t, leader, "api", "--replicas", "3")
	waitRunning(t, leader, "api", 3, 30*time.Second)
	victim := c.anyRunning(leader)
	victim.Die()
	waitRunning(t, leader, "api", 3, 30*time.Second, victim.Name)
}

// TestLeaderDeathMovesTasks: after kill -9 of the leader, which ran tasks
// too, a new leader brings replicas back to N with no slot running twice.
func TestLeaderDeathMovesTasks(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	waitVoters(t, c.agents[0], 3)
	leader := c.leader()
	createService(t, leader, "db", "--replicas", "3")
	waitRunning(t, leader, "db", 3, 30*time.Second)
	leader.Die()
	survivor := c.anyRunning(leader)
	waitRunning(t, survivor, "db", 3, 30*time.Second, leader.Name)
}

// TestScaleDrainPause: scale up and down keeps spread; drain moves tasks
// off a node; pause stops new placements on it.
func TestScaleDrainPause(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	a := c.agents[0]
	createService(t, a, "s", "--replicas", "3")
	waitRunning(t, a, "s", 3, 30*time.Second)
	if out, err := a.CLI("service", "scale", "s=6", "--detach"); err != nil {
		t.Fatalf("scale: %v %s", err, out)
	}
	waitRunning(t, a, "s", 6, 30*time.Second)
	if out, err := a.CLI("service", "scale", "s=3", "--detach"); err != nil {
		t.Fatalf("scale: %v %s", err, out)
	}
	ts := waitRunning(t, a, "s", 3, 30*time.Second)
	for n, count := range runningByNode(ts) {
		if count != 1 {
			t.Fatalf("scale down left uneven spread: %s has %d", n, count)
		}
	}
	if out, err := a.CLI("node", "update", "n2", "--availability", "drain"); err != nil {
		t.Fatalf("drain: %v %s", err, out)
	}
	waitRunning(t, a, "s", 3, 30*time.Second, "n2")
	if out, err := a.CLI("node", "update", "n2", "--availability", "active"); err != nil {
		t.Fatalf("activate: %v %s", err, out)
	}
	if out, err := a.CLI("node", "update", "n3", "--availability", "pause"); err != nil {
		t.Fatalf("pause: %v %s", err, out)
	}
	ts, _ = tasks(a, "s")
	onPaused := runningByNode(ts)["n3"]
	a.CLI("service", "scale", "s=7", "--detach")
	ts = waitRunning(t, a, "s", 7, 30*time.Second)
	if byNode := runningByNode(ts); byNode["n3"] != onPaused {
		t.Fatalf("paused node's tasks changed from %d: %v", onPaused, byNode)
	}
}

// TestGlobalServiceFollowsNodes: a global service runs one task per node,
// including a node that joins later, and drops a node that dies.
func TestGlobalServiceFollowsNodes(t *testing.T) {
	c := startCluster(t, 2, "--runtime", "process")
	a := c.agents[0]
	createService(t, a, "agent", "--mode", "global")
	waitRunning(t, a, "agent", 2, 30*time.Second)
	n3 := newAgent(t, "n3", "--runtime", "process")
	n3.Start("--join", a.P2PAddr(), "--token", c.token)
	c.agents = append(c.agents, n3)
	ts := waitRunning(t, a, "agent", 3, 30*time.Second)
	if runningByNode(ts)["n3"] != 1 {
		t.Fatalf("no task on the new node: %v", runningByNode(ts))
	}
	n3.Die()
	waitRunning(t, a, "agent", 2, 30*time.Second, "n3")
}

// TestUnsatisfiableConstraintStaysPending: the reason is shown.
func TestUnsatisfiableConstraintStaysPending(t *testing.T) {
	c := startCluster(t, 2, "--runtime", "process")
	a := c.agents[0]
	createService(t, a, "nowhere", "--replicas", "2", "--constraint", "node.labels.zone==mars")
	harness.WaitFor(t, 20*time.Second, "a pending reason", func() (bool, string) {
		out, err := a.CLI("service", "ps", "nowhere", "--no-trunc")
		if err != nil {
			return false, out
		}
		return strings.Contains(out, "excluded by constraint node.labels.zone==mars"), out
	})
}

// TestServicesSurviveClusterRestart: after every agent restarts (tasks keep
// running, as agents restart without their workloads), services and tasks
// come back and the workloads were not restarted.
func TestServicesSurviveClusterRestart(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	waitVoters(t, c.agents[0], 3)
	a := c.agents[0]
	createService(t, a, "keep", "--replicas", "3")
	before := waitRunning(t, a, "keep", 3, 30*time.Second)
	pids := map[string]int{}
	for _, x := range before {
		pids[x.ID] = x.Status.PID
	}
	for _, p := range c.agents {
		p.Kill()
	}
	for _, p := range c.agents {
		p.Start()
	}
	c.waitMembers(3)
	after := waitRunning(t, a, "keep", 3, 30*time.Second)
	for _, x := range after {
		if x.State == api.TaskRunning && pids[x.ID] != x.Status.PID {
			t.Fatalf("task %s restarted across an agent restart (pid %d → %d)", x.ID, pids[x.ID], x.Status.PID)
		}
	}
}

// TestApplyManifestIsIdempotent: apply creates, a second apply leaves the
// service unchanged, a changed manifest updates it, delete removes it.
func TestApplyManifestIsIdempotent(t *testing.T) {
	c := startCluster(t, 2, "--runtime", "process")
	a := c.agents[0]
	dir := t.TempDir()
	write := func(replicas int) string {
		p := filepath.Join(dir, "app.toml")
		os.WriteFile(p, []byte(fmt.Sprintf(`
[[service]]
name = "app"
runtime = "process"
replicas = %d
command = ["sh", "-c", "sleep 1000"]
`, replicas)), 0o600)
		return p
	}
	m := write(2)
	if out, err := a.CLI("apply", "-f", m); err != nil || !strings.Contains(out, "created") {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	waitRunning(t, a, "app", 2, 30*time.Second)
	if out, err := a.CLI("apply", "-f", m); err != nil || !strings.Contains(out, "unchanged") {
		t.Fatalf("second apply: %v\n%s", err, out)
	}
	// --dry-run says what would change and changes nothing.
	var before api.ServiceInfo
	if err := a.get("/v1/services/app", &before); err != nil {
		t.Fatal(err)
	}
	if out, err := a.CLI("apply", "--dry-run", "-f", write(3)); err != nil ||
		!strings.Contains(out, fmt.Sprintf("service app: would be updated from version %d\n  replicas: 2 -> 3\n  no task would be replaced", before.Version)) {
		t.Fatalf("apply --dry-run: %v\n%s", err, out)
	}
	var after api.ServiceInfo
	if err := a.get("/v1/services/app", &after); err != nil || after.Version != before.Version || after.Spec.Replicas != 2 {
		t.Fatalf("after --dry-run: version %d -> %d, replicas %d (%v)", before.Version, after.Version, after.Spec.Replicas, err)
	}
	if out, err := a.CLI("apply", "-f", write(3)); err != nil || !strings.Contains(out, "updated") {
		t.Fatalf("changed apply: %v\n%s", err, out)
	}
	waitRunning(t, a, "app", 3, 30*time.Second)
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[[service]]\nname = \"x\"\nreplica = 2\n"), 0o600)
	if out, err := a.CLI("apply", "-f", bad); err == nil || !strings.Contains(out, `unknown key "replica"`) {
		t.Fatalf("bad manifest: %v\n%s", err, out)
	}
	if out, err := a.CLI("delete", "-f", m); err != nil {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	harness.WaitFor(t, 20*time.Second, "app gone", func() (bool, string) {
		var svcs []api.ServiceInfo
		a.get("/v1/services", &svcs)
		return len(svcs) == 0, fmt.Sprint(len(svcs))
	})
}
