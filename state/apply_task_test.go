package state

import (
	"strings"

	"slices"
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestWriteTasksCreate(t *testing.T) {
	h := bootstrapped(t)
	r := h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("t1", 1), newTask("t2", 2)}}).(*WriteTasksResult)
	if r.Created != 2 {
		t.Fatalf("created %d", r.Created)
	}
	task := mustTask(t, h.fsm.store, "t1")
	if task.ServiceName != "web" || !task.CreatedAt.Equal(h.now) || !task.Status.Timestamp.Equal(h.now) {
		t.Fatalf("t1 = %+v", task)
	}
	// A bad entry fails the whole batch.
	orphan := newTask("t4", 4)
	orphan.ServiceID = "svc-nope"
	h.fails(api.CmdWriteTasks, api.CodeNotFound, api.WriteTasksPayload{Create: []api.Task{newTask("t3", 3), orphan}})
	h.fails(api.CmdWriteTasks, api.CodeConflict, api.WriteTasksPayload{Create: []api.Task{newTask("t3", 3), newTask("t3", 3)}})
	h.fails(api.CmdWriteTasks, api.CodeConflict, api.WriteTasksPayload{Create: []api.Task{newTask("t1", 1)}})
	h.fails(api.CmdWriteTasks, api.CodeInvalid, api.WriteTasksPayload{Create: []api.Task{newTask("", 1)}})
	if _, ok := h.fsm.store.Task("t3"); ok {
		t.Fatal("a failed batch left a task behind")
	}
	if got := len(h.fsm.store.TasksByService("svc-web")); got != 2 {
		t.Fatalf("%d tasks, want 2", got)
	}
}

func TestWriteTasksAssign(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("t1", 1), newTask("t2", 2), newTask("t3", 3)}})
	r := h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Assign: []api.TaskAssignment{
		{TaskID: "t1", NodeID: "n1"},
		{TaskID: "t2", Err: "no node has 64 GB free"},
		{TaskID: "t3", NodeID: "n-gone"},
		{TaskID: "t-missing", NodeID: "n1"},
	}}).(*WriteTasksResult)
	if r.Assigned != 1 || r.Pending != 1 || len(r.Skipped) != 1 || !slices.Equal(r.Missing, []string{"t-missing"}) {
		t.Fatalf("result = %+v", r)
	}
	if t1 := mustTask(t, h.fsm.store, "t1"); t1.NodeID != "n1" || t1.Status.State != api.TaskAssigned {
		t.Fatalf("t1 = %+v", t1.Status)
	}
	if t2 := mustTask(t, h.fsm.store, "t2"); t2.NodeID != "" || t2.Status.State != api.TaskPending || t2.Status.Err == "" {
		t.Fatalf("t2 = %+v", t2.Status)
	}
	if got := h.fsm.store.TasksByNode("n1"); len(got) != 1 || got[0].ID != "t1" {
		t.Fatalf("tasks on n1 = %v", got)
	}
	// A pending task can be assigned later; an assigned one cannot move.
	r = h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Assign: []api.TaskAssignment{{TaskID: "t2", NodeID: "n2"}, {TaskID: "t1", NodeID: "n2"}}}).(*WriteTasksResult)
	if r.Assigned != 1 || len(r.Skipped) != 1 || r.Skipped[0].TaskID != "t1" {
		t.Fatalf("result = %+v", r)
	}
	if t1 := mustTask(t, h.fsm.store, "t1"); t1.NodeID != "n1" {
		t.Fatal("assigned task was moved")
	}
	if t2 := mustTask(t, h.fsm.store, "t2"); t2.NodeID != "n2" || t2.Status.Err != "" {
		t.Fatalf("t2 = %+v", t2)
	}
}

