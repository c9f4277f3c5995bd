package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// cluster is the set of agents under test.
type cluster struct {
	t      testing.TB
	root   string
	agents []*agent
	token  string
}

// newCluster prepares n agents named n1..n<n> under root; prepare runs
// on each data dir before any agent starts (a tmpfs mount, say).
func newCluster(t testing.TB, root string, n int) *cluster {
	c := &cluster{t: t, root: root}
	for i := 1; i <= n; i++ {
		c.agents = append(c.agents, newAgent(t, root, fmt.Sprintf("n%d", i)))
	}
	return c
}

// start bootstraps n1, joins the others and waits for every node to be a
// ready member and for 3 voters.
func (c *cluster) start() {
	t := c.t
	t.Helper()
	first := c.agents[0]
	first.Start("--bootstrap")
	harness.WaitFor(t, 30*time.Second, "bootstrap leader", func() (bool, string) {
		st, err := first.status(time.Second)
		if err != nil {
			return false, err.Error() + "\n" + first.tail(5)
		}
		return st.Leader == first.Name, fmt.Sprintf("%+v", st)
	})
	var tok api.TokenResponse
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := first.get(ctx, "/v1/token", &tok); err != nil {
		t.Fatal(err)
	}
	c.token = tok.Token
	var ca api.ClusterCA
	if err := first.get(ctx, "/v1/cluster/ca", &ca); err != nil {
		t.Fatal(err)
	}
	admin, err := os.ReadFile(filepath.Join(first.DataDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	creds := api.ClientConfig{Token: strings.TrimSpace(string(admin)), TLS: api.TLSOptions{CAFingerprint: ca.Fingerprint}}
	for _, a := range c.agents {
		a.useCreds(creds)
	}
	for _, a := range c.agents[1:] {
		a.Start("--join", first.P2PAddr(), "--token", c.token)
	}
	if _, err := harness.Poll(60*time.Second, "all nodes ready with 3 voters", c.healthy); err != nil {
		for _, a := range c.agents {
			t.Logf("%s:\n%s", a.Name, a.tail(15))
		}
		t.Fatal(err)
	}
}

func (c *cluster) byName(name string) *agent {
	for _, a := range c.agents {
		if a.Name == name {
			return a
		}
	}
	return nil
}

func (c *cluster) names() []string {
	var out []string
	for _, a := range c.agents {
		out = append(out, a.Name)
	}
	return out
}

func (c *cluster) dataDirs() []string {
	var out []string
	for _, a := range c.agents {
		out = append(out, a.DataDir)
	}
	return out
}

// statuses asks every usable agent for /v1/cluster concurrently.
func (c *cluster) statuses(timeout time.Duration) map[string]api.ClusterStatus {
	var mu sync.Mutex
	out := map[string]api.ClusterStatus{}
	var wg sync.WaitGroup
	for _, a := range c.agents {
		if !a.usable() {
			continue
		}
		wg.Add(1)
		go func(a *agent) {
			defer wg.Done()
			if st, err := a.status(timeout); err == nil {
				mu.Lock()
				out[a.Name] = st
				mu.Unlock()
			}
		}(a)
	}
	wg.Wait()
	return out
}

// healthy reports whether every agent runs and answers, all agree on one
// leader that claims leadership itself, there are 3 voters and the leader
// sees every node ready.
func (c *cluster) healthy() (bool, string) {
	sts := c.statuses(time.Second)
	if len(sts) != len(c.agents) {
		var silent []string
		for _, a := range c.agents {
			if _, ok := sts[a.Name]; !ok {
				silent = append(silent, a.Name)
			}
		}
		return false, fmt.Sprintf("%v do not answer", silent)
	}
	leaders := map[string]bool{}
	for _, st := range sts {
		leaders[st.Leader] = true
	}
	if len(leaders) != 1 || leaders[""] {
		return false, fmt.Sprintf("leaders seen: %v", keys(leaders))
	}
	var leader string
	for l := range leaders {
		leader = l
	}
	lst, ok := sts[leader]
	if !ok || lst.Self != leader {
		return false, "leader " + leader + " does not answer as leader"
	}
	if len(lst.Voters) != 3 {
		return false, fmt.Sprintf("voters=%v", lst.Voters)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var nodes []api.NodeInfo
	if err := c.byName(leader).get(ctx, "/v1/nodes", &nodes); err != nil {
		return false, err.Error()
	}
	var notReady []string
	for _, n := range nodes {
		if n.Status != api.NodeReady {
			notReady = append(notReady, n.Name)
		}
	}
	if len(nodes) != len(c.agents) || len(notReady) > 0 {
		return false, fmt.Sprintf("leader %s sees %d nodes, not ready: %v", leader, len(nodes), notReady)
	}
	return true, ""
}

// selfLeader returns the usable agent that reports itself as leader, if
// exactly one does.
func (c *cluster) selfLeader() *agent {
	var found []*agent
	for name, st := range c.statuses(time.Second) {
		if st.Leader == name && st.Self == name {
			found = append(found, c.byName(name))
		}
	}
	if len(found) != 1 {
		return nil
	}
	return found[0]
}

// waitLeader waits up to timeout for a single self-claimed leader.
func (c *cluster) waitLeader(timeout time.Duration) *agent {
	var l *agent
	harness.Poll(timeout, "a leader", func() (bool, string) {
		l = c.selfLeader()
		return l != nil, ""
	})
	return l
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func joinNames(names []string) string { return strings.Join(names, ",") }
