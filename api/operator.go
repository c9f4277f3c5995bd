package api

// Operator endpoints (served by every node; a non-leader asks the leader):
//
//	GET    /v1/operator/raft/peers               RaftConfiguration
//	POST   /v1/operator/raft/transfer-leadership TransferLeadershipRequest -> TransferLeadershipResponse
//	GET    /v1/nodes/{name}/tasks                []TaskInfo (the node's tasks, history included)

// RaftConfiguration answers GET /v1/operator/raft/peers: the Raft
// configuration as the leader sees it.
type RaftConfiguration struct {
	// Term is the leader's term when it answered.
	Term uint64 `json:"term"`
	// Servers lists every Raft server, in configuration order.
	Servers []RaftServer `json:"servers"`
}

// RaftServer is one server of the Raft configuration.
type RaftServer struct {
	ID string `json:"id"`
	// Node is the server's node name, "" if it has no node record.
	Node string `json:"node"`
	// Address is the node's libp2p address (host:port).
	Address string     `json:"address"`
	Voter   bool       `json:"voter"`
	Leader  bool       `json:"leader"`
	Status  NodeStatus `json:"status,omitempty"`
	// LastContact is how long ago the leader last had an answer to an
	// AppendEntries (a heartbeat or a replication) from this server. It is
	// absent for the leader itself and for a server never heard from.
	LastContact *Duration `json:"last_contact,omitempty"`
}

// TransferLeadershipRequest is the body of POST
// /v1/operator/raft/transfer-leadership. To names the node (name, ID or
// ID prefix) that should lead; empty lets Raft pick the most up-to-date
// voter.
type TransferLeadershipRequest struct {
	To string `json:"to,omitempty"`
}

// TransferLeadershipResponse names the leader after a transfer.
type TransferLeadershipResponse struct {
	Leader   string `json:"leader"`    // node name
	LeaderID string `json:"leader_id"` // node ID
	Term     uint64 `json:"term"`
	// Previous is the name of the node that led before.
	Previous string `json:"previous"`
}
