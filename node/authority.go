package node

import (
	"encoding/json"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// Who may propose what through another node's "propose" RPC. The leader
// proposes its own decisions locally; a member forwards the writes its API
// received and its own reports. So a proposal that arrives over the RPC is
// checked against its sender, the peer ID its connection authenticated:
//
//   - the leader's decisions (task writes, node status, Raft roles, the
//     bootstrap) are never accepted from another node — a deposed leader
//     forwarding a stale decision is refused too;
//   - a node speaks only for itself: task and image reports and restart
//     announcements name the sender, and a node record is registered
//     only by that node, or by the member answering its join while no
//     record has that ID yet;
//   - user writes (services, node updates and removal, token rotation,
//     image removal, API tokens) come from the member whose API received
//     them, and arrive authenticated: either the forwarding member shows
//     the caller's API token (the leader checks it and its role itself),
//     or the member is a voter — voters are the cluster's managers, and a
//     voter's local socket is admin, as a Swarm manager's is. A plain
//     member's socket user cannot write through it without a token.
var leaderOnly = map[api.CommandType]bool{
	api.CmdBootstrap:     true,
	api.CmdWriteTasks:    true,
	api.CmdSetNodeStatus: true,
	api.CmdSetRaftRoles:  true,
	api.CmdRotateKeys:    true,

	api.CmdReportTaskStatusBatch: true,
}

// userCommandRole is the API role each user write needs.
var userCommandRole = map[api.CommandType]api.ACLRole{
	api.CmdCreateService:   api.ACLOperator,
	api.CmdUpdateService:   api.ACLOperator,
	api.CmdRemoveService:   api.ACLOperator,
	api.CmdRollbackService: api.ACLOperator,
	api.CmdPromoteService:  api.ACLOperator,
	api.CmdUpdateNode:      api.ACLOperator,
	api.CmdRemoveImage:     api.ACLOperator,
	api.CmdRemoveNode:      api.ACLAdmin,
	api.CmdRotateToken:     api.ACLAdmin,
	api.CmdCreateACLToken:  api.ACLAdmin,
	api.CmdRevokeACLToken:  api.ACLAdmin,
	api.CmdCreateSecret:    api.ACLAdmin,
	api.CmdRemoveSecret:    api.ACLAdmin,
}

// proposal is a forwarded write as the leader checks it.
type proposal struct {
	// From is the sender's authenticated peer ID.
	From string
	// FromVoter says whether the sender is a voter in the leader's Raft
	// configuration.
	FromVoter bool
	// APIToken is the API token of the user the sender acts for, or "".
	APIToken string
	Cmd      api.Command
	// Now is the leader's clock, for token expiry.
	Now time.Time
}

// authorizeProposal returns why p's sender may not propose its command,
// or nil.
func authorizeProposal(p proposal, v *state.View) error {
	from, cmd := p.From, p.Cmd
	if leaderOnly[cmd.Type] {
		return api.Errorf(api.CodeForbidden, "%s: only the leader decides that; refused from node %s", cmd.Type, api.ShortID(from))
	}
	if need, ok := userCommandRole[cmd.Type]; ok {
		return authorizeUserWrite(p, need, v)
	}
	var about string
	switch cmd.Type {
	case api.CmdReportTaskStatus:
		var p api.ReportTaskStatusPayload
		if json.Unmarshal(cmd.Payload, &p) != nil {
			return nil // the FSM refuses it with the decoding error
		}
		about = p.NodeID
	case api.CmdReportImages:
		var p api.ReportImagesPayload
		if json.Unmarshal(cmd.Payload, &p) != nil {
			return nil
		}
		about = p.NodeID
	case api.CmdNodeRestarting:
		var p api.NodeRestartingPayload
		if json.Unmarshal(cmd.Payload, &p) != nil {
			return nil
		}
		about = p.NodeID
	case api.CmdRegisterNode:
		var p api.RegisterNodePayload
		if json.Unmarshal(cmd.Payload, &p) != nil {
			return nil
		}
		if _, exists := v.Node(p.Node.ID); !exists {
			return nil // a join, answered by the member the joiner reached
		}
		about = p.Node.ID
	default:
		return nil
	}
	if about != from {
		return api.Errorf(api.CodeForbidden, "%s: node %s may speak only for itself, not for node %s", cmd.Type, api.ShortID(from), api.ShortID(about))
	}
	return nil
}

// authorizeUserWrite checks a forwarded user write: the caller's token
// when the sender shows one, else the sender's vote.
func authorizeUserWrite(p proposal, need api.ACLRole, v *state.View) error {
	if p.APIToken != "" {
		c, err := checkToken(p.APIToken, v, p.Now)
		if err != nil {
			return err
		}
		if !c.Role.Allows(need) {
			return api.Errorf(api.CodeForbidden, "%s: token %s (role %s) may not do that: it needs role %s", p.Cmd.Type, c.Name, c.Role, need)
		}
		return nil
	}
	if p.FromVoter {
		return nil
	}
	return api.Errorf(api.CodeForbidden, "%s: node %s is not a voter, and user writes come through a voter's API or with an API token: run the command on a voter (shoal node ls), or over HTTPS with a token", p.Cmd.Type, api.ShortID(p.From))
}
