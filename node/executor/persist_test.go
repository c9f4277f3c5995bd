package executor

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/runtime"
)

func TestNewRejectsBadConfig(t *testing.T) {
	report := (&recorder{}).report
	cases := map[string]struct {
		cfg  Config
		want string
	}{
		"no node":         {Config{StateDir: "x", Report: report}, "NodeID is empty"},
		"no state dir":    {Config{NodeID: "n", Report: report}, "StateDir is empty"},
		"no reporter":     {Config{NodeID: "n", StateDir: "x"}, "Report is nil"},
		"negative window": {Config{NodeID: "n", StateDir: "x", Report: report, ReportInterval: -time.Second}, "ReportInterval -1s is negative"},
		"nil runtime":     {Config{NodeID: "n", StateDir: "x", Report: report, Runtimes: map[string]runtime.Runtime{"process": nil}}, `runtime "process" is nil`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New error = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestAssignmentsPersisted(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{NodeID: nodeID, StateDir: dir, Report: (&recorder{}).report, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.SetAssignments([]api.Task{shTask("t2", "exit 0"), shTask("t1", "exit 0"), shTask("t3", "exit 0")})
	e.UpdateAssignments([]api.Task{shTask("t4", "exit 0")}, []string{"t3"})
	other := shTask("t5", "exit 0")
	other.NodeID = "node-2"
	e.UpdateAssignments([]api.Task{other}, nil) // not ours: ignored
	if !e.setStatus("t1", api.TaskStatus{State: api.TaskRunning, PID: 42}) {
		t.Fatal("setStatus refused")
	}
	if _, err := os.Stat(filepath.Join(dir, assignmentsFile+".tmp")); !os.IsNotExist(err) {
		t.Fatalf("temp file left behind: %v", err)
	}

	e2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, task := range e2.Assignments() {
		ids = append(ids, task.ID)
	}
	if strings.Join(ids, ",") != "t1,t2,t4" {
		t.Fatalf("reloaded assignments %v, want t1,t2,t4", ids)
	}
	if st := e2.Assignments()[0].Status; st.State != api.TaskRunning || st.PID != 42 {
		t.Fatalf("reloaded t1 status %+v, want the observed running with pid 42", st)
	}
	// A state dir of another node holds nothing for this one.
	e3, err := New(Config{NodeID: "node-9", StateDir: dir, Report: cfg.Report})
	if err != nil || len(e3.Assignments()) != 0 {
		t.Fatalf("other node's executor: %v, %+v; want no assignments", err, e3.Assignments())
	}
}

func TestCorruptStateIsAnError(t *testing.T) {
	for _, name := range []string{assignmentsFile, statusesFile} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name), []byte("{not json"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := New(Config{NodeID: nodeID, StateDir: dir, Report: (&recorder{}).report})
		if err == nil || !strings.Contains(err.Error(), name+" is corrupt") {
			t.Errorf("%s: New error = %v, want it to name the corrupt file", name, err)
		}
	}
	dir := t.TempDir()
	b, _ := json.Marshal(assignmentsState{Version: stateVersion + 1, NodeID: nodeID})
	os.WriteFile(filepath.Join(dir, assignmentsFile), b, 0o600)
	if _, err := New(Config{NodeID: nodeID, StateDir: dir, Report: (&recorder{}).report}); err == nil || !strings.Contains(err.Error(), "newer than this agent's") {
		t.Errorf("future version: New error = %v", err)
	}
}

func FuzzLoadState(f *testing.F) {
	good, _ := json.Marshal(assignmentsState{Version: 1, NodeID: nodeID, Tasks: []api.Task{shTask("t1", "exit 0")}})
	goodStatuses, _ := json.Marshal(statusesState{Version: 1, NodeID: nodeID, Statuses: map[string]api.TaskStatus{"t1": {State: api.TaskRunning}}})
	f.Add(good, goodStatuses)
	f.Add([]byte(`{"version":1,"node_id":"node-1","tasks":[{"id":""},{"id":"x","status":{"state":"bogus"}}]}`), []byte(`null`))
	f.Add([]byte(`[]`), []byte(`{"statuses":{"t1":{"state":7}}}`))
	f.Add([]byte{}, []byte(`{"version":-3}`))
	f.Fuzz(func(t *testing.T, assignments, statuses []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, assignmentsFile), assignments, 0o600)
		os.WriteFile(filepath.Join(dir, statusesFile), statuses, 0o600)
		tasks, _, obs, err := loadState(dir, nodeID)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "executor: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q is not one prefixed line", err)
			}
			return
		}
		for id, task := range tasks {
			if id == "" || task.ID != id {
				t.Fatalf("task keyed %q has ID %q", id, task.ID)
			}
		}
		for id := range obs {
			if _, ok := tasks[id]; !ok {
				t.Fatalf("status of unassigned task %q kept", id)
			}
		}
	})
}

// TestOlderAssignmentSetsIgnored: after a restart the replica replays its
// log from an older state; sets older than the saved one change nothing,
// newer ones apply.
func TestOlderAssignmentSetsIgnored(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{NodeID: nodeID, StateDir: dir, Report: (&recorder{}).report, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.SetAssignmentsAt(100, []api.Task{shTask("t1", "exit 0"), shTask("t2", "exit 0")})

	e2, err := New(cfg) // the agent restarted
	if err != nil {
		t.Fatal(err)
	}
	e2.SetAssignmentsAt(40, nil) // an early state of the replaying replica
	e2.SetAssignmentsAt(99, []api.Task{shTask("t1", "exit 0")})
	if got := len(e2.Assignments()); got != 2 {
		t.Fatalf("older sets changed the assignments: %d tasks, want 2", got)
	}
	e2.SetAssignmentsAt(101, []api.Task{shTask("t1", "exit 0")})
	if got := e2.Assignments(); len(got) != 1 || got[0].ID != "t1" {
		t.Fatalf("a newer set was not applied: %+v", got)
	}
}
