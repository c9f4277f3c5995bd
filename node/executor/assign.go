package executor

import (
	"sort"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/runtime"
)

// entry is the executor's record of one task.
type entry struct {
	task api.Task // as the local replica last held it
	// assigned is false once the task left the assignment set; the entry
	// then lives until its supervisor has removed the workload.
	assigned bool
	// supervised is true while a supervisor goroutine owns the task.
	supervised bool
	// kick wakes the supervisor when the task changed.
	kick chan struct{}
	// attached is what a runtime listed for the task when Run started.
	attached *attachment
	// checked is set once a supervisor looked for the task's workload.
	checked bool
	// since is when this executor learnt of the task.
	since time.Time
	// unhealthy, set by the task's health monitor, is the last failed
	// check's output: the supervisor stops the workload and reports the
	// task failed.
	unhealthy string
}

// attachment is a workload found in a runtime by Run.
type attachment struct {
	rt runtime.Runtime
	st runtime.Status
}

func newEntry(t api.Task) *entry {
	return &entry{task: t, assigned: true, kick: make(chan struct{}, 1), since: time.Now()}
}

// SetAssignments replaces the set of tasks assigned to this node. Tasks
// missing from it are stopped and removed. Tasks of another node are
// ignored.
func (e *Executor) SetAssignments(tasks []api.Task) { e.SetAssignmentsAt(0, tasks) }

// SetAssignmentsAt is SetAssignments for the set the replicated state held
// at index. A set older than the one the executor already has — a replica
// still replaying its log after a restart, whose early states lack tasks
// assigned later — is ignored, so a restart never stops tasks this node
// still runs. Index 0 (unknown) is always applied.
func (e *Executor) SetAssignmentsAt(index uint64, tasks []api.Task) {
	keep := map[string]bool{}
	e.mu.Lock()
	if index != 0 && index < e.index {
		e.mu.Unlock()
		return
	}
	e.index = max(e.index, index)
	for _, t := range tasks {
		if e.acceptable(t) {
			keep[t.ID] = true
			e.assignLocked(t)
			e.resendLocked(t.ID)
		}
	}
	for id, en := range e.tasks {
		if !keep[id] && en.assigned {
			en.assigned = false
			e.kick(en)
		}
	}
	seq, snap := e.assignmentsSnapshotLocked()
	e.mu.Unlock()
	e.saveAssignments(seq, snap)
}

// UpdateAssignments applies an increment: new or changed tasks, and the
// IDs of tasks removed from this node. The agent does not use it (it hands
// over the whole set with SetAssignmentsAt); tests do.
func (e *Executor) UpdateAssignments(changed []api.Task, removed []string) {
	e.mu.Lock()
	for _, t := range changed {
		if e.acceptable(t) {
			e.assignLocked(t)
		}
	}
	for _, id := range removed {
		if en, ok := e.tasks[id]; ok && en.assigned {
			en.assigned = false
			e.kick(en)
		}
	}
	seq, snap := e.assignmentsSnapshotLocked()
	e.mu.Unlock()
	e.saveAssignments(seq, snap)
}

// acceptable reports whether t may be assigned here, logging why not.
func (e *Executor) acceptable(t api.Task) bool {
	switch {
	case t.ID == "":
		e.log.Warn("executor: ignoring an assigned task with an empty ID")
		return false
	case t.NodeID != "" && t.NodeID != e.cfg.NodeID:
		e.log.Warn("executor: ignoring a task assigned to another node", "task", t.ID, "node", t.NodeID)
		return false
	}
	return true
}

// assignLocked records t, never moving its desired or observed state
// backwards (an older copy may arrive after a newer one).
func (e *Executor) assignLocked(t api.Task) {
	en, ok := e.tasks[t.ID]
	if !ok {
		en = newEntry(t)
		e.tasks[t.ID] = en
		e.taskLog(t).Info("task assigned", "node", e.cfg.NodeName)
	} else {
		if t.DesiredState < en.task.DesiredState {
			t.DesiredState = en.task.DesiredState
			t.StopDeadline = en.task.StopDeadline
		}
		if t.Status.State < en.task.Status.State {
			t.Status = en.task.Status
		}
		en.task, en.assigned = t, true
	}
	e.kick(en)
}

// resendLocked queues the status observed here again if the leader's copy
// of the task is behind it (a report lost in a restart or a failover).
func (e *Executor) resendLocked(id string) {
	obs, ok := e.observed[id]
	if ok && obs.State > e.tasks[id].task.Status.State {
		e.reports.put(id, obs)
	}
}

// kick makes sure the task's supervisor looks at it again, starting one if
// none runs. It does nothing before Run.
func (e *Executor) kick(en *entry) {
	if e.runCtx == nil || e.runCtx.Err() != nil {
		return
	}
	if en.supervised {
		select {
		case en.kick <- struct{}{}:
		default:
		}
		return
	}
	en.supervised = true
	s := &supervisor{e: e, id: en.task.ID, en: en}
	e.wg.Add(1)
	go s.run(e.runCtx)
}

func (e *Executor) assignmentsSnapshotLocked() (uint64, assignmentsState) {
	e.seq++
	snap := assignmentsState{Version: stateVersion, NodeID: e.cfg.NodeID, Index: e.index, Tasks: make([]api.Task, 0, len(e.tasks))}
	for _, en := range e.tasks {
		if en.assigned {
			snap.Tasks = append(snap.Tasks, en.task)
		}
	}
	sort.Slice(snap.Tasks, func(i, j int) bool { return snap.Tasks[i].ID < snap.Tasks[j].ID })
	return e.seq, snap
}

func (e *Executor) saveAssignments(seq uint64, snap assignmentsState) {
	if err := e.store.save(assignmentsFile, seq, snap, true); err != nil {
		e.log.Warn("executor: persist assignments", "err", err)
	}
}
