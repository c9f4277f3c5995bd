package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/integration/harness"
)

// tmpfsDisk is a small tmpfs mounted over a node's data dir, so that the
// test can fill it up (root only).
type tmpfsDisk struct {
	dir  string
	file string
}

// tmpfsSize is the size of the tmpfs data dir: raft-wal preallocates its
// 64 MiB segments, so it takes room for one segment and some.
const tmpfsSize = "128m"

// mountTmpfs mounts a tmpfs over dir before the node starts; it returns
// nil and the reason when that is not possible (not root).
func mountTmpfs(t testing.TB, dir string) (*tmpfsDisk, string) {
	if os.Geteuid() != 0 {
		return nil, "not root"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err.Error()
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+tmpfsSize+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		return nil, fmt.Sprintf("mount tmpfs: %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		harness.KillUnder(dir)
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return &tmpfsDisk{dir: dir, file: filepath.Join(dir, "chaos-fill")}, ""
}

// fill writes zeros until the disk is full and returns how much it wrote.
func (d *tmpfsDisk) fill() (int64, error) {
	f, err := os.OpenFile(d.file, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		m, err := f.Write(buf)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
}

// free removes the filler.
func (d *tmpfsDisk) free() error { return os.Remove(d.file) }
