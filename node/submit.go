package node

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/shoal-project/shoal/api"
)

// proposeRequest is a forwarded write: the command, and the API token of
// the user it is forwarded for (absent for the local socket's admin and
// for the node's own reports). The token travels only over the
// authenticated, encrypted libp2p stream and never enters the log. An
// older build sends the bare command, which decodes the same.
type proposeRequest struct {
	api.Command
	APIToken string `json:"api_token,omitempty"`
}

// proposeReply is the leader's answer to a forwarded write.
type proposeReply struct {
	Value json.RawMessage `json:"value,omitempty"`
	// Index is an applied index at or after the write; the forwarding node
	// waits for its own replica to reach it, so a client reads its writes.
	Index uint64 `json:"index"`
}

// submitPayload builds a command and submits it.
func (a *Agent) submitPayload(ctx context.Context, typ api.CommandType, requestID string, payload any) (json.RawMessage, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	return a.submit(ctx, api.Command{Version: api.CommandVersion, Type: typ, RequestID: requestID, Payload: raw})
}

// submit commits cmd through the leader, wherever it is, retrying with the
// same request ID through leader changes until ctx ends. It returns once the
// local replica has applied the write.
func (a *Agent) submit(ctx context.Context, cmd api.Command) (json.RawMessage, error) {
	if cmd.RequestID == "" {
		cmd.RequestID = api.NewRequestID()
	}
	// The node that builds a command knows what it needs; a leader of an
	// older build would not (see api.ProtocolVersion).
	if err := a.checkProtocol(cmd); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
	}
	backoff := 10 * time.Millisecond
	var lastErr error = api.Errorf(api.CodeNoLeader, "no leader is known yet")
	for {
		reply, err := a.submitOnce(ctx, cmd)
		if err == nil {
			a.waitApplied(ctx, reply.Index)
			return reply.Value, nil
		}
		if !retryable(err) {
			a.logRejected(cmd, err)
			return nil, err
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, api.Errorf(api.CodeUnavailable, "write not confirmed: %v (retry with the same request id)", lastErr)
		case <-time.After(backoff):
		}
		if backoff < 80*time.Millisecond {
			backoff *= 2
		}
	}
}

func (a *Agent) submitOnce(ctx context.Context, cmd api.Command) (proposeReply, error) {
	if a.cons.IsLeader() {
		return a.proposeAsLeader(ctx, cmd)
	}
	leader := a.leaderID()
	if leader == "" {
		return proposeReply{}, api.Errorf(api.CodeNoLeader, "no leader is known yet")
	}
	id, err := peer.Decode(leader)
	if err != nil {
		return proposeReply{}, api.Errorf(api.CodeNoLeader, "bad leader id")
	}
	var reply proposeReply
	callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req := proposeRequest{Command: cmd}
	if c, ok := callerOf(ctx); ok {
		req.APIToken = c.Secret
	}
	if err := a.call(callCtx, id, rpcPropose, req, &reply); err != nil {
		return proposeReply{}, err
	}
	return reply, nil
}

// proposeAsLeader stamps cmd and commits it, once every node speaks the
// protocol the command needs.
func (a *Agent) proposeAsLeader(ctx context.Context, cmd api.Command) (proposeReply, error) {
	if err := a.checkProtocol(cmd); err != nil {
		return proposeReply{}, err
	}
	if err := admitServiceWrite(a.cfg.Limits, a.store().View(), cmd); err != nil {
		return proposeReply{}, err
	}
	if err := a.refuseDeniedRegistration(cmd); err != nil {
		return proposeReply{}, err
	}
	if cmd.Type == api.CmdRemoveNode {
		done, err := a.evictForRemoval(cmd)
		if err != nil {
			return proposeReply{}, err
		}
		defer done()
	}
	if cmd.Type == api.CmdCreateSecret {
		// One at a time: the cluster's first secret creates its data key,
		// and a second one must be sealed under that same key.
		a.secretMu.Lock()
		defer a.secretMu.Unlock()
	}
	if cmd.Type == api.CmdReportTaskStatus && a.reports != nil {
		return a.reports.submit(ctx, cmd)
	}
	return a.commitAsLeader(ctx, cmd)
}

