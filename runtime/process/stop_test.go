package process

import (
	"strings"
	"testing"
	"time"

	rtapi "github.com/shoal-project/shoal/runtime"
)

// startAndWaitForLine starts spec and waits until its log has line.
func startAndWaitForLine(t *testing.T, r *Runtime, spec rtapi.TaskSpec, line string) {
	t.Helper()
	startTask(t, r, spec)
	waitFor(t, 5*time.Second, "log line "+line, func() bool {
		return strings.Contains(readLog(t, r, spec.TaskID, -1), line+"\n")
	})
}

func TestStopGraceThenKill(t *testing.T) {
	r := newRuntime(t, Config{})
	spec := shTask("t1", `trap 'echo got-term' TERM; echo ready; while :; do sleep 0.05; done`)
	startAndWaitForLine(t, r, spec, "ready")
	const grace = 300 * time.Millisecond
	begin := time.Now()
	if err := r.Stop(ctxT(t), "t1", grace); err != nil {
		t.Fatal(err)
	}
	took := time.Since(begin)
	st, err := r.Status(ctxT(t), "t1")
	if err != nil || st.State != rtapi.StateExited || st.ExitCode != 137 {
		t.Fatalf("status after stop = %+v, %v; want exited with 137 (SIGKILL)", st, err)
	}
	if took < grace || took > grace+3*time.Second {
		t.Fatalf("stop took %s with a grace of %s", took, grace)
	}
	if !strings.Contains(readLog(t, r, "t1", -1), "got-term") {
		t.Fatalf("the workload never saw SIGTERM")
	}
}

func TestStopGracefulExitIsQuick(t *testing.T) {
	r := newRuntime(t, Config{})
	spec := shTask("t1", "")
	spec.Spec.Command = []string{"sleep", "30"}
	startTask(t, r, spec)
	begin := time.Now()
	if err := r.Stop(ctxT(t), "t1", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took > 3*time.Second {
		t.Fatalf("stop of a process that dies on SIGTERM took %s", took)
	}
	st, err := r.Status(ctxT(t), "t1")
	if err != nil || st.ExitCode != 128+15 {
		t.Fatalf("status = %+v, %v; want exit code 143 (SIGTERM)", st, err)
	}
	// Stopping an exited task is a no-op.
	if err := r.Stop(ctxT(t), "t1", time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestStopUsesSpecSignal(t *testing.T) {
	r := newRuntime(t, Config{})
	spec := shTask("t1", `trap 'exit 42' USR1; echo ready; while :; do sleep 0.05; done`)
	spec.Spec.StopSignal = "usr1"
	startAndWaitForLine(t, r, spec, "ready")
	if err := r.Stop(ctxT(t), "t1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := r.Status(ctxT(t), "t1")
	if err != nil || st.ExitCode != 42 {
		t.Fatalf("status = %+v, %v; want exit code 42 from the USR1 trap", st, err)
	}
}

func TestStopKillsWholeProcessGroup(t *testing.T) {
	r := newRuntime(t, Config{})
	startAndWaitForLine(t, r, shTask("t1", `sleep 30 & echo $! > child; echo ready; wait`), "ready")
	child := readPIDFile(t, r, "t1", "child")
	if err := r.Stop(ctxT(t), "t1", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if processAlive(child, 0) {
		t.Fatalf("child %d of the workload survived Stop", child)
	}
}
