package process

import (
	"bytes"
	"errors"
	"os"

	"github.com/shoal-project/shoal/runtime/logfile"
)

// rotator is an io.Writer that appends to path and, when a write would make
// it larger than max bytes, renames it to path.1 (shifting older ones up to
// path.<files-1>, dropping the oldest) and starts a new file. It cuts at a
// line end when the write has one that fits, so lines stay whole unless a
// single line is longer than max.
type rotator struct {
	path  string
	max   int64
	files int
	f     *os.File
	size  int64
}

// openRotator opens (appending to) path.
func openRotator(path string, max int64, files int) (*rotator, error) {
	if max <= 0 || files <= 0 {
		return nil, errors.New("log rotation needs a positive size and file count")
	}
	r := &rotator{path: path, max: max, files: files}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotator) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, fi.Size()
	return nil
}

// Write writes all of p, rotating as needed.
func (r *rotator) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		room := r.max - r.size
		if int64(len(p)) <= room {
			return total, r.write(p)
		}
		cut := -1
		if room > 0 {
			cut = bytes.LastIndexByte(p[:room], '\n')
		}
		switch {
		case cut >= 0:
			if err := r.write(p[:cut+1]); err != nil {
				return total - len(p), err
			}
			p = p[cut+1:]
		case r.size == 0:
			// One line longer than a whole file: split it.
			if err := r.write(p[:room]); err != nil {
				return total - len(p), err
			}
			p = p[room:]
		}
		if err := r.rotate(); err != nil {
			return total - len(p), err
		}
	}
	return total, nil
}

func (r *rotator) write(p []byte) error {
	n, err := r.f.Write(p)
	r.size += int64(n)
	return err
}

// rotate shifts path.i to path.i+1, path to path.1 and opens a new path.
// If a rename fails it keeps appending to path and returns the error.
func (r *rotator) rotate() error {
	if err := r.f.Close(); err != nil {
		return err
	}
	err := r.shift()
	if oerr := r.open(); oerr != nil {
		return oerr
	}
	return err
}

func (r *rotator) shift() error {
	if r.files == 1 {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	os.Remove(rotatedName(r.path, r.files-1))
	for i := r.files - 2; i >= 1; i-- {
		if err := os.Rename(rotatedName(r.path, i), rotatedName(r.path, i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return os.Rename(r.path, rotatedName(r.path, 1))
}

// Close closes the current file.
func (r *rotator) Close() error { return r.f.Close() }

// rotatedName is the name of the i-th rotated file (0 is the current one),
// as the log reader expects it.
func rotatedName(path string, i int) string { return logfile.RotatedName(path, i) }
