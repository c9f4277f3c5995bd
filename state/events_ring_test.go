package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// registerNodes applies n node registrations, one event each.
func registerNodes(h *harness, from, n int) {
	for i := from; i < from+n; i++ {
		h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: testNode(fmt.Sprintf("x%d", i), fmt.Sprintf("extra-%d", i))})
	}
}

func TestEventRingIsBoundedAndSaysWhatIsGone(t *testing.T) {
	h := newHarness(t)
	h.fsm.events.size = 10
	h.ok(api.CmdBootstrap, api.BootstrapPayload{Cluster: testCluster(), Node: testNode("n1", "node-1")})
	registerNodes(h, 0, 30)
	if n := len(h.fsm.events.buf); n != 10 {
		t.Fatalf("ring holds %d events, want 10", n)
	}
	floor := h.fsm.events.floor
	if floor != h.index-10 {
		t.Fatalf("floor %d, want %d", floor, h.index-10)
	}
	since := uint64(3)
	_, err := h.fsm.SubscribeEvents(&since)
	var gone *ErrEventsGone
	if !errors.As(err, &gone) || gone.Oldest != floor {
		t.Fatalf("since 3: %v, want gone with oldest %d", err, floor)
	}
	if want := fmt.Sprintf("resume with since >= %d", floor); !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
	evs := eventsSince(t, h.fsm, floor)
	if len(evs) != 10 || evs[0].Index != floor+1 || evs[9].Index != h.index {
		t.Fatalf("since the floor: %s", summary(evs))
	}
}

func TestEventResumeHasNoGapAndNoDuplicate(t *testing.T) {
	h := bootstrapped(t)
	live, err := h.fsm.SubscribeEvents(nil)
	if err != nil {
		t.Fatal(err)
	}
	// One entry with three events, then single ones.
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("t1", 1), newTask("t2", 2), newTask("t3", 3)}})
	registerNodes(h, 0, 2)
	first := drain(t, live)
	if len(first) != 5 {
		t.Fatalf("live subscriber read %s", summary(first))
	}
	last := live.Last()
	if last != h.index {
		t.Fatalf("Last %d, want %d", last, h.index)
	}
	// The reader goes away; more changes happen; it resumes after last.
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Assign: []api.TaskAssignment{{TaskID: "t1", NodeID: "n1"}, {TaskID: "t2", NodeID: "n2"}}})
	registerNodes(h, 2, 1)
	missed := eventsSince(t, h.fsm, last)
	all := eventsSince(t, h.fsm, 0)
	if got, want := summary(append(first, missed...)), summary(all[len(all)-len(first)-len(missed):]); got != want {
		t.Fatalf("live then resumed\n%s\nwant\n%s", got, want)
	}
	if len(missed) != 3 || missed[0].Index != last+1 {
		t.Fatalf("resumed after %d: %s", last, summary(missed))
	}
	// A resume in the middle of a multi-event entry's index starts after it.
	mid := missed[0].Index
	if after := eventsSince(t, h.fsm, mid); len(after) != 1 || after[0].Index != mid+1 {
		t.Fatalf("since %d: %s", mid, summary(after))
	}
	// A resume point the node has not reached yet waits for it.
	ahead := h.index + 1
	sub, err := h.fsm.SubscribeEvents(&ahead)
	if err != nil {
		t.Fatal(err)
	}
	registerNodes(h, 3, 2)
	if evs := drain(t, sub); len(evs) != 1 || evs[0].Index != ahead+1 {
		t.Fatalf("since %d: %s", ahead, summary(evs))
	}
}

func TestSlowConsumerNeverBlocksApplyAndIsCutOff(t *testing.T) {
	h := bootstrapped(t)
	h.fsm.events.size, h.fsm.events.maxLag = 100, 50
	stuck, err := h.fsm.SubscribeEvents(nil) // never reads
	if err != nil {
		t.Fatal(err)
	}
	slow, _ := h.fsm.SubscribeEvents(nil)
	registerNodes(h, 0, 10)
	if evs := drain(t, slow); len(evs) != 10 {
		t.Fatalf("slow reader got %d events", len(evs))
	}
	resumeAt := slow.Last()
	done := make(chan struct{})
	go func() {
		registerNodes(h, 10, 60)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("apply blocked behind a subscriber that does not read")
	}
	_, err = slow.Next(context.Background())
	var slowErr *ErrTooSlow
	if !errors.As(err, &slowErr) || slowErr.Behind != 60 || slowErr.Resume != resumeAt {
		t.Fatalf("slow reader: %v, want too slow, 60 behind, resume at %d", err, resumeAt)
	}
	want := fmt.Sprintf("consumer too slow: 60 events behind; resume with ?since=%d", resumeAt)
	if err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	// The hint works: the window still holds everything after it.
	if evs := eventsSince(t, h.fsm, resumeAt); len(evs) != 60 || evs[0].Index != resumeAt+1 {
		t.Fatalf("resume after the cut-off: %d events from %d", len(evs), evs[0].Index)
	}
	registerNodes(h, 70, 200)
	if _, err := stuck.Next(context.Background()); !errors.As(err, &slowErr) {
		t.Fatalf("reader that never read: %v, want too slow", err)
	}
}

func TestSnapshotRestoreEndsSubscriptions(t *testing.T) {
	h := bootstrapped(t)
	img, index, err := h.fsm.Store().SnapshotJSON()
	if err != nil {
		t.Fatal(err)
	}
	member := NewFSM(NewStore())
	sub, _ := member.SubscribeEvents(nil)
	if err := member.RestoreJSON(img); err != nil {
		t.Fatal(err)
	}
	var gone *ErrEventsGone
	if _, err := sub.Next(context.Background()); !errors.As(err, &gone) || gone.Oldest != index {
		t.Fatalf("after a restore: %v, want gone from %d", err, index)
	}
	since := index - 1
	if _, err := member.SubscribeEvents(&since); !errors.As(err, &gone) {
		t.Fatalf("since before the restore: %v, want gone", err)
	}
}

func TestLeaderEventFollowsTheAppliedIndex(t *testing.T) {
	h := bootstrapped(t)
	sub, _ := h.fsm.SubscribeEvents(nil)
	h.fsm.RecordLeader("n1", 7, time.Now())
	registerNodes(h, 0, 1)
	evs := drain(t, sub)
	if len(evs) != 2 || !evs[0].Local || evs[0].Action != "leader_elected" || evs[0].Name != "node-1" ||
		evs[0].Attrs["term"] != "7" || evs[0].Index != h.index-1 || evs[1].Index != h.index {
		t.Fatalf("events %+v", evs)
	}
}
