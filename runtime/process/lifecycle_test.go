package process

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	rtapi "github.com/shoal-project/shoal/runtime"
)

func TestStartWaitExitCode(t *testing.T) {
	r := newRuntime(t, Config{})
	before := time.Now()
	st := startTask(t, r, shTask("t1", "exit 3"))
	if st.PID <= 0 {
		t.Fatalf("status after start has PID %d", st.PID)
	}
	got, err := r.Wait(ctxT(t), "t1")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != rtapi.StateExited || got.ExitCode != 3 || got.Err != "" {
		t.Fatalf("wait = %+v, want exited with code 3 and no error", got)
	}
	if got.PID != st.PID || got.StartedAt.Before(before.Add(-time.Second)) || got.FinishedAt.Before(got.StartedAt) {
		t.Fatalf("wait = %+v: bad PID or times (start status %+v)", got, st)
	}
}

func TestStatusBeforeStartIsCreated(t *testing.T) {
	r := newRuntime(t, Config{})
	ctx := ctxT(t)
	spec := shTask("t1", "exit 0")
	if err := r.Prepare(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Prepare(ctx, spec); err != nil {
		t.Fatalf("second prepare: %v", err)
	}
	st, err := r.Status(ctx, "t1")
	if err != nil || st.State != rtapi.StateCreated {
		t.Fatalf("status = %+v, %v; want created", st, err)
	}
	if err := r.Stop(ctx, "t1", time.Second); err != nil {
		t.Fatalf("stop of a created task: %v", err)
	}
}

func TestEnvAndWorkDir(t *testing.T) {
	r := newRuntime(t, Config{})
	spec := shTask("t-env", `pwd; env`)
	spec.Spec.Env = []string{"FOO=bar=baz", "SHOAL_SLOT=99"}
	spec.Spec.WorkDir = "sub/dir"
	startTask(t, r, spec)
	if st, err := r.Wait(ctxT(t), "t-env"); err != nil || st.ExitCode != 0 {
		t.Fatalf("wait = %+v, %v", st, err)
	}
	out := readLog(t, r, "t-env", -1)
	lines := strings.Split(out, "\n")
	if want := filepath.Join(workDir(r, "t-env"), "sub", "dir"); lines[0] != want {
		t.Errorf("working dir = %q, want %q", lines[0], want)
	}
	for _, want := range []string{"FOO=bar=baz", "SHOAL_SERVICE=web", "SHOAL_SLOT=2", "SHOAL_TASK_ID=t-env", "SHOAL_NODE=node-1", "PATH="} {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, want)
		}
		if !found {
			t.Errorf("env has no %q; output:\n%s", want, out)
		}
	}
}

