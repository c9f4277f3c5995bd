package logfile

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// PollInterval is how often a following reader that has caught up looks
// for new output.
const PollInterval = 50 * time.Millisecond

// Reader reads a log opened by Open. Read and Close are safe to call from
// different goroutines; Close makes a blocked Read return os.ErrClosed.
type Reader struct {
	ctx    context.Context
	path   string
	opts   Options
	closed chan struct{}
	once   sync.Once

	mu       sync.Mutex
	segs     []openedFile // files to read before cur, oldest first
	cur      *openedFile  // the live file, once it exists
	lastPass bool         // Exited held: read what is left, then io.EOF
	isClosed bool
}

// Read implements io.Reader: the log's output, then io.EOF when it is not
// following or the writer has exited and everything was read.
func (r *Reader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if r.isClosed {
			return 0, os.ErrClosed
		}
		if len(r.segs) > 0 {
			n, err := r.segs[0].Read(p)
			if n > 0 || !errors.Is(err, io.EOF) {
				return n, err
			}
			r.segs[0].Close()
			r.segs = r.segs[1:]
			continue
		}
		if r.cur != nil {
			n, err := r.cur.Read(p)
			if n > 0 || !errors.Is(err, io.EOF) {
				return n, err
			}
		}
		if !r.opts.Follow {
			return 0, io.EOF
		}
		if r.switchFile() {
			continue
		}
		if r.lastPass {
			return 0, io.EOF
		}
		if r.exited() {
			// Everything was written before the exit: one more pass.
			r.lastPass = true
			continue
		}
		r.mu.Unlock()
		err := r.sleep()
		r.mu.Lock()
		if err != nil {
			return 0, err
		}
	}
}

// switchFile opens the live file once it exists and, when the drained
// live file was rotated away, moves on: first to what is left of it, then
// to the files rotated after it, then to the new live file. It reports
// whether there is anything new to read from.
func (r *Reader) switchFile() bool {
	if r.cur == nil {
		f, err := os.Open(r.path)
		if err != nil {
			return false
		}
		r.cur = &openedFile{r.path, f}
		return true
	}
	a, err1 := r.cur.Stat()
	b, err2 := os.Stat(r.path)
	if err1 != nil || err2 != nil || os.SameFile(a, b) {
		return false
	}
	files, err := r.openAll()
	if err != nil || len(files) == 0 {
		return false
	}
	// Files are oldest first: those after the one we were reading are
	// newer. If it was deleted already, every file left is newer.
	next := 0
	for i, f := range files {
		if fi, err := f.Stat(); err == nil && os.SameFile(a, fi) {
			next = i + 1
		}
	}
	closeAll(files[:next])
	files = files[next:]
	// The old live file is no longer written: finish it first.
	r.segs = append(r.segs, *r.cur)
	r.cur = nil
	if n := len(files); n > 0 && files[n-1].name == r.path {
		live := files[n-1]
		r.cur, files = &live, files[:n-1]
	}
	r.segs = append(r.segs, files...)
	return true
}

// exited reports whether the writer has finished.
func (r *Reader) exited() bool {
	select {
	case <-r.opts.Done:
		return true
	default:
		return r.opts.Exited != nil && r.opts.Exited()
	}
}

// sleep waits a poll interval, or until Done is closed; it fails when ctx
// is done or the reader is closed.
func (r *Reader) sleep() error {
	t := time.NewTimer(PollInterval)
	defer t.Stop()
	select {
	case <-r.ctx.Done():
		return r.ctx.Err()
	case <-r.closed:
		return os.ErrClosed
	case <-r.opts.Done:
		return nil
	case <-t.C:
		return nil
	}
}

// Close releases the files; a Read blocked in Follow returns os.ErrClosed,
// and so does every later Read.
func (r *Reader) Close() error {
	r.once.Do(func() { close(r.closed) })
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isClosed {
		return nil
	}
	r.isClosed = true
	closeAll(r.segs)
	r.segs = nil
	if r.cur != nil {
		r.cur.Close()
		r.cur = nil
	}
	return nil
}
