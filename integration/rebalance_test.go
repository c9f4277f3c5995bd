package integration

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// spreadService creates a 6-replica process service with a cmd health
// check (a file that exists) and waits until its tasks run healthy, 2 a
// node.
func spreadService(t *testing.T, c *cluster, name string) {
	t.Helper()
	a := c.agents[0]
	flag := healthyFlag(t)
	createService(t, a, name, "--replicas", "6", "--health-cmd", "test -f "+flag,
		"--health-interval", "200ms", "--health-retries", "2")
	waitHealthy(t, a, name, 6)
	ts, err := tasks(a, name)
	if err != nil {
		t.Fatal(err)
	}
	if on := runningByNode(ts); !maps.Equal(on, map[string]int{"n1": 2, "n2": 2, "n3": 2}) {
		t.Fatalf("spread before: %v", on)
	}
}

// pollServing polls a service's tasks until done says it is done or the
// deadline passes, and fails at the first poll where fewer than want of
// them run healthy and are meant to run.
func pollServing(t *testing.T, a *agentProc, name string, want int, within time.Duration, what string, done func([]api.TaskInfo) (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	polls, last := 0, ""
	for {
		ts, err := tasks(a, name)
		if err != nil {
			t.Fatalf("poll %d: %v", polls, err)
		}
		polls++
		if healthy, _ := healthyTasks(ts, api.ServiceSpec{}); healthy < want {
			t.Fatalf("poll %d: %d healthy running tasks of %s, want at least %d: %s", polls, healthy, name, want, describe(ts))
		}
		ok, detail := done(ts)
		if ok {
			t.Logf("%s after %d polls", what, polls)
			return
		}
		last = detail
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (%d polls): %s", what, within, polls, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// describe lists tasks briefly: node, state, health, desired state.
func describe(ts []api.TaskInfo) string {
	var b []string
	for _, x := range ts {
		if x.State.Terminal() {
			continue
		}
		b = append(b, fmt.Sprintf("%d@%s %s/%s→%s", x.Slot, x.NodeName, x.State, x.Health, x.DesiredState))
	}
	return strings.Join(b, ", ")
}

// TestRebalanceWhenNodeReturns: a node whose agent stops (SIGTERM, not
// back within its 2s restart grace) is marked down and its tasks run on
// the other two; once it is back the leader moves tasks onto it, one at a
// time, start-first, until the spread is 2/2/2 again — and at every poll
// at least 6 tasks run healthy.
func TestRebalanceWhenNodeReturns(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process", "--restart-grace", "2s")
	waitVoters(t, c.agents[0], 3)
	spreadService(t, c, "web")
	gone := c.nonLeader()
	watcher := c.anyRunning(gone)
	gone.stop()
	harness.WaitFor(t, 15*time.Second, gone.Name+" down after its grace", func() (bool, string) {
		var n api.NodeInfo
		if err := watcher.get("/v1/nodes/"+gone.Name, &n); err != nil {
			return false, err.Error()
		}
		return n.Status == api.NodeDown, string(n.Status)
	})
	waitRunning(t, watcher, "web", 6, 30*time.Second, gone.Name)
	waitHealthy(t, watcher, "web", 6)

	gone.Start()
	c.waitMembers(3)
	start := time.Now()
	pollServing(t, watcher, "web", 6, 60*time.Second, "spread 2/2/2", func(ts []api.TaskInfo) (bool, string) {
		on := runningByNode(ts)
		healthy, _ := healthyTasks(ts, api.ServiceSpec{})
		return maps.Equal(on, map[string]int{"n1": 2, "n2": 2, "n3": 2}) && healthy == 6, fmt.Sprint(on)
	})
	t.Logf("rebalanced in %s", time.Since(start).Round(100*time.Millisecond))
	// Each task now on the returned node moved there: it names the task
	// it replaced, and was pinned to the node.
	ts, err := tasks(watcher, "web")
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ts {
		if x.NodeName == gone.Name && x.DesiredState == api.TaskRunning && (x.Replaces == "" || x.PreferredNode == "") {
			t.Errorf("task %s on %s is not a move (replaces %q, preferred node %q)", x.ID, gone.Name, x.Replaces, x.PreferredNode)
		}
	}
}

// TestDrainMovesStartFirst: `node drain` moves a node's tasks start-first:
// every task's replacement runs healthy elsewhere before it stops, so at
// every poll at least 6 tasks run healthy; the drain ends with no task on
// the node.
func TestDrainMovesStartFirst(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	a := c.agents[0]
	spreadService(t, c, "web")
	before, err := tasks(a, "web")
	if err != nil {
		t.Fatal(err)
	}
	done := cliAsync(a, "node", "drain", "n2", "--deadline", "1m")
	pollServing(t, a, "web", 6, 60*time.Second, "n2 drained", func(ts []api.TaskInfo) (bool, string) {
		on := runningByNode(ts)
		return on["n2"] == 0 && on["n1"]+on["n3"] == 6 && liveOn(t, a, "n2") == 0, fmt.Sprint(on)
	})
	res := <-done
	if res[1] != "" || !strings.Contains(res[0], "node n2 drained") || !strings.Contains(res[0], "no tasks left") {
		t.Fatalf("node drain: %s\n%s", res[1], res[0])
	}
	after, err := tasks(a, "web")
	if err != nil {
		t.Fatal(err)
	}
	replaced := map[string]bool{}
	for _, x := range after {
		if x.Replaces != "" {
			replaced[x.Replaces] = true
		}
	}
	for _, x := range before {
		if x.NodeName == "n2" && !replaced[x.ID] {
			t.Errorf("task %s of n2 stopped without a replacement that moved it", x.ID)
		}
	}
}
