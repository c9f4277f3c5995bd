package chaos

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/shoal-project/shoal/integration/harness"
)

// workloadCounts counts the workload processes of each service under dirs.
// A workload is the process whose SHOAL_TASK_ID is set and whose parent is
// not also a workload of the same task (so `sh -c 'sleep'` counts once).
func workloadCounts(dirs ...string) map[string]int {
	procs := harness.ProcsUnder(dirs...)
	byPID := map[int]harness.Proc{}
	for _, p := range procs {
		byPID[p.PID] = p
	}
	counts := map[string]int{}
	for _, p := range procs {
		task := p.Env["SHOAL_TASK_ID"]
		if task == "" || strings.Contains(p.Cmdline, "runtime-shim") {
			continue
		}
		if parent, ok := byPID[ppid(p.PID)]; ok && parent.Env["SHOAL_TASK_ID"] == task && !strings.Contains(parent.Cmdline, "runtime-shim") {
			continue
		}
		counts[p.Env["SHOAL_SERVICE"]]++
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
