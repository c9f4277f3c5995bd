package node

import (
	"context"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// TestFeedWakerWakesTheMembersAnEntryConcerns checks that a task placed
// on a member, and a task of its told to stop, wake that member's feed and
// no other, with the entry already in the feed window; and that a task's
// own progress wakes nobody.
func TestFeedWakerWakesTheMembersAnEntryConcerns(t *testing.T) {
	f := newFakeBackend(t)
	f.apply(api.CmdCreateService, api.CreateServicePayload{ServiceID: "s1", Spec: api.ServiceSpec{
		Name: "web", Runtime: "process", Command: []string{"x"}, Mode: api.ModeReplicated, Replicas: 1}})
	var w feedWaker
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	loop := w.start(f.fsm)
	go func() { defer close(done); loop(ctx) }()
	defer func() { cancel(); <-done }()

	n1, stop1 := w.watch("n1")
	defer stop1()
	n2, stop2 := w.watch("n2")
	n2b, stop2b := w.watch("n2") // a second feed to the same member
	defer stop2b()

	woken := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		case <-time.After(2 * time.Second):
			return false
		}
	}
	quiet := func(name string, ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
			t.Fatalf("%s woken for an entry that does not concern it", name)
		case <-time.After(50 * time.Millisecond):
		}
	}
	inWindow := func(index uint64) {
		t.Helper()
		entries, ok := f.fsm.EntriesSince(index)
		if !ok || len(entries) == 0 || entries[0].Index != index {
			t.Fatalf("woken before entry %d was in the feed window: %v", index, entries)
		}
	}

	// A node joining wakes only its own feed (n3 has none).
	f.apply(api.CmdRegisterNode, api.RegisterNodePayload{Node: api.Node{ID: "n3", Name: "n3", P2PAddr: "10.0.0.3:7946", Protocol: api.ProtocolVersion}})
	task := api.Task{ID: "t1", ServiceID: "s1", Slot: 1, SpecVersion: 1, NodeID: "n2",
		DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskAssigned}}
	if r := f.apply(api.CmdWriteTasks, api.WriteTasksPayload{Spawn: []api.Task{task}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	placed := f.index
	if !woken(n2) || !woken(n2b) {
		t.Fatal("a task placed on n2 did not wake n2's feeds")
	}
	inWindow(placed)
	quiet("n1", n1)

	// The task's own progress (assigned → running) wakes nobody.
	if r := f.apply(api.CmdReportTaskStatus, api.ReportTaskStatusPayload{NodeID: "n2", Updates: []api.TaskStatusUpdate{
		{TaskID: "t1", Status: api.TaskStatus{State: api.TaskRunning}}}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	quiet("n2", n2)

	// Told to stop: n2 again; a stopped feed is not signalled.
	stop2()
	if r := f.apply(api.CmdWriteTasks, api.WriteTasksPayload{Desire: []api.TaskDesire{{TaskID: "t1", DesiredState: api.TaskShutdown}}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if !woken(n2b) {
		t.Fatal("a stop of n2's task did not wake n2's feed")
	}
	inWindow(f.index)
	quiet("n2 (stopped feed)", n2)
	quiet("n1", n1)
}

// TestAwaitFeedPacesAndHurriesAMembersOwnChanges checks the pacing of one
// feed: after an entry it waits out the gap since the last frame, unless
// the entry concerns the member, when it waits a quarter of the gap.
func TestAwaitFeedPacesAndHurriesAMembersOwnChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := &Agent{ctx: ctx}
	changed := make(chan struct{})
	close(changed)
	const gap = 800 * time.Millisecond

	start := time.Now()
	if !a.awaitFeed(changed, make(chan struct{}), start, gap) {
		t.Fatal("awaitFeed stopped")
	}
	if d := time.Since(start); d < gap {
		t.Fatalf("an entry for other members went out after %v, before the gap of %v", d, gap)
	}

	wake := make(chan struct{}, 1)
	wake <- struct{}{}
	start = time.Now()
	if !a.awaitFeed(changed, wake, start, gap) {
		t.Fatal("awaitFeed stopped")
	}
	if d := time.Since(start); d < gap/feedUrgentShare || d >= gap {
		t.Fatalf("the member's own entry went out after %v, want %v up to the gap of %v", d, gap/feedUrgentShare, gap)
	}

	cancel()
	if a.awaitFeed(changed, nil, time.Now(), gap) {
		t.Fatal("awaitFeed went on after the agent stopped")
	}
}
