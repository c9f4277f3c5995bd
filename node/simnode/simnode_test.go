package simnode

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// frameOf encodes entries as the leader does: a node.FeedFrame through
// encoding/json (built from JSON, so the test names no store package).
func frameOf(t *testing.T, snap []byte, datas ...[]byte) []byte {
	t.Helper()
	type entry struct {
		I uint64 `json:"i"`
		D []byte `json:"d"`
	}
	var es []entry
	for i, d := range datas {
		es = append(es, entry{uint64(i + 10), d})
	}
	raw, err := json.Marshal(map[string]any{"leader_id": "12D3KooWLeader", "term": 7, "snapshot": snap, "entries": es})
	if err != nil {
		t.Fatal(err)
	}
	var fr node.FeedFrame
	if err := json.Unmarshal(raw, &fr); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(fr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestScanFrameAndMatch(t *testing.T) {
	assign := command(t, api.CmdWriteTasks, api.WriteTasksPayload{Assign: []api.TaskAssignment{
		{TaskID: "t1", NodeID: "12D3KooWOther"}, {TaskID: "t2", NodeID: self}, {TaskID: "t3", Err: "no node"}, {TaskID: "t4", NodeID: self},
	}})
	other := command(t, api.CmdWriteTasks, api.WriteTasksPayload{Assign: []api.TaskAssignment{{TaskID: "t5", NodeID: "12D3KooWOther"}}})
	for shift := 0; shift < 3; shift++ {
		// Shift the ID's offset in the data through all three alignments.
		pad := command(t, api.CmdRegisterNode, api.RegisterNodePayload{Node: api.Node{Name: string(bytes.Repeat([]byte("x"), shift)), ID: self}})
		b := frameOf(t, nil, assign, other, pad)
		fr, ok := scanFrame(b)
		if !ok {
			t.Fatalf("scanFrame refused %s", b)
		}
		if fr.LeaderID != "12D3KooWLeader" || fr.Term != 7 || len(fr.Entries) != 3 || fr.Entries[2].Index != 12 {
			t.Fatalf("frame = %+v", fr)
		}
		m := newB64Matcher(self)
		if !m.in(fr.Entries[0]) || m.in(fr.Entries[1]) || !m.in(fr.Entries[2]) {
			t.Fatalf("shift %d: matches %v %v %v", shift, m.in(fr.Entries[0]), m.in(fr.Entries[1]), m.in(fr.Entries[2]))
		}
	}
	// An error frame goes through encoding/json.
	fr, err := parseFrame([]byte(`{"leader_id":"x","term":1,"error":{"code":"no_leader","message":"not the leader"}}`))
	if err != nil || fr.Error == nil || fr.Error.Code != api.CodeNoLeader {
		t.Fatalf("error frame: %+v %v", fr, err)
	}
}

func TestTrackerAssignDesireOrphan(t *testing.T) {
	tr := newTracker(self)
	assign := command(t, api.CmdWriteTasks, api.WriteTasksPayload{Assign: []api.TaskAssignment{
		{TaskID: "t1", NodeID: "12D3KooWOther"}, {TaskID: "t2", NodeID: self}, {TaskID: "t4", NodeID: self},
	}})
	fr, err := parseFrame(frameOf(t, nil, assign))
	if err != nil {
		t.Fatal(err)
	}
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
	b := frameOf(t, nil, lower)
	fr, _ = parseFrame(b)
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
	fr, err := parseFrame(frameOf(t, snap.Bytes()))
	if err != nil || fr.Snapshot == nil {
		t.Fatalf("parse: %v", err)
	}
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
