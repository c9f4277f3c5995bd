package simnode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/node"
)

const self = "12D3KooWSelfSelfSelfSelfSelfSelfSelfSelfSelfSelfSelf"

func command(t *testing.T, typ api.CommandType, p any) []byte {
	t.Helper()
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(api.Command{Version: 1, Type: typ, RequestID: "r", Time: time.Unix(1, 0).UTC(), Payload: raw})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// frameOf builds a frame of entries numbered from 10 (the wire format is
// tested in package node).
func frameOf(t *testing.T, snap []byte, datas ...[]byte) rawFrame {
	t.Helper()
	fr := rawFrame{LeaderID: "12D3KooWLeader", Term: 7, Snapshot: snap}
	for i, d := range datas {
		fr.Entries = append(fr.Entries, rawEntry{Index: uint64(i + 10), Data: d})
	}
	return fr
}

func TestFactsNameTheNodesAndWhatIsPlacedOnThem(t *testing.T) {
	assign := command(t, api.CmdWriteTasks, api.WriteTasksPayload{Assign: []api.TaskAssignment{
		{TaskID: "t1", NodeID: "12D3KooWOther"}, {TaskID: "t2", NodeID: self}, {TaskID: "t3", Err: "no node"}, {TaskID: "t4", NodeID: self},
	}})
	f := factsOf(assign)
	if !f.taskWrite || f.lowers || f.create || len(f.mentions) != 2 || !f.mentions[self] || !f.mentions["12D3KooWOther"] {
		t.Fatalf("facts %+v", f)
	}
	if got := fmt.Sprint(f.placed[self], f.placed["12D3KooWOther"]); got != "[t2 t4] [t1]" || len(f.unclear) != 0 {
		t.Fatalf("placed %s, unclear %v", got, f.unclear)
	}
	report := command(t, api.CmdReportTaskStatus, api.ReportTaskStatusPayload{NodeID: self, Updates: []api.TaskStatusUpdate{{TaskID: "t2"}}})
	if f := factsOf(report); f.taskWrite || !f.mentions[self] || !f.unclear[self] {
		t.Fatalf("report facts %+v", f)
	}
	lower := command(t, api.CmdWriteTasks, api.WriteTasksPayload{Orphan: []api.TaskOrphan{{TaskID: "t4"}}})
	if f := factsOf(lower); !f.lowers || len(f.mentions) != 0 {
		t.Fatalf("orphan facts %+v", f)
	}
}

// TestUnpackCacheSharesOneReadingAmongMembers: members that receive the
// same entry at once get one set of facts, read once.
func TestUnpackCacheSharesOneReadingAmongMembers(t *testing.T) {
	c := &unpackCache{byKey: map[packedKey]*unpackSlot{}}
	data := command(t, api.CmdWriteTasks, api.WriteTasksPayload{Assign: []api.TaskAssignment{{TaskID: "t1", NodeID: self}}})
	got := make([]*entryFacts, 50)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			f, err := c.get("", 7, data)
			if err != nil {
				t.Error(err)
			}
			got[i] = f
		})
	}
	wg.Wait()
	for _, f := range got {
		if f != got[0] || !f.mentions[self] {
			t.Fatalf("members got different or wrong facts: %p vs %p", f, got[0])
		}
	}
	if f, _ := c.get("", 8, data); f == got[0] {
		t.Fatal("another index shared the facts")
	}
}

func TestTrackerAssignDesireOrphan(t *testing.T) {
	tr := newTracker(self)
	assign := command(t, api.CmdWriteTasks, api.WriteTasksPayload{Assign: []api.TaskAssignment{
		{TaskID: "t1", NodeID: "12D3KooWOther"}, {TaskID: "t2", NodeID: self}, {TaskID: "t4", NodeID: self},
	}})
	fr := frameOf(t, nil, assign)
	if d, err := tr.frame(fr); err != nil || d != 1 {
		t.Fatalf("frame: decoded %d, %v", d, err)
	}
	batch := tr.take(time.Now())
	if len(batch) != 2 || batch[0].TaskID != "t2" || batch[1].TaskID != "t4" || batch[0].Status.State != api.TaskRunning {
		t.Fatalf("batch = %+v", batch)
	}
	tr.settle(batch, true)
	if a, r := tr.counts(); a != 2 || r != 2 {
		t.Fatalf("counts %d %d", a, r)
	}
	lower := command(t, api.CmdWriteTasks, api.WriteTasksPayload{
		Desire: []api.TaskDesire{{TaskID: "t2", DesiredState: api.TaskShutdown}},
		Orphan: []api.TaskOrphan{{TaskID: "t4", Reason: "node down"}},
	})
	fr = frameOf(t, nil, lower)
	for i := range fr.Entries {
		fr.Entries[i].Index += 100
	}
	if d, err := tr.frame(fr); err != nil || d != 1 {
		t.Fatalf("lower frame: decoded %d, %v", d, err)
	}
	batch = tr.take(time.Now())
	if len(batch) != 1 || batch[0].TaskID != "t2" || batch[0].Status.State != api.TaskShutdown {
		t.Fatalf("batch = %+v", batch)
	}
	if a, _ := tr.counts(); a != 0 {
		t.Fatalf("assigned %d after desire and orphan", a)
	}
}

