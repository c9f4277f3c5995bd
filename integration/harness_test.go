package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// cluster is a set of agents started together.
type cluster struct {
	t      testing.TB
	agents []*agentProc
	token  string
}

// startCluster bootstraps the first agent and joins n-1 more, then waits
// until every node is a ready member.
func startCluster(t testing.TB, n int, extra ...string) *cluster {
	t.Helper()
	return startClusterWith(t, n, func(string) []string { return extra })
}

// startClusterWith is startCluster with per-node extra agent arguments,
// and optionally another shoal binary (an earlier release).
func startClusterWith(t testing.TB, n int, extra func(name string) []string, bin ...string) *cluster {
	t.Helper()
	c := &cluster{t: t}
	first := newAgent(t, "n1", extra("n1")...)
	if len(bin) > 0 {
		// An older release's binary: it serves plain HTTP on --api-addr.
		first.Bin = bin[0]
		first.UseLegacyAPI()
	}
	first.Start("--bootstrap")
	c.agents = append(c.agents, first)
	harness.WaitFor(t, 20*time.Second, "bootstrap leader", func() (bool, string) {
		st, err := first.status()
		if err != nil {
			return false, err.Error() + "\n" + first.Output()
		}
		return st.Leader == "n1", fmt.Sprintf("%+v", st)
	})
	var tok api.TokenResponse
	if err := first.get("/v1/token", &tok); err != nil {
		t.Fatal(err)
	}
	c.token = tok.Token
	secret := c.token[strings.LastIndex(c.token, "-")+1:]
	if len(bin) == 0 && (strings.Contains(first.Output(), secret) || !strings.Contains(first.Output(), "shoal token show")) {
		t.Fatalf("bootstrap printed the join token into its log, or no hint to get it; output:\n%s", first.Output())
	}
	for i := 2; i <= n; i++ {
		name := fmt.Sprintf("n%d", i)
		a := newAgent(t, name, extra(name)...)
		a.Bin = first.Bin
		if len(bin) > 0 {
			a.UseLegacyAPI()
		}
		if len(bin) > 0 {
			a.Start("--join", first.P2PAddr(), "--token", c.token) // 0.2 reads no $SHOAL_JOIN_TOKEN
		} else {
			// As an operator should: the token in the environment, not in
			// the command line every local user can read.
			a.Env = append(a.Env, "SHOAL_JOIN_TOKEN="+c.token)
			a.Start("--join", first.P2PAddr())
		}
		c.agents = append(c.agents, a)
	}
	c.waitMembers(n)
	return c
}

// waitMembers waits until every running agent reports want ready members.
func (c *cluster) waitMembers(want int) {
	c.t.Helper()
	harness.WaitFor(c.t, 30*time.Second, fmt.Sprintf("%d ready members on every node", want), func() (bool, string) {
		for _, a := range c.agents {
			if !a.Running() {
				continue
			}
			var nodes []api.NodeInfo
			if err := a.get("/v1/nodes", &nodes); err != nil {
				return false, a.Name + ": " + err.Error()
			}
			ready := 0
			for _, n := range nodes {
				if n.Status == api.NodeReady {
					ready++
				}
				if b := c.byName(n.Name); b != nil {
					b.id = n.ID
				}
			}
			if ready != want {
				return false, fmt.Sprintf("%s sees %d ready of %d", a.Name, ready, len(nodes))
			}
		}
		return true, ""
	})
}

// leader returns the agent that leads, as the running agents agree.
func (c *cluster) leader() *agentProc {
	c.t.Helper()
	var found *agentProc
	harness.WaitFor(c.t, 20*time.Second, "an agreed leader", func() (bool, string) {
		names := map[string]bool{}
		for _, a := range c.agents {
			if !a.Running() {
				continue
			}
			st, err := a.status()
			if err != nil {
				return false, err.Error()
			}
			names[st.Leader] = true
		}
		if len(names) != 1 || names[""] {
			return false, fmt.Sprintf("leaders seen: %v", names)
		}
		for n := range names {
			found = c.byName(n)
		}
		return found != nil && found.Running(), ""
	})
	return found
}

func (c *cluster) byName(name string) *agentProc {
	for _, a := range c.agents {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// anyRunning returns a running agent other than skip.
func (c *cluster) anyRunning(skip *agentProc) *agentProc {
	for _, a := range c.agents {
		if a != skip && a.Running() {
			return a
		}
	}
	c.t.Fatal("no running agent")
	return nil
}
