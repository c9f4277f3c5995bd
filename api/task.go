package api

import (
	"encoding/json"
	"fmt"
	"time"
)

// TaskState is where a task is in its life. States are ordered and a task's
// observed state only moves forward.
type TaskState int

// Task states, in order. Everything from Complete on is terminal.
const (
	TaskNew TaskState = iota
	// TaskPending: the scheduler found no node yet; Status.Err says why.
	TaskPending
	TaskAssigned
	TaskPreparing
	TaskStarting
	TaskRunning
	TaskComplete
	TaskFailed
	TaskShutdown
	TaskRejected
	TaskOrphaned
)

var taskStateNames = [...]string{"new", "pending", "assigned", "preparing", "starting", "running", "complete", "failed", "shutdown", "rejected", "orphaned"}

// String returns the lower-case name of s.
func (s TaskState) String() string {
	if s < 0 || int(s) >= len(taskStateNames) {
		return fmt.Sprintf("state(%d)", int(s))
	}
	return taskStateNames[s]
}

// Terminal reports whether s is an end state.
func (s TaskState) Terminal() bool { return s >= TaskComplete }

// ParseTaskState reads a state name.
func ParseTaskState(name string) (TaskState, error) {
	for i, n := range taskStateNames {
		if n == name {
			return TaskState(i), nil
		}
	}
	return 0, fmt.Errorf("unknown task state %q", name)
}

// MarshalJSON writes the state's name.
func (s TaskState) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a state's name.
func (s *TaskState) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return fmt.Errorf("task state must be a string: %w", err)
	}
	v, err := ParseTaskState(name)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// TaskStatus is what a task's node observed.
type TaskStatus struct {
	State     TaskState `json:"state"`
	Message   string    `json:"message,omitempty"`
	Err       string    `json:"error,omitempty"`
	ExitCode  *int      `json:"exit_code,omitempty"`
	OOMKilled bool      `json:"oom_killed,omitempty"`
	PID       int       `json:"pid,omitempty"`
	// IP is the task's address on its node's subnet, for a container in
	// its own network namespace (protocol 5); empty on the host network.
	IP string `json:"ip,omitempty"`
	// Health is a running task's health ("starting", "healthy",
	// "unhealthy") when its spec has a health check (protocol 5).
	Health    string    `json:"health,omitempty"`
	Timestamp time.Time `json:"timestamp,omitzero"`
}

// Task is one run of a service in one slot on one node. It is immutable
// apart from DesiredState (written by the leader) and Status (written by
// its node, moving forward only); a task that ends is replaced by a new one.
type Task struct {
	ID          string `json:"id"`
	ServiceID   string `json:"service_id"`
	ServiceName string `json:"service_name"`
	// Slot is 1..N for replicated services, 0 for global ones (which are
	// keyed by NodeID).
	Slot        uint64 `json:"slot"`
	SpecVersion uint64 `json:"spec_version"`
	// Spec is what the task runs. A task spawned by task.write's spawn
	// carries none on the wire (its service's spec at SpecVersion is
	// filled in by the FSM); a stored task always has one.
	Spec   ServiceSpec `json:"spec,omitzero"`
	NodeID string      `json:"node_id,omitempty"`

	DesiredState TaskState  `json:"desired_state"`
	Status       TaskStatus `json:"status"`
	// Attempt counts the tasks before this one in the same slot.
	Attempt uint64 `json:"attempt"`
	// NotBefore delays the start of a restarted task (restart delay).
	NotBefore time.Time `json:"not_before,omitzero"`
	// StopDeadline, set with a desired shutdown by a drain with a
	// deadline, is when the task's node kills the workload if the stop
	// signal has not ended it: its stop grace period is cut to end there.
	StopDeadline time.Time `json:"stop_deadline,omitzero"`
	// Replaces, on a task the leader created to move a live task of the
	// same slot elsewhere (a rebalance or a drain), is that task's ID: the
	// two run side by side until this one is ready, then the old one
	// stops (protocol 6).
	Replaces string `json:"replaces,omitempty"`
	// PreferredNode, on a rebalance move, is the node the allocator puts
	// the task on when that node can take it; otherwise it is placed as
	// any task (protocol 6).
	PreferredNode string `json:"preferred_node,omitempty"`

	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Active reports whether the task still counts towards its slot: it is
// meant to run and has not ended.
func (t *Task) Active() bool {
	return t.DesiredState <= TaskRunning && !t.Status.State.Terminal()
}
