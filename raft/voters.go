package raft

import (
	"fmt"
	"time"
)

// Candidate is a cluster member as the voter planner sees it.
type Candidate struct {
	ID    string
	Alive bool
	// AliveSince is when the member was last seen to come alive;
	// DeadSince when it was last seen to die.
	AliveSince, DeadSince time.Time
	// Zone is the member's failure domain ("" if unknown).
	Zone string
	// AppliedIndex is the Raft index the member last reported applied.
	AppliedIndex uint64
}

// VoterPolicy tunes PlanVoters. Zero fields take the defaults noted.
type VoterPolicy struct {
	BaseVoters  int           // voters for small clusters; default 3
	LargeVoters int           // voters once there are LargeAt nodes; default 5
	LargeAt     int           // default 7
	StableFor   time.Duration // alive this long before promotion; default 2s
	DeadGrace   time.Duration // dead this long before removal; default 3s
	MaxLag      uint64        // max log lag behind commit for promotion; default 250
}

func (p VoterPolicy) withDefaults() VoterPolicy {
	if p.BaseVoters <= 0 {
		p.BaseVoters = 3
	}
	if p.LargeVoters <= 0 {
		p.LargeVoters = 5
	}
	if p.LargeAt <= 0 {
		p.LargeAt = 7
	}
	if p.StableFor == 0 {
		p.StableFor = 2 * time.Second
	}
	if p.DeadGrace == 0 {
		p.DeadGrace = 3 * time.Second
	}
	if p.MaxLag == 0 {
		p.MaxLag = 250
	}
	return p
}

// TargetVoters is how many voters a cluster of nodes alive nodes should
// have: BaseVoters, LargeVoters from LargeAt nodes on, never more than the
// nodes, always odd, and at least 1 when there is a node.
func TargetVoters(nodes int, p VoterPolicy) int {
	p = p.withDefaults()
	if nodes <= 0 {
		return 0
	}
	t := p.BaseVoters
	if nodes >= p.LargeAt {
		t = p.LargeVoters
	}
	t = min(t, nodes)
	if t%2 == 0 {
		t--
	}
	return max(t, 1)
}

// ChangeKind is a kind of Raft configuration change.
type ChangeKind int

// Change kinds, applied with the Consensus method of the same name.
const (
	AddNonvoter ChangeKind = iota + 1
	Promote
	Demote
	Remove
)

// String returns the kind's name, as used in logs.
func (k ChangeKind) String() string {
	switch k {
	case AddNonvoter:
		return "add-nonvoter"
	case Promote:
		return "promote"
	case Demote:
		return "demote"
	case Remove:
		return "remove"
	}
	return fmt.Sprintf("change(%d)", int(k))
}

// Change is one step of a voter plan.
type Change struct {
	Kind   ChangeKind
	ID     string
	Reason string
}

// String describes the change for logs.
func (c Change) String() string { return fmt.Sprintf("%s %s (%s)", c.Kind, c.ID, c.Reason) }

// ApplyChange carries out one planned change. Leader only.
func (c *Consensus) ApplyChange(ch Change) error {
	switch ch.Kind {
	case AddNonvoter:
		return c.AddNonvoter(ch.ID)
	case Promote:
		return c.Promote(ch.ID)
	case Demote:
		return c.Demote(ch.ID)
	case Remove:
		return c.Remove(ch.ID)
	}
	return fmt.Errorf("raft: unknown change kind %d", int(ch.Kind))
}
