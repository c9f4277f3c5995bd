package executor

import (
	"errors"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/runtime"
)

func TestRestartReattachesToRunningTask(t *testing.T) {
	env := newEnv(t)
	n1 := env.start(nil)
	script, open := gate(t, "exit 5")
	n1.e.SetAssignments([]api.Task{shTask("t1", script)})
	pid := n1.waitReported("t1", api.TaskRunning).PID
	n1.stop()
	if !alive(pid) {
		t.Fatalf("process %d died with the executor", pid)
	}

	// The leader is unreachable: the new executor knows its task from the
	// state dir alone, and the leader never learnt it runs.
	n2 := env.start(nil)
	if as := n2.e.Assignments(); len(as) != 1 || as[0].ID != "t1" || as[0].Status.State != api.TaskRunning || as[0].Status.PID != pid {
		t.Fatalf("assignments after restart = %+v, want t1 observed running with pid %d", as, pid)
	}
	st := n2.waitReported("t1", api.TaskRunning)
	if st.PID != pid {
		t.Fatalf("re-attached task reported pid %d, want %d", st.PID, pid)
	}
	open()
	st = n2.waitReported("t1", api.TaskFailed)
	if st.ExitCode == nil || *st.ExitCode != 5 || st.Err != "exit code 5" {
		t.Fatalf("status after exit = %+v, want failed with exit code 5", st)
	}
	if s := n2.rec.statuses("t1"); len(s) != 2 {
		t.Fatalf("restarted executor reported %v, want running then failed", states(s))
	}
}

func TestRestartDoesNotRepeatKnownStates(t *testing.T) {
	env := newEnv(t)
	n1 := env.start(nil)
	script, open := gate(t, "exit 0")
	task := shTask("t1", script)
	n1.e.SetAssignments([]api.Task{task})
	running := n1.waitReported("t1", api.TaskRunning)
	task.Status = running // the leader's copy caught up
	n1.e.UpdateAssignments([]api.Task{task}, nil)
	n1.stop()

	open() // the task ends while no executor runs
	waitFor(t, 10*time.Second, "the task to end", func() bool { return !alive(running.PID) })
	n2 := env.start(nil)
	st := n2.waitReported("t1", api.TaskComplete)
	if st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("status = %+v, want complete with exit code 0", st)
	}
	n2.waitSettled("t1")
	if s := n2.rec.statuses("t1"); len(s) != 1 {
		t.Fatalf("restarted executor reported %v, want only complete", states(s))
	}
}

func TestRestartStopsOrphanedTask(t *testing.T) {
	env := newEnv(t)
	n1 := env.start(nil)
	task := shTask("t1", "exec sleep 30")
	n1.e.SetAssignments([]api.Task{task})
	pid := n1.waitReported("t1", api.TaskRunning).PID
	n1.stop()

	// The node was declared down meanwhile; on reconnect the leader's full
	// set says the task is orphaned.
	task.Status = api.TaskStatus{State: api.TaskOrphaned}
	n2 := env.start(nil, func(e *Executor) { e.SetAssignments([]api.Task{task}) })
	waitFor(t, 15*time.Second, "the orphaned task's process to end", func() bool { return !alive(pid) })
	n2.waitSettled("t1")
	if s := n2.rec.statuses("t1"); len(s) != 0 {
		t.Fatalf("reported %v for a task the leader has as orphaned, want nothing", states(s))
	}
}

func TestRestartRemovesUnassignedTasks(t *testing.T) {
	env := newEnv(t)
	n1 := env.start(nil)
	n1.e.SetAssignments([]api.Task{shTask("t1", "exec sleep 30")})
	pid := n1.waitReported("t1", api.TaskRunning).PID
	n1.stop()

	// A new state dir knows no assignments: the workload is a stray.
	env.stateDir = t.TempDir()
	n2 := env.start(nil)
	waitFor(t, 15*time.Second, "the stray task removed", func() bool {
		_, err := n2.rt.Status(ctxT(t), "t1")
		return errors.Is(err, runtime.ErrNotFound)
	})
	if alive(pid) {
		t.Fatalf("stray process %d still runs", pid)
	}
}

func TestTaskRemovedWhileAgentWasDown(t *testing.T) {
	env := newEnv(t)
	n1 := env.start(nil)
	n1.e.SetAssignments([]api.Task{shTask("t1", "exec sleep 30")})
	pid := n1.waitReported("t1", api.TaskRunning).PID
	n1.stop()

	n2 := env.start(nil, func(e *Executor) { e.SetAssignments(nil) }) // the leader deleted it
	waitFor(t, 15*time.Second, "the deleted task removed", func() bool {
		_, err := n2.rt.Status(ctxT(t), "t1")
		return errors.Is(err, runtime.ErrNotFound)
	})
	if alive(pid) {
		t.Fatalf("process %d of the deleted task still runs", pid)
	}
}

func TestLostWorkloadReportedFailed(t *testing.T) {
	env := newEnv(t)
	n1 := env.start(nil)
	n1.e.SetAssignments([]api.Task{shTask("t1", "exec sleep 30")})
	n1.waitReported("t1", api.TaskRunning)
	n1.stop()
	if err := n1.rt.Remove(ctxT(t), "t1"); err != nil { // the runtime's state was wiped
		t.Fatal(err)
	}
	n2 := env.start(nil)
	st := n2.waitReported("t1", api.TaskFailed)
	if want := "the task's workload is gone: runtime process no longer has it"; st.Err != want {
		t.Fatalf("error %q, want %q", st.Err, want)
	}
	n2.waitSettled("t1")
	if _, err := n2.rt.Status(ctxT(t), "t1"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("the lost task was started again: %v", err)
	}
}
