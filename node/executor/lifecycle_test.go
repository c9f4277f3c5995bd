package executor

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/runtime"
)

func TestTaskRunsAndCompletes(t *testing.T) {
	n := newEnv(t).start(nil)
	script, open := gate(t, `echo "$SHOAL_TASK_ID $SHOAL_SERVICE $SHOAL_NODE $SHOAL_SLOT"; exit 0`)
	n.e.SetAssignments([]api.Task{shTask("t1", script)})

	running := n.waitReported("t1", api.TaskRunning)
	if running.PID <= 0 || !alive(running.PID) {
		t.Fatalf("running status %+v has no live PID", running)
	}
	open()
	done := n.waitReported("t1", api.TaskComplete)
	if done.ExitCode == nil || *done.ExitCode != 0 || done.Err != "" || done.PID != running.PID {
		t.Fatalf("complete status = %+v, want exit code 0, no error, pid %d", done, running.PID)
	}
	want := []api.TaskState{api.TaskPreparing, api.TaskStarting, api.TaskRunning, api.TaskComplete}
	got := n.rec.statuses("t1")
	if !slices.Equal(states(got), want) {
		t.Fatalf("reported states %v, want %v", states(got), want)
	}
	for i, st := range got {
		if st.Timestamp.IsZero() || i > 0 && st.Timestamp.Before(got[i-1].Timestamp) {
			t.Errorf("status %d (%s) has timestamp %v after %v", i, st.State, st.Timestamp, got[max(i-1, 0)].Timestamp)
		}
	}

	rc, err := n.e.Logs(ctxT(t), "t1", runtime.LogOptions{Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || strings.TrimSpace(string(out)) != "t1 web node-a 1" {
		t.Fatalf("logs = %q, %v; want the task's SHOAL_* variables", out, err)
	}
	if as := n.e.Assignments(); len(as) != 1 || as[0].Status.State != api.TaskComplete {
		t.Fatalf("assignments = %+v, want t1 with its observed state complete", as)
	}
	if _, err := n.e.Logs(ctxT(t), "nope", runtime.LogOptions{}); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("logs of an unknown task: %v, want ErrNotFound", err)
	}
}

func TestFailingCommandReportsFailed(t *testing.T) {
	n := newEnv(t).start(nil)
	missing := shTask("t2", "")
	missing.Spec.Command = []string{"no-such-command-shoal"}
	n.e.SetAssignments([]api.Task{shTask("t1", "exit 3"), missing})

	st := n.waitReported("t1", api.TaskFailed)
	if st.ExitCode == nil || *st.ExitCode != 3 || st.Err != "exit code 3" {
		t.Fatalf("failed status = %+v, want exit code 3 and error %q", st, "exit code 3")
	}
	if s := states(n.rec.statuses("t1")); !slices.Contains(s, api.TaskRunning) {
		t.Errorf("t1 reported %v, want it running before it failed", s)
	}
	st = n.waitReported("t2", api.TaskFailed)
	if st.ExitCode == nil || *st.ExitCode != 127 || !strings.Contains(st.Err, "start:") || !strings.Contains(st.Err, "not found") {
		t.Fatalf("failed status = %+v, want exit code 127 and a start error", st)
	}
}

func TestDesiredShutdownStopsTask(t *testing.T) {
	n := newEnv(t).start(nil)
	task := shTask("t1", "exec sleep 30")
	n.e.SetAssignments([]api.Task{task})
	running := n.waitReported("t1", api.TaskRunning)

	task.DesiredState = api.TaskShutdown
	task.Status = running
	n.e.UpdateAssignments([]api.Task{task}, nil)
	st := n.waitReported("t1", api.TaskShutdown)
	if st.ExitCode == nil || *st.ExitCode != 143 {
		t.Fatalf("shutdown status = %+v, want exit code 143 (SIGTERM)", st)
	}
	if alive(running.PID) {
		t.Fatalf("process %d still runs after shutdown", running.PID)
	}
	if rst, err := n.rt.Status(ctxT(t), "t1"); err != nil || rst.State != runtime.StateExited {
		t.Fatalf("runtime status = %+v, %v; want exited (kept until removal)", rst, err)
	}
}

func TestShutdownBeforeStart(t *testing.T) {
	n := newEnv(t).start(nil)
	task := shTask("t1", "exit 0")
	task.NotBefore = time.Now().Add(time.Hour)
	n.e.SetAssignments([]api.Task{task})
	task.DesiredState = api.TaskShutdown
	n.e.UpdateAssignments([]api.Task{task}, nil)
	st := n.waitReported("t1", api.TaskShutdown)
	if st.ExitCode != nil || st.PID != 0 {
		t.Fatalf("shutdown status = %+v, want neither exit code nor PID", st)
	}
	if s := n.rec.statuses("t1"); len(s) != 1 {
		t.Fatalf("reported %v, want only shutdown", states(s))
	}
	if _, err := n.rt.Status(ctxT(t), "t1"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("runtime status: %v, want ErrNotFound (never prepared)", err)
	}
}

func TestRemovalRemovesTask(t *testing.T) {
	n := newEnv(t).start(nil)
	n.e.SetAssignments([]api.Task{shTask("t1", "exec sleep 30"), shTask("t2", "exec sleep 30")})
	p1 := n.waitReported("t1", api.TaskRunning).PID
	p2 := n.waitReported("t2", api.TaskRunning).PID

	n.e.UpdateAssignments(nil, []string{"t1"})
	waitFor(t, 15*time.Second, "t1 removed from the runtime", func() bool {
		_, err := n.rt.Status(ctxT(t), "t1")
		return errors.Is(err, runtime.ErrNotFound)
	})
	if alive(p1) {
		t.Fatalf("process %d of removed task t1 still runs", p1)
	}
	// A full set without t2 removes it too.
	n.e.SetAssignments(nil)
	waitFor(t, 15*time.Second, "t2 removed from the runtime", func() bool {
		_, err := n.rt.Status(ctxT(t), "t2")
		return errors.Is(err, runtime.ErrNotFound)
	})
	if alive(p2) {
		t.Fatalf("process %d of removed task t2 still runs", p2)
	}
	if as := n.e.Assignments(); len(as) != 0 {
		t.Fatalf("assignments after removal = %+v", as)
	}
	waitFor(t, 5*time.Second, "removed tasks forgotten", func() bool {
		n.e.mu.Lock()
		defer n.e.mu.Unlock()
		return len(n.e.tasks) == 0 && len(n.e.observed) == 0
	})
	if _, err := n.e.Logs(ctxT(t), "t1", runtime.LogOptions{}); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("logs of a removed task: %v, want ErrNotFound", err)
	}
}

