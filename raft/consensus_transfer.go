package raft

import (
	hraft "github.com/hashicorp/raft"
)

// TransferLeadershipTo hands leadership to voter id (server IDs double as
// addresses) and returns once this server has stepped down, or with an
// error if the target did not take over within an election timeout.
// Leader only.
func (c *Consensus) TransferLeadershipTo(id string) error {
	if err := c.raft.LeadershipTransferToServer(hraft.ServerID(id), hraft.ServerAddress(id)).Error(); err != nil {
		return c.mapError(err, "transfer leadership")
	}
	return nil
}
