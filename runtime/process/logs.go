package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	rtapi "github.com/shoal-project/shoal/runtime"
)

// logPollInterval is how often a following reader looks for new output.
const logPollInterval = 50 * time.Millisecond

// Logs returns the task's output (stdout and stderr, interleaved as
// written): the last opts.Tail lines across the rotated files (all of them
// for -1), then, with opts.Follow, new output until ctx is done (the read
// fails with ctx's error) or the task has exited and everything was sent
// (io.EOF).
func (r *Runtime) Logs(ctx context.Context, taskID string, opts rtapi.LogOptions) (io.ReadCloser, error) {
	if opts.Tail < -1 {
		return nil, fmt.Errorf("log tail %d: must be -1 (all) or a line count", opts.Tail)
	}
	dir, err := r.existingTaskDir(taskID)
	if err != nil {
		return nil, err
	}
	files, err := openLogFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", taskID, err)
	}
	segs, err := tailSegments(files, opts.Tail)
	if err != nil {
		closeAll(files)
		return nil, fmt.Errorf("task %s: %w", taskID, err)
	}
	lr := &logReader{ctx: ctx, dir: dir, follow: opts.Follow, closed: make(chan struct{})}
	// The newest file, if it is the live output.log, is where following goes on.
	if n := len(segs); n > 0 && files[len(files)-1].name == filepath.Join(dir, logFile) && segs[n-1] == files[len(files)-1].f {
		lr.cur, segs = segs[n-1], segs[:n-1]
	}
	lr.segs = segs
	return lr, nil
}

type logFileRef struct {
	name string
	f    *os.File
}

// openLogFiles opens the task's log files, oldest first. The live
// output.log is last (absent if the task has not written yet).
func openLogFiles(dir string) ([]logFileRef, error) {
	base := filepath.Join(dir, logFile)
	matches, _ := filepath.Glob(base + ".*")
	var nums []int
	for _, m := range matches {
		if n, err := strconv.Atoi(strings.TrimPrefix(m, base+".")); err == nil && n > 0 {
			nums = append(nums, n)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(nums)))
	var out []logFileRef
	for _, name := range append(namesOf(base, nums), base) {
		f, err := os.Open(name)
		if errors.Is(err, os.ErrNotExist) {
			continue // rotated away meanwhile, or not written yet
		}
		if err != nil {
			closeAll(out)
			return nil, err
		}
		out = append(out, logFileRef{name, f})
	}
	return out, nil
}

func namesOf(base string, nums []int) []string {
	names := make([]string, len(nums))
	for i, n := range nums {
		names[i] = rotatedName(base, n)
	}
	return names
}

func closeAll(files []logFileRef) {
	for _, f := range files {
		f.f.Close()
	}
}

// tailSegments positions the files so that reading them in order gives the
// last n lines (all for n = -1) and closes the files that are not needed.
func tailSegments(files []logFileRef, n int) ([]*os.File, error) {
	first := 0
	if n >= 0 {
		first = len(files) // nothing, unless lines are found below
		need := n
		for i := len(files) - 1; i >= 0 && need > 0; i-- {
			off, found, err := tailOffset(files[i].f, need)
			if err != nil {
				closeAll(files)
				return nil, err
			}
			if _, err := files[i].f.Seek(off, io.SeekStart); err != nil {
				closeAll(files)
				return nil, err
			}
			first, need = i, need-found
		}
		if first == len(files) && len(files) > 0 {
			// Tail 0: start at the end of the newest file.
			last := files[len(files)-1].f
			if _, err := last.Seek(0, io.SeekEnd); err != nil {
				closeAll(files)
				return nil, err
			}
			first = len(files) - 1
		}
	}
	closeAll(files[:first])
	segs := make([]*os.File, 0, len(files)-first)
	for _, f := range files[first:] {
		segs = append(segs, f.f)
	}
	return segs, nil
}

