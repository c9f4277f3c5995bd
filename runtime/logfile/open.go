// Package logfile reads a task's output log the way runtime.Runtime.Logs
// promises: the last N lines, across rotated files if the log is rotated,
// then, when following, new output as it is written, until the writer has
// exited and everything was read, the context is done, or the reader is
// closed.
//
// A log is one live file that a writer appends to and, optionally, files
// rotated out of it (renamed away when it grew too large). A rotated file
// is never written again; the live file may be replaced at any time.
package logfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Options says which part of a log a Reader sends and when it stops.
type Options struct {
	// Tail is how many of the last lines to send first; -1 sends all.
	Tail int
	// Follow keeps the reader waiting for new output once it has caught
	// up, until Exited or Done says the writer has finished (then it ends
	// with io.EOF once everything was read), ctx is done (then
	// it fails with ctx's error) or it is closed (os.ErrClosed).
	Follow bool
	// Rotated lists the files rotated out of the live file that still
	// exist, oldest first. Nil means the log is never rotated. Numbered is
	// the lister for files rotated as path.1 (newest), path.2, ...
	Rotated func() []string
	// Exited reports that the writer has finished: all its output is in
	// the files. A following reader checks it each time it has caught up;
	// once it holds, the reader reads what is left and ends with io.EOF.
	Exited func() bool
	// Done, closed when the writer has finished, is Exited as a channel:
	// a waiting reader notices it at once rather than at its next poll.
	// With neither Exited nor Done, following ends only with ctx or Close.
	Done <-chan struct{}
}

// Open opens the log whose live file is path and positions it Tail lines
// before its end. A live file that does not exist yet is not an error: a
// following reader opens it once it appears.
func Open(ctx context.Context, path string, opts Options) (*Reader, error) {
	if opts.Tail < -1 {
		return nil, fmt.Errorf("log tail %d: must be -1 (all) or a line count", opts.Tail)
	}
	r := &Reader{ctx: ctx, path: path, opts: opts, closed: make(chan struct{})}
	files, err := r.openAll()
	if err != nil {
		return nil, err
	}
	segs, err := tailSegments(files, opts.Tail)
	if err != nil {
		return nil, err
	}
	// The newest file, if it is the live one, is where following goes on.
	if n := len(segs); n > 0 && segs[n-1].name == path {
		live := segs[n-1] // a copy: appends to segs must not overwrite it
		r.cur, segs = &live, segs[:n-1]
	}
	r.segs = segs
	return r, nil
}

// openedFile is an open log file and the name it was opened by.
type openedFile struct {
	name string
	*os.File
}

// openAll opens the log's files, oldest first; the live file, if it
// exists, is last. A file that went away meanwhile is skipped.
func (r *Reader) openAll() ([]openedFile, error) {
	var names []string
	if r.opts.Rotated != nil {
		names = r.opts.Rotated()
	}
	var out []openedFile
	for _, name := range append(names, r.path) {
		f, err := os.Open(name)
		if errors.Is(err, os.ErrNotExist) {
			continue // rotated away meanwhile, or not written yet
		}
		if err != nil {
			closeAll(out)
			return nil, err
		}
		out = append(out, openedFile{name, f})
	}
	return out, nil
}

func closeAll(files []openedFile) {
	for _, f := range files {
		f.Close()
	}
}

// Numbered lists the files rotated out of path as path.1 (the newest),
// path.2, ..., oldest first: the Rotated lister for such a log.
func Numbered(path string) func() []string {
	return func() []string {
		matches, _ := filepath.Glob(globEscape(path) + ".*")
		var nums []int
		for _, m := range matches {
			n, err := strconv.Atoi(strings.TrimPrefix(m, path+"."))
			if err == nil && n > 0 && m == RotatedName(path, n) { // not "+1" or "01"
				nums = append(nums, n)
			}
		}
		sort.Sort(sort.Reverse(sort.IntSlice(nums)))
		names := make([]string, len(nums))
		for i, n := range nums {
			names[i] = RotatedName(path, n)
		}
		return names
	}
}

// RotatedName is the name of the i-th file rotated out of path: path
// itself for 0, else path.i.
func RotatedName(path string, i int) string {
	if i == 0 {
		return path
	}
	return path + "." + strconv.Itoa(i)
}

// globEscape quotes the pattern characters of a literal path.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
