package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/shoal-project/shoal/api"
	rtapi "github.com/shoal-project/shoal/runtime"
)

// Stop sends the task's stop signal to its process group, then SIGKILL if
// it has not exited after grace, and returns once it has exited. A grace of
// 0 means the spec's StopGracePeriod (or DefaultStopGrace); a negative one
// kills at once. Stopping a task that is not running does nothing.
func (r *Runtime) Stop(ctx context.Context, taskID string, grace time.Duration) error {
	dir, err := r.existingTaskDir(taskID)
	if err != nil {
		return err
	}
	st, err := r.statusOf(dir, taskID)
	if err != nil || st.State != rtapi.StateRunning {
		return err
	}
	var ls launchSpec
	if err := readJSON(filepath.Join(dir, specFile), &ls); err != nil {
		return fmt.Errorf("task %s: %w", taskID, err)
	}
	sig, err := api.ParseSignal(ls.StopSignal)
	if err != nil {
		return fmt.Errorf("task %s: %w", taskID, err)
	}
	if grace == 0 {
		grace = ls.StopGrace
	}
	if grace == 0 {
		grace = DefaultStopGrace
	}
	signal := func(sig syscall.Signal) error { return signalTask(dir, sig) }
	return rtapi.StopWithGrace(ctx, taskID, signal, r.Wait, syscall.Signal(sig), grace)
}

// signalTask sends sig to the workload's process group, unless its main
// process has already ended (then the shim has killed the group itself and
// the PID may no longer be the task's).
func signalTask(dir string, sig syscall.Signal) error {
	var ss shimState
	ok, err := readOptional(filepath.Join(dir, stateFile), &ss)
	if !ok || err != nil || fileExists(filepath.Join(dir, exitFile)) {
		return err
	}
	if !processAlive(ss.PID, ss.PIDStart) {
		return nil
	}
	if err := syscall.Kill(-ss.PID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s to process group %d: %w", signalName(sig), ss.PID, err)
	}
	return nil
}

// Remove kills the task if it still runs, waits until the keeper is done
// with it, unmounts its secrets and deletes its directory. Removing an
// unknown task does nothing.
func (r *Runtime) Remove(ctx context.Context, taskID string) error {
	dir, err := r.taskDir(taskID)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if st, err := r.statusOf(dir, taskID); err == nil && st.State == rtapi.StateRunning {
		if err := signalTask(dir, syscall.SIGKILL); err != nil {
			return fmt.Errorf("task %s: %w", taskID, err)
		}
		if _, err := r.Wait(ctx, taskID); err != nil {
			return fmt.Errorf("task %s: waiting for it to die: %w", taskID, err)
		}
	}
	var ss shimState
	// The keeper closes the log before it records the exit; a per-task
	// shim of an earlier release may still be closing it.
	if ok, _ := readOptional(filepath.Join(dir, stateFile), &ss); ok && !ss.Keeper {
		if err := waitProcessExit(ctx, ss.ShimPID, ss.ShimStart); err != nil {
			return fmt.Errorf("task %s: waiting for its shim: %w", taskID, err)
		}
	}
	if err := unmountSecrets(dir); err != nil {
		return fmt.Errorf("task %s: %w", taskID, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("task %s: %w", taskID, err)
	}
	return nil
}
