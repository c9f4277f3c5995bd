package raft

import (
	"fmt"
	"time"

	hraft "github.com/hashicorp/raft"
)

// Timings are the Raft timers and log-compaction knobs.
type Timings struct {
	// HeartbeatTimeout is how long a follower goes without contact from
	// the leader before it starts a (pre-)election; the real timeout is
	// randomised in [HeartbeatTimeout, 2×HeartbeatTimeout).
	HeartbeatTimeout time.Duration
	// ElectionTimeout is how long a candidate waits for votes before it
	// tries again, randomised the same way.
	ElectionTimeout time.Duration
	// LeaderLeaseTimeout is how long a leader keeps leading without
	// contact from a quorum before it steps down. At most HeartbeatTimeout.
	LeaderLeaseTimeout time.Duration
	// CommitTimeout is how long the leader waits without new entries
	// before it sends followers the commit index anyway.
	CommitTimeout time.Duration
	// SnapshotThreshold is how many logs since the last snapshot trigger
	// a new one (checked every SnapshotInterval).
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	// TrailingLogs is how many logs stay behind a snapshot so that a
	// slightly lagging follower catches up from the log, not a snapshot.
	TrailingLogs uint64
}

// FastTimings are Shoal's defaults for a LAN, aiming at a median leader
// failover of at most 1 s. hashicorp/raft's defaults (1 s / 1 s / 500 ms)
// measured a 1.7 s median; 500 ms / 250 ms measured 1.1 s; 400 ms / 200 ms
// measured 1.18 s end to end through the API (make bench-failover). A
// crashed leader is noticed after a random 300–600 ms, pre-vote and the vote
// take a few round trips. 300 ms is still hundreds of LAN round trips and
// many GC pauses, so loaded followers do not start needless elections. The
// lease is as long: a partitioned leader steps down by the time the others
// elect a new one (its writes fail without a quorum either way, and reads
// are leader-verified). A lease of half that (150 ms) cost elections on a
// busy machine: with 3 agents and 500 simulated nodes on 2 cores, heartbeat
// round trips reached 128–256 ms (shoal_raft_append_entries_rpc_seconds),
// both followers' at once, and the leader stepped down in each of three
// 10,000-task runs. A 20 ms commit timeout lets followers apply within a few tens of
// milliseconds when writes are sparse. Snapshot and log settings are
// hashicorp/raft's defaults, which suit a store of this size.
func FastTimings() Timings {
	return Timings{
		HeartbeatTimeout:   300 * time.Millisecond,
		ElectionTimeout:    300 * time.Millisecond,
		LeaderLeaseTimeout: 300 * time.Millisecond,
		CommitTimeout:      20 * time.Millisecond,
		SnapshotThreshold:  8192,
		SnapshotInterval:   120 * time.Second,
		TrailingLogs:       10240,
	}
}

// withDefaults fills every zero field from FastTimings, keeping the
// election timeout at least, and the lease at most, the heartbeat timeout.
func (t Timings) withDefaults() Timings {
	d := FastTimings()
	if t.HeartbeatTimeout == 0 {
		t.HeartbeatTimeout = d.HeartbeatTimeout
	}
	if t.ElectionTimeout == 0 {
		t.ElectionTimeout = max(d.ElectionTimeout, t.HeartbeatTimeout) // raft refuses a shorter one
	}
	if t.LeaderLeaseTimeout == 0 {
		t.LeaderLeaseTimeout = min(d.LeaderLeaseTimeout, t.HeartbeatTimeout)
	}
	if t.CommitTimeout == 0 {
		t.CommitTimeout = d.CommitTimeout
	}
	if t.SnapshotThreshold == 0 {
		t.SnapshotThreshold = d.SnapshotThreshold
	}
	if t.SnapshotInterval == 0 {
		t.SnapshotInterval = d.SnapshotInterval
	}
	if t.TrailingLogs == 0 {
		t.TrailingLogs = d.TrailingLogs
	}
	return t
}

// apply copies the timings into a hashicorp/raft config and validates it.
func (t Timings) apply(c *hraft.Config) error {
	c.HeartbeatTimeout = t.HeartbeatTimeout
	c.ElectionTimeout = t.ElectionTimeout
	c.LeaderLeaseTimeout = t.LeaderLeaseTimeout
	c.CommitTimeout = t.CommitTimeout
	c.SnapshotThreshold = t.SnapshotThreshold
	c.SnapshotInterval = t.SnapshotInterval
	c.TrailingLogs = t.TrailingLogs
	if err := hraft.ValidateConfig(c); err != nil {
		return fmt.Errorf("raft timings: %w", err)
	}
	return nil
}
