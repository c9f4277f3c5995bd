package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/runtime"
	"github.com/shoal-project/shoal/runtime/process"
)

// TestMain lets the test binary act as the process runtime's shim.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "runtime-shim" {
		os.Exit(process.RunShim(os.Args[2:]))
	}
	// Race-enabled shims would otherwise linger 1 s at exit.
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	os.Exit(m.Run())
}

const nodeID, nodeName = "node-1", "node-a"

// recorder is a Reporter that records what it was given and fails while
// told to.
type recorder struct {
	mu        sync.Mutex
	fail      bool
	delivered []api.TaskStatusUpdate   // committed, in order
	failed    [][]api.TaskStatusUpdate // batches refused
}

func (r *recorder) report(_ context.Context, updates []api.TaskStatusUpdate) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		r.failed = append(r.failed, append([]api.TaskStatusUpdate(nil), updates...))
		return errors.New("leader unreachable")
	}
	r.delivered = append(r.delivered, updates...)
	return nil
}

func (r *recorder) setFail(v bool) {
	r.mu.Lock()
	r.fail = v
	r.mu.Unlock()
}

// statuses returns the statuses committed for task id, in order.
func (r *recorder) statuses(id string) []api.TaskStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []api.TaskStatus
	for _, u := range r.delivered {
		if u.TaskID == id {
			out = append(out, u.Status)
		}
	}
	return out
}

// latest returns the last status committed for task id.
func (r *recorder) latest(id string) api.TaskStatus {
	s := r.statuses(id)
	if len(s) == 0 {
		return api.TaskStatus{}
	}
	return s[len(s)-1]
}

// failedWith reports whether a refused batch held state for task id.
func (r *recorder) failedWith(id string, state api.TaskState) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.failed {
		for _, u := range b {
			if u.TaskID == id && u.Status.State == state {
				return true
			}
		}
	}
	return false
}

// env is one test's node: a state dir and a process runtime root, shared
// by the executors the test runs one after the other.
type env struct {
	t        *testing.T
	stateDir string
	root     string
}

// newEnv makes an env whose cleanup removes every task left in the
// runtime and checks that no workload process or goroutine is left.
func newEnv(t *testing.T) *env {
	en := &env{t: t, stateDir: filepath.Join(t.TempDir(), "executor"), root: t.TempDir()}
	goroutines := goruntime.NumGoroutine()
	t.Cleanup(func() { en.cleanup(goroutines) })
	return en
}

func (en *env) runtime() *process.Runtime {
	exe, err := os.Executable()
	if err != nil {
		en.t.Fatal(err)
	}
	rt, err := process.New(process.Config{Root: en.root, ShimCommand: []string{exe, "runtime-shim"}})
	if err != nil {
		en.t.Fatal(err)
	}
	return rt
}

func (en *env) cleanup(goroutines int) {
	t := en.t
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rt := en.runtime()
	list, err := rt.List(ctx)
	if err != nil {
		t.Errorf("cleanup: list: %v", err)
	}
	for _, st := range list {
		if err := rt.Remove(ctx, st.TaskID); err != nil {
			t.Errorf("cleanup: remove %s: %v", st.TaskID, err)
		}
		if st.PID > 0 {
			waitFor(t, 5*time.Second, fmt.Sprintf("process %d of task %s to end", st.PID, st.TaskID), func() bool { return !alive(st.PID) })
		}
	}
	waitFor(t, 10*time.Second, "goroutines to end", func() bool { return goruntime.NumGoroutine() <= goroutines })
}

// node is one executor running on an env.
type node struct {
	t    *testing.T
	rt   *process.Runtime
	rec  *recorder
	e    *Executor
	stop func()
}

// start makes an executor on the env, calls before (if any) on it, and
// runs it until the test ends or stop is called.
func (en *env) start(edit func(*Config), before ...func(*Executor)) *node {
	t := en.t
	n := &node{t: t, rt: en.runtime(), rec: &recorder{}}
	cfg := Config{
		NodeID: nodeID, NodeName: nodeName, StateDir: en.stateDir,
		Runtimes:       map[string]runtime.Runtime{process.Name: n.rt},
		Report:         n.rec.report,
		ReportInterval: 10 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	}
	if edit != nil {
		edit(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.e = e
	for _, f := range before {
		f(e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	n.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(n.stop)
	return n
}

// testWriter sends log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// waitReported polls until the last committed status of task id has state.
func (n *node) waitReported(id string, state api.TaskState) api.TaskStatus {
	n.t.Helper()
	waitFor(n.t, 15*time.Second, fmt.Sprintf("task %s reported %s", id, state), func() bool {
		return n.rec.latest(id).State == state
	})
	return n.rec.latest(id)
}

// waitSettled polls until no supervisor runs for task id (it has nothing
// left to do) and no report is queued or in flight.
func (n *node) waitSettled(id string) {
	n.t.Helper()
	waitFor(n.t, 15*time.Second, "task "+id+" to settle", func() bool {
		n.e.mu.Lock()
		defer n.e.mu.Unlock()
		en, ok := n.e.tasks[id]
		return ok && !en.supervised
	})
	n.waitIdle()
}

// waitIdle polls until the executor has no report queued or in flight.
func (n *node) waitIdle() {
	n.t.Helper()
	waitFor(n.t, 10*time.Second, "reports to drain", n.e.reports.idle)
}

// shTask is a task of service "web" in slot 1 that runs script with sh.
func shTask(id, script string) api.Task {
	return api.Task{
		ID: id, ServiceID: "svc-1", ServiceName: "web", Slot: 1, NodeID: nodeID,
		DesiredState: api.TaskRunning,
		Status:       api.TaskStatus{State: api.TaskAssigned},
		Spec: api.ServiceSpec{
			Name: "web", Runtime: process.Name, Mode: api.ModeReplicated, Replicas: 1,
			Command:         []string{"/bin/sh", "-c", script},
			StopGracePeriod: api.Duration(5 * time.Second),
		},
	}
}

// gate returns a script that waits for file go in dir and then runs tail,
// and the function that opens the gate.
func gate(t *testing.T, tail string) (string, func()) {
	dir := t.TempDir()
	path := filepath.Join(dir, "go")
	script := fmt.Sprintf("while [ ! -e %s ]; do sleep 0.02; done; %s", path, tail)
	return script, func() {
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// states lists the states of statuses.
func states(s []api.TaskStatus) []api.TaskState {
	out := make([]api.TaskState, len(s))
	for i, st := range s {
		out[i] = st.State
	}
	return out
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	return len(f) > 0 && f[0] != "Z"
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
