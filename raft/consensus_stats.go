package raft

import (
	"slices"
	"time"

	"github.com/shoal-project/shoal/api"
)

// Observer receives timings from Consensus and its FSM, e.g. for metrics.
// Its methods must be quick and must not block: they run on Raft's apply
// path.
type Observer interface {
	// Committed reports how long a command this leader proposed took from
	// Propose to applied.
	Committed(d time.Duration)
	// Applied reports how long the FSM took to apply one known command.
	Applied(typ api.CommandType, d time.Duration)
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
		AppliedIndex:  c.fsm.store.AppliedIndex(),
		LastLogIndex:  c.raft.LastIndex(),
		Leader:        c.IsLeader(),
		LeaderChanges: c.leaderChanges.Load(),
		Snapshots:     c.fsm.snapshots.Load(),
	}
}

// CommandTypes lists every command type the FSM applies, sorted.
func CommandTypes() []api.CommandType {
	out := make([]api.CommandType, 0, len(handlers))
	for t := range handlers {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}
