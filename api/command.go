package api

import (
	"encoding/json"
	"time"
)

// CommandVersion is the version of the command encoding this build writes.
// The FSM refuses commands of a newer version than it knows.
const CommandVersion = 1

// CommandType names a change to the replicated state.
type CommandType string

// Command types. Payload types are named after them.
const (
	CmdBootstrap     CommandType = "cluster.bootstrap"   // BootstrapPayload
	CmdRotateToken   CommandType = "cluster.rotateToken" // RotateTokenPayload
	CmdRegisterNode  CommandType = "node.register"       // RegisterNodePayload
	CmdSetNodeStatus CommandType = "node.setStatus"      // SetNodeStatusPayload
	CmdUpdateNode    CommandType = "node.update"         // UpdateNodePayload
	CmdRemoveNode    CommandType = "node.remove"         // RemoveNodePayload
	// CmdNodeRestarting records that a node's agent is restarting
	// gracefully (protocol 2).
	CmdNodeRestarting CommandType = "node.restarting" // NodeRestartingPayload
	// CmdSetRaftRoles records the Raft configuration on node records, so
	// every node, Raft server or not, can show roles.
	CmdSetRaftRoles CommandType = "node.setRaftRoles" // SetRaftRolesPayload

	CmdCreateService CommandType = "service.create" // CreateServicePayload
	CmdUpdateService CommandType = "service.update" // UpdateServicePayload
	CmdRemoveService CommandType = "service.remove" // RemoveServicePayload
	// CmdRollbackService makes an earlier spec the new version (protocol 5).
	CmdRollbackService CommandType = "service.rollback" // RollbackServicePayload
	// CmdPromoteService continues an update held in its canary state
	// (protocol 6).
	CmdPromoteService CommandType = "service.promote" // PromoteServicePayload
	// CmdWriteTasks carries the leader's task decisions: new tasks,
	// assignments and desired-state changes, in one batch.
	CmdWriteTasks CommandType = "task.write" // WriteTasksPayload
	// CmdReportTaskStatus carries observed states from one node.
	CmdReportTaskStatus CommandType = "task.report" // ReportTaskStatusPayload
	// CmdReportTaskStatusBatch carries the reports of several nodes that
	// reached the leader together, in one entry (protocol 5; the leader
	// alone proposes it, after checking each report's sender).
	CmdReportTaskStatusBatch CommandType = "task.reportBatch" // ReportTaskStatusBatchPayload

	CmdReportImages CommandType = "image.report" // ReportImagesPayload
	CmdRemoveImage  CommandType = "image.remove" // RemoveImagePayload

	// CmdCreateACLToken and CmdRevokeACLToken manage API tokens
	// (protocol 5).
	CmdCreateACLToken CommandType = "acl.createToken" // CreateACLTokenPayload
	CmdRevokeACLToken CommandType = "acl.revokeToken" // RevokeACLTokenPayload

	// CmdRotateKeys is one step of `shoal cluster rotate-keys` (protocol
	// 5): RotateKeysPayload.
	CmdRotateKeys CommandType = "cluster.rotateKeys"

	// CmdCreateSecret and CmdRemoveSecret manage secrets (protocol 5).
	CmdCreateSecret CommandType = "secret.create" // CreateSecretPayload
	CmdRemoveSecret CommandType = "secret.remove" // RemoveSecretPayload
)

// Command is one entry in the Raft log. The leader stamps Time (and any IDs
// inside Payload) before it proposes, so every replica applies it the same
// way. RequestID makes a retried write apply once.
type Command struct {
	Version   int             `json:"v"`
	Type      CommandType     `json:"type"`
	RequestID string          `json:"request_id"`
	Time      time.Time       `json:"time"`
	Payload   json.RawMessage `json:"payload"`
}

// BootstrapPayload creates the cluster record and its first node.
type BootstrapPayload struct {
	Cluster Cluster `json:"cluster"`
	Node    Node    `json:"node"`
}

// RotateTokenPayload replaces the join-token nonce (chosen by the leader).
type RotateTokenPayload struct {
	TokenNonce []byte `json:"token_nonce"`
}

// RegisterNodePayload records a node that joined, or refreshes the
// addresses and capacity of one that restarted.
type RegisterNodePayload struct {
	Node Node `json:"node"`
}

// SetNodeStatusPayload records liveness seen by the leader.
type SetNodeStatusPayload struct {
	NodeID string     `json:"node_id"`
	Status NodeStatus `json:"status"`
}

// NodeRestartingPayload marks a node restarting for Grace; the leader
// stamps the command time, so the deadline is the same on every replica.
type NodeRestartingPayload struct {
	NodeID string        `json:"node_id"`
	Grace  time.Duration `json:"grace"`
}

// UpdateNodePayload changes what an operator controls on a node.
type UpdateNodePayload struct {
	NodeID       string            `json:"node_id"`
	Availability Availability      `json:"availability,omitempty"`
	LabelAdd     map[string]string `json:"label_add,omitempty"`
	LabelRemove  []string          `json:"label_rm,omitempty"`
	// DrainDeadline, with availability drain, sets the node's drain
	// deadline to the command's time plus this; see Node.DrainDeadline.
	DrainDeadline Duration `json:"drain_deadline,omitempty"`
	// OperatorLabels, stamped by the leader once every node speaks
	// protocol 5, records the label changes as the operator's, so that
	// they win over the node's config labels (Node.OperatorLabels).
	OperatorLabels bool `json:"operator_labels,omitempty"`
}

// SetRaftRolesPayload sets RaftRole on nodes; nodes not listed become
// plain members.
type SetRaftRolesPayload struct {
	Roles map[string]Role `json:"roles"`
}

