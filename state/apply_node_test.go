package state

import (
	"bytes"
	"fmt"
	"maps"
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestRegisterNodeNewAndRefresh(t *testing.T) {
	h := bootstrapped(t)
	joined := h.now
	n := testNode("n3", "node-3")
	n.Labels = map[string]string{"zone": "a"}
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: n})
	h.ok(api.CmdUpdateNode, api.UpdateNodePayload{NodeID: "n3", Availability: api.AvailabilityDrain, LabelAdd: map[string]string{"op": "x"}})
	h.ok(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "n3", Status: api.NodeDown})

	n.P2PAddr, n.Runtimes = "10.0.0.9:7000", []string{"process", "containerd"}
	n.Labels = map[string]string{"zone": "b"}
	n.Resources.NanoCPUs = 8e9
	v := h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: n}).(*api.Node)
	want := map[string]string{"zone": "b", "op": "x"}
	switch {
	case v.P2PAddr != "10.0.0.9:7000" || len(v.Runtimes) != 2 || v.Resources.NanoCPUs != 8e9:
		t.Fatalf("refresh did not update addresses/runtimes/resources: %+v", v)
	case !maps.Equal(v.Labels, want):
		t.Fatalf("labels = %v, want %v", v.Labels, want)
	case v.Availability != api.AvailabilityDrain:
		t.Fatalf("refresh reset availability to %s", v.Availability)
	case v.Status != api.NodeReady:
		t.Fatalf("re-registered node is %s, want ready", v.Status)
	case !v.JoinedAt.Equal(joined.Add(1e6)) || !v.UpdatedAt.Equal(h.now):
		t.Fatalf("joined %v updated %v", v.JoinedAt, v.UpdatedAt)
	}
	if got, _ := h.fsm.store.NodeByName("node-3"); got.ID != "n3" {
		t.Fatal("name index not updated")
	}
}

func TestRegisterNodeNameConflict(t *testing.T) {
	h := bootstrapped(t)
	h.fails(api.CmdRegisterNode, api.CodeConflict, api.RegisterNodePayload{Node: testNode("n9", "node-2")})
	h.ok(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "n2", Status: api.NodeDown})
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: testNode("n9", "node-2")})
	if _, ok := h.fsm.store.Node("n2"); ok {
		t.Fatal("down node with the same name was not replaced")
	}
	if got, ok := h.fsm.store.NodeByName("node-2"); !ok || got.ID != "n9" {
		t.Fatalf("node-2 = %+v", got)
	}
	h.fails(api.CmdRegisterNode, api.CodeInvalid, api.RegisterNodePayload{Node: api.Node{ID: "x"}})
}

func TestSetNodeStatus(t *testing.T) {
	h := bootstrapped(t)
	h.fails(api.CmdSetNodeStatus, api.CodeNotFound, api.SetNodeStatusPayload{NodeID: "nope", Status: api.NodeDown})
	h.fails(api.CmdSetNodeStatus, api.CodeInvalid, api.SetNodeStatusPayload{NodeID: "n1", Status: "asleep"})
	h.ok(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "n1", Status: api.NodeDown})
	if n, _ := h.fsm.store.Node("n1"); n.Status != api.NodeDown || !n.UpdatedAt.Equal(h.now) {
		t.Fatalf("node = %+v", n)
	}
}

func TestUpdateNode(t *testing.T) {
	h := bootstrapped(t)
	h.fails(api.CmdUpdateNode, api.CodeNotFound, api.UpdateNodePayload{NodeID: "nope"})
	h.fails(api.CmdUpdateNode, api.CodeInvalid, api.UpdateNodePayload{NodeID: "n1", Availability: "off"})
	h.fails(api.CmdUpdateNode, api.CodeInvalid, api.UpdateNodePayload{NodeID: "n1", LabelAdd: map[string]string{"": "x"}})
	h.ok(api.CmdUpdateNode, api.UpdateNodePayload{NodeID: "n1", LabelAdd: map[string]string{"a": "1", "b": "2"}})
	before, _ := h.fsm.store.Node("n1")
	h.ok(api.CmdUpdateNode, api.UpdateNodePayload{NodeID: "n1", Availability: api.AvailabilityPause, LabelRemove: []string{"a"}})
	after, _ := h.fsm.store.Node("n1")
	if after.Availability != api.AvailabilityPause || !maps.Equal(after.Labels, map[string]string{"b": "2"}) {
		t.Fatalf("after update: %+v", after)
	}
	if len(before.Labels) != 2 {
		t.Fatal("update mutated a record a reader held")
	}
}

