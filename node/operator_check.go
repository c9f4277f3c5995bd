package node

import (
	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/raft"
)

// checkTransferTarget says why leadership cannot go to node to: it is not
// in the Raft configuration, is a non-voter, or is not alive. With to
// empty it checks that some other voter is alive. name renders an ID for
// messages.
func checkTransferTarget(to, self string, servers []raft.Server, alive map[string]bool, name func(string) string) error {
	if to == "" {
		for _, s := range servers {
			if s.Voter && s.ID != self && alive[s.ID] {
				return nil
			}
		}
		return api.Errorf(api.CodeConflict, "no other voter is up to take leadership")
	}
	for _, s := range servers {
		if s.ID != to {
			continue
		}
		switch {
		case !s.Voter:
			return api.Errorf(api.CodeConflict, "node %s is a non-voter; only a voter can lead", name(to))
		case !alive[to]:
			return api.Errorf(api.CodeConflict, "node %s is not up (down or restarting)", name(to))
		}
		return nil
	}
	return api.Errorf(api.CodeConflict, "node %s is not a Raft server (a plain member); only a voter can lead", name(to))
}
