package state

import (
	"reflect"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// WriteTasksResult says what a WriteTasks command changed. Entries that
// refer to tasks that no longer exist, or that lost a race with the task's
// own progress, are skipped rather than failing the batch.
type WriteTasksResult struct {
	Created  int `json:"created"`
	Assigned int `json:"assigned"`
	// Pending counts assignments that left a task pending with an error.
	Pending int `json:"pending"`
	Desired int `json:"desired"`
	Deleted int `json:"deleted"`
	// Orphaned counts tasks ended because their node is down.
	Orphaned int `json:"orphaned"`
	// Updates counts services whose update status the write advanced.
	Updates int `json:"updates,omitempty"`
	// Missing lists task IDs in Assign, Desire or Delete that do not exist.
	Missing []string `json:"missing,omitempty"`
	// Skipped lists entries that did not apply, with the reason.
	Skipped []TaskSkip `json:"skipped,omitempty"`
}

// TaskSkip is one WriteTasks entry that did not apply.
type TaskSkip struct {
	// TaskID names the entry's task, or its service for a service update.
	TaskID string `json:"task_id"`
	Reason string `json:"reason"`
}

// ReportTaskStatusResult counts what a ReportTaskStatus command did.
type ReportTaskStatusResult struct {
	Applied int `json:"applied"`
	// Stale counts reports that did not move the state forward.
	Stale int `json:"stale"`
	// WrongNode counts reports about tasks assigned to another node.
	WrongNode int `json:"wrong_node"`
	// Unknown counts reports about tasks that do not exist.
	Unknown int `json:"unknown"`
}

func taskTxn(txn *memdb.Txn, id string) (*api.Task, bool) {
	return first[api.Task](txn, tableTasks, indexID, id)
}

func (f *FSM) applyWriteTasks(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.WriteTasksPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	res := &WriteTasksResult{}
	for i := range p.Create {
		if err := createTask(txn, cmd, &p.Create[i]); err != nil {
			return nil, err
		}
		res.Created++
	}
	for i := range p.Spawn {
		if err := spawnTask(txn, cmd, &p.Spawn[i]); err != nil {
			return nil, err
		}
		res.Created++
	}
	for _, a := range p.Assign {
		if err := assignTask(txn, cmd, a, res); err != nil {
			return nil, err
		}
	}
	for _, d := range p.Desire {
		if err := desireTask(txn, cmd, d, res); err != nil {
			return nil, err
		}
	}
	for _, o := range p.Orphan {
		if err := orphanTask(txn, cmd, o, res); err != nil {
			return nil, err
		}
	}
	for _, id := range p.Delete {
		t, ok := taskTxn(txn, id)
		if !ok {
			res.Missing = append(res.Missing, id)
			continue
		}
		if err := remove(txn, tableTasks, t); err != nil {
			return nil, err
		}
		res.Deleted++
	}
	for _, u := range p.Services {
		if err := advanceUpdate(txn, cmd, u, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// spawnTask creates a task that runs its service's spec at its
// SpecVersion: the current one or one the service keeps in Previous. The
// spec is shared with the service record, as every stored value is
// immutable. Any error fails the whole batch.
func spawnTask(txn *memdb.Txn, cmd *api.Command, t *api.Task) *api.Error {
	if !reflect.ValueOf(t.Spec).IsZero() {
		return api.Errorf(api.CodeInvalid, "write tasks: spawned task %s carries a spec of its own", t.ID)
	}
	svc, ok := first[api.Service](txn, tableServices, indexID, t.ServiceID)
	if !ok {
		return api.Errorf(api.CodeNotFound, "write tasks: task %s: service %q not found", t.ID, t.ServiceID)
	}
	spec, ok := specAt(svc, t.SpecVersion)
	if !ok {
		return api.Errorf(api.CodeConflict, "write tasks: task %s: service %s keeps no spec version %d", t.ID, svc.Spec.Name, t.SpecVersion)
	}
	t.Spec = spec
	return createTask(txn, cmd, t)
}

// specAt returns svc's spec at version v, if the service still keeps it.
func specAt(svc *api.Service, v uint64) (api.ServiceSpec, bool) {
	if v == svc.Version {
		return svc.Spec, true
	}
	for _, p := range svc.Previous {
		if p.Version == v {
			return p.Spec, true
		}
	}
	return api.ServiceSpec{}, false
}

// createTask validates and inserts one new task. Any error fails the
// whole batch.
func createTask(txn *memdb.Txn, cmd *api.Command, t *api.Task) *api.Error {
	switch {
	case t.ID == "":
		return api.Errorf(api.CodeInvalid, "write tasks: a new task has an empty id")
	case t.ServiceID == "":
		return api.Errorf(api.CodeInvalid, "write tasks: task %s has an empty service id", t.ID)
	}
	svc, ok := first[api.Service](txn, tableServices, indexID, t.ServiceID)
	if !ok {
		return api.Errorf(api.CodeNotFound, "write tasks: task %s: service %q not found", t.ID, t.ServiceID)
	}
	if _, ok := taskTxn(txn, t.ID); ok {
		return api.Errorf(api.CodeConflict, "write tasks: task %s already exists", t.ID)
	}
	if t.ServiceName == "" {
		t.ServiceName = svc.Spec.Name
	}
	t.CreatedAt, t.UpdatedAt = cmd.Time, cmd.Time
	if t.Status.Timestamp.IsZero() {
		t.Status.Timestamp = cmd.Time
	}
	return insert(txn, tableTasks, t)
}

// assignTask places a new or pending task on a node, or records why it
// stays pending.
func assignTask(txn *memdb.Txn, cmd *api.Command, a api.TaskAssignment, res *WriteTasksResult) *api.Error {
	old, ok := taskTxn(txn, a.TaskID)
	if !ok {
		res.Missing = append(res.Missing, a.TaskID)
		return nil
	}
	if old.Status.State > api.TaskPending {
		res.Skipped = append(res.Skipped, TaskSkip{a.TaskID, "task is already " + old.Status.State.String()})
		return nil
	}
	t := *old
	t.UpdatedAt = cmd.Time
	if a.Err != "" || a.NodeID == "" {
		t.Status = api.TaskStatus{State: api.TaskPending, Err: a.Err, Timestamp: cmd.Time}
		res.Pending++
	} else {
		if _, ok := nodeTxn(txn, a.NodeID); !ok {
			res.Skipped = append(res.Skipped, TaskSkip{a.TaskID, "node " + a.NodeID + " not found"})
			return nil
		}
		t.NodeID = a.NodeID
		t.Status = api.TaskStatus{State: api.TaskAssigned, Message: "assigned", Timestamp: cmd.Time}
		res.Assigned++
	}
	return insert(txn, tableTasks, &t)
}

// desireTask moves a task's desired state forward.
func desireTask(txn *memdb.Txn, cmd *api.Command, d api.TaskDesire, res *WriteTasksResult) *api.Error {
	old, ok := taskTxn(txn, d.TaskID)
	if !ok {
		res.Missing = append(res.Missing, d.TaskID)
		return nil
	}
	if d.DesiredState == old.DesiredState {
		return nil
	}
	if d.DesiredState < old.DesiredState {
		res.Skipped = append(res.Skipped, TaskSkip{d.TaskID, "desired state is already " + old.DesiredState.String()})
		return nil
	}
	t := *old
	t.DesiredState, t.UpdatedAt = d.DesiredState, cmd.Time
	t.StopDeadline = d.StopDeadline
	res.Desired++
	return insert(txn, tableTasks, &t)
}

func (f *FSM) applyReportTaskStatus(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.ReportTaskStatusPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	return f.applyReport(txn, cmd.Time, p)
}

// ReportTaskStatusBatchResult holds, in order, what each report of a
// task.reportBatch did: its counts, or why it was refused.
type ReportTaskStatusBatchResult struct {
	Results []ReportTaskStatusResult `json:"results"`
	Errors  []string                 `json:"errors,omitempty"` // "" where the report applied
}

// applyReportTaskStatusBatch applies several nodes' reports in order. A
// report that is refused (no node ID) does not stop the others: each
// report's outcome is its own, as if it had been its own entry.
func (f *FSM) applyReportTaskStatusBatch(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.ReportTaskStatusBatchPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	out := &ReportTaskStatusBatchResult{Results: make([]ReportTaskStatusResult, len(p.Reports)), Errors: make([]string, len(p.Reports))}
	failed := false
	for i, r := range p.Reports {
		res, err := f.applyReport(txn, cmd.Time, r)
		if err != nil {
			out.Errors[i], failed = err.Message, true
			continue
		}
		out.Results[i] = *res
	}
	if !failed {
		out.Errors = nil
	}
	return out, nil
}

// applyReport applies one node's report at time now.
func (f *FSM) applyReport(txn *memdb.Txn, now time.Time, p api.ReportTaskStatusPayload) (*ReportTaskStatusResult, *api.Error) {
	if p.NodeID == "" {
		return nil, api.Errorf(api.CodeInvalid, "report task status: node id is empty")
	}
	res := &ReportTaskStatusResult{}
	for _, u := range p.Updates {
		old, ok := taskTxn(txn, u.TaskID)
		switch {
		case !ok:
			res.Unknown++
			continue
		case old.NodeID != p.NodeID:
			res.WrongNode++
			f.wrongNode.Add(1)
			continue
		case u.Status.State < old.Status.State,
			u.Status.State == old.Status.State && !healthChange(old.Status, u.Status):
			res.Stale++
			f.stale.Add(1)
			continue
		}
		t := *old
		t.Status = u.Status
		if t.Status.Timestamp.IsZero() {
			t.Status.Timestamp = now
		}
		t.UpdatedAt = now
		if err := insert(txn, tableTasks, &t); err != nil {
			return nil, err
		}
		res.Applied++
	}
	return res, nil
}

// healthChange reports whether u, at the state of old, changes a running
// task's health (protocol 5: the only update that does not move a task's
// state forward).
func healthChange(old, u api.TaskStatus) bool {
	return u.State == api.TaskRunning && old.State == api.TaskRunning && u.Health != "" && u.Health != old.Health
}
