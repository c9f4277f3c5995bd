package api

import (
	"context"
	"net/http"
	"net/url"
)

// RaftPeers returns the Raft configuration as the leader sees it.
func (c *Client) RaftPeers(ctx context.Context) (RaftConfiguration, error) {
	var out RaftConfiguration
	return out, c.do(ctx, http.MethodGet, "/v1/operator/raft/peers", nil, &out)
}

// TransferLeadership hands leadership to the node called to (any voter if
// to is empty) and returns the new leader.
func (c *Client) TransferLeadership(ctx context.Context, to string) (TransferLeadershipResponse, error) {
	var out TransferLeadershipResponse
	return out, c.do(ctx, http.MethodPost, "/v1/operator/raft/transfer-leadership", TransferLeadershipRequest{To: to}, &out)
}

// NodeTasks lists the tasks assigned to a node, recent history included.
func (c *Client) NodeTasks(ctx context.Context, name string) ([]TaskInfo, error) {
	var out []TaskInfo
	return out, c.do(ctx, http.MethodGet, "/v1/nodes/"+url.PathEscape(name)+"/tasks", nil, &out)
}