func TestNotBeforeDelaysStart(t *testing.T) {
	n := newEnv(t).start(nil)
	task := shTask("t1", "exit 0")
	task.NotBefore = time.Now().Add(300 * time.Millisecond)
	n.e.SetAssignments([]api.Task{task})
	n.waitReported("t1", api.TaskComplete)
	first := n.rec.statuses("t1")[0]
	if first.State != api.TaskPreparing || first.Timestamp.Before(task.NotBefore) {
		t.Fatalf("first status %s at %v, want preparing at or after NotBefore %v", first.State, first.Timestamp, task.NotBefore)
	}
	rst, err := n.rt.Status(ctxT(t), "t1")
	if err != nil || rst.StartedAt.Before(task.NotBefore) {
		t.Fatalf("runtime status = %+v, %v; want started after %v", rst, err, task.NotBefore)
	}
}

func TestUnknownRuntimeRejected(t *testing.T) {
	n := newEnv(t).start(nil)
	task := shTask("t1", "exit 0")
	task.Spec.Runtime = api.RuntimeContainerd
	n.e.SetAssignments([]api.Task{task})
	st := n.waitReported("t1", api.TaskRejected)
	if want := "runtime containerd is not enabled on node node-a"; st.Err != want {
		t.Fatalf("rejected with %q, want %q", st.Err, want)
	}
	if s := n.rec.statuses("t1"); len(s) != 1 {
		t.Fatalf("reported %v, want only rejected", states(s))
	}
}

func TestBadSpecRejected(t *testing.T) {
	n := newEnv(t).start(nil)
	task := shTask("t1", "")
	task.Spec.Command = nil
	n.e.SetAssignments([]api.Task{task})
	st := n.waitReported("t1", api.TaskRejected)
	if !strings.Contains(st.Err, "prepare:") || !strings.Contains(st.Err, "command is empty") {
		t.Fatalf("rejected with %q, want the prepare error", st.Err)
	}
}

func TestOrphanedTaskIsStopped(t *testing.T) {
	n := newEnv(t).start(nil)
	task := shTask("t1", "exec sleep 30")
	n.e.SetAssignments([]api.Task{task})
	running := n.waitReported("t1", api.TaskRunning)

	// The leader declared the node down and the task orphaned; its desired
	// state is unchanged. The node is back: the task must not keep running.
	task.Status = api.TaskStatus{State: api.TaskOrphaned, Timestamp: time.Now()}
	n.e.UpdateAssignments([]api.Task{task}, nil)
	waitFor(t, 15*time.Second, "orphaned task's process to end", func() bool { return !alive(running.PID) })
	waitFor(t, 5*time.Second, "runtime to see it exited", func() bool {
		rst, err := n.rt.Status(ctxT(t), "t1")
		return err == nil && rst.State == runtime.StateExited
	})
	n.waitSettled("t1")
	if s := states(n.rec.statuses("t1")); s[len(s)-1] != api.TaskRunning {
		t.Fatalf("reported %v after the leader recorded orphaned; want nothing new (not forward)", s)
	}
}
