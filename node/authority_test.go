package node

import (
	"encoding/json"
	"testing"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// TestAuthorizeProposal checks the sender rules of forwarded proposals.
func TestAuthorizeProposal(t *testing.T) {
	h := &fakeReconcileHost{t: t, fsm: state.NewFSM(state.NewStore())}
	h.apply(api.CmdBootstrap, api.BootstrapPayload{Cluster: *joinTestCluster(), Node: api.Node{ID: "n1", Name: "n1"}})
	h.apply(api.CmdRegisterNode, api.RegisterNodePayload{Node: api.Node{ID: "n2", Name: "n2"}})
	v := h.fsm.Store().View()
	cmd := func(typ api.CommandType, p any) api.Command {
		raw, _ := json.Marshal(p)
		return api.Command{Type: typ, Payload: raw}
	}
	cases := []struct {
		name string
		from string
		cmd  api.Command
		ok   bool
	}{
		{"own report", "n2", cmd(api.CmdReportTaskStatus, api.ReportTaskStatusPayload{NodeID: "n2"}), true},
		{"report for another node", "n2", cmd(api.CmdReportTaskStatus, api.ReportTaskStatusPayload{NodeID: "n1"}), false},
		{"images for another node", "n2", cmd(api.CmdReportImages, api.ReportImagesPayload{NodeID: "n1"}), false},
		{"own images", "n2", cmd(api.CmdReportImages, api.ReportImagesPayload{NodeID: "n2"}), true},
		{"restart of another node", "n2", cmd(api.CmdNodeRestarting, api.NodeRestartingPayload{NodeID: "n1"}), false},
		{"own restart", "n2", cmd(api.CmdNodeRestarting, api.NodeRestartingPayload{NodeID: "n2"}), true},
		{"re-register self", "n2", cmd(api.CmdRegisterNode, api.RegisterNodePayload{Node: api.Node{ID: "n2", Name: "n2"}}), true},
		{"re-register another node", "n2", cmd(api.CmdRegisterNode, api.RegisterNodePayload{Node: api.Node{ID: "n1", Name: "n1", P2PAddr: "6.6.6.6:1"}}), false},
		{"register a joiner", "n2", cmd(api.CmdRegisterNode, api.RegisterNodePayload{Node: api.Node{ID: "n3", Name: "n3"}}), true},
		{"task write", "n2", cmd(api.CmdWriteTasks, api.WriteTasksPayload{}), false},
		{"node status", "n2", cmd(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "n1", Status: api.NodeDown}), false},
		{"raft roles", "n2", cmd(api.CmdSetRaftRoles, struct{}{}), false},
		{"bootstrap", "n2", cmd(api.CmdBootstrap, struct{}{}), false},
		{"a user's service create", "n2", cmd(api.CmdCreateService, api.CreateServicePayload{}), true},
		{"a user's node update", "n2", cmd(api.CmdUpdateNode, api.UpdateNodePayload{NodeID: "n1"}), true},
	}
	for _, c := range cases {
		err := authorizeProposal(c.from, c.cmd, v)
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case !c.ok && (err == nil || api.CodeOf(err) != api.CodeForbidden):
			t.Errorf("%s: %v, want forbidden", c.name, err)
		}
	}
}
