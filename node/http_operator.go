package node

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/shoal-project/shoal/api"
)

// routeOperator adds the operator endpoints (api/operator.go).
func (s *apiServer) routeOperator() {
	s.route("GET /v1/operator/raft/peers", api.ACLReadOnly, s.raftPeers)
	s.route("POST /v1/operator/raft/transfer-leadership", api.ACLAdmin, s.transferLeadership)
	s.route("GET /v1/nodes/{name}/tasks", api.ACLReadOnly, s.nodeTasks)
}

// raftPeers answers with the Raft configuration as the leader sees it.
func (s *apiServer) raftPeers(r *http.Request) (any, error) {
	var out api.RaftConfiguration
	if err := s.backend.callLeader(r.Context(), rpcRaftPeers, struct{}{}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// transferLeadership asks the leader to hand leadership over, then waits
// until this node knows the new leader.
func (s *apiServer) transferLeadership(r *http.Request) (any, error) {
	var req api.TransferLeadershipRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	b := s.backend
	target := ""
	if req.To != "" {
		n, err := findNode(b.view(), req.To)
		if err != nil {
			return nil, err
		}
		target = n.ID
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	var reply transferReply
	from, _ := b.leaderTerm()
	if from == "" {
		return nil, api.Errorf(api.CodeNoLeader, "no leader is known yet")
	}
	treq := transferRequest{To: target, From: from}
	if c, ok := callerOf(r.Context()); ok {
		treq.APIToken = c.Secret
	}
	if err := b.callLeader(ctx, rpcTransferLeadership, treq, &reply); err != nil {
		return nil, err
	}
	out := api.TransferLeadershipResponse{Previous: nodeNameIn(b.view(), reply.Previous)}
	for {
		id, term := b.leaderTerm()
		if id != "" && (reply.Already || id != reply.Previous) {
			out.Leader, out.LeaderID, out.Term = nodeNameIn(b.view(), id), id, term
			break
		}
		select {
		case <-ctx.Done():
			return nil, api.Errorf(api.CodeUnavailable, "leadership left %s, but no new leader is known yet", out.Previous)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if target != "" && out.LeaderID != target {
		return nil, api.Errorf(api.CodeConflict, "leadership went to %s, not %s", out.Leader, nodeNameIn(b.view(), target))
	}
	return out, nil
}

// nodeTasks lists a node's tasks, newest first within each service slot.
func (s *apiServer) nodeTasks(r *http.Request) (any, error) {
	v := s.backend.view() // one index for the whole answer
	n, err := findNode(v, r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	tasks := v.TasksByNode(n.ID)
	out := make([]api.TaskInfo, 0, len(tasks))
	for _, t := range tasks {
		out = append(out, api.TaskInfo{Task: *t, NodeName: n.Name, State: t.Status.State, Error: t.Status.Err, IP: t.Status.IP, Health: t.Status.Health})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.ServiceName != b.ServiceName {
			return a.ServiceName < b.ServiceName
		}
		if a.Slot != b.Slot {
			return a.Slot < b.Slot
		}
		return a.CreatedAt.After(b.CreatedAt)
	})
	return out, nil
}

// checkDrainDeadline refuses a negative drain deadline, or one without
// availability drain.
func checkDrainDeadline(req api.NodeUpdateRequest) error {
	switch {
	case req.DrainDeadline < 0:
		return api.Errorf(api.CodeInvalid, "drain_deadline: %s is negative", req.DrainDeadline.Std())
	case req.DrainDeadline > 0 && req.Availability != api.AvailabilityDrain:
		return api.Errorf(api.CodeInvalid, "drain_deadline: needs availability drain")
	}
	return nil
}
