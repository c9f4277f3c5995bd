package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// TestOperatorRaftListPeersAndTransfer: list-peers through a non-leader
// shows the 3 voters with exactly one leader and the followers' last
// contact; transfer-leadership --to a named node makes it the leader; an
// unknown node is refused with one line and exit code 1.
func TestOperatorRaftListPeersAndTransfer(t *testing.T) {
	c := startCluster(t, 3)
	waitVoters(t, c.agents[0], 3)
	leader := c.leader()
	via := c.anyRunning(leader)

	harness.WaitFor(t, 10*time.Second, "3 voters, one leader, followers in contact", func() (bool, string) {
		out, err := via.CLI("operator", "raft", "list-peers", "-o", "json")
		if err != nil {
			return false, fmt.Sprintf("%v: %s", err, out)
		}
		var cfg api.RaftConfiguration
		if err := json.Unmarshal([]byte(out), &cfg); err != nil {
			return false, err.Error()
		}
		voters, leaders := 0, []string{}
		for _, s := range cfg.Servers {
			if s.Voter {
				voters++
			}
			if s.Leader {
				leaders = append(leaders, s.Node)
			} else if s.LastContact == nil || s.LastContact.Std() > 2*time.Second {
				return false, fmt.Sprintf("%s: last contact %v", s.Node, s.LastContact)
			}
		}
		return len(cfg.Servers) == 3 && voters == 3 && len(leaders) == 1 && leaders[0] == leader.Name,
			fmt.Sprintf("servers=%d voters=%d leaders=%v", len(cfg.Servers), voters, leaders)
	})
	out, err := via.CLI("operator", "raft", "list-peers")
	if err != nil {
		t.Fatalf("list-peers: %v: %s", err, out)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 4 || strings.Count(out, " leader ") != 1 || !strings.HasPrefix(lines[0], "NODE") {
		t.Fatalf("list-peers table:\n%s", out)
	}

	target := via
	out, err = via.CLI("operator", "raft", "transfer-leadership", "--to", target.Name)
	if err != nil || !strings.Contains(out, "to "+target.Name) {
		t.Fatalf("transfer-leadership: %v: %s", err, out)
	}
	harness.WaitFor(t, 10*time.Second, target.Name+" to lead on every node", func() (bool, string) {
		for _, a := range c.agents {
			st, err := a.status()
			if err != nil {
				return false, err.Error()
			}
			if st.Leader != target.Name {
				return false, a.Name + " sees leader " + st.Leader
			}
		}
		return true, ""
	})

	out, err = leader.CLI("operator", "raft", "transfer-leadership", "--to", "nosuchnode")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("transfer to an unknown node: %v: %s", err, out)
	}
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, "no such node: nosuchnode") {
		t.Fatalf("transfer to an unknown node: want one line, got:\n%s", out)
	}

	// A voter that is down is refused by the leader, through a follower.
	var third *agentProc
	for _, a := range c.agents {
		if a != leader && a != target {
			third = a
		}
	}
	third.Kill()
	harness.WaitFor(t, 15*time.Second, "a transfer to the dead "+third.Name+" to be refused", func() (bool, string) {
		out, err := leader.CLI("operator", "raft", "transfer-leadership", "--to", third.Name)
		return errors.As(err, &ee) && ee.ExitCode() == 1 && strings.Count(out, "\n") == 1 &&
			strings.Contains(out, "node "+third.Name+" is not up"), fmt.Sprintf("%v: %s", err, out)
	})
}

// stubbornCmd ignores SIGTERM: only a kill stops it.
const stubbornCmd = `trap "" TERM; sleep 1000`

