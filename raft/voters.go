package raft

import (
	"fmt"
	"time"
)

// Candidate is a cluster member as the voter planner sees it.
type Candidate struct {
	ID    string
	Alive bool
	// Restarting is a member whose agent announced a graceful restart and
	// whose restart grace has not run out: it is away, not failed.
	Restarting bool
	// AliveSince is when the member was last seen to come alive;
	// DeadSince when it was last seen to die.
	AliveSince, DeadSince time.Time
	// DownSince is when its record was marked down (zero unless down); a
	// member down for ReapAfter no longer counts towards the target.
	DownSince time.Time
	// Zone is the member's failure domain ("" if unknown).
	Zone string
	// AppliedIndex is the Raft index the member last reported applied.
	AppliedIndex uint64
	// Reachable is a member that answered the leader in this planning
	// pass. Only such members become voters: a voter that cannot answer
	// can take the quorum with it (adding one to a one-voter cluster
	// makes a two-voter cluster that cannot commit).
	Reachable bool
}

// VoterPolicy tunes PlanVoters. Zero fields take the defaults noted.
type VoterPolicy struct {
	BaseVoters  int           // voters for small clusters; default 3
	LargeVoters int           // voters once there are LargeAt nodes; default 5
	LargeAt     int           // default 7
	StableFor   time.Duration // alive this long before promotion; default 0
	DeadGrace   time.Duration // dead this long before replacement; default 3s
	ReapAfter   time.Duration // down this long stops counting; default 24h
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
	if p.ReapAfter == 0 {
		p.ReapAfter = 24 * time.Hour
	}
	if p.DeadGrace == 0 {
		p.DeadGrace = 3 * time.Second
	}
	if p.MaxLag == 0 {
		p.MaxLag = 250
	}
	return p
}

// TargetVoters is how many voters a cluster of nodes nodes (down ones
// included until reaped) should have, given it has current voters now:
// BaseVoters, LargeVoters from LargeAt nodes on — and, once there, until
// the cluster falls below LargeAt-1 nodes, so one removal does not flap
// the target — never more than the nodes, always odd, and at least 1 when
// there is a node.
func TargetVoters(nodes, current int, p VoterPolicy) int {
	p = p.withDefaults()
	if nodes <= 0 {
		return 0
	}
	t := p.BaseVoters
	if nodes >= p.LargeAt || (current >= p.LargeVoters && nodes >= p.LargeAt-1) {
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
	// AddVoter adds a member straight as a voter. The planner uses it only
	// to grow a one-voter cluster to three at once: the new voter may lag,
	// but the two caught-up voters already make a quorum, and the change
	// commits only once the new voter holds the whole log.
	AddVoter
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
	case AddVoter:
		return "add-voter"
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
	case Promote, AddVoter:
		return c.Promote(ch.ID)
	case Demote:
		return c.Demote(ch.ID)
	case Remove:
		return c.Remove(ch.ID)
	}
	return fmt.Errorf("raft: unknown change kind %d", int(ch.Kind))
}
