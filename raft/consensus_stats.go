package raft

import (
	"time"

	"github.com/shoal-project/shoal/state"
)

// Observer receives timings from Consensus and its FSM, e.g. for metrics.
// Its methods must be quick and must not block: they run on Raft's apply
// path.
type Observer interface {
	// Committed reports how long a command this leader proposed took from
	// Propose to applied.
	Committed(d time.Duration)
	// Applied reports how long the FSM took to apply one known command.
	state.ApplyObserver
}

// Stats is a point-in-time view of this Raft server, cheap to read.
type Stats struct {
	Term         uint64
	CommitIndex  uint64
	AppliedIndex uint64
	LastLogIndex uint64
	Leader       bool
	// LeaderChanges counts the leaders this server has heard of, one per
	// change to a new known leader (needs TrackLeader).
	LeaderChanges uint64
	// Snapshots counts the FSM snapshots taken since Open.
	Snapshots uint64
}

// Stats returns the server's indexes, term and counters. It takes no lock
// the FSM holds.
func (c *Consensus) Stats() Stats {
	return Stats{
		Term:          c.raft.CurrentTerm(),
		CommitIndex:   c.raft.CommitIndex(),
		AppliedIndex:  c.fsm.Store().AppliedIndex(),
		LastLogIndex:  c.raft.LastIndex(),
		Leader:        c.IsLeader(),
		LeaderChanges: c.leaderChanges.Load(),
		Snapshots:     c.fsm.SnapshotCount(),
	}
}

// FSM returns the state machine, for the state feed.
func (c *Consensus) FSM() *state.FSM { return c.fsm }
