package process

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoal-project/shoal/internal/ctxutil"
	rtapi "github.com/shoal-project/shoal/runtime"
)

// pollInterval is how often state is polled where no event is available
// (a task still starting, or a kernel without pidfd).
const pollInterval = 20 * time.Millisecond

// Wait blocks until the task has exited, or its supervisor was lost, and
// returns its status. It works the same for tasks started by an earlier
// agent: it watches the workload (with a pidfd, no thread blocked) and
// then reads the exit file the keeper wrote. (For a task of a per-task
// shim of an earlier release it watches that shim.)
func (r *Runtime) Wait(ctx context.Context, taskID string) (rtapi.Status, error) {
	dir, err := r.existingTaskDir(taskID)
	if err != nil {
		return rtapi.Status{}, err
	}
	for {
		st, err := r.statusOf(dir, taskID)
		if err != nil {
			return st, err
		}
		if st.State == rtapi.StateExited || st.State == rtapi.StateUnknown {
			return st, nil
		}
		if err := waitChange(ctx, dir); err != nil {
			return st, err
		}
	}
}

// waitChange blocks until the process the task's state depends on ends:
// the workload (or an old per-task shim if it runs); while the task is
// starting, or the keeper finishing it, it just sleeps a poll interval.
func waitChange(ctx context.Context, dir string) error {
	var ss shimState
	if err := readJSON(filepath.Join(dir, stateFile), &ss); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return ctxutil.Sleep(ctx, pollInterval)
	}
	if ss.Keeper {
		// The keeper outlives the task: watch the workload, then poll for
		// the exit record while the keeper finishes (drains the output).
		if processAlive(ss.PID, ss.PIDStart) {
			return waitProcessExit(ctx, ss.PID, ss.PIDStart)
		}
		if processAlive(ss.ShimPID, ss.ShimStart) {
			return ctxutil.Sleep(ctx, pollInterval)
		}
		return ctx.Err()
	}
	if processAlive(ss.ShimPID, ss.ShimStart) {
		return waitProcessExit(ctx, ss.ShimPID, ss.ShimStart)
	}
	if processAlive(ss.PID, ss.PIDStart) {
		return waitProcessExit(ctx, ss.PID, ss.PIDStart)
	}
	return ctx.Err()
}

// waitProcessExit blocks until the process pid that started at start has
// exited (it need not be our child) or ctx is done. It waits on a pidfd
// through the Go poller, and falls back to polling /proc.
func waitProcessExit(ctx context.Context, pid int, start uint64) error {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return pollProcessExit(ctx, pid, start)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	// The pidfd pins pid: if it is still the process we mean, the pidfd is it.
	if !processAlive(pid, start) {
		return nil
	}
	if f.SetReadDeadline(time.Time{}) != nil {
		return pollProcessExit(ctx, pid, start) // not pollable
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return pollProcessExit(ctx, pid, start)
	}
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	err = rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, perr := unix.Poll(fds, 0)
		return perr == nil && n > 0
	})
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// pollProcessExit polls /proc until the process is gone.
func pollProcessExit(ctx context.Context, pid int, start uint64) error {
	for processAlive(pid, start) {
		if err := ctxutil.Sleep(ctx, pollInterval); err != nil {
			return err
		}
	}
	return nil
}
