package state

import (
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

func TestNodeRestartingAndBack(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: testNode("n2", "node-2")})
	v := h.ok(api.CmdNodeRestarting, api.NodeRestartingPayload{NodeID: "n2", Grace: time.Minute}).(*api.Node)
	if v.Status != api.NodeRestarting || !v.RestartBy.Equal(h.now.Add(time.Minute)) {
		t.Fatalf("after restarting: status %s, restart by %v (now %v)", v.Status, v.RestartBy, h.now)
	}
	back := testNode("n2", "node-2")
	back.Protocol = api.ProtocolVersion
	v = h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: back}).(*api.Node)
	if v.Status != api.NodeReady || !v.RestartBy.IsZero() || v.Protocol != api.ProtocolVersion {
		t.Fatalf("after registering again: status %s, restart by %v, protocol %d", v.Status, v.RestartBy, v.Protocol)
	}
}

func TestNodeRestartingRefused(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: testNode("n2", "node-2")})
	h.fails(api.CmdNodeRestarting, api.CodeInvalid, api.NodeRestartingPayload{NodeID: "n2"})
	h.fails(api.CmdNodeRestarting, api.CodeInvalid, api.NodeRestartingPayload{NodeID: "n2", Grace: 25 * time.Hour})
	h.fails(api.CmdNodeRestarting, api.CodeNotFound, api.NodeRestartingPayload{NodeID: "nx", Grace: time.Minute})
	h.ok(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "n2", Status: api.NodeDown})
	h.fails(api.CmdNodeRestarting, api.CodeConflict, api.NodeRestartingPayload{NodeID: "n2", Grace: time.Minute})
}

func TestSetStatusEndsRestart(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: testNode("n2", "node-2")})
	h.ok(api.CmdNodeRestarting, api.NodeRestartingPayload{NodeID: "n2", Grace: time.Minute})
	v := h.ok(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "n2", Status: api.NodeDown}).(*api.Node)
	if v.Status != api.NodeDown || !v.RestartBy.IsZero() {
		t.Fatalf("status %s, restart by %v", v.Status, v.RestartBy)
	}
}

// TestUnknownCommandHalts: a well-formed command this build does not know
// stops the replica through the halt hook; garbage does not.
func TestUnknownCommandHalts(t *testing.T) {
	h := bootstrapped(t)
	var halted []string
	h.fsm.SetHalt(func(index uint64, err error) { halted = append(halted, err.Error()) })

	h.raw([]byte("not json"))
	h.raw(encode(t, "node.fromTheFuture", "", h.now, struct{}{}))
	newer := encode(t, api.CmdRegisterNode, "", h.now, api.RegisterNodePayload{Node: testNode("n9", "n9")})
	newer = []byte(strings.Replace(string(newer), `"v":1`, `"v":99`, 1))
	h.raw(newer)
	if len(halted) != 2 || !strings.Contains(halted[0], `"node.fromTheFuture"`) || !strings.Contains(halted[1], "encoding 99") {
		t.Fatalf("halts = %q, want the unknown type and the newer encoding", halted)
	}
	if _, ok := h.fsm.store.Node("n9"); ok {
		t.Fatal("a command of a newer encoding was applied")
	}
}

// TestUnknownCommandWithoutHalt keeps the old answer when no halt hook is
// set (fuzzing, tools).
func TestUnknownCommandWithoutHalt(t *testing.T) {
	f := NewFSM(NewStore())
	res := f.Apply(Entry{Index: 1, Data: encode(t, "x.y", "", t0, struct{}{})})
	if res.Err == nil || res.Err.Code != api.CodeInvalid {
		t.Fatalf("result %+v, want an invalid error", res)
	}
}
