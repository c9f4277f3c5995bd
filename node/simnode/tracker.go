package simnode

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/shoal-project/shoal/api"
)

// tracker is a simulated member's view of its own tasks: what the
// leader's committed decisions assigned to it, and which statuses it still
// owes. It is what a real member's executor derives from its replica
// (TasksByNode), kept without the replica.
type tracker struct {
	self string

	mu      sync.Mutex
	index   uint64                   // last entry (or snapshot) index looked at
	tasks   map[string]*simTask      // assigned to self and not orphaned or deleted
	pending map[string]api.TaskState // statuses to report
	wake    chan struct{}
}

type simTask struct {
	desired  api.TaskState
	reported api.TaskState // highest state reported (or seen committed)
}

func newTracker(self string) *tracker {
	return &tracker{
		self:    self,
		tasks:   map[string]*simTask{},
		pending: map[string]api.TaskState{},
		wake:    make(chan struct{}, 1),
	}
}

// appliedIndex is the index to resume the feed from.
func (t *tracker) appliedIndex() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.index
}

// counts reports how many tasks the node holds and how many it runs (as
// it reported them).
func (t *tracker) counts() (assigned, running int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, st := range t.tasks {
		if st.desired <= api.TaskRunning {
			assigned++
			if st.reported == api.TaskRunning {
				running++
			}
		}
	}
	return
}

// frame applies one feed frame; it returns how many entries it decoded.
func (t *tracker) frame(fr rawFrame) (decoded int, err error) {
	if fr.Snapshot != nil {
		if err := t.snapshot(fr.Snapshot); err != nil {
			return 0, err
		}
	}
	for _, e := range fr.Entries {
		if e.Index <= t.appliedIndex() {
			continue
		}
		if f := e.facts(); t.concerns(f) {
			decoded++
			if err := t.entry(f); err != nil {
				return decoded, fmt.Errorf("entry %d: %w", e.Index, err)
			}
		}
		t.mu.Lock()
		t.index = e.Index
		t.mu.Unlock()
	}
	return decoded, nil
}

// concerns says whether an entry may change this node's tasks: it names
// the node, or it lowers tasks and the node holds some.
func (t *tracker) concerns(f *entryFacts) bool {
	if f.mentions[t.self] {
		return true
	}
	if !f.lowers {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.tasks) > 0
}

// entry applies one command that concerns the node.
func (t *tracker) entry(f *entryFacts) error {
	if !f.taskWrite {
		return nil // reports, node records: nothing to run
	}
	// The common cases — assignments, and tasks spawned already placed —
	// are read from the entry's facts; anything else about this node's
	// tasks (a stop, an orphan, a created task) is decoded.
	if !f.lowers && !f.create && !f.unclear[t.self] {
		t.mu.Lock()
		defer t.mu.Unlock()
		for _, id := range f.placed[t.self] {
			t.assignLocked(id, api.TaskAssigned, api.TaskRunning)
		}
		return nil
	}
	p, err := f.decoded()
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tasks := range [][]api.Task{p.Create, p.Spawn} { // p is shared: read, never append to
		for _, c := range tasks {
			if c.NodeID == t.self && c.Status.State >= api.TaskAssigned {
				t.assignLocked(c.ID, c.Status.State, c.DesiredState)
			}
		}
	}
	for _, a := range p.Assign {
		if a.NodeID == t.self {
			t.assignLocked(a.TaskID, api.TaskAssigned, api.TaskRunning)
		}
	}
	for _, d := range p.Desire {
		if st, ok := t.tasks[d.TaskID]; ok && d.DesiredState > st.desired {
			st.desired = d.DesiredState
			if st.reported < api.TaskShutdown {
				t.queueLocked(d.TaskID, api.TaskShutdown) // what the executor reports once it stopped it
			}
		}
	}
	for _, o := range p.Orphan {
		t.forgetLocked(o.TaskID)
	}
	for _, id := range p.Delete {
		t.forgetLocked(id)
	}
	return nil
}

// assignLocked records a task on this node in observed state state.
func (t *tracker) assignLocked(id string, state, desired api.TaskState) {
	st, ok := t.tasks[id]
	if !ok {
		st = &simTask{desired: desired, reported: state}
		t.tasks[id] = st
	}
	switch {
	case st.desired <= api.TaskRunning && st.reported < api.TaskRunning:
		t.queueLocked(id, api.TaskRunning)
	case st.desired > api.TaskRunning && !st.reported.Terminal():
		t.queueLocked(id, api.TaskShutdown)
	}
}

func (t *tracker) forgetLocked(id string) {
	delete(t.tasks, id)
	delete(t.pending, id)
}

func (t *tracker) queueLocked(id string, state api.TaskState) {
	if cur, ok := t.pending[id]; ok && cur >= state {
		return
	}
	t.pending[id] = state
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// snapshotTask is the part of a snapshot's task record a node needs.
type snapshotTask struct {
	Task *struct {
		ID           string        `json:"id"`
		NodeID       string        `json:"node_id"`
		DesiredState api.TaskState `json:"desired_state"`
		Status       struct {
			State api.TaskState `json:"state"`
		} `json:"status"`
	} `json:"task"`
}

// snapshot replaces the node's tasks with those of a SnapshotJSON image:
// a header line with the index, then one record per line.
func (t *tracker) snapshot(data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	if !sc.Scan() {
		return fmt.Errorf("snapshot: no header")
	}
	var h struct {
		Index uint64 `json:"index"`
	}
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
		return fmt.Errorf("snapshot header: %w", err)
	}
	mine := map[string]*simTask{}
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte(`{"task":`)) || !bytes.Contains(line, []byte(t.self)) {
			continue
		}
		var rec snapshotTask
		if err := json.Unmarshal(line, &rec); err != nil {
			return fmt.Errorf("snapshot task: %w", err)
		}
		if rec.Task != nil && rec.Task.NodeID == t.self {
			mine[rec.Task.ID] = &simTask{desired: rec.Task.DesiredState, reported: rec.Task.Status.State}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if h.Index <= t.index {
		return nil
	}
	t.index = h.Index
	t.tasks = map[string]*simTask{}
	for id := range t.pending {
		if _, ok := mine[id]; !ok {
			delete(t.pending, id)
		}
	}
	for id, st := range mine {
		if st.reported.Terminal() {
			continue
		}
		t.tasks[id] = st
		t.assignLocked(id, st.reported, st.desired)
	}
	return nil
}

// take empties the report queue into a batch sorted by task ID, as the
// executor's report queue does.
func (t *tracker) take(now time.Time) []api.TaskStatusUpdate {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := make([]string, 0, len(t.pending))
	for id := range t.pending {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	batch := make([]api.TaskStatusUpdate, 0, len(ids))
	for _, id := range ids {
		st := api.TaskStatus{State: t.pending[id], Timestamp: now}
		if st.State == api.TaskRunning {
			st.Message = "simulated"
		}
		batch = append(batch, api.TaskStatusUpdate{TaskID: id, Status: st})
	}
	t.pending = map[string]api.TaskState{}
	return batch
}

// settle records a batch's outcome: a sent batch is reported; a failed
// one goes back into the queue for the tasks still held.
func (t *tracker) settle(batch []api.TaskStatusUpdate, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, u := range batch {
		st, held := t.tasks[u.TaskID]
		if !held {
			continue
		}
		if ok {
			st.reported = max(st.reported, u.Status.State)
			continue
		}
		if cur, queued := t.pending[u.TaskID]; !queued || cur < u.Status.State {
			t.pending[u.TaskID] = u.Status.State
		}
	}
}
