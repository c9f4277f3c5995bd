package raft

import (
	"errors"
	"fmt"

	hraft "github.com/hashicorp/raft"

	"github.com/shoal-project/shoal/state"
)

// forceNewCluster rewrites the Raft state in logs and snaps so that this
// server is the only voter of its cluster, keeping the replicated state
// (hashicorp/raft's RecoverCluster: it replays the snapshot and every log,
// including ones never committed, takes a snapshot and records the new
// one-server configuration). It is the way out of a lost quorum: a
// majority of voters gone for good. It runs before the Raft server starts.
func forceNewCluster(rc *hraft.Config, logs *LogStore, snaps hraft.SnapshotStore, cfg Config, existing bool) error {
	if !existing {
		return errors.New("raft: --force-new-cluster needs a data dir that holds Raft state (a former voter's); this one has none")
	}
	only := hraft.Configuration{Servers: []hraft.Server{{
		Suffrage: hraft.Voter, ID: hraft.ServerID(cfg.LocalID), Address: hraft.ServerAddress(cfg.LocalID),
	}}}
	if forced, err := logs.GetUint64(forcedAtKey); err == nil && forced > 0 {
		if last := lastIndex(logs, snaps); last > forced {
			return fmt.Errorf("raft: --force-new-cluster already recovered this data dir (at index %d) and the cluster has moved on since (index %d); start without it", forced, last)
		}
	}
	if err := hraft.RecoverCluster(rc, fsmAdapter{state.NewFSM(state.NewStore())}, logs, logs, snaps, cfg.Transport, only); err != nil {
		return fmt.Errorf("raft: forcing a new cluster: %v", err)
	}
	return logs.SetUint64(forcedAtKey, lastIndex(logs, snaps))
}

// lastIndex is the newest index the data dir holds, in its log or, after a
// recovery compacted the log away, in its newest snapshot.
func lastIndex(logs *LogStore, snaps hraft.SnapshotStore) uint64 {
	last, _ := logs.LastIndex()
	if list, err := snaps.List(); err == nil && len(list) > 0 {
		last = max(last, list[0].Index)
	}
	return last
}

// forcedAtKey records, in the stable store, the last log index right after
// a forced recovery: a flag left in a service unit must not make the node
// the only voter again once the cluster has grown back.
var forcedAtKey = []byte("shoal-forced-new-cluster-at")
