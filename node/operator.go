package node

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/shoal-project/shoal/api"
)

// Operator requests about Raft itself (list the peers, hand leadership
// over) are answered by the leader: a node that does not lead forwards
// them over the node RPC, as submit does for writes.

// transferRequest asks the leader to hand leadership to node To (an ID;
// "" for any voter). From is the leader the caller meant to ask: a leader
// that is not From treats the request as done, so a retry after a lost
// answer does not move leadership twice.
type transferRequest struct {
	To   string `json:"to,omitempty"`
	From string `json:"from,omitempty"`
	// APIToken is the caller's API token, checked by the leader as for a
	// forwarded write (see authorizeUserWrite); "" from a voter's socket.
	APIToken string `json:"api_token,omitempty"`
}

// transferReply is the leader's answer: who led when it was asked, in
// which term, and whether there was nothing to do (it was already the
// target, or leadership had already left From).
type transferReply struct {
	Previous string `json:"previous"`
	Term     uint64 `json:"term"`
	Already  bool   `json:"already,omitempty"`
}

// handleOperatorRPC serves the leader side of the operator requests.
func (a *Agent) handleOperatorRPC(from string, method rpcMethod, body json.RawMessage) (any, error) {
	if !a.cons.IsLeader() {
		return nil, api.Errorf(api.CodeNoLeader, "not the leader (leader is %s)", a.leaderID())
	}
	switch method {
	case rpcRaftPeers:
		return a.localRaftPeers()
	case rpcRotateKeys:
		var req rotateRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, api.Errorf(api.CodeInvalid, "bad request: %v", err)
		}
		if from != a.ID() {
			p := proposal{From: from, FromVoter: a.isVoter(from), APIToken: req.APIToken, Cmd: api.Command{Type: api.CmdRotateKeys}, Now: time.Now()}
			if err := authorizeUserWrite(p, api.ACLAdmin, a.store().View()); err != nil {
				return nil, err
			}
		}
		ctx, cancel := context.WithTimeout(a.ctx, 3*rotateStepWait+10*time.Second)
		defer cancel()
		return a.rotateKeys(ctx)
	case rpcSecret:
		var req secretRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, api.Errorf(api.CodeInvalid, "bad request: %v", err)
		}
		data, err := releaseSecret(from, req, a.store().View())
		if err != nil {
			a.log.Warn("secret refused", "from", api.ShortID(from), "secret", req.Name, "task", req.TaskID, "err", errorMessage(err))
			return nil, err
		}
		return secretReply{Data: data}, nil
	case rpcTransferLeadership:
		var req transferRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, api.Errorf(api.CodeInvalid, "bad request: %v", err)
		}
		if from != a.ID() {
			p := proposal{From: from, FromVoter: a.isVoter(from), APIToken: req.APIToken, Cmd: api.Command{Type: "operator.transferLeadership"}, Now: time.Now()}
			if err := authorizeUserWrite(p, api.ACLAdmin, a.store().View()); err != nil {
				return nil, err
			}
		}
		if req.From != "" && req.From != a.ID() {
			return transferReply{Previous: req.From, Term: a.cons.Term(), Already: true}, nil
		}
		return a.transferAsLeader(req.To)
	}
	return nil, api.Errorf(api.CodeNotFound, "unknown method %q", method)
}

// callLeader runs method on the leader (locally if this node leads),
// retrying through leader changes until ctx ends (5s if it has no
// deadline).
func (a *Agent) callLeader(ctx context.Context, method rpcMethod, req, reply any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	var lastErr error = api.Errorf(api.CodeNoLeader, "no leader is known yet")
	for {
		err := a.callLeaderOnce(ctx, method, body, reply)
		if err == nil || !retryable(err) {
			return err
		}
		lastErr = err
		select {
		case <-ctx.Done():
			var ae *api.Error
			if errors.As(lastErr, &ae) {
				return lastErr
			}
			return api.Errorf(api.CodeUnavailable, "cannot reach the leader: %v", lastErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (a *Agent) callLeaderOnce(ctx context.Context, method rpcMethod, body json.RawMessage, reply any) error {
	if a.cons.IsLeader() {
		v, err := a.handleOperatorRPC(a.ID(), method, body)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return json.Unmarshal(raw, reply)
	}
	leader := a.leaderID()
	id, err := peer.Decode(leader)
	if leader == "" || err != nil {
		return api.Errorf(api.CodeNoLeader, "no leader is known yet")
	}
	return a.call(ctx, id, method, body, reply)
}

// localRaftPeers is the Raft configuration with node names, addresses and
// each follower's last contact with this node. Leader only.
func (a *Agent) localRaftPeers() (api.RaftConfiguration, error) {
	servers, err := a.cons.Servers()
	if err != nil {
		return api.RaftConfiguration{}, err
	}
	now := time.Now()
	out := api.RaftConfiguration{Term: a.cons.Term(), Servers: make([]api.RaftServer, 0, len(servers))}
	for _, s := range servers {
		rs := api.RaftServer{ID: s.ID, Voter: s.Voter, Leader: s.ID == a.ID()}
		if n, ok := a.store().Node(s.ID); ok {
			rs.Node, rs.Address, rs.Status = n.Name, n.P2PAddr, n.Status
		}
		if !rs.Leader && a.contacts != nil {
			if at, ok := a.contacts.LastContact(s.ID); ok {
				d := api.Duration(max(now.Sub(at), 0))
				rs.LastContact = &d
			}
		}
		out.Servers = append(out.Servers, rs)
	}
	return out, nil
}

// transferAsLeader hands leadership to voter to (any voter if ""),
// refusing a target that is not a voter or is down. It returns once this
// node has stepped down. Leader only.
func (a *Agent) transferAsLeader(to string) (transferReply, error) {
	reply := transferReply{Previous: a.ID(), Term: a.cons.Term()}
	if to == a.ID() {
		reply.Already = true
		return reply, nil
	}
	servers, err := a.cons.Servers()
	if err != nil {
		return reply, err
	}
	if err := checkTransferTarget(to, a.ID(), servers, a.aliveNodeIDs(), a.nodeName); err != nil {
		return reply, err
	}
	if to == "" {
		err = a.cons.TransferLeadership()
	} else {
		err = a.cons.TransferLeadershipTo(to)
	}
	if err != nil {
		return reply, err
	}
	a.log.Info("handed leadership over (operator request)", "term", a.cons.Term())
	return reply, nil
}

// nodeName is the name of node id, or its short ID if it has no record.
func (a *Agent) nodeName(id string) string {
	if n, ok := a.store().Node(id); ok {
		return n.Name
	}
	return api.ShortID(id)
}
