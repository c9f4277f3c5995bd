package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	rtapi "github.com/shoal-project/shoal/runtime"
)

// logPollInterval is how often a following reader looks for new output.
const logPollInterval = 50 * time.Millisecond

// Logs returns the task's output (stdout and stderr, interleaved as
// written): the last opts.Tail lines (all of them for -1), then, with
// opts.Follow, new output until ctx is done (the read fails with ctx's
// error) or the task has exited and everything was sent (io.EOF).
func (r *Runtime) Logs(ctx context.Context, taskID string, opts rtapi.LogOptions) (io.ReadCloser, error) {
	if opts.Tail < -1 {
		return nil, fmt.Errorf("log tail %d: must be -1 (all) or a line count", opts.Tail)
	}
	if _, err := r.load(ctx, taskID); err != nil {
		return nil, err
	}
	path := filepath.Join(r.taskDir(taskID), logFile)
	lr := &logReader{ctx: ctx, path: path, follow: opts.Follow, closed: make(chan struct{}), exited: make(chan struct{})}
	f, err := os.Open(path)
	switch {
	case err == nil:
		off, err := tailStart(f, opts.Tail)
		if err == nil {
			_, err = f.Seek(off, io.SeekStart)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("task %s: log: %w", taskID, err)
		}
		lr.f = f
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("task %s: log: %w", taskID, err)
	}
	if opts.Follow {
		wctx, cancel := context.WithCancel(ctx)
		lr.cancelWait = cancel
		go func() {
			defer close(lr.exited)
			r.Wait(wctx, taskID) // any end (exit, removal, error) ends following
		}()
	}
	return lr, nil
}

// tailStart finds where the last n lines of f start (0 for n = -1). A
// final line without a newline counts as a line.
func tailStart(f *os.File, n int) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	if n < 0 || size == 0 {
		return 0, nil
	}
	if n == 0 {
		return size, nil
	}
	end := size
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return 0, err
	}
	if last[0] == '\n' {
		end-- // the final newline ends the last line
	}
	buf := make([]byte, 32<<10)
	found := 0
	for end > 0 {
		start := max(end-int64(len(buf)), 0)
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] == '\n' {
				if found++; found == n {
					return start + int64(i) + 1, nil
				}
			}
		}
		end = start
	}
	return 0, nil
}

// logReader reads output.log and, when following, waits for more until
// the task has exited.
type logReader struct {
	ctx        context.Context
	path       string
	follow     bool
	closed     chan struct{}
	exited     chan struct{} // closed when the task has ended (follow only)
	cancelWait context.CancelFunc
	once       sync.Once

	mu       sync.Mutex
	f        *os.File // nil until the task has written
	lastPass bool
	isClosed bool
}

// Read implements io.Reader.
func (l *logReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if l.isClosed {
			return 0, os.ErrClosed
		}
		if l.f == nil {
			if f, err := os.Open(l.path); err == nil {
				l.f = f
			}
		}
		if l.f != nil {
			n, err := l.f.Read(p)
			if n > 0 || !errors.Is(err, io.EOF) {
				return n, err
			}
		}
		if !l.follow || l.lastPass {
			return 0, io.EOF
		}
		select {
		case <-l.exited:
			// Everything was written before the exit: one more pass.
			l.lastPass = true
			continue
		default:
		}
		l.mu.Unlock()
		err := l.sleep()
		l.mu.Lock()
		if err != nil {
			return 0, err
		}
	}
}

func (l *logReader) sleep() error {
	t := time.NewTimer(logPollInterval)
	defer t.Stop()
	select {
	case <-l.ctx.Done():
		return l.ctx.Err()
	case <-l.closed:
		return os.ErrClosed
	case <-l.exited:
		return nil
	case <-t.C:
		return nil
	}
}

// Close releases the file; a Read blocked in Follow returns.
func (l *logReader) Close() error {
	l.once.Do(func() {
		close(l.closed)
		if l.cancelWait != nil {
			l.cancelWait()
		}
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isClosed {
		return nil
	}
	l.isClosed = true
	if l.f != nil {
		l.f.Close()
	}
	return nil
}
