package raft

import (
	"io"

	hraft "github.com/hashicorp/raft"

	"github.com/shoal-project/shoal/state"
)

// fsmAdapter lets hashicorp/raft drive a state.FSM: it hands the FSM the
// command logs Raft commits and streams its snapshots into Raft's sinks.
type fsmAdapter struct{ fsm *state.FSM }

var _ hraft.BatchingFSM = fsmAdapter{}

// Apply applies one committed log. Command logs return a
// *state.ApplyResult; other log types return nil.
func (a fsmAdapter) Apply(l *hraft.Log) any { return a.ApplyBatch([]*hraft.Log{l})[0] }

// ApplyBatch applies the command logs of a committed batch in order and
// records the batch's last index as applied (configuration changes and
// no-ops advance it too).
func (a fsmAdapter) ApplyBatch(logs []*hraft.Log) []any {
	entries := make([]state.Entry, 0, len(logs))
	at := make([]int, 0, len(logs))
	for i, l := range logs {
		if l.Type == hraft.LogCommand {
			entries = append(entries, state.Entry{Index: l.Index, Data: l.Data})
			at = append(at, i)
		}
	}
	out := make([]any, len(logs))
	if len(logs) == 0 {
		return out
	}
	for j, res := range a.fsm.ApplyBatch(entries, logs[len(logs)-1].Index) {
		out[at[j]] = res
	}
	return out
}

// Snapshot captures the store; Persist streams it without blocking Apply.
func (a fsmAdapter) Snapshot() (hraft.FSMSnapshot, error) {
	return fsmSnapshot{a.fsm.Snapshot()}, nil
}

// Restore replaces the store with a snapshot Raft installs.
func (a fsmAdapter) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	return a.fsm.Restore(rc)
}

type fsmSnapshot struct{ snap *state.Snapshot }

func (s fsmSnapshot) Persist(sink hraft.SnapshotSink) error {
	if err := s.snap.Write(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release does nothing: a read transaction holds no resources.
func (fsmSnapshot) Release() {}
