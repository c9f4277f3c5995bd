package node

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/p2p"
)

// deleteNode calls DELETE /v1/nodes/{name} on a's API socket and returns
// the API error, if any.
func deleteNode(t *testing.T, a *Agent, name string, force bool) error {
	t.Helper()
	url := "http://localhost/v1/nodes/" + name
	if force {
		url += "?force=true"
	}
	req, _ := http.NewRequest(http.MethodDelete, url, nil)
	resp, err := socketClient(a).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var e api.ErrorResponse
	json.NewDecoder(resp.Body).Decode(&e)
	if e.Error == nil {
		t.Fatalf("DELETE %s: status %d without an error", url, resp.StatusCode)
	}
	return e.Error
}

// TestForcedRemovalCutsARunningVoterOff removes a running voter with
// force, through a member that does not lead: the leader takes it out of
// the Raft configuration, its record goes and its peer ID is denied on
// every replica, the others close their connections to it and refuse new
// ones, it can reach neither the RPC nor gossip, and it cannot join again
// with its identity, even with the current token. An up node without
// force, and the leader, are refused with one line that says what to do.
func TestForcedRemovalCutsARunningVoterOff(t *testing.T) {
	c1 := testAgentConfig(t, "n1")
	c1.Bootstrap = true
	var log1 syncBuffer
	a1, err := New(c1, slog.New(slog.NewTextHandler(&log1, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a1.close)
	agents := []*Agent{a1}
	for _, name := range []string{"n2", "n3"} {
		c := testAgentConfig(t, name)
		c.Join, c.Token = a1.host.Addr(), a1.Token()
		agents = append(agents, startTestAgent(t, c))
	}
	a2, a3 := agents[1], agents[2]
	eventually(t, 20*time.Second, "3 voters", func() bool { return voterCount(a1) == 3 })

	err = deleteNode(t, a2, "n3", false)
	if api.CodeOf(err) != api.CodeConflict || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("removal of an up node without force: %v, want a conflict that suggests --force", err)
	}
	err = deleteNode(t, a2, "n1", true)
	if api.CodeOf(err) != api.CodeConflict || !strings.Contains(err.Error(), "transfer-leadership") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("forced removal of the leader: %v, want one line that says to transfer leadership", err)
	}
	if err := deleteNode(t, a2, "n2", true); api.CodeOf(err) != api.CodeConflict || !strings.Contains(err.Error(), "another node") {
		t.Fatalf("forced removal of the node answering: %v, want a conflict that says to use another node", err)
	}
	record, _ := a1.store().Node(a3.ID())

	began := time.Now()
	if err := deleteNode(t, a2, "n3", true); err != nil {
		t.Fatalf("forced removal: %v", err)
	}
	for _, a := range agents[:2] {
		if _, ok := a.store().Node(a3.ID()); ok || !a.denied(a3.ID()) {
			t.Fatalf("%s after the removal: record kept %v, denied %v", a.cfg.Name, ok, a.denied(a3.ID()))
		}
	}
	servers, _ := a1.cons.Servers()
	for _, s := range servers {
		if s.ID == a3.ID() {
			t.Fatal("n3 is still in the Raft configuration")
		}
	}
	n3 := a3.host.ID()
	eventually(t, 5*time.Second, "n1 and n2 to close their connections to n3", func() bool {
		return a1.host.LibP2P().Network().Connectedness(n3) != network.Connected &&
			a2.host.LibP2P().Network().Connectedness(n3) != network.Connected
	})
	t.Logf("n3 cut off %v after the forced removal began", time.Since(began))
	// n3 may close its side first (it learns of its removal too), so the
	// leader's own log line can follow the disconnection.
	eventually(t, 5*time.Second, "the leader to log that it cut n3 off", func() bool {
		return strings.Contains(log1.String(), "cut off removed node n3")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var lr leaderReply
	if err := a3.call(ctx, a1.host.ID(), rpcLeader, struct{}{}, &lr); err == nil {
		t.Fatal("removed n3 still reaches n1's RPC")
	}
	for _, m := range a1.gossip.Members() {
		if m.Meta.NodeID == a3.ID() {
			t.Fatalf("n1 still lists removed n3 in gossip: %+v", m)
		}
	}

	// n3's identity, stopped and trying a join with the current token.
	a3.close()
	var tok api.TokenResponse
	if err := getJSON(a1, "/v1/token", &tok); err != nil {
		t.Fatal(err)
	}
	h, err := p2p.NewHost(p2p.Config{Key: a3.key, ListenIP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	jctx, jcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer jcancel()
	_, err = joinCluster(jctx, h, a3.key, a1.host.Addr(), mustParse(t, tok.Token), api.Node{Name: "n3"})
	if err == nil || !strings.Contains(err.Error(), "removed from the cluster") || jctx.Err() != nil {
		t.Fatalf("join with a denied identity: %v, want a prompt error that names the removal", err)
	}
	if _, err := a1.submitPayload(ctx, api.CmdRegisterNode, "", api.RegisterNodePayload{Node: *record}); api.CodeOf(err) != api.CodeForbidden {
		t.Fatalf("the leader registering removed n3 again: %v, want forbidden", err)
	}
	if _, ok := a1.store().Node(n3.String()); ok {
		t.Fatal("removed n3 has a node record again")
	}
}

// syncBuffer is a bytes.Buffer for a logger that several goroutines use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func voterCount(a *Agent) int {
	servers, err := a.cons.Servers()
	if err != nil {
		return 0
	}
	n := 0
	for _, s := range servers {
		if s.Voter {
			n++
		}
	}
	return n
}

// getJSON decodes GET path from a's API socket into v.
func getJSON(a *Agent, path string, v any) error {
	resp, err := socketClient(a).Get("http://localhost" + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// TestStampRemovalGatesDenyAndTokenByProtocol checks the leader stamps a
// removal with deny only when every node speaks protocol 5, and with a
// token nonce only when every node speaks 4: an older node would apply
// the entry without them.
func TestStampRemovalGatesDenyAndTokenByProtocol(t *testing.T) {
	at := func(protocols ...int) []*api.Node {
		var nodes []*api.Node
		for i, p := range protocols {
			nodes = append(nodes, &api.Node{Name: string(rune('a' + i)), Protocol: p})
		}
		return nodes
	}
	for _, c := range []struct {
		nodes       []*api.Node
		deny, token bool
	}{
		{at(api.ProtocolVersion, api.ProtocolVersion), true, true},
		{at(api.ProtocolVersion, 4), false, true},
		{at(api.ProtocolVersion, 3), false, false},
		{at(api.ProtocolVersion, 0), false, false},
	} {
		p := stampRemoval(api.RemoveNodePayload{NodeID: "x"}, c.nodes)
		if p.NodeID != "x" || p.Deny != c.deny || (len(p.TokenNonce) > 0) != c.token {
			t.Errorf("protocols %v: stamped %+v, want deny %v, token %v", protocolsOf(c.nodes), p, c.deny, c.token)
		}
		cmd := api.Command{Type: api.CmdRemoveNode}
		cmd.Payload, _ = json.Marshal(p)
		if err := api.CheckProtocol(cmd, c.nodes); err != nil {
			t.Errorf("protocols %v: the stamped removal is refused: %v", protocolsOf(c.nodes), err)
		}
	}
}

func protocolsOf(nodes []*api.Node) []int {
	var out []int
	for _, n := range nodes {
		out = append(out, n.Protocol)
	}
	return out
}
