package api

import "time"

// HTTP API, served by every node on its local unix socket (admin) and,
// with --api-addr, over HTTPS where every request carries an API token
// (Authorization: Bearer shoal_…); each route needs a role (admin,
// operator, read-only: node/http*.go, apiServer.handle). All bodies are
// JSON. Writes may carry a request ID in the X-Request-ID
// header; a retried write with the same ID applies once. Reads are served
// from the local replica; add ?consistent=true for a leader-verified read.
//
//	GET    /v1/cluster                    ClusterStatus
//	GET    /v1/nodes                      []NodeInfo
//	GET    /v1/nodes/{name}               NodeInfo
//	POST   /v1/nodes/{name}               NodeUpdateRequest -> NodeInfo
//	DELETE /v1/nodes/{name}               a down node; ?force=true: one that is up too
//	(operator endpoints: api/operator.go)
//	GET    /v1/token                      TokenResponse
//	POST   /v1/token/rotate               TokenResponse
//	GET    /v1/services                   []ServiceInfo
//	POST   /v1/services                   ServiceSpec -> ServiceInfo
//	GET    /v1/services/{name}            ServiceInfo
//	POST   /v1/services/{name}            ServiceUpdateRequest -> ServiceInfo
//	DELETE /v1/services/{name}
//	GET    /v1/services/{name}/tasks      []TaskInfo
//	GET    /v1/services/{name}/logs       text/plain; ?follow=true&tail=N
//	GET    /v1/tasks/{id}/logs            text/plain (served by the task's node)
//	GET    /v1/snapshot                   application/octet-stream: a snapshot file (leader-verified)
//	POST   /v1/snapshot/restore           snapshot file -> RestoreResult; ?allow_foreign=true
//	GET    /v1/events                     NDJSON Event stream; ?type=&service=&node=&since= (api/event.go)
//	GET    /v1/nodes/{name}/tasks         []TaskInfo
//	GET    /v1/images                     []ImageInfo
//	POST   /v1/images                     image tarball -> []ImageRef (loaded on this node)
//	DELETE /v1/images/{ref...}            (from every node that holds it)
//	POST   /v1/debug/faults               node.FaultRequest (agent started with --fault-injection)
//	GET    /metrics                       Prometheus text format
//	GET    /v1/cluster/ca                 ClusterCA
//	GET    /v1/acl/tokens                 []ACLTokenInfo
//	POST   /v1/acl/tokens                 CreateACLTokenRequest -> CreateACLTokenResponse (the secret, once)
//	DELETE /v1/acl/tokens/{name-or-id}    ACLTokenInfo
//	GET    /v1/acl/whoami                 WhoAmI
const (
	// HeaderRequestID carries a client-chosen request ID for idempotent writes.
	HeaderRequestID = "X-Request-ID"
	// MaxRequestBody is the largest request body the API reads.
	MaxRequestBody = 1 << 20
	// DefaultSocket is the agent's local API endpoint.
	DefaultSocket = "/run/shoal/shoal.sock"
	// DefaultAPIAddr is where the CLI looks for an agent: the local
	// socket.
	DefaultAPIAddr = "unix://" + DefaultSocket
)

// ClusterStatus answers GET /v1/cluster.
type ClusterStatus struct {
	ClusterID string    `json:"cluster_id"`
	CreatedAt time.Time `json:"created_at"`
	// CIDR is the cluster's task network ("" for a cluster without one).
	CIDR string `json:"cidr,omitempty"`
	// ServiceCIDR is where services' VIPs come from ("" without one).
	ServiceCIDR  string   `json:"service_cidr,omitempty"`
	Leader       string   `json:"leader"`    // leader's node name, "" if none
	LeaderID     string   `json:"leader_id"` // leader's node ID
	Term         uint64   `json:"term"`
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex uint64   `json:"applied_index"`
	Voters       []string `json:"voters"`    // node names
	Nonvoters    []string `json:"nonvoters"` // node names
	Members      []string `json:"members"`   // node names, all of them
	Self         string   `json:"self"`      // name of the node that answered
}

// NodeInfo is a node with its derived role, as the API shows it.
type NodeInfo struct {
	Node
	Role    Role   `json:"role"`
	Address string `json:"address"` // the p2p address, for tables
	Tasks   int    `json:"tasks"`   // active tasks on the node
}

// NodeUpdateRequest is the body of POST /v1/nodes/{name}.
type NodeUpdateRequest struct {
	Availability Availability `json:"availability,omitempty"`
	// DrainDeadline, with availability drain, bounds the drain: once it
	// has passed, the node's tasks that still run are killed. Zero: no
	// deadline, each task gets its whole stop grace period.
	DrainDeadline Duration          `json:"drain_deadline,omitempty"`
	LabelAdd      map[string]string `json:"label_add,omitempty"`
	LabelRemove   []string          `json:"label_rm,omitempty"`
}

// TokenResponse answers the token endpoints.
type TokenResponse struct {
	Token     string    `json:"token"`
	RotatedAt time.Time `json:"rotated_at"`
}

// ServiceInfo is a service with its observed progress.
type ServiceInfo struct {
	Service
	Desired uint64 `json:"desired"`
	Running uint64 `json:"running"`
	// Pending explains why tasks are not placed, if any are not.
	Pending []string `json:"pending,omitempty"`
	// Tasks are the running tasks and their addresses (service inspect
	// only; service ls leaves them out).
	Tasks []TaskAddress `json:"tasks,omitempty"`
}

// TaskAddress is where one running task is.
type TaskAddress struct {
	ID   string `json:"id"`
	Slot uint64 `json:"slot"`
	Node string `json:"node"`
	// IP is the task's own address; empty on the host network.
	IP string `json:"ip,omitempty"`
}

// ServiceRollbackRequest is the body of POST
// /v1/services/{name}/rollback: ToVersion, or 0 for the version before
// the current one.
type ServiceRollbackRequest struct {
	ToVersion uint64 `json:"to_version,omitempty"`
}

// ServiceUpdateRequest is the body of POST /v1/services/{name}. Either a
// whole new Spec, or just Replicas (a scale).
type ServiceUpdateRequest struct {
	Spec          *ServiceSpec `json:"spec,omitempty"`
	Replicas      *uint64      `json:"replicas,omitempty"`
	ExpectVersion uint64       `json:"expect_version,omitempty"`
}

// TaskInfo is a task as `service ps` shows it.
type TaskInfo struct {
	Task
	NodeName string    `json:"node"`  // node name, "" while pending
	State    TaskState `json:"state"` // Status.State, flattened for scripts
	Error    string    `json:"error"` // Status.Err, flattened for scripts
	IP       string    `json:"ip"`    // Status.IP, flattened; "" on the host network
	// Health is Status.Health, flattened: "starting", "healthy" or
	// "unhealthy" for a running task with a health check.
	Health string `json:"health,omitempty"`
}