func TestWriteTasksDesireAndDelete(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("t1", 1), newTask("t2", 2)}})
	r := h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Desire: []api.TaskDesire{{TaskID: "t1", DesiredState: api.TaskShutdown}, {TaskID: "tx", DesiredState: api.TaskShutdown}}}).(*WriteTasksResult)
	if r.Desired != 1 || len(r.Missing) != 1 {
		t.Fatalf("result = %+v", r)
	}
	r = h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Desire: []api.TaskDesire{{TaskID: "t1", DesiredState: api.TaskRunning}}}).(*WriteTasksResult)
	if r.Desired != 0 || len(r.Skipped) != 1 {
		t.Fatalf("desired state moved backwards: %+v", r)
	}
	if t1 := mustTask(t, h.fsm.store, "t1"); t1.DesiredState != api.TaskShutdown {
		t.Fatalf("t1 desired %s", t1.DesiredState)
	}
	r = h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Delete: []string{"t1", "t1"}}).(*WriteTasksResult)
	if r.Deleted != 1 || len(r.Missing) != 1 {
		t.Fatalf("result = %+v", r)
	}
	if got := h.fsm.store.TasksBySlot("svc-web", 1); len(got) != 0 {
		t.Fatalf("slot 1 still has %d tasks", len(got))
	}
	if got := h.fsm.store.TasksBySlot("svc-web", 2); len(got) != 1 {
		t.Fatalf("slot 2 has %d tasks", len(got))
	}
}

func TestReportTaskStatus(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("t1", 1)}, Assign: []api.TaskAssignment{{TaskID: "t1", NodeID: "n1"}}})
	report := func(node string, s api.TaskState) *ReportTaskStatusResult {
		t.Helper()
		return h.ok(api.CmdReportTaskStatus, api.ReportTaskStatusPayload{NodeID: node, Updates: []api.TaskStatusUpdate{
			{TaskID: "t1", Status: api.TaskStatus{State: s, PID: int(s)}},
		}}).(*ReportTaskStatusResult)
	}
	if r := report("n1", api.TaskRunning); r.Applied != 1 {
		t.Fatalf("running report: %+v", r)
	}
	if t1 := mustTask(t, h.fsm.store, "t1"); t1.Status.State != api.TaskRunning || t1.Status.PID != int(api.TaskRunning) || !t1.Status.Timestamp.Equal(h.now) {
		t.Fatalf("t1 status = %+v", t1.Status)
	}
	if r := report("n1", api.TaskStarting); r.Stale != 1 {
		t.Fatalf("backwards report: %+v", r)
	}
	if r := report("n1", api.TaskRunning); r.Stale != 1 {
		t.Fatalf("equal report: %+v", r)
	}
	if r := report("n2", api.TaskFailed); r.WrongNode != 1 {
		t.Fatalf("wrong-node report: %+v", r)
	}
	if t1 := mustTask(t, h.fsm.store, "t1"); t1.Status.State != api.TaskRunning {
		t.Fatalf("ignored reports changed the state to %s", t1.Status.State)
	}
	if st := h.fsm.Stats(); st.WrongNodeReports != 1 || st.StaleReports != 2 {
		t.Fatalf("stats = %+v", st)
	}
	if r := report("n1", api.TaskFailed); r.Applied != 1 {
		t.Fatalf("failed report: %+v", r)
	}
	r := h.ok(api.CmdReportTaskStatus, api.ReportTaskStatusPayload{NodeID: "n1", Updates: []api.TaskStatusUpdate{{TaskID: "nope"}}}).(*ReportTaskStatusResult)
	if r.Unknown != 1 {
		t.Fatalf("unknown report: %+v", r)
	}
	h.fails(api.CmdReportTaskStatus, api.CodeInvalid, api.ReportTaskStatusPayload{})
}

