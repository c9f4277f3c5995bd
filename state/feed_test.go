package state

import (
	"bytes"
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestFeedReplicatesToAPlainMember(t *testing.T) {
	log := testLog(t)
	leader := NewFSM(NewStore())
	for i, data := range log[:5] {
		leader.Apply(Entry{Index: uint64(i + 1), Data: data})
	}
	// A member that joins late starts from a snapshot...
	img, index, err := leader.Store().SnapshotJSON()
	if err != nil {
		t.Fatal(err)
	}
	member := NewFSM(NewStore())
	if err := member.RestoreJSON(img); err != nil {
		t.Fatal(err)
	}
	if member.Store().AppliedIndex() != index {
		t.Fatalf("member at %d, want %d", member.Store().AppliedIndex(), index)
	}
	// ...then follows entries.
	changed := leader.EntriesChanged()
	for i, data := range log[5:] {
		leader.Apply(Entry{Index: uint64(i + 6), Data: data})
	}
	select {
	case <-changed:
	default:
		t.Fatal("EntriesChanged not closed by an apply")
	}
	entries, ok := leader.EntriesSince(index + 1)
	if !ok || len(entries) != len(log)-5 {
		t.Fatalf("EntriesSince = %d entries, %v", len(entries), ok)
	}
	for _, e := range entries {
		if err := member.ApplyFeed(e); err != nil {
			t.Fatal(err)
		}
	}
	// Replays and stale images are ignored.
	if err := member.ApplyFeed(entries[0]); err != nil {
		t.Fatal(err)
	}
	if err := member.RestoreJSON(img); err != nil {
		t.Fatal(err)
	}
	if a, b := snapshotBytes(t, leader), snapshotBytes(t, member); !bytes.Equal(a, b) {
		t.Fatalf("member differs from leader:\n%s\n---\n%s", a, b)
	}
	if err := member.RestoreJSON([]byte("junk")); err == nil {
		t.Fatal("RestoreJSON accepted junk")
	}
}

func TestFeedWindowFallsBackToSnapshot(t *testing.T) {
	h := bootstrapped(t)
	for i := 0; i < feedWindow+10; i++ {
		h.ok(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "n1", Status: api.NodeReady})
	}
	if _, ok := h.fsm.EntriesSince(1); ok {
		t.Fatal("entries evicted from the window were reported available")
	}
	entries, ok := h.fsm.EntriesSince(h.index)
	if !ok || len(entries) != 1 || entries[0].Index != h.index {
		t.Fatalf("latest entry: %v %v", entries, ok)
	}
}
