package executor

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// logBuffer collects JSON log records; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// task returns the records with task=id, in order.
func (b *logBuffer) task(t *testing.T, id string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["task"] == id {
			out = append(out, m)
		}
	}
	return out
}

func msgs(recs []map[string]any) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r["msg"].(string))
	}
	return out
}

// TestTaskStepsAreLogged: every step of a task is an info record with the
// task, service and slot attributes, the pid once running, the exit code
// and reason once ended.
func TestTaskStepsAreLogged(t *testing.T) {
	logs := &logBuffer{}
	n := newEnv(t).start(func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	n.e.SetAssignments([]api.Task{shTask("t1", "exec sleep 30"), shTask("t2", "exit 3")})
	pid := n.waitReported("t1", api.TaskRunning).PID
	n.waitReported("t2", api.TaskFailed)
	n.e.UpdateAssignments(nil, []string{"t1"})
	waitFor(t, 15*time.Second, "t1's removal logged", func() bool {
		return slices.Contains(msgs(logs.task(t, "t1")), "task removed")
	})

	recs := logs.task(t, "t1")
	want := []string{"task assigned", "task preparing", "task starting", "task running", "task stopping", "task removed"}
	if got := msgs(recs); !slices.Equal(got, want) {
		t.Fatalf("t1's records %v, want %v", got, want)
	}
	for _, r := range recs {
		if r["level"] != "INFO" || r["service"] != "web" || r["slot"] != float64(1) {
			t.Errorf("record %v: want level INFO, service web, slot 1", r)
		}
	}
	if recs[3]["pid"] != float64(pid) {
		t.Errorf("running record %v, want pid %d", recs[3], pid)
	}

	failed := logs.task(t, "t2")
	last := failed[len(failed)-1]
	if last["msg"] != "task failed" || last["exit_code"] != float64(3) || last["reason"] != "exit code 3" {
		t.Errorf("t2's last record %v, want task failed with exit code 3 and its reason", last)
	}
}