// tailOffset finds where the last n lines of f start. found is how many
// lines it found (fewer than n if the file has fewer; then off is 0). A
// final line without a newline counts as a line.
func tailOffset(f io.ReaderAt, n int) (off int64, found int, err error) {
	size, err := sizeOf(f)
	if err != nil || size == 0 || n <= 0 {
		return size, 0, err
	}
	buf := make([]byte, 32<<10)
	end := size
	// A newline ending the file ends the last line; it does not start one.
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return 0, 0, err
	}
	if last[0] == '\n' {
		end--
	}
	for end > 0 {
		start := max(end-int64(len(buf)), 0)
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, 0, err
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] == '\n' {
				found++
				if found == n {
					return start + int64(i) + 1, found, nil
				}
			}
		}
		end = start
	}
	return 0, found + 1, nil // the first line has no newline before it
}

func sizeOf(f io.ReaderAt) (int64, error) {
	if s, ok := f.(interface{ Stat() (os.FileInfo, error) }); ok {
		fi, err := s.Stat()
		if err != nil {
			return 0, err
		}
		return fi.Size(), nil
	}
	return 0, errors.New("log file has no size")
}

// logReader reads finished segments, then the live output.log, following
// it across rotations if asked to.
type logReader struct {
	ctx    context.Context
	dir    string
	follow bool
	closed chan struct{}
	once   sync.Once

	mu       sync.Mutex
	segs     []*os.File // older files still to read
	cur      *os.File   // the live output.log, once opened
	sawExit  bool
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
		if len(l.segs) > 0 {
			n, err := l.segs[0].Read(p)
			if n > 0 || !errors.Is(err, io.EOF) {
				return n, err
			}
			l.segs[0].Close()
			l.segs = l.segs[1:]
			continue
		}
		if l.cur != nil {
			n, err := l.cur.Read(p)
			if n > 0 || !errors.Is(err, io.EOF) {
				return n, err
			}
		}
		if !l.follow {
			return 0, io.EOF
		}
		if l.switchFile() {
			continue
		}
		if l.sawExit || !fileExists(l.dir) { // exited, or removed
			return 0, io.EOF
		}
		if fileExists(filepath.Join(l.dir, exitFile)) {
			// All output was written before the exit file: one more pass.
			l.sawExit = true
			continue
		}
		l.mu.Unlock()
		err := l.sleep()
		l.mu.Lock()
		if err != nil {
			return 0, err
		}
	}
}

// switchFile moves on from a drained output.log that was rotated away: to
// the files rotated after it, then the new output.log. It also opens
// output.log once the task starts writing. It reports whether it moved.
func (l *logReader) switchFile() bool {
	path := filepath.Join(l.dir, logFile)
	if l.cur == nil {
		f, err := os.Open(path)
		if err != nil {
			return false
		}
		l.cur = f
		return true
	}
	a, err1 := l.cur.Stat()
	b, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || os.SameFile(a, b) {
		return false
	}
	files, err := openLogFiles(l.dir)
	if err != nil || len(files) == 0 {
		return false
	}
	// Files are oldest first; those after the one we drained are newer.
	// If it was already deleted, every file left is newer.
	next := 0
	for i, f := range files {
		if fi, err := f.f.Stat(); err == nil && os.SameFile(a, fi) {
			next = i + 1
		}
	}
	closeAll(files[:next])
	files = files[next:]
	l.cur.Close()
	l.cur = nil
	if n := len(files); n > 0 && files[n-1].name == path {
		l.cur = files[n-1].f
		files = files[:n-1]
	}
	for _, f := range files {
		l.segs = append(l.segs, f.f)
	}
	return true
}

func (l *logReader) sleep() error {
	t := time.NewTimer(logPollInterval)
	defer t.Stop()
	select {
	case <-l.ctx.Done():
		return l.ctx.Err()
	case <-l.closed:
		return os.ErrClosed
	case <-t.C:
		return nil
	}
}

// Close releases the files; a Read blocked in Follow returns.
func (l *logReader) Close() error {
	l.once.Do(func() { close(l.closed) })
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isClosed {
		return nil
	}
	l.isClosed = true
	for _, f := range l.segs {
		f.Close()
	}
	l.segs = nil
	if l.cur != nil {
		l.cur.Close()
	}
	return nil
}
