// Package api holds the data model that every Shoal package shares: the
// records kept in the replicated store (cluster, nodes, services, tasks), the
// commands that change them, and the JSON shapes of the HTTP API.
//
// It imports nothing from the rest of Shoal, so every other package may
// import it.
package api

import (
	"strings"
	"time"
)

// NodeStatus is the liveness of a node as the leader last recorded it.
type NodeStatus string

// Node statuses.
const (
	NodeReady NodeStatus = "ready"
	NodeDown  NodeStatus = "down"
	// NodeRestarting is a node whose agent announced a graceful restart
	// (SIGTERM without --leave-on-terminate): its tasks keep their places
	// until RestartBy, and the scheduler places nothing new on it.
	NodeRestarting NodeStatus = "restarting"
)

// Availability says whether the scheduler may place work on a node.
type Availability string

// Node availabilities, as in `docker node update --availability`.
const (
	AvailabilityActive Availability = "active"
	AvailabilityPause  Availability = "pause"
	AvailabilityDrain  Availability = "drain"
)

// Role is a node's part in consensus. It is derived from the Raft
// configuration at read time, never stored.
type Role string

// Roles.
const (
	RoleLeader   Role = "leader"
	RoleVoter    Role = "voter"
	RoleNonvoter Role = "nonvoter"
	RoleMember   Role = "member"
)

// Resources is an amount of CPU and memory: a node's capacity or a task's
// reservation.
type Resources struct {
	// NanoCPUs is CPU in billionths of a core (1e9 = one core).
	NanoCPUs int64 `json:"nano_cpus,omitempty"`
	// MemoryBytes is memory in bytes.
	MemoryBytes int64 `json:"memory_bytes,omitempty"`
}

// Add returns r plus o.
func (r Resources) Add(o Resources) Resources {
	return Resources{NanoCPUs: r.NanoCPUs + o.NanoCPUs, MemoryBytes: r.MemoryBytes + o.MemoryBytes}
}

// Node is a host in the cluster. Its ID is its libp2p peer ID.
type Node struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	P2PAddr    string            `json:"p2p_addr"`    // host:port of its libp2p listener
	GossipAddr string            `json:"gossip_addr"` // host:port of its memberlist listener
	APIAddr    string            `json:"api_addr,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	// OperatorLabels are the labels set with `node update` (protocol 5):
	// they win over the node's config labels when it registers again.
	OperatorLabels map[string]string `json:"operator_labels,omitempty"`
	// Resources is the node's total capacity.
	Resources Resources `json:"resources"`
	// Runtimes are the task runtimes the node has enabled ("process", "containerd").
	Runtimes     []string     `json:"runtimes,omitempty"`
	Status       NodeStatus   `json:"status"`
	Availability Availability `json:"availability"`
	// RaftRole is voter, nonvoter or member, as the leader last set it;
	// whether a voter leads is read from Raft, not stored.
	RaftRole Role `json:"raft_role,omitempty"`
	// Protocol is the newest command protocol the node's build applies
	// (0 for builds older than protocol 2, which means 1).
	Protocol int `json:"protocol,omitempty"`
	// Subnet is the node's /24 of the cluster's CIDR, from which its
	// containers get their addresses. The FSM allocates it when the node
	// registers (never from the payload) and frees it when the node is
	// removed; empty in a cluster without a CIDR.
	Subnet string `json:"subnet,omitempty"`
	// RestartBy is when a restarting node counts as down if it has not
	// come back (leader time).
	RestartBy time.Time `json:"restart_by,omitzero"`
	// DrainDeadline is when a drain stops waiting for the node's tasks to
	// end within their stop grace periods: tasks still running are then
	// killed. Zero while not draining, or for a drain without a deadline.
	DrainDeadline time.Time `json:"drain_deadline,omitzero"`
	JoinedAt      time.Time `json:"joined_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// ProtocolOf is the command protocol the node applies (1 when it did not
// say).
func (n *Node) ProtocolOf() int { return max(n.Protocol, 1) }

// HasRuntime reports whether the node advertises runtime name.
func (n *Node) HasRuntime(name string) bool {
	for _, r := range n.Runtimes {
		if r == name {
			return true
		}
	}
	return false
}

// DeniedPeer is a node removed from the cluster (`node rm`): its peer ID
// may never connect, join or gossip again. The deny list keeps the newest
// MaxDeniedPeers; Seq orders it (the oldest entry goes first).
type DeniedPeer struct {
	ID       string    `json:"id"`   // the removed node's peer ID
	Name     string    `json:"name"` // its name when it was removed
	DeniedAt time.Time `json:"denied_at"`
	Seq      uint64    `json:"seq"`
}

// MaxDeniedPeers bounds the deny list; a removal beyond it drops the
// oldest entry.
const MaxDeniedPeers = 10000

// Cluster is the singleton record that defines a cluster's identity.
type Cluster struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	// SigningKey is the cluster's Ed25519 private key (64 bytes). Members
	// prove to joiners that they belong to the cluster with it; the join
	// token pins the digest of its public half. Never served by the API.
	SigningKey []byte `json:"signing_key,omitempty"`
	// TokenNonce is the current join-token generation; the join secret is
	// derived from SigningKey and TokenNonce. Rotation replaces it.
	TokenNonce []byte `json:"token_nonce,omitempty"`
	// JoinSecretHash is SHA-256 of the current join secret.
	JoinSecretHash []byte    `json:"join_secret_hash,omitempty"`
	TokenRotatedAt time.Time `json:"token_rotated_at"`
	// GossipKey encrypts memberlist traffic (32 bytes, AES-256-GCM).
	GossipKey []byte `json:"gossip_key,omitempty"`
	// GossipKeyNext (installed, not yet used to encrypt) and GossipKeyPrev
	// (the previous key, still accepted) are further gossip keys every
	// node's keyring holds while a key rotation is under way.
	GossipKeyNext []byte `json:"gossip_key_next,omitempty"`
	GossipKeyPrev []byte `json:"gossip_key_prev,omitempty"`
	// KeysRotatedAt is when rotate-keys last switched the keys.
	KeysRotatedAt time.Time `json:"keys_rotated_at,omitzero"`
	// DataKey seals secrets (32 bytes, AES-256-GCM); created with the
	// cluster's first secret.
	DataKey []byte `json:"data_key,omitempty"`
	// CIDR is the task network every node's subnet comes from (protocol
	// 5, chosen at bootstrap). Empty for clusters bootstrapped before it:
	// their nodes get no subnet and their containers use the host network.
	CIDR string `json:"cidr,omitempty"`
	// ServiceCIDR is where services' virtual IPs come from (chosen at
	// bootstrap, default DefaultServiceCIDR). Empty for clusters
	// bootstrapped before service traffic: their services get no VIP.
	ServiceCIDR string `json:"service_cidr,omitempty"`
}

// Redacted returns a copy of c without its secrets, fit for the API.
func (c Cluster) Redacted() Cluster {
	c.SigningKey, c.TokenNonce, c.JoinSecretHash, c.GossipKey, c.DataKey = nil, nil, nil, nil, nil
	c.GossipKeyNext, c.GossipKeyPrev = nil, nil
	return c
}

// ShortID shortens a libp2p peer ID or a task ID for tables. Ed25519 peer
// IDs all start with "12D3KooW", so that prefix is skipped.
func ShortID(id string) string {
	id = strings.TrimPrefix(id, "12D3KooW")
	if len(id) > 10 {
		return id[:10]
	}
	return id
}
