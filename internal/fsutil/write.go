// Package fsutil holds Shoal's one way to replace a file atomically.
package fsutil

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile replaces path with data so that readers, and a crash of the
// writing process, see the old file or the new one, never part of one. It
// writes a temporary file in the same directory with mode perm and renames
// it over path.
//
// The fsync policy is explicit: when durable is true WriteFile syncs the
// temporary file before the rename and the directory after it, so the new
// file also survives a crash of the host once WriteFile returns. When
// durable is false it syncs nothing (for files a host crash makes moot).
// On error the temporary file is removed and path is left as it was.
func WriteFile(path string, data []byte, perm os.FileMode, durable bool) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if durable {
		if err = f.Sync(); err != nil {
			return err
		}
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if durable {
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("sync directory of %s: %w", path, err)
		}
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
