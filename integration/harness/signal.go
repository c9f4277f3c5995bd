package harness

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// proc returns the latest process and the channel closed when it exits;
// both are nil before the first Start.
func (a *Agent) proc() (*exec.Cmd, chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cmd, a.exited
}

// Running reports whether the agent process is alive (stopped by SIGSTOP
// or not); it is false before the first Start.
func (a *Agent) Running() bool {
	cmd, exited := a.proc()
	if cmd == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// Signal sends sig to the agent process (not its workloads).
func (a *Agent) Signal(sig os.Signal) error {
	cmd, _ := a.proc()
	if cmd == nil {
		return fmt.Errorf("%s is not started", a.Name)
	}
	return cmd.Process.Signal(sig)
}

// Kill sends SIGKILL to the agent (not its workloads) and waits for it.
func (a *Agent) Kill() {
	cmd, exited := a.proc()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// Die kills the agent and every process of its data dir with SIGKILL,
// and detaches the mounts under it (the tasks' secret tmpfs): the node is
// gone.
func (a *Agent) Die() {
	a.Kill()
	KillUnder(a.DataDir)
	UnmountUnder(a.DataDir)
}

// Stop sends SIGTERM and waits up to timeout; it reports whether the
// agent exited in time, and kills it if not.
func (a *Agent) Stop(timeout time.Duration) bool {
	cmd, exited := a.proc()
	if cmd == nil {
		return true
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return true
	case <-time.After(timeout):
		a.Kill()
		return false
	}
}

// ExitCode waits up to timeout for the latest process to exit and returns
// its exit code (-1 if a signal killed it); ok is false if it has not
// exited or was never started.
func (a *Agent) ExitCode(timeout time.Duration) (code int, ok bool) {
	cmd, exited := a.proc()
	if cmd == nil {
		return 0, false
	}
	select {
	case <-exited:
		return cmd.ProcessState.ExitCode(), true
	default:
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-exited:
		return cmd.ProcessState.ExitCode(), true
	case <-timer.C:
		return 0, false
	}
}

// PID is the agent process's ID, or 0 before the first Start.
func (a *Agent) PID() int {
	cmd, _ := a.proc()
	if cmd == nil || cmd.Process == nil {
		return 0
	}
	return cmd.Process.Pid
}
