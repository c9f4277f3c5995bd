package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	rtapi "github.com/shoal-project/shoal/runtime"
)

// Start has the keeper (started if none runs) start the workload, and
// returns once it runs. If the workload cannot start, the task is left
// exited (exit code 127 for a missing command, 126 otherwise) and Start
// returns the reason. Starting a task twice is an error.
func (r *Runtime) Start(ctx context.Context, taskID string) error {
	dir, err := r.existingTaskDir(taskID)
	if err != nil {
		return err
	}
	if !fileExists(filepath.Join(dir, specFile)) {
		return fmt.Errorf("task %s is not prepared: %w", taskID, rtapi.ErrNotFound)
	}
	marker, err := os.OpenFile(filepath.Join(dir, startedFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("task %s: already started", taskID)
		}
		return fmt.Errorf("task %s: %w", taskID, err)
	}
	marker.Close()

	rep, err := r.startInKeeper(ctx, taskID)
	if err != nil {
		if !fileExists(filepath.Join(dir, exitFile)) {
			// The keeper failed us (it kills a workload it could not
			// report); do not leave a workload no one knows of.
			var st shimState
			if readJSON(filepath.Join(dir, stateFile), &st) == nil && processAlive(st.PID, st.PIDStart) {
				syscall.Kill(-st.PID, syscall.SIGKILL)
			}
			writeJSONAtomic(filepath.Join(dir, exitFile), exitRecord{ExitCode: 126, FinishedAt: time.Now().UTC(), Err: err.Error()})
		}
		return fmt.Errorf("task %s: %w", taskID, err)
	}
	if rep.Error != "" {
		return fmt.Errorf("task %s: %s (exit code %d)", taskID, rep.Error, rep.ExitCode)
	}
	return nil
}

// startInKeeper has root's keeper start the task, starting a keeper if
// none answers, and returns its report. An error means there is no report.
func (r *Runtime) startInKeeper(ctx context.Context, taskID string) (shimReport, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(shimStartTimeout)
	}
	// Shared with other agents; the keeper does not exit while it is held.
	use, err := os.OpenFile(filepath.Join(r.root, keeperUseFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return shimReport{}, err
	}
	defer use.Close()
	if err := unix.Flock(int(use.Fd()), unix.LOCK_SH); err != nil {
		return shimReport{}, fmt.Errorf("lock %s: %w", use.Name(), err)
	}
	c, err := dialKeeperNow(r.root)
	if err != nil {
		if err := r.spawnKeeper(ctx, deadline); err != nil {
			return shimReport{}, err
		}
		if c, err = dialKeeperNow(r.root); err != nil {
			return shimReport{}, fmt.Errorf("connect to the keeper: %w%s", err, keeperLogTail(r.root))
		}
	}
	defer c.Close()
	c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := json.NewEncoder(c).Encode(keeperRequest{Task: taskID}); err != nil {
		return shimReport{}, fmt.Errorf("ask the keeper to start the workload: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(c, 64<<10))
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return shimReport{}, fmt.Errorf("waiting for the keeper to start the workload: %w", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return shimReport{}, fmt.Errorf("keeper closed the connection without reporting%s", keeperLogTail(r.root))
	}
	var rep shimReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return shimReport{}, fmt.Errorf("bad report from the keeper %q: %v", b, err)
	}
	return rep, nil
}

// spawnKeeper starts a keeper for the root in its own session and waits
// until it serves (or another keeper does).
func (r *Runtime) spawnKeeper(ctx context.Context, deadline time.Time) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	logf, err := os.OpenFile(filepath.Join(r.root, keeperLogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		pw.Close()
		return err
	}
	cmd := exec.Command(r.shim[0], append(append([]string{}, r.shim[1:]...), r.root)...)
	// One P and an eager GC keep the keeper small; it mostly copies output.
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", "GOGC=50")
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{pw} // descriptor 3 = reportFD
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	pw.Close()
	logf.Close()
	if err != nil {
		return fmt.Errorf("start keeper %q: %w", r.shim[0], err)
	}
	// The keeper is our child until we exit: reap it when it ends. After
	// an agent restart it is reparented and reaped by init instead.
	reaped := make(chan struct{})
	r.reapers.Add(1)
	go func() {
		defer r.reapers.Done()
		cmd.Wait()
		close(reaped)
	}()
	pr.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { pr.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	b, err := io.ReadAll(io.LimitReader(pr, 64<<10))
	if err != nil {
		// It has no task yet: nothing is lost by killing it.
		cmd.Process.Kill()
		<-reaped
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("waiting for the keeper to start: %w", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		// It found another keeper serving, or died.
		<-reaped
		if cmd.ProcessState.Success() {
			return nil
		}
		return fmt.Errorf("keeper exited without reporting (%s)%s", cmd.ProcessState, keeperLogTail(r.root))
	}
	var rep shimReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("bad report from the keeper %q: %v", b, err)
	}
	if rep.Error != "" {
		return fmt.Errorf("keeper: %s", rep.Error)
	}
	return nil
}

// keeperLogTail returns ": <last line of keeper.log>" or "".
func keeperLogTail(root string) string {
	b, _ := os.ReadFile(filepath.Join(root, keeperLogFile))
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	if len(b) == 0 {
		return ""
	}
	if len(b) > 300 {
		b = b[:300]
	}
	return ": " + string(b)
}