// serviceOnN2 creates a 3-replica process service whose tasks all run on
// n2 (n1 and n3 are paused while it is placed, then made active again).
func serviceOnN2(t *testing.T, c *cluster, name, shell string, extra ...string) {
	t.Helper()
	a := c.agents[0]
	for _, n := range []string{"n1", "n3"} {
		if out, err := a.CLI("node", "update", n, "--availability", "pause"); err != nil {
			t.Fatalf("pause %s: %v %s", n, err, out)
		}
	}
	// Rebalance off: the tasks stay on n2 once n1 and n3 are active again.
	args := append([]string{"service", "create", name, "--detach", "--runtime", "process", "--replicas", "3", "--rebalance", "off"}, extra...)
	if out, err := a.CLI(append(args, "--", "sh", "-c", shell)...); err != nil {
		t.Fatalf("service create: %v\n%s", err, out)
	}
	ts := waitRunning(t, a, name, 3, 30*time.Second)
	if on := runningByNode(ts); on["n2"] != 3 {
		t.Fatalf("tasks not all on n2: %v", on)
	}
	for _, n := range []string{"n1", "n3"} {
		if out, err := a.CLI("node", "update", n, "--availability", "active"); err != nil {
			t.Fatalf("activate %s: %v %s", n, err, out)
		}
	}
}

// liveOn counts the tasks on node name whose observed state is not
// terminal.
func liveOn(t *testing.T, a *agentProc, name string) int {
	t.Helper()
	var ts []api.TaskInfo
	if err := a.get("/v1/nodes/"+name+"/tasks", &ts); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, x := range ts {
		if !x.Status.State.Terminal() {
			n++
		}
	}
	return n
}

// TestNodeDrainDeadlineKillsStubbornTasks: tasks that ignore SIGTERM and
// have a 1m stop grace period are killed at a 3s drain deadline; the drain
// returns then, with the node empty and the tasks running elsewhere.
func TestNodeDrainDeadlineKillsStubbornTasks(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	a := c.agents[0]
	serviceOnN2(t, c, "stubborn", stubbornCmd, "--stop-grace-period", "1m")
	start := time.Now()
	out, err := a.CLI("node", "drain", "n2", "--deadline", "3s")
	took := time.Since(start)
	if err != nil {
		t.Fatalf("drain: %v\n%s", err, out)
	}
	t.Logf("drain took %s:\n%s", took, out)
	if took < 2500*time.Millisecond || took > 15*time.Second {
		t.Fatalf("drain returned after %s, want about the 3s deadline", took)
	}
	if !strings.Contains(out, "node n2 drained") || !strings.Contains(out, "deadline passed") {
		t.Fatalf("drain output:\n%s", out)
	}
	if n := liveOn(t, a, "n2"); n != 0 {
		t.Fatalf("%d live tasks left on n2", n)
	}
	harness.WaitFor(t, 5*time.Second, "no stubborn workload left on n2", func() (bool, string) {
		var left []string
		for _, p := range harness.ProcsUnder(c.byName("n2").DataDir) {
			if p.Env["SHOAL_SERVICE"] == "stubborn" {
				left = append(left, fmt.Sprint(p.PID, " ", p.Cmdline))
			}
		}
		return len(left) == 0, strings.Join(left, "; ")
	})
	waitRunning(t, a, "stubborn", 3, 30*time.Second, "n2")
	var info api.NodeInfo
	if err := a.get("/v1/nodes/n2", &info); err != nil {
		t.Fatal(err)
	}
	if info.Availability != api.AvailabilityDrain || info.DrainDeadline.IsZero() {
		t.Fatalf("n2 after the drain: availability %s, deadline %v", info.Availability, info.DrainDeadline)
	}
}

// TestNodeDrainReturnsWhenTasksMoved: tasks that stop on SIGTERM leave at
// once, and the drain returns long before its deadline.
func TestNodeDrainReturnsWhenTasksMoved(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	a := c.agents[0]
	serviceOnN2(t, c, "polite", loopCmd)
	start := time.Now()
	out, err := a.CLI("node", "drain", "n2", "--deadline", "1m")
	took := time.Since(start)
	if err != nil {
		t.Fatalf("drain: %v\n%s", err, out)
	}
	t.Logf("drain took %s:\n%s", took, out)
	if took > 10*time.Second || !strings.Contains(out, "no tasks left") {
		t.Fatalf("drain took %s:\n%s", took, out)
	}
	if n := liveOn(t, a, "n2"); n != 0 {
		t.Fatalf("%d live tasks left on n2", n)
	}
	waitRunning(t, a, "polite", 3, 30*time.Second, "n2")
	out, err = a.CLI("node", "ls")
	if err != nil || !strings.Contains(out, "drain") {
		t.Fatalf("node ls: %v\n%s", err, out)
	}
}