func TestRemoveNode(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdRemoveNode, api.RemoveNodePayload{NodeID: "n2"})
	if _, ok := h.fsm.store.Node("n2"); ok {
		t.Fatal("node still there")
	}
	if _, ok := h.fsm.store.NodeByName("node-2"); ok {
		t.Fatal("name index still there")
	}
	h.fails(api.CmdRemoveNode, api.CodeNotFound, api.RemoveNodePayload{NodeID: "n2"})
}

// TestRemoveNodeRotatesTheToken checks a removal stamped with a nonce
// rotates the join secret, and one without (an older leader) does not.
func TestRemoveNodeRotatesTheToken(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: testNode("n3", "node-3")})
	before, _ := h.fsm.store.Cluster()
	h.ok(api.CmdRemoveNode, api.RemoveNodePayload{NodeID: "n3"})
	if c, _ := h.fsm.store.Cluster(); !bytes.Equal(c.JoinSecretHash, before.JoinSecretHash) {
		t.Fatal("a removal without a nonce rotated the token")
	}
	h.ok(api.CmdRemoveNode, api.RemoveNodePayload{NodeID: "n2", TokenNonce: []byte("after-n2")})
	after, _ := h.fsm.store.Cluster()
	if bytes.Equal(after.JoinSecretHash, before.JoinSecretHash) || !bytes.Equal(after.JoinSecretHash, JoinSecretHash(after.SigningKey, []byte("after-n2"))) {
		t.Fatal("the removal did not rotate the join secret to its nonce")
	}
	if _, ok := h.fsm.store.Node("n2"); ok {
		t.Fatal("node still there")
	}
}

// Labels an operator sets win over the node's config labels when it
// registers again; labels only its config sets follow the config.
func TestOperatorLabelsWinOverConfigLabels(t *testing.T) {
	h := bootstrapped(t)
	n := testNode("n2", "node-2")
	n.Labels = map[string]string{"zone": "a", "disk": "hdd"}
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: n})
	h.ok(api.CmdUpdateNode, api.UpdateNodePayload{NodeID: "n2", LabelAdd: map[string]string{"zone": "b", "rack": "r1"}, OperatorLabels: true})
	n.Labels = map[string]string{"zone": "a", "disk": "ssd"} // the node restarts with its config
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: n})
	got, _ := h.fsm.Store().Node("n2")
	want := map[string]string{"zone": "b", "rack": "r1", "disk": "ssd"}
	if fmt.Sprint(got.Labels) != fmt.Sprint(want) {
		t.Fatalf("labels %v, want %v", got.Labels, want)
	}
	// An update without the stamp (an older leader) records nothing as the
	// operator's: the config wins as before.
	h.ok(api.CmdUpdateNode, api.UpdateNodePayload{NodeID: "n2", LabelAdd: map[string]string{"disk": "nvme"}})
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: n})
	if got, _ := h.fsm.Store().Node("n2"); got.Labels["disk"] != "ssd" {
		t.Fatalf("unstamped update: %v", got.Labels)
	}
	// A node cannot register labels as the operator's.
	forged := testNode("n3", "node-3")
	forged.OperatorLabels = map[string]string{"zone": "x"}
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: forged})
	if got, _ := h.fsm.Store().Node("n3"); got.OperatorLabels != nil {
		t.Fatalf("a node registered operator labels: %v", got.OperatorLabels)
	}
}
