package containerd

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"

	"github.com/shoal-project/shoal/internal/textutil"
	rtapi "github.com/shoal-project/shoal/runtime"
)

// Start creates the container's task with its output going to
// <Root>/tasks/<taskID>/output.log and starts it. If the workload cannot
// start, the task is left exited (exit code 127 for a missing command,
// 126 otherwise) and Start returns the reason. Starting a task twice is an
// error.
func (r *Runtime) Start(ctx context.Context, taskID string) error {
	if err := validTaskID(taskID); err != nil {
		return err
	}
	defer r.lock(taskID)()
	ctx = r.withNS(ctx)
	c, err := r.load(ctx, taskID)
	if err != nil {
		return err
	}
	st, t, err := r.statusOf(ctx, c)
	if err != nil {
		return err
	}
	if t != nil || !st.StartedAt.IsZero() || st.State != rtapi.StateCreated {
		return fmt.Errorf("task %s: already started", taskID)
	}
	started := time.Now().UTC()
	if _, err := c.SetLabels(ctx, map[string]string{labelStartedAt: started.Format(time.RFC3339Nano)}); err != nil {
		return fmt.Errorf("task %s: %s", taskID, textutil.OneLine(err.Error()))
	}
	t, err = c.NewTask(ctx, cio.LogFile(filepath.Join(r.taskDir(taskID), logFile)))
	if err != nil {
		return r.startFailed(ctx, c, nil, err)
	}
	if err := t.Start(ctx); err != nil {
		return r.startFailed(ctx, c, t, err)
	}
	return nil
}

// startFailed deletes a task that did not start and records an exit
// status for it on the container.
func (r *Runtime) startFailed(ctx context.Context, c client.Container, t client.Task, cause error) error {
	msg := textutil.OneLine(cause.Error())
	code := 126
	if strings.Contains(msg, "no such file or directory") || strings.Contains(msg, "executable file not found") {
		code = 127
	}
	dctx := context.WithoutCancel(ctx)
	if t != nil {
		t.Delete(dctx, client.WithProcessKill)
	}
	_, err := c.SetLabels(dctx, map[string]string{
		labelExitCode:   strconv.Itoa(code),
		labelFinishedAt: time.Now().UTC().Format(time.RFC3339Nano),
		labelError:      truncate(msg, 2000),
	})
	if err != nil {
		return fmt.Errorf("task %s: %s (and recording the failure failed: %s)", c.ID(), msg, textutil.OneLine(err.Error()))
	}
	return fmt.Errorf("task %s: %s (exit code %d)", c.ID(), msg, code)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
