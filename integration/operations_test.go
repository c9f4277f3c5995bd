package integration

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// TestYoungClusterSurvivesFirstLeader: the first leader is killed at the
// worst moment — the instant the third node's agent says it joined — and
// the two survivors elect a leader and commit a write.
func TestYoungClusterSurvivesFirstLeader(t *testing.T) {
	c := startCluster(t, 2)
	n3 := newAgent(t, "n3")
	n3.Start("--join", c.agents[0].P2PAddr(), "--token", c.token)
	c.agents = append(c.agents, n3)
	harness.WaitFor(t, 20*time.Second, "n3 joined", func() (bool, string) {
		return strings.Contains(n3.Output(), "joined cluster"), ""
	})
	c.agents[0].Kill()
	requireWritesAfterLeaderLoss(t, c, c.agents[0])
}

// requireWritesAfterLeaderLoss waits for a survivor to report a leader
// other than dead, then commits a write through a survivor.
func requireWritesAfterLeaderLoss(t *testing.T, c *cluster, dead *agentProc) {
	t.Helper()
	survivor := c.anyRunning(dead)
	harness.WaitFor(t, 15*time.Second, "a new leader", func() (bool, string) {
		st, err := survivor.status()
		if err != nil {
			return false, err.Error()
		}
		return st.Leader != "" && st.Leader != dead.Name, fmt.Sprintf("leader=%q voters=%v nonvoters=%v", st.Leader, st.Voters, st.Nonvoters)
	})
	if err := survivor.post("/v1/nodes/"+survivor.Name, api.NodeUpdateRequest{LabelAdd: map[string]string{"after": "loss"}}, nil); err != nil {
		t.Fatalf("write after the leader's death: %v", err)
	}
	harness.WaitFor(t, 15*time.Second, dead.Name+" marked down", func() (bool, string) {
		var n api.NodeInfo
		if err := survivor.get("/v1/nodes/"+dead.Name, &n); err != nil {
			return false, err.Error()
		}
		return n.Status == api.NodeDown, string(n.Status)
	})
}

// TestThirdJoinMakesThreeVoters: a third node makes the voter set three
// (the standby and the joiner together), never two, before its join is
// answered.
func TestThirdJoinMakesThreeVoters(t *testing.T) {
	c := startCluster(t, 2)
	st, err := c.agents[0].status()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Voters) != 1 {
		t.Fatalf("a two-node cluster has voters %v, want one", st.Voters)
	}
	harness.WaitFor(t, 10*time.Second, "n2 staged as a standby nonvoter", func() (bool, string) {
		st, err := c.agents[0].status()
		return err == nil && slices.Equal(st.Nonvoters, []string{"n2"}), fmt.Sprintf("%v %+v", err, st.Nonvoters)
	})
	n3 := newAgent(t, "n3")
	n3.Start("--join", c.agents[0].P2PAddr(), "--token", c.token)
	c.agents = append(c.agents, n3)
	harness.WaitFor(t, 20*time.Second, "n3 joined", func() (bool, string) {
		return strings.Contains(n3.Output(), "joined cluster"), ""
	})
	// The leader answers the join once the voter set has grown: by the
	// time the joiner says it joined, there are three voters.
	if st, err := c.agents[0].status(); err != nil || len(st.Voters) != 3 {
		t.Fatalf("right after the join: voters=%v nonvoters=%v (%v), want 3 voters", st.Voters, st.Nonvoters, err)
	}
	if !strings.Contains(c.agents[0].Output(), "one voter grows to three") {
		t.Fatalf("the leader did not grow the voter set in one plan; output:\n%s", c.agents[0].Output())
	}
}

