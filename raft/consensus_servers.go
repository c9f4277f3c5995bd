package raft

import (
	hraft "github.com/hashicorp/raft"
)

// Server is one member of the Raft configuration.
type Server struct {
	ID    string
	Voter bool
}

// Servers returns the Raft configuration, in configuration order.
func (c *Consensus) Servers() ([]Server, error) {
	fut := c.raft.GetConfiguration()
	if err := fut.Error(); err != nil {
		return nil, c.mapError(err, "get configuration")
	}
	cfg := fut.Configuration()
	out := make([]Server, 0, len(cfg.Servers))
	for _, s := range cfg.Servers {
		out = append(out, Server{ID: string(s.ID), Voter: s.Suffrage == hraft.Voter})
	}
	return out, nil
}

// AddNonvoter adds id as a non-voter (it receives the log but does not
// vote). Adding an existing member changes nothing. Leader only.
func (c *Consensus) AddNonvoter(id string) error {
	return c.change("add nonvoter", c.raft.AddNonvoter(hraft.ServerID(id), hraft.ServerAddress(id), 0, membershipTimeout))
}

// Promote makes id a voter. Promote non-voters once they have caught up:
// a lagging voter can stall commits. Leader only.
func (c *Consensus) Promote(id string) error {
	return c.change("promote", c.raft.AddVoter(hraft.ServerID(id), hraft.ServerAddress(id), 0, membershipTimeout))
}

// Demote turns voter id into a non-voter. Leader only.
func (c *Consensus) Demote(id string) error {
	return c.change("demote", c.raft.DemoteVoter(hraft.ServerID(id), 0, membershipTimeout))
}

// Remove takes id out of the Raft configuration. Leader only.
func (c *Consensus) Remove(id string) error {
	return c.change("remove", c.raft.RemoveServer(hraft.ServerID(id), 0, membershipTimeout))
}

func (c *Consensus) change(what string, fut hraft.IndexFuture) error {
	if err := fut.Error(); err != nil {
		return c.mapError(err, "raft "+what)
	}
	return nil
}
