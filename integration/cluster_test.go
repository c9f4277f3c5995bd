package integration

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// TestLeaderFailover: a 3-node cluster elects a leader; after kill -9 of
// the leader, the other two elect a new one that accepts writes.
func TestLeaderFailover(t *testing.T) {
	c := startCluster(t, 3)
	waitVoters(t, c.agents[0], 3)
	old := c.leader()
	old.Kill()
	survivor := c.anyRunning(old)
	harness.WaitFor(t, 15*time.Second, "a new leader", func() (bool, string) {
		st, err := survivor.status()
		if err != nil {
			return false, err.Error()
		}
		return st.Leader != "" && st.Leader != old.Name, "leader=" + st.Leader
	})
	var info api.NodeInfo
	if err := survivor.post("/v1/nodes/"+survivor.Name, api.NodeUpdateRequest{LabelAdd: map[string]string{"after": "failover"}}, &info); err != nil {
		t.Fatalf("write after failover: %v", err)
	}
	if info.Labels["after"] != "failover" {
		t.Fatalf("label not applied: %+v", info.Labels)
	}
}

// waitVoters waits until the cluster reports n voters.
func waitVoters(t testing.TB, a *agentProc, n int) {
	t.Helper()
	harness.WaitFor(t, 30*time.Second, fmt.Sprintf("%d voters", n), func() (bool, string) {
		st, err := a.status()
		if err != nil {
			return false, err.Error()
		}
		return len(st.Voters) == n, fmt.Sprintf("voters=%v nonvoters=%v", st.Voters, st.Nonvoters)
	})
}

// TestJoinAndTokenRotation: a node joins with the token and becomes a
// member; after rotation the old token is refused with a clear message and
// exit code 1, and the new one works.
func TestJoinAndTokenRotation(t *testing.T) {
	c := startCluster(t, 2)
	first := c.agents[0]
	out, err := first.CLI("token", "rotate", "-q")
	if err != nil {
		t.Fatalf("token rotate: %v: %s", err, out)
	}
	newTok := strings.TrimSpace(out)
	if newTok == c.token || !strings.HasPrefix(newTok, "SHOAL-1-") {
		t.Fatalf("rotate gave %q", newTok)
	}
	if show, _ := first.CLI("token", "show", "-q"); strings.TrimSpace(show) != newTok {
		t.Fatalf("token show = %q, want the rotated token", show)
	}
	refused := newAgent(t, "n3")
	refused.Start("--join", c.agents[1].P2PAddr(), "--token", c.token)
	code, exited := refused.ExitCode(30 * time.Second)
	if !exited || code != 1 {
		t.Fatalf("join with a rotated token: exited=%v code=%d; output:\n%s", exited, code, refused.Output())
	}
	if o := refused.Output(); !strings.Contains(o, "join token rejected") || strings.Contains(o, "goroutine") {
		t.Fatalf("unclear refusal:\n%s", o)
	}
	joined := newAgent(t, "n3b")
	joined.Start("--join", c.agents[1].P2PAddr(), "--token", newTok)
	c.agents = append(c.agents, joined)
	c.waitMembers(3)
	// Existing members stayed.
	var nodes []api.NodeInfo
	if err := first.get("/v1/nodes", &nodes); err != nil || len(nodes) != 3 {
		t.Fatalf("nodes after rotation: %v %d", err, len(nodes))
	}
}

// TestRestartWholeCluster: after every node is killed and restarted on its
// data dir (without --join), the same cluster comes back with its state.
func TestRestartWholeCluster(t *testing.T) {
	c := startCluster(t, 3)
	waitVoters(t, c.agents[0], 3)
	before, err := c.agents[0].status()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.agents[1].post("/v1/nodes/n3", api.NodeUpdateRequest{LabelAdd: map[string]string{"zone": "b"}}, nil); err != nil {
		t.Fatal(err)
	}
	for _, a := range c.agents {
		a.Kill()
	}
	for _, a := range c.agents {
		a.Start()
	}
	c.waitMembers(3)
	l := c.leader()
	after, err := l.status()
	if err != nil {
		t.Fatal(err)
	}
	if after.ClusterID != before.ClusterID {
		t.Fatalf("cluster id changed: %s → %s", before.ClusterID, after.ClusterID)
	}
	var n3 api.NodeInfo
	if err := c.agents[0].get("/v1/nodes/n3", &n3); err != nil || n3.Labels["zone"] != "b" {
		t.Fatalf("label lost across restart: %v %+v", err, n3.Labels)
	}
}

// TestDeadVoterReplaced: in a 5-node cluster with 3 voters, a killed voter
// is replaced by a member, and there are 3 voters again, none of them dead.
func TestDeadVoterReplaced(t *testing.T) {
	c := startCluster(t, 5)
	waitVoters(t, c.agents[0], 3)
	st, _ := c.agents[0].status()
	if len(st.Members) != 5 {
		t.Fatalf("members = %v", st.Members)
	}
	leader := c.leader()
	var victim *agentProc
	for _, v := range st.Voters {
		if v != leader.Name {
			victim = c.byName(v)
			break
		}
	}
	victim.Kill()
	harness.WaitFor(t, 30*time.Second, "the dead voter replaced", func() (bool, string) {
		st, err := leader.status()
		if err != nil {
			return false, err.Error()
		}
		for _, v := range st.Voters {
			if v == victim.Name {
				return false, fmt.Sprintf("voters=%v", st.Voters)
			}
		}
		return len(st.Voters) == 3, fmt.Sprintf("voters=%v", st.Voters)
	})
	// A plain member serves reads and knows the roles too.
	for _, a := range c.agents {
		if !a.Running() {
			continue
		}
		var nodes []api.NodeInfo
		if err := a.get("/v1/nodes", &nodes); err != nil {
			t.Fatal(err)
		}
		roles := map[api.Role]int{}
		for _, n := range nodes {
			roles[n.Role]++
		}
		if roles[api.RoleLeader] != 1 {
			t.Errorf("%s sees roles %v", a.Name, roles)
		}
	}
}

