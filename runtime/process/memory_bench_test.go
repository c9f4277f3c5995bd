package process

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	shoalBin = flag.String("shoal-bin", "", "shoal binary the memory benchmark supervises tasks with (default: build ./cmd/shoal)")
	memTasks = flag.Int("mem-tasks", 50, "tasks BenchmarkTaskMemory starts")
)

// buildShoal returns the shoal binary for the memory benchmark: the real
// one, since the shim's (or keeper's) cost depends on what it links and
// initialises, which the test binary does not show.
func buildShoal(b *testing.B) string {
	if *shoalBin != "" {
		p, err := filepath.Abs(*shoalBin)
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	out := filepath.Join(b.TempDir(), "shoal")
	cmd := exec.Command("go", "build", "-o", out, "../../cmd/shoal")
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build shoal: %v\n%s", err, msg)
	}
	return out
}

// smapsRollupKB reads the Pss and Rss lines of /proc/<pid>/smaps_rollup.
func smapsRollupKB(pid int) (pss, rss int64, err error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, perr := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch {
		case perr != nil:
		case name == "Pss":
			pss = n
		case name == "Rss":
			rss = n
		}
	}
	return pss, rss, sc.Err()
}

// overheadPIDs lists the processes the runtime added for its tasks beyond
// the workloads themselves: every supervisor a task's state names, and
// every other live process whose command line names the runtime's root
// (shims and keepers are started with a path under it; workloads are
// not, and are excluded by PID anyway).
func overheadPIDs(r *Runtime, workloads map[int]bool) []int {
	set := map[int]bool{}
	entries, _ := os.ReadDir(filepath.Join(r.root, "tasks"))
	for _, e := range entries {
		var ss shimState
		if readJSON(filepath.Join(r.root, "tasks", e.Name(), stateFile), &ss) == nil && processAlive(ss.ShimPID, ss.ShimStart) {
			set[ss.ShimPID] = true
		}
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() || workloads[pid] || !processAlive(pid, 0) {
			continue
		}
		raw, _ := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		if strings.Contains(string(raw), r.root) {
			set[pid] = true
		}
	}
	var out []int
	for pid := range set {
		if !workloads[pid] {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}

// BenchmarkTaskMemory starts -mem-tasks quiet tasks (sleep) through the
// runtime's Start with the real shoal binary as the supervisor command,
// and reports the host memory the tasks cost beyond their workloads: the
// summed PSS (shared pages split between their users) and RSS of every
// supervising process, per task. It samples for a while after the last
// start and keeps the highest sum, so a supervisor that grows as it
// settles is not under-counted.
func BenchmarkTaskMemory(b *testing.B) {
	bin := buildShoal(b)
	n := *memTasks
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		r, err := New(Config{Root: b.TempDir(), ShimCommand: []string{bin, "runtime-shim"}})
		if err != nil {
			b.Fatal(err)
		}
		workloads := map[int]bool{}
		for j := range n {
			spec := shTask(fmt.Sprintf("m%d-%d", i, j), "")
			spec.Spec.Command = []string{"sleep", "300"}
			if err := r.Prepare(ctx, spec); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			err := r.Start(ctx, spec.TaskID)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			st, err := r.Status(ctx, spec.TaskID)
			if err != nil || st.PID <= 0 {
				b.Fatalf("status after start: %+v, %v", st, err)
			}
			workloads[st.PID] = true
		}
		var maxPSS, maxRSS int64
		var procs int
		for s := 0; s < 5; s++ {
			time.Sleep(400 * time.Millisecond) // let the supervisors settle; a measurement, not a condition
			var pss, rss int64
			pids := overheadPIDs(r, workloads)
			for _, pid := range pids {
				p, q, err := smapsRollupKB(pid)
				if err != nil {
					continue // gone since listed
				}
				pss += p
				rss += q
			}
			maxPSS, maxRSS, procs = max(maxPSS, pss), max(maxRSS, rss), max(procs, len(pids))
			if s == 4 && testing.Verbose() && len(pids) > 0 {
				raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pids[0]))
				b.Logf("supervisor %d of %d:\n%s", pids[0], len(pids), raw)
			}
		}
		b.ReportMetric(float64(maxPSS)/1024/float64(n), "MiB/task-pss")
		b.ReportMetric(float64(maxRSS)/1024/float64(n), "MiB/task-rss")
		b.ReportMetric(float64(procs), "supervisors")
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		for j := range n {
			if err := r.Remove(rctx, fmt.Sprintf("m%d-%d", i, j)); err != nil {
				b.Error(err)
			}
		}
		cancel()
		r.reapers.Wait()
		b.StartTimer()
	}
}