func TestTrackerSnapshot(t *testing.T) {
	var snap bytes.Buffer
	fmt.Fprintf(&snap, "{\"shoal_snapshot\":1,\"index\":50}\n")
	for i, node := range []string{self, "12D3KooWOther", self} {
		task := api.Task{ID: fmt.Sprintf("t%d", i), NodeID: node, DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskAssigned}}
		if i == 2 {
			task.Status.State = api.TaskRunning
		}
		b, _ := json.Marshal(map[string]any{"task": task})
		snap.Write(append(b, '\n'))
	}
	tr := newTracker(self)
	fr := frameOf(t, snap.Bytes())
	if _, err := tr.frame(fr); err != nil {
		t.Fatal(err)
	}
	if tr.appliedIndex() != 50 {
		t.Fatalf("index %d", tr.appliedIndex())
	}
	batch := tr.take(time.Now())
	if len(batch) != 1 || batch[0].TaskID != "t0" {
		t.Fatalf("batch = %+v", batch)
	}
	if a, r := tr.counts(); a != 2 || r != 1 {
		t.Fatalf("counts %d %d", a, r)
	}
}

// TestSnapshotChunksJoin checks the assembler hands the tracker a whole
// image only with its last chunk, and refuses a chunk out of place.
func TestSnapshotChunksJoin(t *testing.T) {
	var s snapshotAssembler
	chunk := func(off, total int64, b string) *node.FeedFrame2 {
		f := &node.FeedFrame2{Chunk: []byte(b)}
		f.Snapshot = &node.SnapshotChunk{Index: 5, Offset: off, Size: int64(len(b)), Total: total}
		return f
	}
	fr, err := s.frameOf(chunk(0, 6, "abc"))
	if err != nil || fr.Snapshot != nil {
		t.Fatalf("first chunk: %q, %v", fr.Snapshot, err)
	}
	fr, err = s.frameOf(chunk(3, 6, "def"))
	if err != nil || string(fr.Snapshot) != "abcdef" {
		t.Fatalf("last chunk: %q, %v", fr.Snapshot, err)
	}
	if _, err := s.frameOf(chunk(3, 6, "def")); err == nil {
		t.Fatal("a chunk without its start was accepted")
	}
}

// TestTrackerSpawnedPlaced: a task spawned already placed on this node
// (the leader places as it creates) is this node's to run and report.
func TestTrackerSpawnedPlaced(t *testing.T) {
	tr := newTracker(self)
	spawn := command(t, api.CmdWriteTasks, api.WriteTasksPayload{Spawn: []api.Task{
		{ID: "t1", NodeID: "12D3KooWOther", DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskAssigned}},
		{ID: "t2", NodeID: self, DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskAssigned}},
	}})
	if d, err := tr.frame(frameOf(t, nil, spawn)); err != nil || d != 1 {
		t.Fatalf("frame: decoded %d, %v", d, err)
	}
	if batch := tr.take(time.Now()); len(batch) != 1 || batch[0].TaskID != "t2" || batch[0].Status.State != api.TaskRunning {
		t.Fatalf("batch = %+v", batch)
	}
}

// TestTrackerDecodesWhatItCannotRead: a mention of this node that is
// neither an assignment nor a placed spawn (a spawned task pending on it)
// makes the tracker decode the entry, which places nothing here.
func TestTrackerDecodesWhatItCannotRead(t *testing.T) {
	tr := newTracker(self)
	spawn := command(t, api.CmdWriteTasks, api.WriteTasksPayload{Spawn: []api.Task{
		{ID: "t1", NodeID: self, DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskPending, Err: "no room"}},
		{ID: "t2", NodeID: self, DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskAssigned}},
	}})
	if !factsOf(spawn).unclear[self] {
		t.Fatal("a pending spawn on this node read as placed")
	}
	if d, err := tr.frame(frameOf(t, nil, spawn)); err != nil || d != 1 {
		t.Fatalf("frame: decoded %d, %v", d, err)
	}
	if a, _ := tr.counts(); a != 1 {
		t.Fatalf("%d assigned, want 1 (t2 only)", a)
	}
}
