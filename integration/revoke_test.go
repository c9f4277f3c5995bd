package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// Removal revokes: `shoal node rm` puts the node's peer ID on the
// cluster's deny list, so the node can neither come back nor, removed
// with --force while it runs, stay connected.

// notListedReady reports whether no agent of others lists a node called
// name as ready (what `node ls` shows).
func notListedReady(others []*agentProc, name string) (bool, string) {
	for _, a := range others {
		var nodes []api.NodeInfo
		if err := a.get("/v1/nodes", &nodes); err != nil {
			continue // a busy agent may not answer one poll
		}
		for _, n := range nodes {
			if n.Name == name && n.Status == api.NodeReady {
				return false, fmt.Sprintf("%s lists %s ready (%s)", a.Name, name, api.ShortID(n.ID))
			}
		}
	}
	return true, ""
}

// listed reports whether a lists a node called name.
func listed(a *agentProc, name string) bool {
	var nodes []api.NodeInfo
	if err := a.get("/v1/nodes", &nodes); err != nil {
		return true
	}
	for _, n := range nodes {
		if n.Name == name {
			return true
		}
	}
	return false
}

// TestRemovedNodeCannotRejoin removes a down node, then brings it back
// two ways: restarted on its old data dir, and started on a fresh data
// dir that holds only its identity key, with --join and the current join
// token. Neither is ever listed ready by the others within 15 s, nor
// becomes a Raft server; the members log the refused connections of the
// removed node by name, and the joiner's log says its peer ID was removed.
func TestRemovedNodeCannotRejoin(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	waitVoters(t, c.agents[0], 3)
	n1, n2, gone := c.agents[0], c.agents[1], c.agents[2]
	others := []*agentProc{n1, n2}
	gone.Kill()
	harness.WaitFor(t, 20*time.Second, "n3 down", func() (bool, string) {
		var n api.NodeInfo
		n1.get("/v1/nodes/n3", &n)
		return n.Status == api.NodeDown, string(n.Status)
	})
	if out, err := n2.CLI("node", "rm", "n3"); err != nil {
		t.Fatalf("node rm: %v: %s", err, out)
	}

	// 1. The old data dir.
	gone.Start()
	harness.Holds(t, 15*time.Second, "n3 (old data dir) never ready on n1 and n2", func() (bool, string) {
		return notListedReady(others, "n3")
	})
	st, err := n1.status()
	if err != nil || strings.Contains(fmt.Sprint(st.Members, st.Voters, st.Nonvoters), "n3") {
		t.Fatalf("cluster status after n3 came back: %+v %v", st, err)
	}
	refused := "refused a connection with a removed node: its peer ID is denied"
	harness.WaitFor(t, 10*time.Second, "a member to log that it refused n3", func() (bool, string) {
		for _, a := range others {
			for _, line := range strings.Split(a.Output(), "\n") {
				if strings.Contains(line, refused) && strings.Contains(line, "node=n3") {
					return true, ""
				}
			}
		}
		return false, "no refusal logged"
	})
	key, err := os.ReadFile(filepath.Join(gone.DataDir, "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	gone.Kill()

	// 2. A fresh data dir with the same identity, the current token.
	var tok api.TokenResponse
	if err := n1.get("/v1/token", &tok); err != nil {
		t.Fatal(err)
	}
	fresh := newAgent(t, "n3", "--runtime", "process")
	if err := os.MkdirAll(fresh.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fresh.DataDir, "node.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	fresh.Start("--join", n1.P2PAddr(), "--token", tok.Token)
	harness.Holds(t, 15*time.Second, "n3 (fresh data dir, same identity) never ready on n1 and n2", func() (bool, string) {
		return notListedReady(others, "n3")
	})
	if out := fresh.Output(); !strings.Contains(out, "this node's peer ID was removed from the cluster") || strings.Contains(out, "joined cluster") {
		t.Fatalf("the joiner's log does not show the refusal:\n%s", out)
	}
}

// lastLine is the last non-empty line of out.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// TestForcedRemovalCutsOffALiveNode removes a running node that runs a
// task with `node rm --force`, through a member that does not lead: an up
// node without --force and the leader are refused with one line that says
// what to do; then the others stop listing the node at once, its task runs
// elsewhere, and the node is cut off: a service created afterwards never
// reaches its replica, and a write through its API is never committed. It
// logs the time from the command to the leader closing the node's
// connections.
func TestForcedRemovalCutsOffALiveNode(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	waitVoters(t, c.agents[0], 3)
	leader := c.leader()
	createService(t, leader, "web", "--replicas", "3")
	ts := waitRunning(t, leader, "web", 3, 30*time.Second)
	var victim, via *agentProc
	for _, a := range c.agents {
		if a != leader && runningByNode(ts)[a.Name] > 0 && victim == nil {
			victim = a
		}
	}
	if victim == nil {
		t.Fatalf("no task on a node that does not lead: %v", runningByNode(ts))
	}
	for _, a := range c.agents {
		if a != leader && a != victim {
			via = a
		}
	}

	out, err := via.CLI("node", "rm", victim.Name)
	if err == nil || !strings.Contains(out, "--force") {
		t.Fatalf("node rm of an up node without --force: %v: %s", err, out)
	}
	out, err = via.CLI("node", "rm", "--force", leader.Name)
	if err == nil || !strings.Contains(out, "shoal operator raft transfer-leadership") || strings.Count(strings.TrimSpace(out), "\n") > 0 {
		t.Fatalf("node rm --force of the leader: %v: %q", err, out)
	}

	began := time.Now()
	if out, err := via.CLI("node", "rm", "--force", victim.Name); err != nil {
		t.Fatalf("node rm --force: %v: %s", err, out)
	}
	committed := time.Since(began)
	for _, a := range []*agentProc{leader, via} {
		if listed(a, victim.Name) {
			t.Fatalf("%s still lists %s after node rm --force returned", a.Name, victim.Name)
		}
	}
	var cutOff time.Duration
	harness.WaitFor(t, 10*time.Second, "the leader to cut the removed node off", func() (bool, string) {
		at, ok := logTime(leader.Output(), "cut off removed node "+victim.Name)
		cutOff = at.Sub(began)
		return ok, lastLine(leader.Output())
	})
	t.Logf("node rm --force: committed and unlisted after %v; the leader cut %s off %v after the command began",
		committed.Round(time.Millisecond), victim.Name, cutOff.Round(time.Millisecond))

	// The removed node tries a write through its own API meanwhile.
	intruder := make(chan error, 1)
	go func() {
		intruder <- victim.post("/v1/services", api.ServiceSpec{Name: "intruder", Runtime: "process", Mode: api.ModeReplicated, Replicas: 1,
			Command: []string{"sh", "-c", loopCmd}}, nil)
	}()
	waitRunning(t, leader, "web", 3, 30*time.Second, victim.Name)
	createService(t, leader, "latecomer", "--replicas", "1")
	harness.Holds(t, 5*time.Second, "the service created after the removal stays unknown to "+victim.Name, func() (bool, string) {
		var svcs []api.ServiceInfo
		if err := victim.get("/v1/services", &svcs); err != nil {
			return true, ""
		}
		for _, s := range svcs {
			if s.Spec.Name == "latecomer" {
				return false, victim.Name + " lists service latecomer"
			}
		}
		return true, ""
	})
	if out, err := victim.CLI("service", "ls"); err != nil || strings.Contains(out, "latecomer") || !strings.Contains(out, "web") {
		t.Fatalf("service ls on %s: %v\n%s", victim.Name, err, out)
	}
	select {
	case err := <-intruder:
		// Not committed: no leader answers it (503), or one refuses it (403).
		var he *harness.HTTPError
		if !errors.As(err, &he) || (he.Status != http.StatusServiceUnavailable && he.Status != http.StatusForbidden) {
			t.Fatalf("a write through the removed node's API: %v, want it refused or unconfirmed", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a write through the removed node's API did not end")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var svc api.ServiceInfo
	if err := leader.Get(ctx, "/v1/services/intruder", &svc); err == nil {
		t.Fatalf("the removed node's write was committed: %+v", svc.Spec)
	}
}
