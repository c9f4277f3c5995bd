package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// TestForceNewCluster: two of three voters die for good (agents and
// tasks, kill -9); the survivor restarts with --force-new-cluster as the
// only voter of the same cluster, two fresh nodes join with the token, the
// service converges to its replica count away from the dead nodes, and
// the cluster has 3 voters again.
func TestForceNewCluster(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	waitVoters(t, c.agents[0], 3)
	first := c.agents[0]
	if out, err := first.CLI("service", "create", "sleeper", "--detach", "--runtime", "process", "--replicas", "3", "--", "sleep", "1000"); err != nil {
		t.Fatalf("service create: %v\n%s", err, out)
	}
	waitRunning(t, first, "sleeper", 3, 30*time.Second)
	before, _ := first.status()

	survivor := c.agents[2]
	for _, dead := range c.agents[:2] {
		dead.Kill()
		harness.KillUnder(dead.DataDir)
	}
	survivor.stop()
	start := time.Now()
	survivor.Start("--force-new-cluster")
	harness.WaitFor(t, 20*time.Second, "the survivor to lead alone", func() (bool, string) {
		st, err := survivor.status()
		if err != nil {
			return false, err.Error() + "\n" + survivor.Output()
		}
		return st.Leader == survivor.Name && len(st.Voters) == 1, strings.Join(st.Voters, ",")
	})
	t.Logf("survivor leads %s after the restart", time.Since(start).Round(time.Millisecond))
	if out := survivor.Output(); !strings.Contains(out, "Forced a new cluster: this node (n3) is now the only voter of cluster "+before.ClusterID) {
		t.Fatalf("no clear line about the forced cluster:\n%s", out)
	}
	st, _ := survivor.status()
	if st.ClusterID != before.ClusterID {
		t.Fatalf("cluster ID %s, was %s", st.ClusterID, before.ClusterID)
	}
	tokOut, err := survivor.CLI("token", "show", "-q")
	if err != nil {
		t.Fatalf("token show: %v\n%s", err, tokOut)
	}
	for _, name := range []string{"n4", "n5"} {
		a := newAgent(t, name, "--runtime", "process")
		a.Start("--join", survivor.P2PAddr(), "--token", strings.TrimSpace(tokOut))
		c.agents = append(c.agents, a)
	}
	waitRunning(t, survivor, "sleeper", 3, 60*time.Second, "n1", "n2")
	waitVoters(t, survivor, 3)
	t.Logf("3 tasks running and 3 voters %s after the restart", time.Since(start).Round(time.Millisecond))
	var nodes []api.NodeInfo
	if err := survivor.get("/v1/nodes", &nodes); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if (n.Name == "n1" || n.Name == "n2") && n.Status != api.NodeDown {
			t.Fatalf("dead node %s is %s", n.Name, n.Status)
		}
	}
	// The flag left in a service unit: the next start with it is refused,
	// and without it the node rejoins as one of the voters.
	survivor.stop()
	survivor.Start("--force-new-cluster")
	if code, exited := survivor.ExitCode(20 * time.Second); !exited || code != 1 || !strings.Contains(survivor.Output(), "already recovered this data dir") {
		t.Fatalf("a second --force-new-cluster: exited=%v code=%d output:\n%s", exited, code, survivor.Output())
	}
	survivor.Start()
	waitVoters(t, c.agents[3], 3)
}

// TestForceNewClusterRefusals: --force-new-cluster with --bootstrap or
// --join, or on an empty data dir, exits 1 with one line.
func TestForceNewClusterRefusals(t *testing.T) {
	cases := map[string][]string{
		"with --bootstrap": {"--force-new-cluster", "--bootstrap"},
		"with --join":      {"--force-new-cluster", "--join", "127.0.0.1:1", "--token", "SHOAL-1-x-y"},
		"empty data dir":   {"--force-new-cluster"},
	}
	for name, args := range cases {
		a := newAgent(t, "x")
		a.Start(args...)
		code, exited := a.ExitCode(20 * time.Second)
		out := strings.TrimSpace(a.Output())
		if !exited || code != 1 || strings.Count(out, "\n") != 0 || !strings.Contains(out, "force-new-cluster") {
			t.Fatalf("%s: exited=%v code=%d, want 1 and one line naming the flag; output:\n%s", name, exited, code, out)
		}
		t.Logf("%s: %s", name, out)
	}
}
