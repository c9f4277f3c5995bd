package raft

import (
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"
)

// ContactTransport is a NetworkTransport that records, per server, when
// an AppendEntries to it (a heartbeat or a replication) last got an
// answer. On the leader that is each follower's last contact, which
// hashicorp/raft keeps internal (Raft.Stats reports only the local
// server's contact with its leader). Every other method is the embedded
// transport's, so the optional interfaces it implements (WithClose,
// WithPreVote, WithPeers) stay visible to raft.
type ContactTransport struct {
	*hraft.NetworkTransport
	now func() time.Time
	// observe, if set, is told how long each AppendEntries took, whether
	// it was a heartbeat (no entries) and whether it was answered.
	observe func(heartbeat bool, took time.Duration, answered bool)

	mu   sync.Mutex
	last map[string]time.Time
}

// NewContactTransport wraps t.
func NewContactTransport(t *hraft.NetworkTransport) *ContactTransport {
	return &ContactTransport{NetworkTransport: t, now: time.Now, last: map[string]time.Time{}}
}

// AppendEntries sends the request and, when an answer comes back (a
// refusal included: the server was reached), records the time.
func (t *ContactTransport) AppendEntries(id hraft.ServerID, target hraft.ServerAddress, args *hraft.AppendEntriesRequest, resp *hraft.AppendEntriesResponse) error {
	start := t.now()
	err := t.NetworkTransport.AppendEntries(id, target, args, resp)
	end := t.now()
	if err == nil {
		t.mu.Lock()
		t.last[string(id)] = end
		t.mu.Unlock()
	}
	if t.observe != nil {
		t.observe(len(args.Entries) == 0, end.Sub(start), err == nil)
	}
	return err
}

// Observe sets a function told of every AppendEntries this node sends:
// whether it was a heartbeat, how long it took and whether it was
// answered. A leader that loses its lease is one whose heartbeats to a
// quorum went unanswered for the lease timeout; this shows how close they
// come. Call it before Raft starts.
func (t *ContactTransport) Observe(f func(heartbeat bool, took time.Duration, answered bool)) {
	t.observe = f
}

// LastContact returns when server id last answered an AppendEntries sent
// from here, and whether it ever did.
func (t *ContactTransport) LastContact(id string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.last[id]
	return at, ok
}