// commitAsLeader stamps cmd and commits it through this node's Raft.
func (a *Agent) commitAsLeader(ctx context.Context, cmd api.Command) (proposeReply, error) {
	if err := a.stamp(&cmd); err != nil {
		return proposeReply{}, err
	}
	v, err := a.cons.Propose(ctx, cmd)
	if err != nil {
		return proposeReply{}, err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return proposeReply{}, err
	}
	return proposeReply{Value: raw, Index: a.store().AppliedIndex()}, nil
}

// stamp fixes everything a command needs from the leader's clock and
// randomness, so that applying it is deterministic on every replica.
func (a *Agent) stamp(cmd *api.Command) error {
	cmd.Version = api.CommandVersion
	cmd.Time = time.Now().UTC()
	switch cmd.Type {
	case api.CmdRotateToken:
		var p api.RotateTokenPayload
		json.Unmarshal(cmd.Payload, &p)
		if len(p.TokenNonce) == 0 {
			p.TokenNonce = nonce()
		}
		return setPayload(cmd, p)
	case api.CmdRemoveNode:
		var p api.RemoveNodePayload
		if err := json.Unmarshal(cmd.Payload, &p); err != nil {
			return api.Errorf(api.CodeInvalid, "bad payload: %v", err)
		}
		return setPayload(cmd, stampRemoval(p, a.store().Nodes()))
	case api.CmdUpdateNode:
		var p api.UpdateNodePayload
		if err := json.Unmarshal(cmd.Payload, &p); err != nil {
			return api.Errorf(api.CodeInvalid, "bad payload: %v", err)
		}
		if len(p.LabelAdd) == 0 && len(p.LabelRemove) == 0 {
			return nil
		}
		// The operator's labels win over config labels, once every
		// replica records them the same way.
		p.OperatorLabels = true
		if err := setPayload(cmd, p); err != nil {
			return err
		}
		if api.CheckProtocol(*cmd, a.store().Nodes()) != nil {
			p.OperatorLabels = false
			return setPayload(cmd, p)
		}
		return nil
	case api.CmdCreateSecret:
		c, ok := a.store().Cluster()
		if !ok {
			return api.Errorf(api.CodeUnavailable, "the cluster record is not applied yet")
		}
		return stampSecret(cmd, c)
	case api.CmdCreateACLToken:
		var p api.CreateACLTokenPayload
		if err := json.Unmarshal(cmd.Payload, &p); err != nil {
			return api.Errorf(api.CodeInvalid, "bad payload: %v", err)
		}
		if p.TokenID == "" {
			p.TokenID = api.NewRequestID()
		}
		return setPayload(cmd, p)
	case api.CmdCreateService:
		var p api.CreateServicePayload
		if err := json.Unmarshal(cmd.Payload, &p); err != nil {
			return api.Errorf(api.CodeInvalid, "bad payload: %v", err)
		}
		if p.ServiceID == "" {
			p.ServiceID = api.NewRequestID()
		}
		return setPayload(cmd, p)
	}
	return nil
}

// everyNodeApplies reports whether every one of nodes speaks the
// protocol a command of type typ with payload p needs.
func everyNodeApplies(typ api.CommandType, p any, nodes []*api.Node) bool {
	raw, err := json.Marshal(p)
	if err != nil {
		return false
	}
	return api.CheckProtocol(api.Command{Type: typ, Payload: raw}, nodes) == nil
}

// checkProtocol refuses cmd while a node speaks a protocol older than
// the one cmd needs; most commands need protocol 1 and skip the node list.
func (a *Agent) checkProtocol(cmd api.Command) error {
	if api.ProtocolOf(cmd) <= 1 {
		return nil
	}
	if err := api.CheckProtocol(cmd, a.store().Nodes()); err != nil {
		return err
	}
	return nil
}

func setPayload(cmd *api.Command, p any) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	cmd.Payload = raw
	return nil
}

// retryable says whether a failed write may be retried with the same
// request ID: no leader, a leader change, or a transport failure.
func retryable(err error) bool {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Code == api.CodeNoLeader || ae.Code == api.CodeUnavailable
	}
	return !errors.Is(err, context.Canceled)
}

