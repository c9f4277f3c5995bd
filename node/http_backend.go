package node

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// What the HTTP API needs from the node it runs on, grouped by purpose.
// *Agent implements all three (apiBackend); the handlers reach the node
// through them only, and are unit-tested against a fake over an
// in-memory store (http_backend_test.go).

// apiReads reads the replicated state and what this node knows of the
// leader. A handler takes one view per answer and passes it down, so an
// answer never mixes two log indexes.
type apiReads interface {
	// view is the local replica at its current index.
	view() *state.View
	// consistentRead brings the local replica up to the leader's state
	// at the time of the call (a read index).
	consistentRead(ctx context.Context) error
	// leaderTerm is the current term and its leader ("" if not known).
	leaderTerm() (string, uint64)
	// commitIndex is the highest log index this node knows committed.
	commitIndex() uint64
	// roleOf is a node's role as this node knows it now.
	roleOf(n *api.Node) api.Role
	// events is the source of the committed changes this replica applied.
	events() eventSource
}

// apiWrites proposes commands and calls the leader.
type apiWrites interface {
	// submitPayload has the leader commit a command and returns its
	// result; requestID makes a retry answer the same.
	submitPayload(ctx context.Context, typ api.CommandType, requestID string, payload any) (json.RawMessage, error)
	// callLeader runs an RPC method on the leader.
	callLeader(ctx context.Context, method rpcMethod, req, reply any) error
}

// apiNodeOps is what the API does on this node or on one other node:
// checks, backups, logs, images, fault injection, the HTTPS names.
type apiNodeOps interface {
	// checkRemovable refuses the removal of n (see node/remove.go).
	checkRemovable(n *api.Node, force bool) error
	saveBackup(ctx context.Context) ([]byte, error)
	restoreBackup(ctx context.Context, file []byte, allowForeign bool) (api.RestoreResult, error)
	// taskLogs opens one task's log, locally or from its node.
	taskLogs(ctx context.Context, t *api.Task, follow bool, tail int) (io.ReadCloser, error)
	// loadImages imports an image tarball into this node's content store
	// and reports the node's images.
	loadImages(ctx context.Context, tarball io.Reader) ([]api.ImageRef, error)
	// removeImageOn removes an image from one node's content store.
	removeImageOn(ctx context.Context, nodeID, ref string) error
	// faultInjection reports whether --fault-injection is on;
	// injectFault applies a fault request (node/faults.go).
	faultInjection() bool
	injectFault(req FaultRequest) (map[string][]string, error)
	// apiDNSNames are the DNS names of the HTTPS certificate.
	apiDNSNames() []string
}

// apiBackend is everything the API server reaches the node through.
type apiBackend interface {
	apiReads
	apiWrites
	apiNodeOps
}

// eventSource subscribes to applied events (state.FSM).
type eventSource interface {
	SubscribeEvents(since *uint64) (*state.EventSub, error)
}

// apiServerConfig is what an API server is built from: its backend and
// the explicit values it uses besides.
type apiServerConfig struct {
	Backend apiBackend
	Log     *slog.Logger
	// Metrics instruments every request and serves GET /metrics.
	Metrics *metrics
	// Done ends the open event streams when the agent stops.
	Done context.Context
	// Self is this node's name.
	Self string
	// Socket is the local unix socket (nil if disabled); TCP the HTTPS
	// listener (nil unless --api-addr is set).
	Socket, TCP net.Listener
	// Certs serves the TLS certificate and the cluster CA.
	Certs *apiCertSource
}

// The adapters of *Agent to apiBackend whose signature differs from the
// agent's own methods.

func (a *Agent) view() *state.View    { return a.store().View() }
func (a *Agent) commitIndex() uint64  { return a.cons.CommitIndex() }
func (a *Agent) events() eventSource  { return a.cons.FSM() }
func (a *Agent) faultInjection() bool { return a.faults != nil }

var _ apiBackend = (*Agent)(nil)
