package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	rtapi "github.com/shoal-project/shoal/runtime"
)

// TestMain lets the test binary act as the shim (as `shoal runtime-shim`
// would) and as a throwaway agent for the kill -9 test.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "runtime-shim":
			os.Exit(RunShim(os.Args[2:]))
		case "fake-agent":
			os.Exit(fakeAgent(os.Args[2:]))
		}
	}
	// Race-enabled shims would otherwise linger 1 s at exit.
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	os.Exit(m.Run())
}

// testExe is the test binary, used as the shim command.
func testExe(t testing.TB) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// newRuntime makes a Runtime on a fresh root whose cleanup removes every
// task, then checks that no task process, shim or goroutine is left.
func newRuntime(t testing.TB, cfg Config) *Runtime {
	t.Helper()
	if cfg.Root == "" {
		cfg.Root = t.TempDir()
	}
	cfg.ShimCommand = []string{testExe(t), "runtime-shim"}
	goroutines := goruntime.NumGoroutine()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupRuntime(t, r, goroutines) })
	return r
}

func cleanupRuntime(t testing.TB, r *Runtime, goroutines int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tasks, err := r.List(ctx)
	if err != nil {
		t.Errorf("cleanup: list: %v", err)
	}
	keepers := map[int]uint64{}
	for _, st := range tasks {
		var ss shimState
		readJSON(filepath.Join(r.root, "tasks", st.TaskID, stateFile), &ss)
		if ss.Keeper {
			keepers[ss.ShimPID] = ss.ShimStart
		}
		if err := r.Remove(ctx, st.TaskID); err != nil {
			t.Errorf("cleanup: remove %s: %v", st.TaskID, err)
		}
		if ss.PID > 0 {
			if pids := liveGroupMembers(ss.PID); len(pids) > 0 {
				t.Errorf("cleanup: processes %v of task %s's group %d still run", pids, st.TaskID, ss.PID)
			}
		}
		if !ss.Keeper && processAlive(ss.ShimPID, ss.ShimStart) {
			t.Errorf("cleanup: shim %d of task %s still runs", ss.ShimPID, st.TaskID)
		}
	}
	// With no task left the keeper exits on its own.
	for pid, start := range keepers {
		if err := waitProcessExit(ctx, pid, start); err != nil {
			t.Errorf("cleanup: keeper %d did not exit without tasks: %v", pid, err)
		}
	}
	reaped := make(chan struct{})
	go func() { r.reapers.Wait(); close(reaped) }()
	select {
	case <-reaped:
	case <-ctx.Done():
		t.Errorf("cleanup: shims not reaped")
	}
	waitFor(t, 5*time.Second, "goroutines to end", func() bool { return goruntime.NumGoroutine() <= goroutines })
}

// liveGroupMembers lists the processes of group pgid that are not zombies
// (zombies stay when the host's init does not reap orphans).
func liveGroupMembers(pgid int) []int {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return nil
	}
	dirs, _ := os.ReadDir("/proc")
	var pids []int
	for _, d := range dirs {
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 2 && f[2] == fmt.Sprint(pgid) && f[0] != "Z" {
			var pid int
			fmt.Sscan(d.Name(), &pid)
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ctxT is a context that ends before the test's deadline.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// shTask is a task that runs script with /bin/sh -c.
func shTask(id, script string) rtapi.TaskSpec {
	return rtapi.TaskSpec{
		TaskID: id, ServiceName: "web", NodeName: "node-1", Slot: 2,
		Spec: api.ServiceSpec{Name: "web", Runtime: "process", Command: []string{"/bin/sh", "-c", script}},
	}
}

// startTask prepares and starts spec.
func startTask(t testing.TB, r *Runtime, spec rtapi.TaskSpec) rtapi.Status {
	t.Helper()
	ctx := ctxT(t)
	if err := r.Prepare(ctx, spec); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if err := r.Start(ctx, spec.TaskID); err != nil {
		t.Fatalf("start: %v", err)
	}
	st, err := r.Status(ctx, spec.TaskID)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	return st
}

// workDir is the task's work directory.
func workDir(r *Runtime, id string) string {
	return filepath.Join(r.root, "tasks", id, workDirName)
}

// fakeAgent starts a task that exits 7 once the file "go" appears in its
// work dir, prints "started", and then blocks until killed.
func fakeAgent(args []string) int {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "fake-agent: want <root> <shim exe> <task id>")
		return 2
	}
	r, err := New(Config{Root: args[0], ShimCommand: []string{args[1], "runtime-shim"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	spec := shTask(args[2], `while [ ! -e go ]; do sleep 0.02; done; exit 7`)
	if err := r.Prepare(ctx, spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := r.Start(ctx, spec.TaskID); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("started")
	bufio.NewReader(os.Stdin).ReadString('\n') // block until killed
	return 0
}

// readLog reads the task's whole log.
func readLog(t testing.TB, r *Runtime, id string, tail int) string {
	t.Helper()
	rc, err := r.Logs(ctxT(t), id, rtapi.LogOptions{Tail: tail})
	if err != nil {
		t.Fatalf("logs: %v", err)
	}
	defer rc.Close()
	var b strings.Builder
	if _, err := bufio.NewReader(rc).WriteTo(&b); err != nil {
		t.Fatalf("read logs: %v", err)
	}
	return b.String()
}

// readPIDFile reads a PID the workload wrote into its work dir.
func readPIDFile(t *testing.T, r *Runtime, id, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(workDir(r, id), name))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}
