package harness

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Proc is a process on this machine that belongs to a node's data dir.
type Proc struct {
	PID     int
	Cmdline string            // arguments joined by spaces
	Env     map[string]string // its SHOAL_* environment variables
}

// ProcsUnder lists the processes (other than this one) that belong to one
// of dirs: agents and runtime shims, whose command line names the dir,
// and workloads, whose working directory is under it.
func ProcsUnder(dirs ...string) []Proc {
	var out []Proc
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		raw, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		cmdline := strings.TrimSpace(string(bytes.ReplaceAll(raw, []byte{0}, []byte{' '})))
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		for _, d := range dirs {
			if strings.Contains(cmdline, d+"/") || strings.Contains(cmdline, d+" ") || strings.HasSuffix(cmdline, d) || strings.HasPrefix(cwd, d+"/") {
				out = append(out, Proc{PID: pid, Cmdline: cmdline, Env: shoalEnv(pid)})
				break
			}
		}
	}
	return out
}

// shoalEnv returns the SHOAL_* environment variables of pid.
func shoalEnv(pid int) map[string]string {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	env := map[string]string{}
	for _, kv := range bytes.Split(raw, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok && strings.HasPrefix(k, "SHOAL_") {
			env[k] = v
		}
	}
	return env
}

// KillUnder sends SIGKILL to every process that belongs to dir (see
// ProcsUnder) and returns how many it signalled. With the agent killed
// too, that is a node dying.
func KillUnder(dir string) int {
	n := 0
	for _, p := range ProcsUnder(dir) {
		if syscall.Kill(p.PID, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// UnmountUnder detaches every mount below dir (a dead node's secret
// tmpfs, which would keep its data dir from being removed).
func UnmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			syscall.Unmount(f[4], syscall.MNT_DETACH)
		}
	}
}
