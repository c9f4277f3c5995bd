package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	rtapi "github.com/shoal-project/shoal/runtime"
)

// Status reports the task's status from the files the keeper keeps, or
// runtime.ErrNotFound.
func (r *Runtime) Status(ctx context.Context, taskID string) (rtapi.Status, error) {
	if err := ctx.Err(); err != nil {
		return rtapi.Status{}, err
	}
	dir, err := r.existingTaskDir(taskID)
	if err != nil {
		return rtapi.Status{}, err
	}
	return r.statusOf(dir, taskID)
}

// List reports every task under Root, sorted by ID. A directory left
// half-prepared is listed as unknown so that it can be removed.
func (r *Runtime) List(ctx context.Context) ([]rtapi.Status, error) {
	entries, err := os.ReadDir(filepath.Join(r.root, "tasks"))
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	out := make([]rtapi.Status, 0, len(entries))
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !e.IsDir() || validTaskID(e.Name()) != nil {
			continue
		}
		st, err := r.statusOf(filepath.Join(r.root, "tasks", e.Name()), e.Name())
		if err != nil {
			st = rtapi.Status{TaskID: e.Name(), State: rtapi.StateUnknown, Err: err.Error()}
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TaskID < out[j].TaskID })
	return out, nil
}

// statusOf works out a task's status from its directory.
func (r *Runtime) statusOf(dir, taskID string) (rtapi.Status, error) {
	st := rtapi.Status{TaskID: taskID}
	var ss shimState
	haveState, err := readOptional(filepath.Join(dir, stateFile), &ss)
	if err != nil {
		return st, err
	}
	if haveState {
		st.PID, st.StartedAt = ss.PID, ss.StartedAt
	}
	if done, err := readExit(dir, &st); done || err != nil {
		return st, err
	}
	if haveState && ss.Keeper {
		return keptStatus(dir, st, ss)
	}
	switch {
	case haveState && processAlive(ss.ShimPID, ss.ShimStart):
		st.State = rtapi.StateRunning
	case haveState && processAlive(ss.PID, ss.PIDStart):
		st.State = rtapi.StateRunning
		st.Err = fmt.Sprintf("shim (pid %d) is gone; the exit code will be lost", ss.ShimPID)
	case haveState:
		// The shim may have just written the exit file and gone.
		if done, err := readExit(dir, &st); done || err != nil {
			return st, err
		}
		st.State = rtapi.StateUnknown
		st.Err = fmt.Sprintf("shim (pid %d) exited without recording the workload's exit status", ss.ShimPID)
	case !fileExists(filepath.Join(dir, specFile)):
		st.State = rtapi.StateUnknown
		st.Err = "task directory has no launch spec (prepare did not finish)"
	default:
		st.State = rtapi.StateCreated // not started, or starting
	}
	return st, nil
}

// keptStatus is statusOf for a task the keeper started and has not
// recorded the exit of.
func keptStatus(dir string, st rtapi.Status, ss shimState) (rtapi.Status, error) {
	switch {
	case processAlive(ss.PID, ss.PIDStart):
		st.State = rtapi.StateRunning
		if !processAlive(ss.ShimPID, ss.ShimStart) {
			st.Err = fmt.Sprintf("keeper (the shim, pid %d) is gone; the exit code will be lost", ss.ShimPID)
		}
	case processAlive(ss.ShimPID, ss.ShimStart):
		// The workload has ended; the keeper is draining its output and
		// about to record its exit.
		st.State = rtapi.StateRunning
	default:
		// The keeper may have just recorded the exit and gone.
		if done, err := readExit(dir, &st); done || err != nil {
			return st, err
		}
		st.State = rtapi.StateUnknown
		st.Err = fmt.Sprintf("keeper (the shim, pid %d) exited without recording the workload's exit status", ss.ShimPID)
	}
	return st, nil
}

// readExit fills st from the exit file if there is one.
func readExit(dir string, st *rtapi.Status) (bool, error) {
	var ex exitRecord
	ok, err := readOptional(filepath.Join(dir, exitFile), &ex)
	if !ok || err != nil {
		return false, err
	}
	st.State = rtapi.StateExited
	st.ExitCode = ex.ExitCode
	st.FinishedAt = ex.FinishedAt
	st.Err = ex.Err
	if st.StartedAt.IsZero() {
		st.StartedAt = ex.StartedAt
	}
	return true, nil
}

// readOptional is readJSON that reports a missing file as false, nil.
func readOptional(path string, v any) (bool, error) {
	err := readJSON(path, v)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