// waitApplied waits (bounded by ctx) for the local replica to reach index.
func (a *Agent) waitApplied(ctx context.Context, index uint64) {
	for a.store().AppliedIndex() < index {
		select {
		case <-ctx.Done():
			return
		case <-a.store().Watch():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// leaderID is the leader as this node knows it: from Raft on Raft servers,
// from the state feed on plain members.
func (a *Agent) leaderID() string {
	id, _ := a.leaderTerm()
	return id
}

// leaderTerm is the current term and its leader ("" if not known yet),
// read together: a leader is never reported for a term it did not win.
func (a *Agent) leaderTerm() (string, uint64) {
	if id, term := a.cons.LeaderTerm(); id != "" {
		return id, term
	}
	if a.feed != nil {
		if id, term := a.feed.leaderTerm(); id != "" {
			return id, term
		}
	}
	_, term := a.cons.LeaderTerm()
	return "", term
}

// handleRPC serves node-to-node requests.
func (a *Agent) handleRPC(ctx context.Context, from peer.ID, name string, body json.RawMessage) (any, error) {
	method := rpcMethod(name)
	if a.denied(from.String()) {
		// The gater refuses denied peers; this covers a stream opened
		// before the removal applied.
		return nil, api.Errorf(api.CodeForbidden, "node %s was removed from the cluster", api.ShortID(from.String()))
	}
	if method != rpcStatus && !a.serving.Load() {
		return nil, api.Errorf(api.CodeUnavailable, "node is still starting")
	}
	switch method {
	case rpcPropose:
		var req proposeRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, api.Errorf(api.CodeInvalid, "bad command: %v", err)
		}
		if !a.cons.IsLeader() {
			return nil, api.Errorf(api.CodeNoLeader, "not the leader (leader is %s)", a.leaderID())
		}
		p := proposal{From: from.String(), FromVoter: a.isVoter(from.String()), APIToken: req.APIToken, Cmd: req.Command, Now: time.Now()}
		if err := authorizeProposal(p, a.store().View()); err != nil {
			a.log.Warn("proposal refused", "from", api.ShortID(from.String()), "command", req.Type, "err", err)
			return nil, err
		}
		return a.proposeAsLeader(ctx, req.Command)
	case rpcLeader:
		id, term := a.leaderTerm()
		return leaderReply{LeaderID: id, Term: term}, nil
	case rpcReadIndex:
		if !a.cons.IsLeader() {
			return nil, api.Errorf(api.CodeNoLeader, "not the leader")
		}
		if err := a.cons.VerifyLeader(ctx); err != nil {
			return nil, api.Errorf(api.CodeNoLeader, "leadership not verified: %v", err)
		}
		return readIndexReply{Index: a.store().AppliedIndex()}, nil
	case rpcStatus:
		return statusReply{AppliedIndex: a.store().AppliedIndex()}, nil
	case rpcRaftPeers, rpcTransferLeadership, rpcSecret, rpcRotateKeys:
		return a.handleOperatorRPC(from.String(), method, body)
	case rpcRemoveImage:
		var req removeImageRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, api.Errorf(api.CodeInvalid, "bad request: %v", err)
		}
		if err := a.removeImageOn(ctx, a.ID(), req.Ref); err != nil {
			return nil, err
		}
		a.imagesChanged.Fire()
		return struct{}{}, nil
	}
	return nil, api.Errorf(api.CodeNotFound, "unknown method %q", name)
}

type leaderReply struct {
	LeaderID string `json:"leader_id"`
	Term     uint64 `json:"term"`
}

type readIndexReply struct {
	Index uint64 `json:"index"`
}

type statusReply struct {
	AppliedIndex uint64 `json:"applied_index"`
}

// consistentRead makes the local replica at least as new as the leader's
// state at the time of the call (a read index), so a read after it is
// linearizable.
func (a *Agent) consistentRead(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if a.cons.IsLeader() {
		if err := a.cons.VerifyLeader(ctx); err != nil {
			return api.Errorf(api.CodeNoLeader, "leadership not verified: %v", err)
		}
		return nil
	}
	leader := a.leaderID()
	id, err := peer.Decode(leader)
	if leader == "" || err != nil {
		return api.Errorf(api.CodeNoLeader, "no leader is known; a consistent read is not possible")
	}
	var reply readIndexReply
	if err := a.call(ctx, id, rpcReadIndex, struct{}{}, &reply); err != nil {
		var ae *api.Error
		if errors.As(err, &ae) {
			return err
		}
		return api.Errorf(api.CodeUnavailable, "cannot reach the leader for a consistent read: %v", err)
	}
	a.waitApplied(ctx, reply.Index)
	if a.store().AppliedIndex() < reply.Index {
		return api.Errorf(api.CodeUnavailable, "local replica did not catch up with the leader in time")
	}
	return nil
}

func (a *Agent) term() uint64 {
	_, term := a.leaderTerm()
	return term
}