// RemoveNodePayload forgets a node.
type RemoveNodePayload struct {
	NodeID string `json:"node_id"`
	// TokenNonce, stamped by the leader once every node speaks protocol
	// 4, rotates the join token with the removal: a removed node may have
	// kept the token it joined with.
	TokenNonce []byte `json:"token_nonce,omitempty"`
	// Deny, stamped by the leader once every node speaks protocol 5, adds
	// the node's peer ID to the deny list with the removal: it may never
	// connect, join or gossip again.
	Deny bool `json:"deny,omitempty"`
}

// CreateServicePayload creates a service; ServiceID is stamped by the leader.
type CreateServicePayload struct {
	ServiceID string      `json:"service_id"`
	Spec      ServiceSpec `json:"spec"`
	// By names who asked (the API caller), for the history (protocol 5).
	By string `json:"by,omitempty"`
}

// UpdateServicePayload replaces a service's spec. If ExpectVersion is
// non-zero the update applies only to that version (optimistic concurrency).
type UpdateServicePayload struct {
	Name          string      `json:"name"`
	ExpectVersion uint64      `json:"expect_version,omitempty"`
	Spec          ServiceSpec `json:"spec"`
	// By names who asked (the API caller), for the history (protocol 5).
	By string `json:"by,omitempty"`
}

// RemoveServicePayload removes a service; its tasks are told to shut down.
type RemoveServicePayload struct {
	Name string `json:"name"`
}

// WriteTasksPayload is a batch of leader decisions about tasks.
type WriteTasksPayload struct {
	// Create holds new tasks, with IDs stamped by the leader.
	Create []Task `json:"create,omitempty"`
	// Spawn holds new tasks, as Create, that run their service's spec at
	// their SpecVersion and carry no spec of their own: the FSM fills it
	// in from the service record (protocol 6). A creation entry then
	// holds each spec once, in the service, instead of once per task, and
	// the tasks of one version share it in memory.
	Spawn []Task `json:"spawn,omitempty"`
	// Assign moves pending tasks to nodes, or records why they stay pending.
	Assign []TaskAssignment `json:"assign,omitempty"`
	// Desire lowers tasks' desired state (to shutdown).
	Desire []TaskDesire `json:"desire,omitempty"`
	// Delete drops task records (history beyond the bound, removed services).
	Delete []string `json:"delete,omitempty"`
	// Orphan ends tasks whose node is down: desired state shutdown and
	// observed state orphaned, written by the leader because the node cannot
	// report. A node that comes back stops what it still runs of them.
	Orphan []TaskOrphan `json:"orphan,omitempty"`
	// Services advance services' rolling updates (protocol 5).
	Services []ServiceUpdate `json:"service_updates,omitempty"`
}

// TaskOrphan ends one task on a lost node.
type TaskOrphan struct {
	TaskID string `json:"task_id"`
	Reason string `json:"reason"`
}

// TaskAssignment places one task, or explains why it could not be placed.
type TaskAssignment struct {
	TaskID string `json:"task_id"`
	NodeID string `json:"node_id,omitempty"` // empty: still pending, see Err
	Err    string `json:"error,omitempty"`
}

// TaskDesire sets one task's desired state.
type TaskDesire struct {
	TaskID       string    `json:"task_id"`
	DesiredState TaskState `json:"desired_state"`
	// StopDeadline, if set, caps the task's stop grace period: see
	// Task.StopDeadline.
	StopDeadline time.Time `json:"stop_deadline,omitzero"`
}

// ReportTaskStatusPayload is a batch of observed states from one node.
type ReportTaskStatusPayload struct {
	NodeID  string             `json:"node_id"`
	Updates []TaskStatusUpdate `json:"updates"`
}

// ReportTaskStatusBatchPayload is several nodes' reports, applied in
// order as if each were its own task.report entry.
type ReportTaskStatusBatchPayload struct {
	Reports []ReportTaskStatusPayload `json:"reports"`
}

// TaskStatusUpdate is one task's observed status.
type TaskStatusUpdate struct {
	TaskID string     `json:"task_id"`
	Status TaskStatus `json:"status"`
}

// Key rotation steps (RotateKeysPayload.Step), committed in this order with
// the leader waiting between them until every node has applied the last:
const (
	// RotateInstall adds the new gossip key to every node's keyring; the
	// old one still encrypts.
	RotateInstall = "install"
	// RotateSwitch makes the new gossip key the one that encrypts and
	// replaces the cluster signing key and the join token: tokens and the
	// CA fingerprint change here.
	RotateSwitch = "switch"
	// RotateDrop removes the old gossip key: a node that still holds only
	// it gets nothing.
	RotateDrop = "drop"
)

// RotateKeysPayload is one rotation step. The leader draws the keys.
type RotateKeysPayload struct {
	Step string `json:"step"`
	// GossipKey is the new gossip key (install and switch).
	GossipKey []byte `json:"gossip_key,omitempty"`
	// SigningKey and TokenNonce replace the cluster's (switch).
	SigningKey []byte `json:"signing_key,omitempty"`
	TokenNonce []byte `json:"token_nonce,omitempty"`
}

// RotateKeysResult answers POST /v1/cluster/rotate-keys.
type RotateKeysResult struct {
	// Steps are the steps this call committed.
	Steps []string `json:"steps"`
	// Lagging names nodes that were up but did not confirm a step in
	// time; they install the keys when they catch up.
	Lagging []string `json:"lagging,omitempty"`
	// Token is the new join token.
	Token string `json:"token"`
}
