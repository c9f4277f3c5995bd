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

	rtapi "github.com/shoal-project/shoal/runtime"
)

// Start starts the task's shim, which starts the workload, and returns
// once the workload runs. If the workload cannot start, the task is left
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

	rep, err := r.spawnShim(ctx, dir)
	if err != nil {
		if !fileExists(filepath.Join(dir, exitFile)) {
			// The shim is gone; do not leave a workload no one watches.
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

// spawnShim starts the shim for dir in its own session and reads its
// report. An error means the shim failed before reporting.
func (r *Runtime) spawnShim(ctx context.Context, dir string) (shimReport, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return shimReport{}, err
	}
	defer pr.Close()
	shimLog, err := os.OpenFile(filepath.Join(dir, shimLogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		pw.Close()
		return shimReport{}, err
	}
	cmd := exec.Command(r.shim[0], append(append([]string{}, r.shim[1:]...), dir)...)
	// One P and an eager GC keep the shim small; it only copies output.
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", "GOGC=50")
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = shimLog, shimLog
	cmd.ExtraFiles = []*os.File{pw} // descriptor 3 = reportFD
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	pw.Close()
	shimLog.Close()
	if err != nil {
		return shimReport{}, fmt.Errorf("start shim %q: %w", r.shim[0], err)
	}
	// The shim is our child until we exit: reap it when it ends. After an
	// agent restart it is reparented and reaped by init instead.
	reaped := make(chan struct{})
	r.reapers.Add(1)
	go func() {
		defer r.reapers.Done()
		cmd.Wait()
		close(reaped)
	}()

	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(shimStartTimeout)
	}
	pr.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { pr.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	b, err := io.ReadAll(io.LimitReader(pr, 64<<10))
	if err != nil {
		// Gave up waiting: make sure nothing runs that no one knows of.
		cmd.Process.Kill()
		<-reaped
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return shimReport{}, fmt.Errorf("waiting for the shim to start the workload: %w", err)
	}
	var rep shimReport
	if len(bytes.TrimSpace(b)) == 0 {
		return shimReport{}, fmt.Errorf("shim exited without reporting%s", shimLogTail(dir))
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return shimReport{}, fmt.Errorf("bad report from shim %q: %v", b, err)
	}
	return rep, nil
}

// shimLogTail returns ": <last line of shim.log>" or "".
func shimLogTail(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, shimLogFile))
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