// TestBadInputExitsWithOneLine: bad flags, TOML, data dirs and tokens give
// one line naming the problem and exit code 1, never a panic.
func TestBadInputExitsWithOneLine(t *testing.T) {
	dir := t.TempDir()
	badToml := dir + "/bad.toml"
	os.WriteFile(badToml, []byte("data_dir = \"/tmp/x\"\nreplicas = 3\n"), 0o600)
	readOnly := dir + "/ro"
	os.MkdirAll(readOnly, 0o500)
	os.WriteFile(readOnly+"/file", nil, 0o600)
	// A port another process listens on (on every address, as the agent
	// binds by default).
	busy, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"agent", "--config", badToml}, `unknown key "replicas"`},
		{[]string{"agent", "--data-dir", dir + "/a", "--p2p-port", "70000", "--bootstrap"}, "p2p port: 70000"},
		{[]string{"agent", "--data-dir", readOnly + "/file/sub", "--bootstrap"}, "data dir"},
		{[]string{"agent", "--data-dir", dir + "/b", "--join", "127.0.0.1:1", "--token", "SHOAL-1-nope"}, "not a Shoal join token"},
		{[]string{"agent", "--data-dir", dir + "/c"}, "holds no cluster"},
		{[]string{"agent", "--data-dir", dir + "/d", "--bootstrap", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"agent", "--data-dir", dir + "/e", "--bootstrap", "--p2p-port", busyPort, "--gossip-port", "0", "--api-addr", "127.0.0.1:0"}, "p2p port " + busyPort + ": "},
		{[]string{"agent", "--data-dir", dir + "/f", "--bootstrap", "--log-level", "loud"}, `log level: "loud"`},
		{[]string{"agent", "--data-dir", dir + "/g", "--bootstrap", "--log-format", "xml"}, `log format: "xml"`},
	}
	for _, tc := range cases {
		p := newAgent(t, "bad")
		p.Args = tc.args
		p.Start()
		code, exited := p.ExitCode(20 * time.Second)
		out := strings.TrimSpace(p.Output())
		if !exited || code == 0 {
			t.Errorf("%v: exited=%v code=%d", tc.args, exited, code)
			continue
		}
		if !strings.Contains(out, tc.want) || strings.Count(out, "\n") > 0 || strings.Contains(out, "goroutine") {
			t.Errorf("%v: want one line containing %q, got:\n%s", tc.args, tc.want, out)
		}
	}
}

// TestDataDirOfAnotherCluster: a data dir that belongs to one cluster is
// refused when told to join another.
func TestDataDirOfAnotherCluster(t *testing.T) {
	a := startCluster(t, 1)
	b := startCluster(t, 1)
	a.agents[0].stop()
	a.agents[0].Start("--join", b.agents[0].P2PAddr(), "--token", b.token)
	code, exited := a.agents[0].ExitCode(20 * time.Second)
	if !exited || code != 1 || !strings.Contains(a.agents[0].Output(), "belongs to cluster") {
		t.Fatalf("exited=%v code=%d output:\n%s", exited, code, a.agents[0].Output())
	}
}

// TestSigtermHandsOverLeadership: SIGTERM makes the leader hand
// leadership over before it exits 0, and the rest keep a leader.
func TestSigtermHandsOverLeadership(t *testing.T) {
	c := startCluster(t, 3)
	waitVoters(t, c.agents[0], 3)
	leader := c.leader()
	leader.stop()
	if code, _ := leader.ExitCode(time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; output:\n%s", code, leader.Output())
	}
	if !strings.Contains(leader.Output(), "handed leadership over") {
		t.Fatalf("leader did not hand over; output:\n%s", leader.Output())
	}
	next := c.leader()
	if next == leader {
		t.Fatal("the stopped node is still reported as leader")
	}
}

// TestRestartAtNewAddress: a node restarted under the same name on new
// ports is accepted, and its record follows its new address.
func TestRestartAtNewAddress(t *testing.T) {
	c := startCluster(t, 3)
	n3 := c.agents[2]
	n3.Kill()
	old := n3.P2PAddr()
	n3.P2PPort, n3.GossipPort = harness.FreePort(t), harness.FreePort(t)
	for i, a := range n3.Args {
		switch a {
		case "--p2p-port":
			n3.Args[i+1] = fmt.Sprint(n3.P2PPort)
		case "--gossip-port":
			n3.Args[i+1] = fmt.Sprint(n3.GossipPort)
		}
	}
	n3.Start()
	harness.WaitFor(t, 30*time.Second, "n3 ready at its new address", func() (bool, string) {
		var n api.NodeInfo
		if err := c.agents[0].get("/v1/nodes/n3", &n); err != nil {
			return false, err.Error()
		}
		return n.Status == api.NodeReady && n.Address == n3.P2PAddr() && n.Address != old, fmt.Sprintf("%s %s", n.Status, n.Address)
	})
	c.waitMembers(3)
}