// TestReportTaskHealth: a report at a running task's own state is applied
// when it changes the task's health (protocol 5), and stale otherwise.
func TestReportTaskHealth(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("t1", 1)}, Assign: []api.TaskAssignment{{TaskID: "t1", NodeID: "n1"}}})
	report := func(s api.TaskState, health string) *ReportTaskStatusResult {
		t.Helper()
		return h.ok(api.CmdReportTaskStatus, api.ReportTaskStatusPayload{NodeID: "n1", Updates: []api.TaskStatusUpdate{
			{TaskID: "t1", Status: api.TaskStatus{State: s, Health: health}},
		}}).(*ReportTaskStatusResult)
	}
	for _, c := range []struct {
		state   api.TaskState
		health  string
		applied bool
	}{
		{api.TaskRunning, api.HealthStarting, true},
		{api.TaskRunning, api.HealthStarting, false},
		{api.TaskRunning, api.HealthHealthy, true},
		{api.TaskRunning, "", false},
		{api.TaskFailed, api.HealthUnhealthy, true},
		{api.TaskFailed, api.HealthHealthy, false},
	} {
		r := report(c.state, c.health)
		if (r.Applied == 1) != c.applied {
			t.Fatalf("%s %q: %+v, want applied %v", c.state, c.health, r, c.applied)
		}
		if t1 := mustTask(t, h.fsm.store, "t1"); c.applied && (t1.Status.State != c.state || t1.Status.Health != c.health) {
			t.Fatalf("t1 status = %+v", t1.Status)
		}
	}
}

// TestReportTaskStatusBatch: a batch applies several nodes' reports in
// order, each with its own outcome, as separate task.report entries
// would; a refused report does not stop the others.
func TestReportTaskStatusBatch(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("t1", 1), newTask("t2", 2)},
		Assign: []api.TaskAssignment{{TaskID: "t1", NodeID: "n1"}, {TaskID: "t2", NodeID: "n2"}}})
	upd := func(id string, s api.TaskState) []api.TaskStatusUpdate {
		return []api.TaskStatusUpdate{{TaskID: id, Status: api.TaskStatus{State: s}}}
	}
	r := h.ok(api.CmdReportTaskStatusBatch, api.ReportTaskStatusBatchPayload{Reports: []api.ReportTaskStatusPayload{
		{NodeID: "n1", Updates: upd("t1", api.TaskStarting)},
		{NodeID: "n2", Updates: upd("t2", api.TaskRunning)},
		{NodeID: "", Updates: upd("t2", api.TaskFailed)},
		{NodeID: "n2", Updates: upd("t1", api.TaskFailed)},
		{NodeID: "n1", Updates: upd("t1", api.TaskRunning)},
		{NodeID: "n1", Updates: upd("t1", api.TaskStarting)},
	}}).(*ReportTaskStatusBatchResult)
	want := []ReportTaskStatusResult{{Applied: 1}, {Applied: 1}, {}, {WrongNode: 1}, {Applied: 1}, {Stale: 1}}
	if len(r.Results) != len(want) || len(r.Errors) != len(want) {
		t.Fatalf("result = %+v", r)
	}
	for i := range want {
		if r.Results[i] != want[i] {
			t.Fatalf("report %d: %+v, want %+v", i, r.Results[i], want[i])
		}
		if (r.Errors[i] != "") != (i == 2) {
			t.Fatalf("report %d: error %q", i, r.Errors[i])
		}
	}
	if !strings.Contains(r.Errors[2], "node id is empty") {
		t.Fatalf("refusal = %q", r.Errors[2])
	}
	if t1, t2 := mustTask(t, h.fsm.store, "t1"), mustTask(t, h.fsm.store, "t2"); t1.Status.State != api.TaskRunning || t2.Status.State != api.TaskRunning || !t1.Status.Timestamp.Equal(h.now) {
		t.Fatalf("t1 %+v, t2 %+v", t1.Status, t2.Status)
	}
	all := h.ok(api.CmdReportTaskStatusBatch, api.ReportTaskStatusBatchPayload{Reports: []api.ReportTaskStatusPayload{
		{NodeID: "n1", Updates: upd("t1", api.TaskFailed)},
	}}).(*ReportTaskStatusBatchResult)
	if all.Errors != nil || all.Results[0].Applied != 1 {
		t.Fatalf("a batch without refusals: %+v", all)
	}
}