func TestPrepareRejectsBadSpecs(t *testing.T) {
	r := newRuntime(t, Config{})
	cases := map[string]struct {
		edit func(*rtapi.TaskSpec)
		want string
	}{
		"empty command":  {func(s *rtapi.TaskSpec) { s.Spec.Command = nil }, "command is empty"},
		"escaping dir":   {func(s *rtapi.TaskSpec) { s.Spec.WorkDir = "a/../../x" }, `must not contain ".."`},
		"bad env":        {func(s *rtapi.TaskSpec) { s.Spec.Env = []string{"NOVALUE"} }, `"NOVALUE" is not KEY=VALUE`},
		"bad signal":     {func(s *rtapi.TaskSpec) { s.Spec.StopSignal = "SIGNOPE" }, "unknown signal"},
		"bad task id":    {func(s *rtapi.TaskSpec) { s.TaskID = "a/b" }, "only letters"},
		"dot-dot id":     {func(s *rtapi.TaskSpec) { s.TaskID = ".." }, "not allowed"},
		"other runtime":  {func(s *rtapi.TaskSpec) { s.Spec.Runtime = "containerd" }, `wants runtime "containerd"`},
		"negative grace": {func(s *rtapi.TaskSpec) { s.Spec.StopGracePeriod = -1 }, "negative"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			spec := shTask("t1", "exit 0")
			c.edit(&spec)
			err := r.Prepare(ctxT(t), spec)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("prepare error = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestStartFailures(t *testing.T) {
	r := newRuntime(t, Config{})
	ctx := ctxT(t)
	notExec := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		id      string
		command []string
		code    int
		want    string
	}{
		{"missing", []string{"no-such-command-shoal"}, 127, "not found"},
		{"missing-path", []string{"/no/such/binary"}, 127, "not found"},
		{"not-exec", []string{notExec}, 126, "cannot be run"},
	}
	for _, c := range cases {
		spec := shTask(c.id, "")
		spec.Spec.Command = c.command
		if err := r.Prepare(ctx, spec); err != nil {
			t.Fatal(err)
		}
		err := r.Start(ctx, c.id)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: start error = %v, want one containing %q", c.id, err, c.want)
		}
		st, err := r.Status(ctx, c.id)
		if err != nil || st.State != rtapi.StateExited || st.ExitCode != c.code || !strings.Contains(st.Err, c.want) {
			t.Errorf("%s: status = %+v, %v; want exited with code %d", c.id, st, err, c.code)
		}
		if st, err := r.Wait(ctx, c.id); err != nil || st.ExitCode != c.code {
			t.Errorf("%s: wait = %+v, %v", c.id, st, err)
		}
	}
}

func TestStartTwiceFails(t *testing.T) {
	r := newRuntime(t, Config{})
	startTask(t, r, shTask("t1", "exit 0"))
	if err := r.Start(ctxT(t), "t1"); err == nil || !strings.Contains(err.Error(), "already started") {
		t.Fatalf("second start error = %v", err)
	}
}

func TestUnknownTask(t *testing.T) {
	r := newRuntime(t, Config{})
	ctx := ctxT(t)
	if _, err := r.Status(ctx, "nope"); !errors.Is(err, rtapi.ErrNotFound) {
		t.Errorf("status: %v", err)
	}
	if _, err := r.Wait(ctx, "nope"); !errors.Is(err, rtapi.ErrNotFound) {
		t.Errorf("wait: %v", err)
	}
	if err := r.Start(ctx, "nope"); !errors.Is(err, rtapi.ErrNotFound) {
		t.Errorf("start: %v", err)
	}
	if err := r.Stop(ctx, "nope", 0); !errors.Is(err, rtapi.ErrNotFound) {
		t.Errorf("stop: %v", err)
	}
	if _, err := r.Logs(ctx, "nope", rtapi.LogOptions{}); !errors.Is(err, rtapi.ErrNotFound) {
		t.Errorf("logs: %v", err)
	}
	if err := r.Remove(ctx, "nope"); err != nil {
		t.Errorf("remove: %v", err)
	}
}

func TestKill9OfWorkloadGives137(t *testing.T) {
	r := newRuntime(t, Config{})
	spec := shTask("t1", "")
	spec.Spec.Command = []string{"sleep", "30"}
	st := startTask(t, r, spec)
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	got, err := r.Wait(ctxT(t), "t1")
	if err != nil || got.State != rtapi.StateExited || got.ExitCode != 137 {
		t.Fatalf("wait = %+v, %v; want exited with 137", got, err)
	}
}

func TestLeftoverChildrenAreKilled(t *testing.T) {
	r := newRuntime(t, Config{})
	startTask(t, r, shTask("t1", `sleep 30 & echo $! > child; exit 0`))
	if st, err := r.Wait(ctxT(t), "t1"); err != nil || st.ExitCode != 0 {
		t.Fatalf("wait = %+v, %v", st, err)
	}
	pid := readPIDFile(t, r, "t1", "child")
	waitFor(t, 5*time.Second, "background child to die", func() bool { return !processAlive(pid, 0) })
}

func TestRemoveLeavesNothing(t *testing.T) {
	r := newRuntime(t, Config{})
	ctx := ctxT(t)
	st := startTask(t, r, shTask("t1", `echo hi; sleep 30`))
	var ss shimState
	if err := readJSON(filepath.Join(r.root, "tasks", "t1", stateFile), &ss); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r.root, "tasks", "t1")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("task dir still there: %v", err)
	}
	if processAlive(st.PID, ss.PIDStart) {
		t.Fatalf("workload %d still runs", st.PID)
	}
	// Its keeper had no other task: it exits once idle.
	waitFor(t, 5*keeperIdle, "the idle keeper to exit", func() bool { return !processAlive(ss.ShimPID, ss.ShimStart) })
	if err := r.Remove(ctx, "t1"); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if _, err := r.Status(ctx, "t1"); !errors.Is(err, rtapi.ErrNotFound) {
		t.Fatalf("status after remove: %v", err)
	}
	// A task that was only prepared is removed too.
	if err := r.Prepare(ctx, shTask("t2", "exit 0")); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove(ctx, "t2"); err != nil {
		t.Fatal(err)
	}
	if list, err := r.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("list after removes = %+v, %v", list, err)
	}
}
