package process

import (
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"
)

func TestWaitProcessExit(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	start := processStart(pid)
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	ctx, cancel := context.WithTimeout(ctxT(t), 50*time.Millisecond)
	defer cancel()
	if err := waitProcessExit(ctx, pid, start); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait on a live process = %v, want the context's deadline", err)
	}
	if err := waitProcessExit(ctxT(t), pid, start+1); err != nil {
		t.Fatalf("wait on a reused PID (other start time) = %v, want nil at once", err)
	}
	done := make(chan error, 1)
	go func() { done <- waitProcessExit(ctxT(t), pid, start) }()
	cmd.Process.Kill()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wait did not return after the process died")
	}
	if err := pollProcessExit(ctxT(t), pid, start); err != nil {
		t.Fatal(err)
	}
}
