package process

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// procStatusKB reads a "<field>: N kB" line of /proc/<pid>/status.
func procStatusKB(pid int, field string) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// TestShimRSS measures the memory of a shim supervising a quiet task.
// RssFile is the shim's executable, shared with the agent and every other
// shim through the page cache; RssAnon is what each task really adds.
func TestShimRSS(t *testing.T) {
	r := newRuntime(t, Config{})
	spec := shTask("t1", "")
	spec.Spec.Command = []string{"sleep", "30"}
	startTask(t, r, spec)
	var ss shimState
	if err := readJSON(filepath.Join(r.root, "tasks", "t1", stateFile), &ss); err != nil {
		t.Fatal(err)
	}
	kb := map[string]int64{}
	for _, field := range []string{"VmRSS", "RssAnon", "RssFile"} {
		v, err := procStatusKB(ss.ShimPID, field)
		if err != nil {
			t.Fatal(err)
		}
		kb[field] = v
	}
	t.Logf("shim VmRSS %d KiB = RssAnon %d KiB private + RssFile %d KiB shared (race detector: %v)",
		kb["VmRSS"], kb["RssAnon"], kb["RssFile"], raceEnabled)
	if kb["RssAnon"] <= 0 || (!raceEnabled && kb["RssAnon"] > 8<<10) {
		t.Fatalf("shim private memory %d KiB, want between 1 KiB and 8 MiB", kb["RssAnon"])
	}
}

// BenchmarkStartToRunning measures Start (shim exec, workload fork/exec,
// state file) until the workload runs; Prepare and Remove are not timed.
func BenchmarkStartToRunning(b *testing.B) {
	r := newRuntime(b, Config{})
	ctx := context.Background()
	spec := shTask("", "")
	spec.Spec.Command = []string{"sleep", "30"}
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		spec.TaskID = fmt.Sprintf("b%d", i)
		if err := r.Prepare(ctx, spec); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := r.Start(ctx, spec.TaskID); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := r.Remove(rctx, spec.TaskID); err != nil {
			b.Fatal(err)
		}
		cancel()
		b.StartTimer()
	}
}
