package node

import (
	"encoding/json"

	"github.com/shoal-project/shoal/api"
)

// Removing a node (`shoal node rm`) takes it out of the cluster for good:
// the leader first takes it out of the Raft configuration if it is a
// server, then commits node.remove, which deletes its record, denies its
// peer ID and rotates the join token in one entry (see stampRemoval). Its
// tasks are then orphaned and replaced elsewhere like a dead node's
// (orchestrator.HandleNodeFailures). Only a down node is removed unless
// the request forces it; never the leader, nor the node whose API is
// asked.

// errRemoveLeader refuses the removal of the node that leads.
func errRemoveLeader(name string) error {
	return api.Errorf(api.CodeConflict, "node %s is the leader; hand leadership over first (shoal operator raft transfer-leadership), then remove it", name)
}

// checkRemovable refuses the removal of node n: it is up and force was not
// given, it leads, or it is the node answering (cut off, it could not
// confirm its own removal).
func (a *Agent) checkRemovable(n *api.Node, force bool) error {
	switch {
	case n.Status != api.NodeDown && !force:
		return api.Errorf(api.CodeConflict, "node %s is %s; only a down node can be removed: stop its agent first, or cut it off while it runs with --force", n.Name, n.Status)
	case n.ID == a.leaderID():
		return errRemoveLeader(n.Name)
	case n.ID == a.ID():
		return api.Errorf(api.CodeConflict, "node %s is the node this API runs on; remove it through another node", n.Name)
	}
	return nil
}

// evictForRemoval runs on the leader before it commits the removal cmd:
// it refuses the removal of this node, and takes the node out of the Raft
// configuration if it is a voter or nonvoter. It holds the voter loop off
// until done is called, after the removal is committed (or failed), so the
// loop cannot add the node back in between.
func (a *Agent) evictForRemoval(cmd api.Command) (done func(), err error) {
	var p api.RemoveNodePayload
	if err := json.Unmarshal(cmd.Payload, &p); err != nil {
		return nil, api.Errorf(api.CodeInvalid, "bad payload: %v", err)
	}
	if p.NodeID == a.ID() {
		return nil, errRemoveLeader(a.cfg.Name)
	}
	a.voterMu.Lock()
	servers, err := a.cons.Servers()
	if err != nil {
		a.voterMu.Unlock()
		return nil, err
	}
	for _, s := range servers {
		if s.ID != p.NodeID {
			continue
		}
		if err := a.cons.Remove(s.ID); err != nil {
			a.voterMu.Unlock()
			return nil, err
		}
		a.log.Info("voters: remove "+a.nodeName(s.ID)+" (node rm)", "change", "remove", "node_id", api.ShortID(s.ID), "voter", s.Voter, "term", a.cons.Term())
	}
	return a.voterMu.Unlock, nil
}

// stampRemoval stamps a node removal: it denies the node's peer ID and
// rotates the join token (a removed node may have kept it), each only
// once every node applies it the same way (deny: protocol 5, the token:
// 4); a cluster with an older node removes as that node's build did.
func stampRemoval(p api.RemoveNodePayload, nodes []*api.Node) api.RemoveNodePayload {
	p.Deny = everyNodeApplies(api.CmdRemoveNode, api.RemoveNodePayload{Deny: true}, nodes)
	switch {
	case !everyNodeApplies(api.CmdRemoveNode, api.RemoveNodePayload{TokenNonce: []byte{0}}, nodes):
		p.TokenNonce = nil
	case len(p.TokenNonce) == 0:
		p.TokenNonce = nonce()
	}
	return p
}
