package process

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	rtapi "github.com/shoal-project/shoal/runtime"
)

// TestReattachAfterAgentRestart drops the Runtime while its task runs and
// checks a new Runtime on the same root finds it and learns its exit code.
func TestReattachAfterAgentRestart(t *testing.T) {
	root := t.TempDir()
	r1 := newRuntime(t, Config{Root: root})
	st := startTask(t, r1, shTask("t1", `while [ ! -e go ]; do sleep 0.02; done; exit 7`))

	r2 := newRuntime(t, Config{Root: root})
	list, err := r2.List(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].TaskID != "t1" || list[0].State != rtapi.StateRunning || list[0].PID != st.PID {
		t.Fatalf("list after restart = %+v, want t1 running with pid %d", list, st.PID)
	}
	if err := os.WriteFile(filepath.Join(workDir(r2, "t1"), "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := r2.Wait(ctxT(t), "t1")
	if err != nil || got.State != rtapi.StateExited || got.ExitCode != 7 {
		t.Fatalf("wait after restart = %+v, %v; want exited with 7", got, err)
	}
}

// TestReattachAfterAgentKill9 starts a task from a separate agent process,
// kills that process with SIGKILL, and re-attaches from this one.
func TestReattachAfterAgentKill9(t *testing.T) {
	root := t.TempDir()
	agent := startFakeAgent(t, root, "t1")
	agent.Process.Signal(syscall.SIGKILL)
	agent.Wait()

	r := newRuntime(t, Config{Root: root})
	list, err := r.List(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].State != rtapi.StateRunning || !processAlive(list[0].PID, 0) {
		t.Fatalf("list after agent kill -9 = %+v, want t1 running", list)
	}
	var ss shimState
	if err := readJSON(filepath.Join(root, "tasks", "t1", stateFile), &ss); err != nil {
		t.Fatal(err)
	}
	if !processAlive(ss.ShimPID, ss.ShimStart) {
		t.Fatalf("shim %d died with the agent", ss.ShimPID)
	}
	if err := os.WriteFile(filepath.Join(workDir(r, "t1"), "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := r.Wait(ctxT(t), "t1")
	if err != nil || got.State != rtapi.StateExited || got.ExitCode != 7 || got.PID != list[0].PID {
		t.Fatalf("wait = %+v, %v; want exited with 7", got, err)
	}
}

// TestShimLostIsReported kills the shim: the task shows running while its
// workload lives, and Wait reports it as unknown once the workload ends.
func TestShimLostIsReported(t *testing.T) {
	r := newRuntime(t, Config{})
	spec := shTask("t1", "")
	spec.Spec.Command = []string{"sleep", "30"}
	st := startTask(t, r, spec)
	var ss shimState
	if err := readJSON(filepath.Join(r.root, "tasks", "t1", stateFile), &ss); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(ss.ShimPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "shim to die", func() bool { return !processAlive(ss.ShimPID, ss.ShimStart) })
	now, err := r.Status(ctxT(t), "t1")
	if err != nil || now.State != rtapi.StateRunning || !strings.Contains(now.Err, "shim") {
		t.Fatalf("status without shim = %+v, %v", now, err)
	}
	if err := r.Stop(ctxT(t), "t1", time.Second); err != nil {
		t.Fatal(err)
	}
	got, err := r.Wait(ctxT(t), "t1")
	if err != nil || got.State != rtapi.StateUnknown || got.PID != st.PID || processAlive(st.PID, ss.PIDStart) {
		t.Fatalf("wait without shim = %+v, %v; want unknown and the workload gone", got, err)
	}
}

// startFakeAgent runs the fake agent in its own process: it starts task id
// on the runtime at root and says "started". The process holds its stdin
// until the test ends.
func startFakeAgent(t *testing.T, root, id string) *exec.Cmd {
	t.Helper()
	agent := exec.Command(testExe(t), "fake-agent", root, testExe(t), id)
	agent.Stderr = os.Stderr
	stdin, err := agent.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close() })
	out, err := agent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "started" {
		agent.Process.Kill()
		agent.Wait()
		t.Fatalf("fake agent said %q, %v", line, err)
	}
	return agent
}
