package containerd

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	rtapi "github.com/shoal-project/shoal/runtime"
	"github.com/shoal-project/shoal/runtime/logfile"
)

// Logs returns the task's output (stdout and stderr, interleaved as
// written): the last opts.Tail lines (all of them for -1), then, with
// opts.Follow, new output until ctx is done (the read fails with ctx's
// error) or the task has exited and everything was sent (io.EOF).
func (r *Runtime) Logs(ctx context.Context, taskID string, opts rtapi.LogOptions) (io.ReadCloser, error) {
	if _, err := r.load(ctx, taskID); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	lr, err := logfile.Open(ctx, filepath.Join(r.taskDir(taskID), logFile), logfile.Options{
		Tail:   opts.Tail,
		Follow: opts.Follow,
		Done:   exited,
	})
	if err != nil {
		return nil, fmt.Errorf("task %s: log: %w", taskID, err)
	}
	if !opts.Follow {
		return lr, nil
	}
	wctx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(exited)
		r.Wait(wctx, taskID) // any end (exit, removal, error) ends following
	}()
	return &followReader{lr, cancel}, nil
}

// followReader is a following log reader that also stops waiting for the
// task's exit when closed.
type followReader struct {
	*logfile.Reader
	stopWait context.CancelFunc
}

// Close stops the wait for the task's exit and closes the reader.
func (f *followReader) Close() error {
	f.stopWait()
	return f.Reader.Close()
}
