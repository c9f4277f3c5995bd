package logfile

import (
	"errors"
	"io"
)

// tailSegments positions files (oldest first) so that reading them in
// order gives their last n lines (all for n = -1), closes the files that
// are not needed and returns the others. On error it closes them all.
func tailSegments(files []openedFile, n int) ([]openedFile, error) {
	first := 0
	if n >= 0 {
		first = len(files) // nothing, unless lines are found below
		need := n
		for i := len(files) - 1; i >= 0 && need > 0; i-- {
			fi, err := files[i].Stat()
			var off int64
			var found int
			if err == nil {
				off, found, err = tailOffset(files[i].File, fi.Size(), need)
			}
			if err == nil {
				_, err = files[i].Seek(off, io.SeekStart)
			}
			if err != nil {
				closeAll(files)
				return nil, err
			}
			first, need = i, need-found
		}
		if first == len(files) && len(files) > 0 {
			// Tail 0: start at the end of the newest file.
			first = len(files) - 1
			if _, err := files[first].Seek(0, io.SeekEnd); err != nil {
				closeAll(files)
				return nil, err
			}
		}
	}
	closeAll(files[:first])
	return files[first:], nil
}

// tailOffset finds where the last n lines of f, which has size bytes,
// start. found is how many
// lines it found (fewer than n if the file has fewer; then off is 0). A
// final line without a newline counts as a line.
func tailOffset(f io.ReaderAt, size int64, n int) (off int64, found int, err error) {
	if size <= 0 || n <= 0 {
		return max(size, 0), 0, nil
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
