package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rtapi "github.com/shoal-project/shoal/runtime"
)

// printLines is a script that prints line-001 .. line-<n>.
func printLines(n int) string {
	return fmt.Sprintf(`i=1; while [ $i -le %d ]; do printf 'line-%%03d\n' $i; i=$((i+1)); done`, n)
}

func TestLogsRotationAndTail(t *testing.T) {
	r := newRuntime(t, Config{MaxLogBytes: 100, MaxLogFiles: 3})
	startTask(t, r, shTask("t1", printLines(40)))
	if st, err := r.Wait(ctxT(t), "t1"); err != nil || st.ExitCode != 0 {
		t.Fatalf("wait = %+v, %v", st, err)
	}
	dir := filepath.Join(r.root, "tasks", "t1")
	for i := 0; i < 3; i++ {
		fi, err := os.Stat(rotatedName(filepath.Join(dir, logFile), i))
		if err != nil {
			t.Fatalf("log file %d: %v", i, err)
		}
		if fi.Size() > 100 {
			t.Errorf("log file %d has %d bytes, more than MaxLogBytes", i, fi.Size())
		}
	}
	if _, err := os.Stat(rotatedName(filepath.Join(dir, logFile), 3)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a fourth log file exists (MaxLogFiles is 3): %v", err)
	}
	all := strings.Split(strings.TrimSuffix(readLog(t, r, "t1", -1), "\n"), "\n")
	// 11 whole lines fit in 100 bytes; 3 files keep the last 29..33 lines.
	if len(all) < 22 || len(all) > 33 {
		t.Fatalf("all logs have %d lines: %q", len(all), all)
	}
	first := 40 - len(all) + 1
	for i, l := range all {
		if want := fmt.Sprintf("line-%03d", first+i); l != want {
			t.Fatalf("line %d = %q, want %q (lines out of order or cut)", i, l, want)
		}
	}
	for _, n := range []int{0, 1, 5, 15, len(all), 1000} {
		got := readLog(t, r, "t1", n)
		want := strings.Join(all[max(len(all)-n, 0):], "\n")
		if n > 0 {
			want += "\n"
		}
		if got != want {
			t.Errorf("tail %d = %q, want %q", n, got, want)
		}
	}
	if _, err := r.Logs(ctxT(t), "t1", rtapi.LogOptions{Tail: -2}); err == nil {
		t.Errorf("tail -2 accepted")
	}
}

// lineReader sends the lines read from a follow stream, then its error.
func lineReader(t *testing.T, ctx context.Context, r *Runtime, id string, tail int) (<-chan string, <-chan error) {
	rc, err := r.Logs(ctx, id, rtapi.LogOptions{Follow: true, Tail: tail})
	if err != nil {
		t.Fatal(err)
	}
	lines, done := make(chan string, 100), make(chan error, 1)
	go func() {
		defer rc.Close()
		sc := bufio.NewScanner(rc)
		for sc.Scan() {
			lines <- sc.Text()
		}
		done <- sc.Err()
	}()
	return lines, done
}

func expectLine(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	select {
	case got := <-lines:
		if got != want {
			t.Fatalf("followed line = %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no line %q within 10s", want)
	}
}

func TestLogsFollowUntilExit(t *testing.T) {
	// Small files, so following crosses rotations; enough of them that none
	// is dropped before the follower reads it.
	r := newRuntime(t, Config{MaxLogBytes: 30, MaxLogFiles: 10})
	script := `echo first; while [ ! -e go ]; do sleep 0.02; done; ` + printLines(20)
	startTask(t, r, shTask("t1", script))
	lines, done := lineReader(t, ctxT(t), r, "t1", -1)
	expectLine(t, lines, "first")
	if err := os.WriteFile(filepath.Join(workDir(r, "t1"), "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 20; i++ {
		expectLine(t, lines, fmt.Sprintf("line-%03d", i))
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("follow ended with %v, want EOF", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end after the task exited")
	}
}

func TestLogsFollowStopsWithContext(t *testing.T) {
	r := newRuntime(t, Config{})
	startTask(t, r, shTask("t1", `echo hello; sleep 30`))
	ctx, cancel := context.WithCancel(ctxT(t))
	lines, done := lineReader(t, ctx, r, "t1", 0)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("follow ended with %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end when its context was cancelled")
	}
	for l := range len(lines) {
		t.Errorf("tail 0 sent line %d: %q", l, <-lines)
	}
}

func TestLogsCloseUnblocksFollow(t *testing.T) {
	r := newRuntime(t, Config{})
	startTask(t, r, shTask("t1", `echo hello; sleep 30`))
	rc, err := r.Logs(ctxT(t), "t1", rtapi.LogOptions{Follow: true, Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(rc)
		for sc.Scan() {
			lines <- sc.Text()
		}
		done <- sc.Err()
	}()
	// After the only line, the reader waits for more output.
	expectLine(t, lines, "hello")
	rc.Close()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("read after close = %v, want os.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("close did not unblock a following read")
	}
}

func TestLogsFollowEndsWhenRemoved(t *testing.T) {
	r := newRuntime(t, Config{})
	startTask(t, r, shTask("t1", `echo hello; sleep 30`))
	lines, done := lineReader(t, ctxT(t), r, "t1", -1)
	expectLine(t, lines, "hello")
	if err := r.Remove(ctxT(t), "t1"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("follow ended with %v, want EOF", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end when the task was removed")
	}
}