// TestVoterSetKeepsItsSize: 7 nodes over 3 zones have 5 voters; a killed
// voter is replaced by a member of its zone, and the cluster never has
// fewer than 5 voters in its configuration.
func TestVoterSetKeepsItsSize(t *testing.T) {
	zones := map[string]string{"n1": "a", "n2": "a", "n3": "b", "n4": "b", "n5": "c", "n6": "c", "n7": "b"}
	c := startClusterWith(t, 7, func(name string) []string { return []string{"--label", "zone=" + zones[name]} })
	leader := c.leader()
	var st api.ClusterStatus
	harness.WaitFor(t, 30*time.Second, "5 voters over 3 zones", func() (bool, string) {
		var err error
		if st, err = leader.status(); err != nil {
			return false, err.Error()
		}
		in := map[string]bool{}
		for _, v := range st.Voters {
			in[zones[v]] = true
		}
		return len(st.Voters) == 5 && len(in) == 3, fmt.Sprintf("voters=%v", st.Voters)
	})
	// A voter in zone b, where another member can replace it.
	var victim *agentProc
	for _, v := range st.Voters {
		if v != leader.Name && zones[v] == "b" {
			victim = c.byName(v)
			break
		}
	}
	if victim == nil {
		t.Fatalf("no non-leader voter in zone b: voters=%v", st.Voters)
	}
	victim.Kill()
	harness.WaitFor(t, 30*time.Second, "the dead voter replaced from its zone", func() (bool, string) {
		st, err := leader.status()
		if err != nil {
			return false, err.Error()
		}
		if len(st.Voters) < 5 {
			t.Fatalf("the voter set shrank to %v after one death", st.Voters)
		}
		inB := 0
		for _, v := range st.Voters {
			if v == victim.Name {
				return false, fmt.Sprintf("voters=%v", st.Voters)
			}
			if zones[v] == "b" {
				inB++
			}
		}
		return len(st.Voters) == 5 && inB >= 1, fmt.Sprintf("voters=%v", st.Voters)
	})
}

// webCluster starts 3 agents with the process runtime (and extra
// arguments) and a service web of replicas tasks, and returns the cluster
// and the running tasks' PIDs by task ID.
func webCluster(t *testing.T, replicas int, extra ...string) (*cluster, map[string]int) {
	t.Helper()
	c := startCluster(t, 3, append([]string{"--runtime", "process"}, extra...)...)
	waitVoters(t, c.agents[0], 3)
	createService(t, c.agents[0], "web", "--replicas", fmt.Sprint(replicas))
	return c, taskPIDs(waitRunning(t, c.agents[0], "web", replicas, 30*time.Second))
}

// nonLeader returns a running agent that does not lead.
func (c *cluster) nonLeader() *agentProc { return c.anyRunning(c.leader()) }

// taskPIDs maps a service's running task IDs to their PIDs.
func taskPIDs(ts []api.TaskInfo) map[string]int {
	out := map[string]int{}
	for _, x := range ts {
		if x.State == api.TaskRunning {
			out[x.ID] = x.Status.PID
		}
	}
	return out
}

// sameTasks reports whether a's service has exactly the running tasks
// (IDs and PIDs) of want, with no other task desired running.
func sameTasks(a *agentProc, service string, want map[string]int) (bool, string) {
	ts, err := tasks(a, service)
	if err != nil {
		return true, "" // an agent being restarted may not answer
	}
	for _, x := range ts {
		if x.DesiredState == api.TaskRunning && want[x.ID] == 0 {
			return false, fmt.Sprintf("new task %s.%d on %s (%s)", x.ServiceName, x.Slot, x.NodeName, x.State)
		}
		if want[x.ID] != 0 && x.DesiredState != api.TaskRunning {
			return false, fmt.Sprintf("task %s.%d on %s desired %s: %s", x.ServiceName, x.Slot, x.NodeName, x.DesiredState, x.Error)
		}
	}
	return true, ""
}

