package process

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rtapi "github.com/shoal-project/shoal/runtime"
)

// TestExecAsUser: Exec runs a command for a task as its workload runs —
// the spec's user, its env and its work dir — and returns its exit code
// and output.
func TestExecAsUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a task as another user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	r := newRuntime(t, Config{})
	spec := shTask("t-exec", "exec sleep 1000")
	spec.Spec.User = "nobody"
	spec.Spec.WorkDir = "sub"
	spec.Spec.Env = []string{"CHECK_VAR=from-spec"}
	startTask(t, r, spec)
	defer r.Remove(context.Background(), "t-exec")

	code, out, err := r.Exec(ctxT(t), "t-exec", []string{"/bin/sh", "-c", `id -u; pwd; echo "$CHECK_VAR"; exit 3`})
	want := strings.Join([]string{nobody.Uid, filepath.Join(workDir(r, "t-exec"), "sub"), "from-spec"}, "\n") + "\n"
	if err != nil || code != 3 || string(out) != want {
		t.Fatalf("Exec = %d, %q, %v; want 3, %q", code, out, err, want)
	}
	if code, _, err := r.Exec(ctxT(t), "t-exec", []string{"/no/such/check"}); err == nil || code != 127 {
		t.Errorf("missing program: %d, %v; want 127 and an error", code, err)
	}
	if _, _, err := r.Exec(ctxT(t), "t-none", []string{"true"}); !errors.Is(err, rtapi.ErrNotFound) {
		t.Errorf("unknown task: %v", err)
	}
}

// TestExecTimeoutKillsGroup: a command still running when ctx ends is
// killed with everything it started, and its output is bounded.
func TestExecTimeoutKillsGroup(t *testing.T) {
	r := newRuntime(t, Config{})
	startTask(t, r, shTask("t-slow", "exec sleep 1000"))
	defer r.Remove(context.Background(), "t-slow")
	pids := filepath.Join(t.TempDir(), "pids")
	ctx, cancel := context.WithTimeout(ctxT(t), 500*time.Millisecond)
	defer cancel()
	code, out, err := r.Exec(ctx, "t-slow", []string{"/bin/sh", "-c",
		`head -c 10000 /dev/zero; sleep 1000 & echo $! > ` + pids + `; wait`})
	if !errors.Is(err, context.DeadlineExceeded) || code != 137 || len(out) != rtapi.ExecOutputLimit {
		t.Fatalf("Exec = %d, %d bytes, %v; want 137, %d bytes, deadline exceeded", code, len(out), err, rtapi.ExecOutputLimit)
	}
	b, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	waitFor(t, 5*time.Second, "the check's child to die", func() bool {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		return err != nil || strings.Contains(string(st), ") Z ")
	})
}
