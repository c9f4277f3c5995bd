package integration

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

var (
	youngKills   = flag.Int("young-kills", 20, "rounds of BenchmarkYoungLeaderKill")
	youngSeed    = flag.Uint64("young-seed", 1, "seed of the kill moments in BenchmarkYoungLeaderKill")
	restartLoops = flag.Int("restart-rounds", 5, "SIGTERM restarts in BenchmarkRestartInPlace")
)

// BenchmarkYoungLeaderKill builds a fresh 3-node cluster per round and
// kills the first leader with SIGKILL at a random moment (seeded) within
// 3s of the third node's join — when its agent says it joined. It reports
// how many rounds elected a new leader that committed a write, the time
// to that write, and how long after the join the voter set reached three.
// Run it with `make bench-young`.
func BenchmarkYoungLeaderKill(b *testing.B) {
	rng := rand.New(rand.NewPCG(*youngSeed, 0))
	var recovered, toThree []time.Duration
	failed := 0
	for round := 0; round < *youngKills; round++ {
		delay := time.Duration(rng.Int64N(int64(3 * time.Second)))
		ok, rec, three := youngRound(b, delay)
		if !ok {
			failed++
			fmt.Printf("round %d: kill %s after the join: no leader committed a write within 15s\n", round, delay.Round(time.Millisecond))
			continue
		}
		recovered = append(recovered, rec)
		if three > 0 {
			toThree = append(toThree, three)
		}
	}
	fmt.Printf("young cluster, leader killed within 3s of the third join: %d of %d rounds elected a leader that committed a write\n", *youngKills-failed, *youngKills)
	b.ReportMetric(float64(*youngKills-failed), "recovered")
	if len(recovered) > 0 {
		report(b, "kill -9 of the first leader -> write committed by a new leader", recovered)
	}
	if len(toThree) > 0 {
		medianOnly(b, "third join -> 3 voters", "to-3-voters-s", toThree)
	}
	if failed > 0 {
		b.Fatalf("%d of %d rounds lost the cluster", failed, *youngKills)
	}
}

// youngRound runs one round; three is how long after the join (both as
// the agents' logs stamp them) the leader made the voter set three, 0 when
// the kill came first.
func youngRound(b *testing.B, delay time.Duration) (ok bool, recovered, three time.Duration) {
	c := startCluster(b, 2)
	defer func() {
		for _, a := range c.agents {
			a.Die()
		}
	}()
	n3 := newAgent(b, "n3")
	n3.Start("--join", c.agents[0].P2PAddr(), "--token", c.token)
	c.agents = append(c.agents, n3)
	var joined time.Time
	harness.WaitFor(b, 20*time.Second, "n3 joined", func() (bool, string) {
		var ok bool
		joined, ok = logTime(n3.Output(), "joined cluster")
		return ok, ""
	})
	time.Sleep(time.Until(joined.Add(delay))) // the kill moment under test
	leader := c.agents[0]
	if at, ok := logTime(leader.Output(), "one voter grows to three (3 of 3)"); ok {
		three = at.Sub(joined)
	}
	start := time.Now()
	leader.Kill()
	survivor := c.agents[1]
	for time.Since(start) < 15*time.Second {
		err := survivor.post("/v1/nodes/"+survivor.Name, api.NodeUpdateRequest{LabelAdd: map[string]string{"after": "kill"}}, nil)
		if err == nil {
			return true, time.Since(start), three
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false, 0, three
}

// logTime finds the first line of out that contains what and returns the
// time the agent's text logger stamped on it: the leading
// time=2006-01-02T15:04:05.000000Z07:00 attribute.
func logTime(out, what string) (time.Time, bool) {
	for _, line := range strings.Split(out, "\n") {
		stamp, ok := strings.CutPrefix(line, "time=")
		if !strings.Contains(line, what) || !ok {
			continue
		}
		stamp, _, _ = strings.Cut(stamp, " ")
		t, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", stamp)
		return t, err == nil
	}
	return time.Time{}, false
}

// BenchmarkRestartInPlace restarts a member of a 3-node cluster running 6
// process tasks the way systemd does (SIGTERM, then start) and measures
// the time from SIGTERM until the node is ready again with its tasks
// reported running; it counts task restarts (changed task IDs or PIDs),
// which should be 0. Run it with `make bench-restart`.
func BenchmarkRestartInPlace(b *testing.B) {
	c := startCluster(b, 3, "--runtime", "process")
	waitVoters(b, c.agents[0], 3)
	createService(b, c.agents[0], "web", "--replicas", "6")
	before := taskPIDs(waitRunning(b, c.agents[0], "web", 6, 30*time.Second))
	var samples []time.Duration
	for i := 0; i < *restartLoops; i++ {
		node := c.agents[1+i%2]
		watcher := c.agents[0]
		if node == c.leader() {
			node, watcher = watcher, node
		}
		start := time.Now()
		node.stop()
		node.Start()
		harness.WaitFor(b, 30*time.Second, node.Name+" ready with its tasks", func() (bool, string) {
			var n api.NodeInfo
			if err := watcher.get("/v1/nodes/"+node.Name, &n); err != nil {
				return false, err.Error()
			}
			ts, err := tasks(watcher, "web")
			if err != nil {
				return false, err.Error()
			}
			running := 0
			for _, t := range ts {
				if t.NodeName == node.Name && t.State == api.TaskRunning && t.DesiredState == api.TaskRunning {
					running++
				}
			}
			return n.Status == api.NodeReady && running == 2, fmt.Sprintf("%s, %d running", n.Status, running)
		})
		samples = append(samples, time.Since(start))
	}
	after := taskPIDs(waitRunning(b, c.agents[0], "web", 6, 30*time.Second))
	restarted := 0
	for id, pid := range before {
		if after[id] != pid {
			restarted++
		}
	}
	fmt.Printf("SIGTERM restarts: %d task restarts of 6 tasks over %d restarts\n", restarted, *restartLoops)
	b.ReportMetric(float64(restarted), "task-restarts")
	report(b, "SIGTERM + start -> node ready with its tasks running", samples)
	if restarted > 0 {
		ts, _ := tasks(c.agents[0], "web")
		var hist []string
		for _, t := range ts {
			hist = append(hist, fmt.Sprintf("%s.%d %s on %s: %s/%s %q", t.ServiceName, t.Slot, api.ShortID(t.ID), t.NodeName, t.State, t.DesiredState, t.Error))
		}
		b.Fatalf("%d tasks restarted across SIGTERM restarts:\nbefore %v\nafter  %v\n%s", restarted, before, after, strings.Join(hist, "\n"))
	}
}

// medianOnly prints the median and maximum of samples, and records the
// median under unit.
func medianOnly(b *testing.B, what, unit string, samples []time.Duration) {
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	med := sorted[len(sorted)/2]
	fmt.Printf("%s: n=%d median=%.3fs max=%.3fs\n", what, len(sorted), med.Seconds(), sorted[len(sorted)-1].Seconds())
	b.ReportMetric(med.Seconds(), unit)
}
