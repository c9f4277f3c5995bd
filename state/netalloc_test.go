package state

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// netNode is a node of the current protocol, as a CIDR cluster requires.
func netNode(id, name string) api.Node {
	n := testNode(id, name)
	n.Protocol = api.ProtocolVersion
	return n
}

func netCluster(t *testing.T, cidr string) *harness {
	h := newHarness(t)
	c := testCluster()
	c.CIDR = cidr
	h.ok(api.CmdBootstrap, api.BootstrapPayload{Cluster: c, Node: netNode("n1", "node-1")})
	return h
}

func subnetOf(t *testing.T, h *harness, id string) string {
	t.Helper()
	n, ok := h.fsm.store.Node(id)
	if !ok {
		t.Fatalf("node %s not found", id)
	}
	return n.Subnet
}

func TestSubnetsLowestFreeKeptAndFreed(t *testing.T) {
	h := netCluster(t, "10.42.0.0/16")
	if got := subnetOf(t, h, "n1"); got != "10.42.0.0/24" {
		t.Fatalf("bootstrap node subnet = %q", got)
	}
	for i := 2; i <= 4; i++ {
		h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: netNode(fmt.Sprint("n", i), fmt.Sprint("node-", i))})
	}
	if got := subnetOf(t, h, "n3"); got != "10.42.2.0/24" {
		t.Fatalf("n3 subnet = %q", got)
	}
	// A payload's subnet is ignored, and re-registering keeps the subnet.
	n := netNode("n3", "node-3")
	n.Subnet = "10.42.200.0/24"
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: n})
	if got := subnetOf(t, h, "n3"); got != "10.42.2.0/24" {
		t.Fatalf("re-registered n3 subnet = %q", got)
	}
	h.ok(api.CmdRemoveNode, api.RemoveNodePayload{NodeID: "n2"})
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: netNode("n5", "node-5")})
	if got := subnetOf(t, h, "n5"); got != "10.42.1.0/24" {
		t.Fatalf("n5 after n2's removal = %q, want n2's freed 10.42.1.0/24", got)
	}
	// A down node replaced by name frees its subnet for the newcomer.
	h.ok(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "n4", Status: api.NodeDown})
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: netNode("n9", "node-4")})
	if got := subnetOf(t, h, "n9"); got != "10.42.3.0/24" {
		t.Fatalf("n9 replacing node-4 = %q", got)
	}
}

func TestSubnetsFullCIDRRefusesRegistration(t *testing.T) {
	h := netCluster(t, "10.9.0.0/22") // four /24s
	for i := 2; i <= 4; i++ {
		h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: netNode(fmt.Sprint("n", i), fmt.Sprint("node-", i))})
	}
	err := h.fails(api.CmdRegisterNode, api.CodeConflict, api.RegisterNodePayload{Node: netNode("n5", "node-5")})
	if !strings.Contains(err.Message, "10.9.0.0/22 is full") {
		t.Fatalf("full CIDR error: %v", err)
	}
	if _, ok := h.fsm.store.Node("n5"); ok {
		t.Fatal("a refused node was stored")
	}
}

func TestSubnetsOnlyInClustersWithCIDR(t *testing.T) {
	h := bootstrapped(t) // no CIDR, nodes of protocol 1
	if got := subnetOf(t, h, "n2"); got != "" {
		t.Fatalf("cluster without a CIDR allocated %q", got)
	}
	h = netCluster(t, "10.42.0.0/16")
	err := h.fails(api.CmdRegisterNode, api.CodeConflict, api.RegisterNodePayload{Node: testNode("old", "old-build")})
	if !strings.Contains(err.Message, "protocol 1") {
		t.Fatalf("old node: %v", err)
	}
	nh := newHarness(t)
	c := testCluster()
	c.CIDR = "127.0.0.0/16"
	nh.fails(api.CmdBootstrap, api.CodeInvalid, api.BootstrapPayload{Cluster: c, Node: netNode("n1", "node-1")})
}

// TestSubnetsDeterministic: two replicas applying the same entries hold
// byte-identical state, subnets included.
func TestSubnetsDeterministic(t *testing.T) {
	a, b := netCluster(t, "10.42.0.0/16"), netCluster(t, "10.42.0.0/16")
	for _, h := range []*harness{a, b} {
		for i := 2; i <= 6; i++ {
			h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: netNode(fmt.Sprint("n", i), fmt.Sprint("node-", i))})
		}
		h.ok(api.CmdRemoveNode, api.RemoveNodePayload{NodeID: "n3"})
		h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: netNode("n7", "node-7")})
	}
	if !bytes.Equal(snapshotBytes(t, a.fsm), snapshotBytes(t, b.fsm)) {
		t.Fatal("replicas differ")
	}
	if got := subnetOf(t, a, "n7"); got != "10.42.2.0/24" {
		t.Fatalf("n7 = %q", got)
	}
}
