package integration

import (
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// previousRelease is the commit the rolling-upgrade test upgrades from:
// release 0.2.1 (branch release-0.2, merged into main so every clone has
// it), which speaks command protocol 2 (graceful restarts, no drain
// deadlines). Move it forward when a release is cut.
const previousRelease = "734bf25a9c1463e68a3d5872f372fe86ff9d3fe6"

// TestRollingUpgrade: a 3-node cluster running a service under the
// previous release is upgraded one node at a time the way an operator
// does it (SIGTERM, new binary on the same data dir). No task restarts,
// each restart costs at most one election, commands the old build does
// not know are refused while it still runs somewhere, and services can be
// changed afterwards.
func TestRollingUpgrade(t *testing.T) {
	oldBin, err := harness.BuildRelease(previousRelease, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := startClusterWith(t, 3, func(string) []string { return []string{"--runtime", "process"} }, oldBin)
	waitVoters(t, c.agents[0], 3)
	createService(t, c.agents[0], "web", "--replicas", "3")
	before := taskPIDs(waitRunning(t, c.agents[0], "web", 3, 30*time.Second))
	startTerm := c.term()
	watch := watchLeaders(c)

	// Members first, the leader last: each restart is one SIGTERM and
	// one start of the new binary on the same data dir.
	leader := c.leader()
	order := []*agentProc{}
	for _, a := range c.agents {
		if a != leader {
			order = append(order, a)
		}
	}
	order = append(order, leader)
	for i, a := range order {
		a.stop()
		a.Bin = shoalBin
		a.UseSocketAPI()
		a.Start()
		c.waitMembers(3)
		if i == 0 {
			// Mixed versions: a drain deadline (protocol 3) is refused with
			// one line naming an old node, and nothing changes.
			out, err := a.CLI("node", "drain", order[1].Name, "--deadline", "1m", "--detach")
			if err == nil || !strings.Contains(out, "needs every node at protocol 3") || strings.Count(strings.TrimSpace(out), "\n") > 0 {
				t.Fatalf("drain deadline in a mixed cluster: err=%v out=%q", err, out)
			}
			var n api.NodeInfo
			if err := a.get("/v1/nodes/"+order[1].Name, &n); err != nil || n.Availability != api.AvailabilityActive {
				t.Fatalf("refused drain changed the node: %v %+v", err, n.Availability)
			}
		}
	}
	elections := watch.stop()
	after := taskPIDs(waitRunning(t, c.agents[0], "web", 3, 20*time.Second))
	if !maps.Equal(before, after) {
		t.Fatalf("tasks restarted across the upgrade:\nbefore %v\nafter  %v", before, after)
	}
	if d := c.term() - startTerm; d > uint64(len(order)) {
		t.Fatalf("the term moved by %d over %d restarts: more than one election per restart", d, len(order))
	}
	t.Logf("upgrade: term %d → %d, leaderless polls %d, leaders seen %v", startTerm, c.term(), elections.leaderless, elections.leaders)
	if elections.gaps > len(order) {
		t.Fatalf("%d separate windows without a leader over %d restarts", elections.gaps, len(order))
	}

	// Every node speaks the new protocol now: changes work again.
	var nodes []api.NodeInfo
	if err := c.agents[0].get("/v1/nodes", &nodes); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Protocol != api.ProtocolVersion {
			t.Fatalf("node %s reports protocol %d after the upgrade, want %d", n.Name, n.Protocol, api.ProtocolVersion)
		}
	}
	if out, err := c.agents[1].CLI("service", "scale", "web=4", "--detach"); err != nil {
		t.Fatalf("scale after the upgrade: %v: %s", err, out)
	}
	waitRunning(t, c.agents[0], "web", 4, 30*time.Second)
	if out, err := c.agents[2].CLI("node", "update", c.agents[1].Name, "--label-add", "upgraded=yes"); err != nil {
		t.Fatalf("node update after the upgrade: %v: %s", err, out)
	}
}

// term is the current Raft term as a running agent reports it.
func (c *cluster) term() uint64 {
	c.t.Helper()
	st, err := c.leader().status()
	if err != nil {
		c.t.Fatal(err)
	}
	return st.Term
}

// leaderWatch polls the cluster's leader every 50ms in the background.
type leaderWatch struct {
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	leaderHistory
}

// leaderHistory is what a leaderWatch saw.
type leaderHistory struct {
	leaders    []string // distinct leaders, in order
	leaderless int      // polls that found no leader anywhere
	gaps       int      // separate runs of leaderless polls
}

func watchLeaders(c *cluster) *leaderWatch {
	w := &leaderWatch{done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		inGap := false
		for {
			select {
			case <-w.done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			leader := ""
			for _, a := range c.agents {
				if st, err := a.Status(time.Second); err == nil && st.Leader != "" {
					leader = st.Leader
					break
				}
			}
			w.mu.Lock()
			switch {
			case leader == "":
				w.leaderless++
				if !inGap {
					w.gaps++
				}
				inGap = true
			default:
				inGap = false
				if n := len(w.leaders); n == 0 || w.leaders[n-1] != leader {
					w.leaders = append(w.leaders, leader)
				}
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *leaderWatch) stop() leaderHistory {
	close(w.done)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.leaderHistory
}
