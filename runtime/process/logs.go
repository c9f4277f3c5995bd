package process

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	rtapi "github.com/shoal-project/shoal/runtime"
	"github.com/shoal-project/shoal/runtime/logfile"
)

// Logs returns the task's output (stdout and stderr, interleaved as
// written): the last opts.Tail lines across the rotated files (all of them
// for -1), then, with opts.Follow, new output until ctx is done (the read
// fails with ctx's error) or the task has exited or was removed and
// everything was sent (io.EOF).
func (r *Runtime) Logs(ctx context.Context, taskID string, opts rtapi.LogOptions) (io.ReadCloser, error) {
	dir, err := r.existingTaskDir(taskID)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, logFile)
	lr, err := logfile.Open(ctx, path, logfile.Options{
		Tail:    opts.Tail,
		Follow:  opts.Follow,
		Rotated: logfile.Numbered(path),
		// The shim writes all output before the exit file.
		Exited: func() bool { return !fileExists(dir) || fileExists(filepath.Join(dir, exitFile)) },
	})
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", taskID, err)
	}
	return lr, nil
}
