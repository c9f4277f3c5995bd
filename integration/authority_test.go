package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
	"github.com/shoal-project/shoal/node"
	"github.com/shoal-project/shoal/node/simnode"
)

// TestMemberSpeaksOnlyForItself plays a member that joined with the token
// and proposes over the node RPC what only the leader or another node may:
// n2's task reported failed, every task lowered to shutdown, n1 marked
// down, n1's record re-registered at the attacker's address, and user
// writes (a service, a removal, an admin API token) without a token.
// Each is refused as forbidden, and the tasks keep running where they
// were.
func TestMemberSpeaksOnlyForItself(t *testing.T) {
	c := startCluster(t, 2, "--runtime", "process")
	if out, err := c.agents[0].CLI("service", "create", "victim", "--replicas", "2", "--max-per-node", "1", "--", "/bin/sleep", "1000"); err != nil {
		t.Fatalf("create: %v: %s", err, out)
	}
	var before []api.TaskInfo
	harness.WaitFor(t, 20*time.Second, "2 tasks running", func() (bool, string) {
		before, _ = tasks(c.agents[0], "victim")
		return len(runningByNode(before)) == 2, fmt.Sprint(runningByNode(before))
	})
	var n1, n2 api.NodeInfo
	if err := c.agents[0].get("/v1/nodes/n1", &n1); err != nil {
		t.Fatal(err)
	}
	if err := c.agents[0].get("/v1/nodes/n2", &n2); err != nil {
		t.Fatal(err)
	}
	var onN2 api.TaskInfo
	for _, ts := range before {
		if ts.NodeName == "n2" {
			onN2 = ts
		}
	}
	tok, err := node.ParseJoinToken(c.token)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rogue, err := simnode.Start(ctx, simnode.Config{Name: "rogue", IP: "127.0.0.1", P2PPort: harness.FreePort(t), GossipPort: harness.FreePort(t),
		Seeds: []simnode.Seed{{P2PAddr: c.agents[0].P2PAddr(), GossipAddr: fmt.Sprintf("127.0.0.1:%d", c.agents[0].GossipPort)}}, Token: tok})
	if err != nil {
		t.Fatalf("the rogue member could not join: %v", err)
	}
	defer rogue.Kill()
	command := func(typ api.CommandType, p any) api.Command {
		raw, _ := json.Marshal(p)
		return api.Command{Version: api.CommandVersion, Type: typ, RequestID: api.NewRequestID(), Payload: raw}
	}
	hijacked := n1.Node
	hijacked.P2PAddr = "127.0.0.1:1"
	forged := []struct {
		name string
		cmd  api.Command
	}{
		{"n2's task reported failed", command(api.CmdReportTaskStatus, api.ReportTaskStatusPayload{NodeID: n2.ID,
			Updates: []api.TaskStatusUpdate{{TaskID: onN2.ID, Status: api.TaskStatus{State: api.TaskFailed, Err: "forged"}}}})},
		{"every task lowered", command(api.CmdWriteTasks, api.WriteTasksPayload{Desire: []api.TaskDesire{
			{TaskID: before[0].ID, DesiredState: api.TaskShutdown}, {TaskID: before[1].ID, DesiredState: api.TaskShutdown}}})},
		{"n1 marked down", command(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: n1.ID, Status: api.NodeDown})},
		{"n1 re-registered elsewhere", command(api.CmdRegisterNode, api.RegisterNodePayload{Node: hijacked})},
		// User writes need a voter's API or the caller's API token.
		{"a service created by a plain member", command(api.CmdCreateService, api.CreateServicePayload{Spec: api.ServiceSpec{Name: "rogue", Replicas: 1, Command: []string{"/bin/true"}}})},
		{"the victim removed by a plain member", command(api.CmdRemoveService, api.RemoveServicePayload{Name: "victim"})},
		{"an admin API token minted by a plain member", command(api.CmdCreateACLToken, api.CreateACLTokenPayload{Name: "rogue", Role: api.ACLAdmin, SecretHash: api.SecretHash(api.NewAPIToken())})},
	}
	for _, f := range forged {
		err := rogue.Propose(f.cmd)
		if api.CodeOf(err) != api.CodeForbidden || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line, forbidden", f.name, err)
		}
	}
	after, err := tasks(c.agents[0], "victim")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(runningByNode(after)) != fmt.Sprint(runningByNode(before)) || len(after) != len(before) {
		t.Fatalf("tasks changed: before %v, after %v", runningByNode(before), runningByNode(after))
	}
	if err := c.agents[0].get("/v1/nodes/n1", &n1); err != nil || n1.P2PAddr == "127.0.0.1:1" || n1.Status != api.NodeReady {
		t.Fatalf("n1 after the forgeries: %+v %v", n1.Node, err)
	}
}

// TestNodeRemovalRotatesToken removes a dead node and checks the token it
// joined with admits nobody any more: a removed node may have kept it.
func TestNodeRemovalRotatesToken(t *testing.T) {
	c := startCluster(t, 3)
	old := c.token
	gone := c.agents[2]
	gone.Kill()
	harness.WaitFor(t, 20*time.Second, "n3 down", func() (bool, string) {
		var n api.NodeInfo
		c.agents[0].get("/v1/nodes/n3", &n)
		return n.Status == api.NodeDown, string(n.Status)
	})
	if out, err := c.agents[1].CLI("node", "rm", "n3"); err != nil {
		t.Fatalf("node rm: %v: %s", err, out)
	}
	show, err := c.agents[0].CLI("token", "show", "-q")
	if err != nil || strings.TrimSpace(show) == old || !strings.HasPrefix(strings.TrimSpace(show), "SHOAL-1-") {
		t.Fatalf("token after the removal: %q %v, want a new one", show, err)
	}
	again := newAgent(t, "n4")
	again.Start("--join", c.agents[0].P2PAddr(), "--token", old)
	code, exited := again.ExitCode(30 * time.Second)
	if !exited || code != 1 || !strings.Contains(again.Output(), "join token rejected") {
		t.Fatalf("join with the token from before the removal: exited=%v code=%d\n%s", exited, code, again.Output())
	}
}
