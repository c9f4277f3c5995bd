package executor

import (
	"slices"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

func TestReporterFailureCoalescesForwardOnly(t *testing.T) {
	n := newEnv(t).start(nil)
	n.rec.setFail(true)
	script, open := gate(t, "exit 0")
	n.e.SetAssignments([]api.Task{shTask("t1", "exit 4"), shTask("t2", script)})

	// While the leader is unreachable the tasks go on: t1 fails, t2 runs.
	waitFor(t, 15*time.Second, "refused batches with t1 failed and t2 running", func() bool {
		return n.rec.failedWith("t1", api.TaskFailed) && n.rec.failedWith("t2", api.TaskRunning)
	})
	if s := n.rec.statuses("t1"); len(s) != 0 {
		t.Fatalf("committed %v while the reporter fails", states(s))
	}
	n.rec.setFail(false)
	n.waitReported("t2", api.TaskRunning)
	n.waitReported("t1", api.TaskFailed)
	open()
	done := n.waitReported("t2", api.TaskComplete)
	if done.ExitCode == nil || *done.ExitCode != 0 {
		t.Fatalf("t2 complete status = %+v", done)
	}

	// Each task's retried statuses were coalesced: only the latest went.
	if s := states(n.rec.statuses("t1")); !slices.Equal(s, []api.TaskState{api.TaskFailed}) {
		t.Fatalf("t1 committed %v, want only failed", s)
	}
	if s := states(n.rec.statuses("t2")); !slices.Equal(s, []api.TaskState{api.TaskRunning, api.TaskComplete}) {
		t.Fatalf("t2 committed %v, want running then complete", s)
	}
	if st := n.rec.statuses("t1")[0]; st.ExitCode == nil || *st.ExitCode != 4 {
		t.Fatalf("t1 committed %+v, want exit code 4", st)
	}
}

func TestReportQueueCoalescesRetries(t *testing.T) {
	q := newReportQueue()
	st := func(s api.TaskState) api.TaskStatus { return api.TaskStatus{State: s} }
	q.put("a", st(api.TaskPreparing))
	q.put("a", st(api.TaskStarting))
	q.put("a", st(api.TaskPreparing)) // backwards: dropped
	q.put("b", st(api.TaskRunning))
	batch := q.take()
	if len(batch) != 3 || batch[0].TaskID != "a" || batch[1].Status.State != api.TaskStarting || batch[2].TaskID != "b" {
		t.Fatalf("batch = %+v, want a preparing, a starting, b running", batch)
	}
	if q.idle() {
		t.Fatal("queue idle with a batch in flight")
	}
	q.put("a", st(api.TaskRunning))
	q.put("a", st(api.TaskComplete))
	q.settle(batch, func(id string) bool { return id != "b" }) // b was removed meanwhile
	got := q.take()
	if len(got) != 1 || got[0].TaskID != "a" || got[0].Status.State != api.TaskComplete {
		t.Fatalf("after a failed batch = %+v, want only a complete", got)
	}
	q.settle(nil, nil)
	if !q.idle() {
		t.Fatal("queue not idle after a successful batch")
	}
}

func TestSetStatusForwardOnly(t *testing.T) {
	e, err := New(Config{NodeID: nodeID, StateDir: t.TempDir(), Report: (&recorder{}).report})
	if err != nil {
		t.Fatal(err)
	}
	task := shTask("t1", "exit 0")
	task.Status.State = api.TaskStarting
	e.SetAssignments([]api.Task{task})
	steps := []struct {
		state api.TaskState
		want  bool
	}{
		{api.TaskPreparing, false}, // the leader already has starting
		{api.TaskRunning, true},
		{api.TaskStarting, false},
		{api.TaskRunning, false},
		{api.TaskFailed, true},
		{api.TaskComplete, false},
	}
	for _, s := range steps {
		if got := e.setStatus("t1", api.TaskStatus{State: s.state}); got != s.want {
			t.Errorf("setStatus(%s) = %v, want %v", s.state, got, s.want)
		}
	}
	if e.setStatus("nope", api.TaskStatus{State: api.TaskRunning}) {
		t.Error("setStatus of an unknown task was taken")
	}
	got := e.reports.take()
	if len(got) != 2 || got[0].Status.State != api.TaskRunning || got[1].Status.State != api.TaskFailed || got[1].Status.Timestamp.IsZero() {
		t.Fatalf("queued %+v, want running then failed, with timestamps", got)
	}
	// An older copy of the task from the leader does not move it back.
	task.Status.State = api.TaskAssigned
	e.UpdateAssignments([]api.Task{task}, nil)
	if as := e.Assignments(); as[0].Status.State != api.TaskFailed {
		t.Fatalf("assignment state %s, want failed", as[0].Status.State)
	}
}

// TestReportQueueHealth: a health change at the queued state replaces the
// queued status (the latest wins), an equal one is dropped, and a retried
// batch does not undo a newer health queued meanwhile.
func TestReportQueueHealth(t *testing.T) {
	q := newReportQueue()
	q.put("t1", api.TaskStatus{State: api.TaskRunning, PID: 7})
	q.put("t1", api.TaskStatus{State: api.TaskRunning, PID: 7, Health: api.HealthStarting})
	q.put("t1", api.TaskStatus{State: api.TaskRunning, PID: 7, Health: api.HealthStarting})
	b := q.take()
	if len(b) != 1 || b[0].Status.Health != api.HealthStarting || b[0].Status.PID != 7 {
		t.Fatalf("batch = %+v, want one running status, starting", b)
	}
	q.put("t1", api.TaskStatus{State: api.TaskRunning, PID: 7, Health: api.HealthHealthy})
	q.settle(b, func(string) bool { return true }) // the batch failed
	b = q.take()
	if len(b) != 1 || b[0].Status.Health != api.HealthHealthy {
		t.Fatalf("after a failed batch: %+v, want the newer healthy", b)
	}
	q.settle(nil, nil)
}
