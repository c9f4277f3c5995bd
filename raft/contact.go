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
	err := t.NetworkTransport.AppendEntries(id, target, args, resp)
	if err == nil {
		t.mu.Lock()
		t.last[string(id)] = t.now()
		t.mu.Unlock()
	}
	return err
}

// LastContact returns when server id last answered an AppendEntries sent
// from here, and whether it ever did.
func (t *ContactTransport) LastContact(id string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.last[id]
	return at, ok
}
