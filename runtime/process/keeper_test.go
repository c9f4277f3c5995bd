package process

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	rtapi "github.com/shoal-project/shoal/runtime"
)

// stateOf reads a started task's state file.
func stateOf(t *testing.T, r *Runtime, id string) shimState {
	t.Helper()
	var ss shimState
	if err := readJSON(filepath.Join(r.root, "tasks", id, stateFile), &ss); err != nil {
		t.Fatal(err)
	}
	if !ss.Keeper {
		t.Fatalf("task %s's state does not name a keeper: %+v", id, ss)
	}
	return ss
}

func sleepTask(id string) rtapi.TaskSpec {
	spec := shTask(id, "")
	spec.Spec.Command = []string{"sleep", "30"}
	return spec
}

// TestOneKeeperForAllTasks: tasks started by two Runtimes on one root,
// concurrently, share one keeper, which is the parent of every workload.
func TestOneKeeperForAllTasks(t *testing.T) {
	root := t.TempDir()
	r1 := newRuntime(t, Config{Root: root})
	r2 := newRuntime(t, Config{Root: root})
	var wg sync.WaitGroup
	for i, id := range []string{"a", "b", "c", "d", "e", "f"} {
		r := []*Runtime{r1, r2}[i%2]
		if err := r.Prepare(ctxT(t), sleepTask(id)); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := r.Start(ctxT(t), id); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	keeper := stateOf(t, r1, "a")
	for _, id := range []string{"b", "c", "d", "e", "f"} {
		ss := stateOf(t, r1, id)
		if ss.ShimPID != keeper.ShimPID {
			t.Fatalf("task %s has keeper %d, task a %d", id, ss.ShimPID, keeper.ShimPID)
		}
		if st, ok := readProcStat(ss.PID); !ok || parentPID(t, ss.PID) != keeper.ShimPID {
			t.Fatalf("workload %d of %s (%+v) is not the keeper's child", ss.PID, id, st)
		}
	}
}

// parentPID reads field 4 of /proc/<pid>/stat.
func parentPID(t *testing.T, pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// TestKeeperExitsWhenIdleAndIsRestarted: with its last task gone the
// keeper exits, and the next Start starts a new one.
func TestKeeperExitsWhenIdleAndIsRestarted(t *testing.T) {
	r := newRuntime(t, Config{})
	startTask(t, r, shTask("t1", "exit 0"))
	if st, err := r.Wait(ctxT(t), "t1"); err != nil || st.State != rtapi.StateExited {
		t.Fatalf("wait = %+v, %v", st, err)
	}
	first := stateOf(t, r, "t1")
	waitFor(t, 5*keeperIdle, "the idle keeper to exit", func() bool { return !processAlive(first.ShimPID, first.ShimStart) })
	if _, err := os.Stat(filepath.Join(r.root, keeperSockFile)); !os.IsNotExist(err) {
		t.Fatalf("the exited keeper left its socket: %v", err)
	}
	startTask(t, r, shTask("t2", "exit 4"))
	if st, err := r.Wait(ctxT(t), "t2"); err != nil || st.ExitCode != 4 {
		t.Fatalf("wait = %+v, %v", st, err)
	}
	if second := stateOf(t, r, "t2"); second.ShimPID == first.ShimPID && second.ShimStart == first.ShimStart {
		t.Fatalf("t2 was started by the keeper that had exited")
	}
}

// TestReattachAfterAgentSIGTERM is TestReattachAfterAgentKill9 with the
// agent ended by SIGTERM (its default action: no cleanup).
func TestReattachAfterAgentSIGTERM(t *testing.T) {
	root := t.TempDir()
	agent := startFakeAgent(t, root, "t1")
	agent.Process.Signal(syscall.SIGTERM)
	if err := agent.Wait(); err == nil {
		t.Fatal("the fake agent exited cleanly on SIGTERM")
	}
	r := newRuntime(t, Config{Root: root})
	ss := stateOf(t, r, "t1")
	if !processAlive(ss.ShimPID, ss.ShimStart) {
		t.Fatalf("keeper %d died with the agent", ss.ShimPID)
	}
	if st, err := r.Status(ctxT(t), "t1"); err != nil || st.State != rtapi.StateRunning || st.Err != "" {
		t.Fatalf("status after the agent's SIGTERM = %+v, %v", st, err)
	}
	if err := os.WriteFile(filepath.Join(workDir(r, "t1"), "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := r.Wait(ctxT(t), "t1")
	if err != nil || got.State != rtapi.StateExited || got.ExitCode != 7 {
		t.Fatalf("wait = %+v, %v; want exited with 7", got, err)
	}
	// A task started after the restart goes to the same keeper.
	startTask(t, r, sleepTask("t2"))
	if ss2 := stateOf(t, r, "t2"); ss2.ShimPID != ss.ShimPID {
		t.Fatalf("t2 got keeper %d, t1 had %d", ss2.ShimPID, ss.ShimPID)
	}
}

// TestKeeperForwardsSIGTERM: SIGTERM to the keeper stops every task with
// SIGTERM and records their exits.
func TestKeeperForwardsSIGTERM(t *testing.T) {
	r := newRuntime(t, Config{})
	startTask(t, r, sleepTask("t1"))
	startTask(t, r, shTask("t2", `trap 'exit 9' TERM; echo ready; while :; do sleep 0.05; done`))
	waitFor(t, 5*time.Second, "t2 ready", func() bool { return strings.Contains(readLog(t, r, "t2", -1), "ready\n") })
	ss := stateOf(t, r, "t1")
	if err := syscall.Kill(ss.ShimPID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for id, code := range map[string]int{"t1": 143, "t2": 9} {
		got, err := r.Wait(ctxT(t), id)
		if err != nil || got.State != rtapi.StateExited || got.ExitCode != code {
			t.Fatalf("%s: wait = %+v, %v; want exited with %d", id, got, err, code)
		}
	}
}

// TestLongRootPath: a root too long for a socket address still works.
func TestLongRootPath(t *testing.T) {
	root := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	r := newRuntime(t, Config{Root: root})
	startTask(t, r, shTask("t1", "exit 5"))
	if st, err := r.Wait(ctxT(t), "t1"); err != nil || st.ExitCode != 5 {
		t.Fatalf("wait = %+v, %v", st, err)
	}
}

// TestPerTaskShimStateOfEarlierRelease: a task whose state was written by
// a per-task shim of an earlier release (no keeper) runs while that shim
// does, and Wait returns its recorded exit once the shim is gone.
func TestPerTaskShimStateOfEarlierRelease(t *testing.T) {
	r := newRuntime(t, Config{})
	if err := r.Prepare(ctxT(t), sleepTask("old")); err != nil {
		t.Fatal(err)
	}
	var procs []*exec.Cmd
	for range 2 {
		c := exec.Command("sleep", "30")
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, c)
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	}
	shim, workload := procs[0], procs[1]
	dir := filepath.Join(r.root, "tasks", "old")
	ss := shimState{ShimPID: shim.Process.Pid, ShimStart: processStart(shim.Process.Pid), PID: workload.Process.Pid, PIDStart: processStart(workload.Process.Pid), StartedAt: time.Now().UTC()}
	if err := writeJSONAtomic(filepath.Join(dir, stateFile), ss); err != nil {
		t.Fatal(err)
	}
	if st, err := r.Status(ctxT(t), "old"); err != nil || st.State != rtapi.StateRunning || st.PID != ss.PID {
		t.Fatalf("status = %+v, %v; want running", st, err)
	}
	done := make(chan rtapi.Status, 1)
	go func() {
		st, _ := r.Wait(ctxT(t), "old")
		done <- st
	}()
	// As the old shim did: the workload ends, the exit is recorded, the
	// shim exits.
	workload.Process.Kill()
	workload.Wait()
	if err := writeJSONAtomic(filepath.Join(dir, exitFile), exitRecord{ExitCode: 137, FinishedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	shim.Process.Kill()
	shim.Wait()
	select {
	case st := <-done:
		if st.State != rtapi.StateExited || st.ExitCode != 137 {
			t.Fatalf("wait = %+v, want exited with 137", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wait did not return once the old shim had exited")
	}
}
