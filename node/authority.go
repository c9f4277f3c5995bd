package node

import (
	"encoding/json"

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
//     image removal) come from the member whose API received them. The
//     API has no authentication yet, so any member may forward them.
var leaderOnly = map[api.CommandType]bool{
	api.CmdBootstrap:     true,
	api.CmdWriteTasks:    true,
	api.CmdSetNodeStatus: true,
	api.CmdSetRaftRoles:  true,
}

// authorizeProposal returns why the node from may not propose cmd, or nil.
func authorizeProposal(from string, cmd api.Command, v *state.View) error {
	if leaderOnly[cmd.Type] {
		return api.Errorf(api.CodeForbidden, "%s: only the leader decides that; refused from node %s", cmd.Type, api.ShortID(from))
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
