package executor

import (
	"fmt"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/runtime"
)

// setStatus records st as task id's observed status and queues it for the
// leader, unless it would not move the task forward from what this node
// observed or the leader already knows. It reports whether st was taken.
func (e *Executor) setStatus(id string, st api.TaskStatus) bool {
	e.mu.Lock()
	en, ok := e.tasks[id]
	if !ok || st.State <= e.knownStateLocked(id, en) {
		e.mu.Unlock()
		return false
	}
	st.Timestamp = time.Now()
	e.observed[id] = st
	seq, snap := e.statusesSnapshotLocked()
	task := en.task
	e.mu.Unlock()
	e.logStatus(task, st)
	e.saveStatuses(seq, snap)
	e.reports.put(id, st)
	return true
}

// knownStateLocked is the furthest state of the task that this node
// observed or the leader recorded.
func (e *Executor) knownStateLocked(id string, en *entry) api.TaskState {
	s := en.task.Status.State
	if obs, ok := e.observed[id]; ok && obs.State > s {
		s = obs.State
	}
	return s
}

// forgetLocked drops everything about a removed task.
func (e *Executor) forgetLocked(id string) (uint64, statusesState) {
	delete(e.tasks, id)
	delete(e.observed, id)
	e.reports.drop(id)
	return e.statusesSnapshotLocked()
}

func (e *Executor) statusesSnapshotLocked() (uint64, statusesState) {
	e.seq++
	snap := statusesState{Version: stateVersion, NodeID: e.cfg.NodeID, Statuses: make(map[string]api.TaskStatus, len(e.observed))}
	for id, st := range e.observed {
		snap.Statuses[id] = st
	}
	return e.seq, snap
}

// saveStatuses persists the observed statuses without an fsync: they
// change often, and after a power loss (which ends the workloads anyway)
// the leader's copy bounds what is reported again.
func (e *Executor) saveStatuses(seq uint64, snap statusesState) {
	if err := e.store.save(statusesFile, seq, snap, false); err != nil {
		e.log.Warn("executor: persist task statuses", "err", err)
	}
}

// exitStatus turns a runtime's final status into the task's, shutdown if
// the executor stopped it.
func exitStatus(st runtime.Status, stopped bool) api.TaskStatus {
	ts := api.TaskStatus{PID: st.PID, OOMKilled: st.OOMKilled}
	if st.State == runtime.StateUnknown {
		ts.State, ts.Err = api.TaskFailed, "the runtime lost track of the task"
		if st.Err != "" {
			ts.Err += ": " + st.Err
		}
		if stopped {
			ts.State = api.TaskShutdown
		}
		return ts
	}
	code := st.ExitCode
	ts.ExitCode = &code
	switch {
	case stopped:
		ts.State, ts.Message = api.TaskShutdown, "stopped"
	case code == 0 && st.Err == "":
		ts.State, ts.Message = api.TaskComplete, "finished"
	default:
		ts.State, ts.Err = api.TaskFailed, st.Err
		if ts.Err == "" {
			ts.Err = fmt.Sprintf("exit code %d", code)
		}
		if st.OOMKilled {
			ts.Err += " (out of memory)"
		}
	}
	return ts
}
