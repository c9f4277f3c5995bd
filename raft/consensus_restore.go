package raft

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// restoreEnqueueTimeout bounds how long a restore waits for Raft to take
// it up.
const restoreEnqueueTimeout = 30 * time.Second

// restoreHeaderSize is the fixed size of the stream header a restore
// writes (JSON padded with spaces, then a newline), so that the stream's
// size is known before its index is.
const restoreHeaderSize = 64

// RestoreBackup puts the cluster back to the state in b, merged with the
// running cluster's identity and membership (see state.MergeRestore), through
// hashicorp/raft's user restore: this leader installs the state as a new
// snapshot at an index above every log, and every other server, finding
// that index missing from the log, receives the snapshot. The state feed
// sends it to plain members too: the FSM's entry window restarts at the
// restore's index, below which no member can be. Leader only. b has been
// fully verified by ReadBackup; nothing changes if this fails before Raft
// takes the restore up.
func (c *Consensus) RestoreBackup(b *state.Backup, now time.Time) (state.RestoreSummary, error) {
	if !c.IsLeader() {
		return state.RestoreSummary{}, c.noLeader()
	}
	records, sum, err := state.MergeRestore(c.fsm.Store().View(), b, now)
	if err != nil {
		return state.RestoreSummary{}, api.Errorf(api.CodeConflict, "restore: %v", err)
	}
	stream := &restoreStream{raft: c.raft, records: bytes.NewReader(records)}
	meta := &hraft.SnapshotMeta{Version: hraft.SnapshotVersionMax, Size: int64(restoreHeaderSize + len(records))}
	if err := c.raft.Restore(meta, stream, restoreEnqueueTimeout); err != nil {
		if strings.Contains(err.Error(), "cannot restore snapshot now") {
			return state.RestoreSummary{}, api.Errorf(api.CodeUnavailable, "restore: a Raft membership change is in progress; retry in a moment")
		}
		return state.RestoreSummary{}, c.mapError(err, "restore")
	}
	sum.Index = stream.index
	if got := c.raft.Stats()["last_snapshot_index"]; got != strconv.FormatUint(stream.index, 10) {
		return sum, api.Errorf(api.CodeInternal, "restore: state installed at index %d but Raft recorded snapshot index %s", stream.index, got)
	}
	return sum, nil
}

// restoreStream is the FSM snapshot stream a restore hands to Raft. Its
// header carries the index the restored state will have, which Raft picks
// only once it runs the restore: one above its last log index (meta.Index
// is 0). Raft copies the stream on its main goroutine, which is also the
// only one that appends to the leader's log, so the last index read on the
// first Read is the one Raft used. The header is padded to a fixed size so
// that meta.Size is known in advance.
type restoreStream struct {
	raft    *hraft.Raft
	records io.Reader
	header  io.Reader
	index   uint64
}

func (s *restoreStream) Read(p []byte) (int, error) {
	if s.header == nil {
		s.index = s.raft.LastIndex() + 1
		h := state.SnapshotHeader(s.index)
		h += strings.Repeat(" ", restoreHeaderSize-1-len(h)) + "\n"
		s.header = io.MultiReader(strings.NewReader(h), s.records)
	}
	return s.header.Read(p)
}