// TestSigtermRestartKeepsTasks: `systemctl restart` of an agent — a
// member, then the leader — keeps every task where it is: the node shows
// restarting, nothing is replaced while it is away (longer than failure
// detection takes), and after the restart the same task IDs run with the
// same PIDs.
func TestSigtermRestartKeepsTasks(t *testing.T) {
	c, before := webCluster(t, 6)
	leader := c.leader()
	member := c.anyRunning(leader)
	for _, node := range []*agentProc{member, leader} {
		node.stop()
		if code, _ := node.ExitCode(time.Second); code != 0 {
			t.Fatalf("%s exited %d after SIGTERM; output:\n%s", node.Name, code, node.Output())
		}
		watcher := c.anyRunning(node)
		harness.WaitFor(t, 10*time.Second, node.Name+" shown restarting", func() (bool, string) {
			var n api.NodeInfo
			if err := watcher.get("/v1/nodes/"+node.Name, &n); err != nil {
				return false, err.Error()
			}
			return n.Status == api.NodeRestarting, string(n.Status)
		})
		// Failure detection (~2s) and voter replacement (3s) would both
		// have acted by now on a node that died.
		harness.Holds(t, 5*time.Second, "tasks in place while "+node.Name+" restarts", func() (bool, string) {
			return sameTasks(watcher, "web", before)
		})
		node.Start()
		harness.WaitFor(t, 20*time.Second, node.Name+" ready again", func() (bool, string) {
			var n api.NodeInfo
			if err := watcher.get("/v1/nodes/"+node.Name, &n); err != nil {
				return false, err.Error()
			}
			return n.Status == api.NodeReady, string(n.Status)
		})
		after := taskPIDs(waitRunning(t, watcher, "web", 6, 20*time.Second))
		if !maps.Equal(after, before) {
			t.Fatalf("tasks changed across %s's restart:\nbefore %v\nafter  %v", node.Name, before, after)
		}
	}
}

// TestRestartGraceRunsOut: a node that announced a restart but does not
// come back within its grace is marked down and its tasks move.
func TestRestartGraceRunsOut(t *testing.T) {
	c, _ := webCluster(t, 3, "--restart-grace", "2s")
	gone := c.nonLeader()
	gone.stop()
	watcher := c.anyRunning(gone)
	harness.WaitFor(t, 15*time.Second, gone.Name+" down after its grace", func() (bool, string) {
		var n api.NodeInfo
		if err := watcher.get("/v1/nodes/"+gone.Name, &n); err != nil {
			return false, err.Error()
		}
		return n.Status == api.NodeDown, string(n.Status)
	})
	if !strings.Contains(gone.Output(), "restarting: this node's tasks keep their places for 2s") {
		t.Fatalf("the agent did not announce its restart; output:\n%s", gone.Output())
	}
	waitRunning(t, watcher, "web", 3, 15*time.Second, gone.Name)
}

// TestLeaveOnTerminate: with --leave-on-terminate, SIGTERM leaves for
// good: the node is down at once and its tasks run elsewhere.
func TestLeaveOnTerminate(t *testing.T) {
	c, _ := webCluster(t, 3)
	leaving := c.nonLeader()
	leaving.stop()
	leaving.Start("--leave-on-terminate")
	c.waitMembers(3)
	leaving.stop()
	watcher := c.anyRunning(leaving)
	waitRunning(t, watcher, "web", 3, 15*time.Second, leaving.Name)
	if strings.Contains(leaving.Output(), "restarting:") {
		t.Fatalf("a leaving agent announced a restart; output:\n%s", leaving.Output())
	}
}

// TestRapidRestartsKeepTasks: restarts in quick succession — each one
// before the replica finished replaying its log — never stop a task (the
// executor ignores assignment sets older than the one it saved).
func TestRapidRestartsKeepTasks(t *testing.T) {
	c, before := webCluster(t, 6)
	for i := 0; i < 6; i++ {
		node := c.agents[1+i%2]
		node.stop()
		node.Start()
		harness.WaitFor(t, 20*time.Second, node.Name+" serving again", func() (bool, string) {
			_, err := node.status()
			return err == nil, fmt.Sprint(err)
		})
	}
	c.waitMembers(3)
	after := taskPIDs(waitRunning(t, c.agents[0], "web", 6, 20*time.Second))
	if !maps.Equal(after, before) {
		t.Fatalf("tasks changed across rapid restarts:\nbefore %v\nafter  %v", before, after)
	}
}
