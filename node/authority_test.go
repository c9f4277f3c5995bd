package node

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// TestAuthorizeProposal checks the sender rules of forwarded proposals.
func TestAuthorizeProposal(t *testing.T) {
	h := &fakeReconcileHost{t: t, fsm: state.NewFSM(state.NewStore())}
	h.apply(api.CmdBootstrap, api.BootstrapPayload{Cluster: *joinTestCluster(), Node: api.Node{ID: "n1", Name: "n1"}})
	h.apply(api.CmdRegisterNode, api.RegisterNodePayload{Node: api.Node{ID: "n2", Name: "n2"}})
	operatorSecret, readerSecret := api.NewAPIToken(), api.NewAPIToken()
	h.apply(api.CmdCreateACLToken, api.CreateACLTokenPayload{TokenID: "t1", Name: "ci", Role: api.ACLOperator, SecretHash: api.SecretHash(operatorSecret)})
	h.apply(api.CmdCreateACLToken, api.CreateACLTokenPayload{TokenID: "t2", Name: "viewer", Role: api.ACLReadOnly, SecretHash: api.SecretHash(readerSecret)})
	v := h.fsm.Store().View()
	cmd := func(typ api.CommandType, p any) api.Command {
		raw, _ := json.Marshal(p)
		return api.Command{Type: typ, Payload: raw}
	}
	cases := []struct {
		name  string
		from  string
		cmd   api.Command
		ok    bool
		voter bool
		token string
	}{
		{name: "own report", from: "n2", cmd: cmd(api.CmdReportTaskStatus, api.ReportTaskStatusPayload{NodeID: "n2"}), ok: true},
		{name: "report for another node", from: "n2", cmd: cmd(api.CmdReportTaskStatus, api.ReportTaskStatusPayload{NodeID: "n1"}), ok: false},
		{name: "images for another node", from: "n2", cmd: cmd(api.CmdReportImages, api.ReportImagesPayload{NodeID: "n1"}), ok: false},
		{name: "own images", from: "n2", cmd: cmd(api.CmdReportImages, api.ReportImagesPayload{NodeID: "n2"}), ok: true},
		{name: "restart of another node", from: "n2", cmd: cmd(api.CmdNodeRestarting, api.NodeRestartingPayload{NodeID: "n1"}), ok: false},
		{name: "own restart", from: "n2", cmd: cmd(api.CmdNodeRestarting, api.NodeRestartingPayload{NodeID: "n2"}), ok: true},
		{name: "re-register self", from: "n2", cmd: cmd(api.CmdRegisterNode, api.RegisterNodePayload{Node: api.Node{ID: "n2", Name: "n2"}}), ok: true},
		{name: "re-register another node", from: "n2", cmd: cmd(api.CmdRegisterNode, api.RegisterNodePayload{Node: api.Node{ID: "n1", Name: "n1", P2PAddr: "6.6.6.6:1"}}), ok: false},
		{name: "register a joiner", from: "n2", cmd: cmd(api.CmdRegisterNode, api.RegisterNodePayload{Node: api.Node{ID: "n3", Name: "n3"}}), ok: true},
		{name: "task write", from: "n2", cmd: cmd(api.CmdWriteTasks, api.WriteTasksPayload{}), ok: false},
		{name: "node status", from: "n2", cmd: cmd(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "n1", Status: api.NodeDown}), ok: false},
		{name: "raft roles", from: "n2", cmd: cmd(api.CmdSetRaftRoles, struct{}{}), ok: false},
		{name: "bootstrap", from: "n2", cmd: cmd(api.CmdBootstrap, struct{}{}), ok: false},
		{name: "a user's service create from a voter", from: "n2", cmd: cmd(api.CmdCreateService, api.CreateServicePayload{}), ok: true, voter: true},
		{name: "a user's node update from a voter", from: "n2", cmd: cmd(api.CmdUpdateNode, api.UpdateNodePayload{NodeID: "n1"}), ok: true, voter: true},
		{name: "a service create from a plain member, no token", from: "n2", cmd: cmd(api.CmdCreateService, api.CreateServicePayload{})},
		{name: "a service create from a plain member with an operator token", from: "n2", cmd: cmd(api.CmdCreateService, api.CreateServicePayload{}), ok: true, token: operatorSecret},
		{name: "a service create with a read-only token", from: "n2", cmd: cmd(api.CmdCreateService, api.CreateServicePayload{}), voter: true, token: readerSecret},
		{name: "a token rotation with an operator token", from: "n2", cmd: cmd(api.CmdRotateToken, api.RotateTokenPayload{}), token: operatorSecret},
		{name: "an ACL token from a plain member", from: "n2", cmd: cmd(api.CmdCreateACLToken, api.CreateACLTokenPayload{})},
	}
	for _, c := range cases {
		err := authorizeProposal(proposal{From: c.from, FromVoter: c.voter, APIToken: c.token, Cmd: c.cmd, Now: time.Now()}, v)
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case !c.ok && (err == nil || api.CodeOf(err) != api.CodeForbidden):
			t.Errorf("%s: %v, want forbidden", c.name, err)
		}
	}
	// An unknown token is unauthenticated, whoever forwards it.
	err := authorizeProposal(proposal{From: "n2", FromVoter: true, APIToken: api.NewAPIToken(), Cmd: cmd(api.CmdCreateService, api.CreateServicePayload{}), Now: time.Now()}, v)
	if api.CodeOf(err) != api.CodeUnauthorized {
		t.Errorf("unknown token: %v, want unauthorized", err)
	}
}
