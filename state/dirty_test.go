package state

import (
	"testing"

	"github.com/shoal-project/shoal/api"
)

// TestDirtyTrackerMarksServicesAndNodesOfChanges checks that a tracker
// starts with All, then collects the services and nodes each successful
// command touched (a task marks both), nothing for a failed command, and
// All after a restore.
func TestDirtyTrackerMarksServicesAndNodesOfChanges(t *testing.T) {
	h := bootstrapped(t)
	tr := h.fsm.TrackDirty()
	defer tr.Close()
	if d := tr.Take(); !d.All {
		t.Fatalf("first take %+v, want All", d)
	}
	if d := tr.Take(); !d.Empty() {
		t.Fatalf("second take %+v, want nothing", d)
	}
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("t1", 1)},
		Assign: []api.TaskAssignment{{TaskID: "t1", NodeID: "n2"}}})
	d := tr.Take()
	if d.All || !d.Services["svc-web"] || !d.Nodes["n2"] || len(d.Services) != 1 || len(d.Nodes) != 1 {
		t.Fatalf("after a task write: %+v, want service svc-web and node n2", d)
	}
	// Only progress: the task moves forward on its node.
	h.ok(api.CmdReportTaskStatus, api.ReportTaskStatusPayload{NodeID: "n2", Updates: []api.TaskStatusUpdate{{TaskID: "t1", Status: api.TaskStatus{State: api.TaskRunning}}}})
	if d := tr.Take(); len(d.Services) != 0 || len(d.Nodes) != 0 || !d.Progress["svc-web"] {
		t.Fatalf("after a progress report: %+v, want svc-web in Progress only", d)
	}
	// An end is no mere progress.
	h.ok(api.CmdReportTaskStatus, api.ReportTaskStatusPayload{NodeID: "n2", Updates: []api.TaskStatusUpdate{{TaskID: "t1", Status: api.TaskStatus{State: api.TaskFailed}}}})
	if d := tr.Take(); !d.Services["svc-web"] || !d.Nodes["n2"] || len(d.Progress) != 0 {
		t.Fatalf("after a failure report: %+v, want svc-web and n2", d)
	}
	h.fails(api.CmdRemoveService, api.CodeNotFound, api.RemoveServicePayload{Name: "nope"})
	if d := tr.Take(); !d.Empty() {
		t.Fatalf("after a failed command: %+v, want nothing", d)
	}
	h.ok(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "n1", Status: api.NodeDown})
	if d := tr.Take(); !d.Nodes["n1"] || len(d.Services) != 0 {
		t.Fatalf("after a node change: %+v, want node n1 only", d)
	}
	if err := h.fsm.RestoreJSON(mustSnapshotJSON(t, h.fsm)); err != nil {
		t.Fatal(err)
	}
	// A restore at the same index is skipped; a newer one marks All.
	other := bootstrapped(t)
	for range 10 {
		other.ok(api.CmdUpdateNode, api.UpdateNodePayload{NodeID: "n2", LabelAdd: map[string]string{"x": "y"}})
	}
	if err := h.fsm.RestoreJSON(mustSnapshotJSON(t, other.fsm)); err != nil {
		t.Fatal(err)
	}
	if d := tr.Take(); !d.All {
		t.Fatalf("after a restore: %+v, want All", d)
	}
	tr.Close()
	h.ok(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "n1", Status: api.NodeReady})
	if d := tr.Take(); !d.Empty() {
		t.Fatalf("a closed tracker collected %+v", d)
	}
}

func mustSnapshotJSON(t *testing.T, f *FSM) []byte {
	t.Helper()
	b, _, err := f.Store().SnapshotJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUnplacedIndexFollowsTaskState checks HasUnplacedTasks through a
// task's life: created (unplaced), assigned (placed), and shut down.
func TestUnplacedIndexFollowsTaskState(t *testing.T) {
	h := bootstrapped(t)
	v := func() *View { return h.fsm.Store().View() }
	if v().HasUnplacedTasks() {
		t.Fatal("unplaced tasks in an empty store")
	}
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("t1", 1)}})
	if !v().HasUnplacedTasks() {
		t.Fatal("a new task is not unplaced")
	}
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Assign: []api.TaskAssignment{{TaskID: "t1", NodeID: "n2"}}})
	if v().HasUnplacedTasks() {
		t.Fatal("an assigned task is still unplaced")
	}
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("t2", 2)}})
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Desire: []api.TaskDesire{{TaskID: "t2", DesiredState: api.TaskShutdown}}})
	if v().HasUnplacedTasks() {
		t.Fatal("a task desired shut down is still unplaced")
	}
}

// TestDirtyTrackerSignalsOnceItHoldsTheChange: Changed fires for an
// applied change, and a Take when it fires holds that change (the feed
// window's EntriesChanged fires before the FSM has handed the change to
// its trackers, so a reader woken by it can Take too early).
func TestDirtyTrackerSignalsOnceItHoldsTheChange(t *testing.T) {
	h := bootstrapped(t)
	tr := h.fsm.TrackDirty()
	defer tr.Close()
	tr.Take()
	select {
	case <-tr.Changed():
		t.Fatal("signalled with nothing applied")
	default:
	}
	h.ok(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "n1", Status: api.NodeDown})
	h.ok(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "n2", Status: api.NodeDown})
	select {
	case <-tr.Changed():
	default:
		t.Fatal("not signalled after two changes")
	}
	if d := tr.Take(); !d.Nodes["n1"] || !d.Nodes["n2"] {
		t.Fatalf("take after the signal: %+v, want n1 and n2", d)
	}
	h.fails(api.CmdRemoveService, api.CodeNotFound, api.RemoveServicePayload{Name: "nope"})
	select {
	case <-tr.Changed():
		t.Fatal("signalled for a failed command")
	default:
	}
}
