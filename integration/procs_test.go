package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// killWorkloads sends SIGKILL to every process that belongs to a node's
// data dir: the runtime shims (their command line names it) and the
// workloads (their working directory is under it). With the agent killed
// too, that is a node dying.
func killWorkloads(dataDir string) int {
	n := 0
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if strings.Contains(string(cmdline), dataDir+"/") || strings.HasPrefix(cwd, dataDir+"/") {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				n++
			}
		}
	}
	return n
}
