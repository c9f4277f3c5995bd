package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/textutil"
	rtapi "github.com/shoal-project/shoal/runtime"
)

// Stop sends the task's stop signal (spec.StopSignal, default SIGTERM),
// then SIGKILL if it has not exited after grace, and returns once it has
// exited. A grace of 0 means the spec's StopGracePeriod (or
// DefaultStopGrace); a negative one kills at once. Stopping a task that is
// not running does nothing.
func (r *Runtime) Stop(ctx context.Context, taskID string, grace time.Duration) error {
	ctx = r.withNS(ctx)
	c, err := r.load(ctx, taskID)
	if err != nil {
		return err
	}
	st, t, err := r.statusOf(ctx, c)
	if err != nil || t == nil || st.State != rtapi.StateRunning {
		return err
	}
	labels, err := c.Labels(ctx)
	if err != nil {
		return fmt.Errorf("task %s: %s", taskID, textutil.OneLine(err.Error()))
	}
	sig, err := api.ParseSignal(labels[labelStopSignal])
	if err != nil {
		return fmt.Errorf("task %s: %w", taskID, err)
	}
	if grace == 0 {
		grace, _ = time.ParseDuration(labels[labelStopGrace])
	}
	if grace == 0 {
		grace = DefaultStopGrace
	}
	signal := func(sig syscall.Signal) error { return kill(ctx, t, sig) }
	return rtapi.StopWithGrace(ctx, taskID, signal, r.Wait, syscall.Signal(sig), grace)
}

// kill signals the task's init process; a task that already ended is not
// an error.
func kill(ctx context.Context, t client.Task, sig syscall.Signal) error {
	err := t.Kill(ctx, sig)
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("signal %d: %s", sig, textutil.OneLine(err.Error()))
	}
	return nil
}

// Remove kills the task if it still runs and deletes everything it left:
// the containerd task and container, its snapshot, its directory (log,
// secrets tmpfs), its cgroup directories and runc's state directory.
// Named volumes stay. Removing an unknown task is not an error.
func (r *Runtime) Remove(ctx context.Context, taskID string) error {
	if err := validTaskID(taskID); err != nil {
		return err
	}
	defer r.lock(taskID)()
	ctx = r.withNS(ctx)
	c, err := r.load(ctx, taskID)
	switch {
	case errors.Is(err, rtapi.ErrNotFound):
	case err != nil:
		return err
	default:
		t, err := task(ctx, c)
		if err != nil {
			return err
		}
		if t != nil {
			if _, err := t.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("task %s: delete task: %s", taskID, textutil.OneLine(err.Error()))
			}
		}
		if err := c.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("task %s: delete container: %s", taskID, textutil.OneLine(err.Error()))
		}
	}
	return r.removeLeftovers(ctx, taskID)
}

// removeLeftovers deletes the network namespace and host directories a
// removed task leaves.
func (r *Runtime) removeLeftovers(ctx context.Context, taskID string) error {
	var errs []error
	if n := r.cfg.Network; n != nil {
		if err := n.Teardown(ctx, taskID); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.removeTaskDir(taskID); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(filepath.Join(r.cfg.RuncRoot, r.ns, taskID)); err != nil {
		errs = append(errs, err)
	}
	cg := r.cgroupPath(taskID)
	dirs, _ := filepath.Glob(filepath.Join(cgroupRoot, "*", cg))
	dirs = append(dirs, filepath.Join(cgroupRoot, cg)) // cgroup v2
	for _, d := range dirs {
		// A cgroup directory is removed with rmdir once it has no processes.
		if err := syscall.Rmdir(d); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("task %s: %w", taskID, err)
	}
	return nil
}
