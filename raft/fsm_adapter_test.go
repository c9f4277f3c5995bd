package raft

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// TestAdapterAppliesCommandsAndAdvancesOverOtherLogs checks that the
// adapter hands only command logs to the FSM, returns their results at
// their places in the batch, and records the batch's last index as applied
// even when that log carried no command.
func TestAdapterAppliesCommandsAndAdvancesOverOtherLogs(t *testing.T) {
	fsm := state.NewFSM(state.NewStore())
	a := fsmAdapter{fsm}
	p, _ := json.Marshal(api.BootstrapPayload{Cluster: testCluster(), Node: testNode("n1", "node-1")})
	cmd, _ := json.Marshal(api.Command{Version: api.CommandVersion, Type: api.CmdBootstrap, Time: time.Unix(1, 0).UTC(), Payload: p})
	out := a.ApplyBatch([]*hraft.Log{
		{Index: 1, Type: hraft.LogConfiguration},
		{Index: 2, Type: hraft.LogCommand, Data: cmd},
		{Index: 3, Type: hraft.LogNoop},
	})
	if out[0] != nil || out[2] != nil {
		t.Fatalf("non-command logs returned %v and %v, want nil", out[0], out[2])
	}
	res, ok := out[1].(*state.ApplyResult)
	if !ok || res.Err != nil {
		t.Fatalf("bootstrap returned %#v", out[1])
	}
	if got := fsm.Store().AppliedIndex(); got != 3 {
		t.Fatalf("applied index %d, want 3", got)
	}
	if _, ok := fsm.Store().Cluster(); !ok {
		t.Fatal("bootstrap not applied")
	}
	var snap bytes.Buffer
	s, _ := a.Snapshot()
	sink := &memSink{}
	if err := s.Persist(sink); err != nil || !sink.closed {
		t.Fatalf("persist: %v (closed %v)", err, sink.closed)
	}
	snap.Write(sink.Bytes())
	b := fsmAdapter{state.NewFSM(state.NewStore())}
	if err := b.Restore(nopCloser{&snap}); err != nil {
		t.Fatal(err)
	}
	if got := b.fsm.Store().AppliedIndex(); got != 3 {
		t.Fatalf("restored index %d, want 3", got)
	}
}

// memSink is an in-memory hraft.SnapshotSink.
type memSink struct {
	bytes.Buffer
	closed bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { return nil }
func (s *memSink) Close() error  { s.closed = true; return nil }

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }
