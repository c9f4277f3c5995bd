package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/gossip"
	"github.com/shoal-project/shoal/integration/harness"
)

// savedKeys reads the gossip key and cluster digest a node keeps in its
// data dir.
func savedKeys(t *testing.T, a *agentProc) (gossipKey, digest []byte) {
	t.Helper()
	var s struct {
		GossipKey     []byte `json:"gossip_key"`
		ClusterDigest []byte `json:"cluster_digest"`
	}
	b, err := os.ReadFile(filepath.Join(a.DataDir, "cluster.json"))
	if err != nil || json.Unmarshal(b, &s) != nil {
		t.Fatalf("%s cluster.json: %v", a.Name, err)
	}
	return s.GossipKey, s.ClusterDigest
}

// TestRotateKeys: `cluster rotate-keys` on a running 3-node cluster
// replaces the gossip key, the signing key (and so the CA fingerprint)
// and the join token on every node, with no task restarted; afterwards
// the old join token and a gossip member holding the old key get
// nothing, and the new token admits a node.
func TestRotateKeys(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	waitVoters(t, c.agents[0], 3)
	createService(t, c.agents[0], "web", "--replicas", "3")
	before := taskPIDs(waitRunning(t, c.agents[0], "web", 3, 30*time.Second))
	oldGossip, oldDigest := savedKeys(t, c.agents[0])
	oldFP, _ := c.agents[0].CLI("cluster", "ca", "--fingerprint")
	var clusterID string
	if st, err := c.agents[0].status(); err == nil {
		clusterID = st.ClusterID
	}

	start := time.Now()
	out, err := c.agents[1].CLI("cluster", "rotate-keys")
	if err != nil || !strings.Contains(out, "Keys rotated (install, switch, drop)") || strings.Contains(out, "Not confirmed") {
		t.Fatalf("rotate-keys: %v\n%s", err, out)
	}
	t.Logf("rotate-keys took %s", time.Since(start).Round(time.Millisecond))
	newTok := strings.TrimSpace(out[strings.Index(out, "New join token: ")+len("New join token: "):])
	newTok = newTok[:strings.Index(newTok, "\n")]

	for _, a := range c.agents {
		a := a
		harness.WaitFor(t, 10*time.Second, a.Name+" to save the new keys", func() (bool, string) {
			g, d := savedKeys(t, a)
			return len(g) == 32 && !bytes.Equal(g, oldGossip) && !bytes.Equal(d, oldDigest), ""
		})
	}
	g0, _ := savedKeys(t, c.agents[0])
	for _, a := range c.agents[1:] {
		if g, _ := savedKeys(t, a); !bytes.Equal(g, g0) {
			t.Fatalf("%s saved another gossip key than n1", a.Name)
		}
	}
	if fp, _ := c.agents[0].CLI("cluster", "ca", "--fingerprint"); fp == oldFP || !strings.HasPrefix(fp, "sha256:") {
		t.Fatalf("CA fingerprint %q after rotation, was %q", fp, oldFP)
	}
	c.waitMembers(3)
	if after := taskPIDs(waitRunning(t, c.agents[0], "web", 3, 20*time.Second)); !maps.Equal(before, after) {
		t.Fatalf("tasks restarted across the rotation: %v → %v", before, after)
	}

	// A gossip member that kept the old key gets nothing.
	stale, err := gossip.Start(gossip.Config{Name: "stale", BindIP: "127.0.0.1", Port: harness.FreePort(t), AdvertiseIP: "127.0.0.1",
		SecretKey: oldGossip, Label: "shoal-" + clusterID, Meta: gossip.Meta{NodeID: "stale", ClusterID: clusterID}})
	if err != nil {
		t.Fatal(err)
	}
	defer stale.Shutdown()
	if _, err := stale.Join([]string{fmt.Sprintf("127.0.0.1:%d", c.agents[0].GossipPort)}); err == nil || !strings.Contains(err.Error(), "decrypt") {
		t.Fatalf("a gossip member with the old key: %v, want a decrypt failure", err)
	}

	// The old join token admits nobody; the new one does.
	refused := newAgent(t, "n4")
	refused.Env = append(refused.Env, "SHOAL_JOIN_TOKEN="+c.token)
	refused.Start("--join", c.agents[1].P2PAddr())
	if code, exited := refused.ExitCode(30 * time.Second); !exited || code != 1 {
		t.Fatalf("join with the pre-rotation token: exited=%v code=%d\n%s", exited, code, refused.Output())
	}
	joined := newAgent(t, "n5")
	joined.Env = append(joined.Env, "SHOAL_JOIN_TOKEN="+newTok)
	joined.Start("--join", c.agents[1].P2PAddr())
	c.agents = append(c.agents, joined)
	c.waitMembers(4)
}

// TestNodeAwayDuringRotationCatchesUp: a node that was killed before a
// rotation comes back on its data dir with the old gossip key, catches up
// over libp2p, installs the new keys from the cluster record and is ready
// again.
func TestNodeAwayDuringRotationCatchesUp(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	waitVoters(t, c.agents[0], 3)
	away := c.agents[2]
	oldGossip, _ := savedKeys(t, away)
	away.Kill()
	harness.WaitFor(t, 20*time.Second, "n3 down", func() (bool, string) {
		var n struct {
			Status string `json:"status"`
		}
		err := c.agents[0].get("/v1/nodes/n3", &n)
		return err == nil && n.Status == "down", n.Status
	})
	if out, err := c.agents[0].CLI("cluster", "rotate-keys"); err != nil {
		t.Fatalf("rotate-keys: %v\n%s", err, out)
	}
	start := time.Now()
	away.Start()
	c.waitMembers(3)
	harness.WaitFor(t, 20*time.Second, "n3 to save the new gossip key", func() (bool, string) {
		g, _ := savedKeys(t, away)
		g0, _ := savedKeys(t, c.agents[0])
		return bytes.Equal(g, g0) && !bytes.Equal(g, oldGossip), ""
	})
	t.Logf("n3 ready with the new keys %s after its restart", time.Since(start).Round(time.Millisecond))
}
