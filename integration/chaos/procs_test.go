package chaos

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// hostProc is a process on this machine that belongs to a node's data dir.
type hostProc struct {
	pid     int
	cmdline string
	env     map[string]string
}

// procsUnder lists the processes that belong to one of dirs: agents and
// runtime shims (their command line names the dir) and workloads (their
// working directory is under it).
func procsUnder(dirs ...string) []hostProc {
	var out []hostProc
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
				out = append(out, hostProc{pid: pid, cmdline: cmdline, env: procEnv(pid)})
				break
			}
		}
	}
	return out
}

func procEnv(pid int) map[string]string {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	env := map[string]string{}
	for _, kv := range bytes.Split(raw, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok && strings.HasPrefix(k, "SHOAL_") {
			env[k] = v
		}
	}
	return env
}

// killUnder sends SIGKILL to every process that belongs to dir.
func killUnder(dir string) int {
	n := 0
	for _, p := range procsUnder(dir) {
		if syscall.Kill(p.pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// workloadCounts counts the workload processes of each service under dirs.
// A workload is the process whose SHOAL_TASK_ID is set and whose parent is
// not also a workload of the same task (so `sh -c 'sleep'` counts once).
func workloadCounts(dirs ...string) map[string]int {
	procs := procsUnder(dirs...)
	byPID := map[int]hostProc{}
	for _, p := range procs {
		byPID[p.pid] = p
	}
	counts := map[string]int{}
	for _, p := range procs {
		task := p.env["SHOAL_TASK_ID"]
		if task == "" || strings.Contains(p.cmdline, "runtime-shim") {
			continue
		}
		if parent, ok := byPID[ppid(p.pid)]; ok && parent.env["SHOAL_TASK_ID"] == task && !strings.Contains(parent.cmdline, "runtime-shim") {
			continue
		}
		counts[p.env["SHOAL_SERVICE"]]++
	}
	return counts
}

func ppid(pid int) int {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(raw)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		f := strings.Fields(s[i+1:])
		if len(f) > 1 {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// openFDs counts this process's open file descriptors.
func openFDs() int {
	entries, _ := os.ReadDir("/proc/self/fd")
	return len(entries)
}
