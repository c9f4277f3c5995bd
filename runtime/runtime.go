// Package runtime is the boundary between a node's task agent and whatever
// actually runs workloads: host processes (runtime/process) or containers
// through containerd (runtime/containerd).
//
// A Runtime owns every task it was asked to prepare until it is asked to
// remove it, and it keeps enough on disk that a new Runtime on the same
// state (after an agent restart, even a kill -9) can list the tasks, learn
// their state and wait for their exit codes.
package runtime

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/shoal-project/shoal/api"
)

// ErrNotFound is returned for a task the runtime does not have.
var ErrNotFound = errors.New("runtime: task not found")

// TaskSpec is what a runtime needs to run one task.
type TaskSpec struct {
	TaskID      string
	ServiceName string
	NodeName    string
	Slot        uint64
	Spec        api.ServiceSpec
	// Secrets are the plaintexts of Spec.Secrets, fetched for this task
	// and held in memory only (never persisted, see Secret). A runtime
	// uses them during Prepare only: the caller zeroes them afterwards.
	Secrets []Secret `json:"-"`
}

// State is where a task is in the runtime's view.
type State string

// Runtime states.
const (
	// StateCreated: prepared, not started yet.
	StateCreated State = "created"
	// StateRunning: the workload is running.
	StateRunning State = "running"
	// StateExited: the workload ended (or failed to start); Status.ExitCode
	// and Status.Err say how.
	StateExited State = "exited"
	// StateUnknown: the runtime lost track of the workload (for example its
	// supervisor died); Status.Err says why.
	StateUnknown State = "unknown"
)

// Status is what a runtime knows about one task.
type Status struct {
	TaskID string
	State  State
	// PID is the workload's process ID (0 if it never started).
	PID int
	// IP is the task's address in its own network namespace; empty for a
	// task on the host network.
	IP string
	// ExitCode follows the shell convention: 128+N when killed by signal N,
	// 127 when the command was not found, 126 when it could not be run.
	ExitCode  int
	OOMKilled bool
	StartedAt time.Time
	// FinishedAt is zero unless State is StateExited.
	FinishedAt time.Time
	// Err explains a failure to start or a lost workload; empty otherwise.
	Err string
}

// LogOptions selects what Logs returns.
type LogOptions struct {
	// Follow keeps the stream open and sends new output until the context
	// is done or the task has exited and all its output was sent.
	Follow bool
	// Tail is how many of the last lines to send first; -1 sends all.
	Tail int
}

// Runtime runs tasks. Every method is safe for concurrent use, and every
// task ID must be one that Prepare accepted.
type Runtime interface {
	// Name is the runtime's name as used in api.ServiceSpec.Runtime.
	Name() string
	// Prepare validates spec and creates what the task needs before it can
	// start (work directory; image pull for container runtimes). Calling it
	// again for the same task is a no-op.
	Prepare(ctx context.Context, spec TaskSpec) error
	// Start starts a prepared task and returns once it is running. A
	// workload that cannot be started (command not found, ...) makes Start
	// return an error and leaves the task exited with an exit code.
	Start(ctx context.Context, taskID string) error
	// Wait blocks until the task has exited (or ctx is done) and returns its
	// final status. It works for tasks started by an earlier process.
	Wait(ctx context.Context, taskID string) (Status, error)
	// Stop sends the task's stop signal (spec.StopSignal, default SIGTERM),
	// then SIGKILL once grace has passed, and returns when it has exited.
	Stop(ctx context.Context, taskID string, grace time.Duration) error
	// Remove kills the task if it still runs and deletes everything it left
	// behind. Removing an unknown task is not an error.
	Remove(ctx context.Context, taskID string) error
	// Status reports the task's current status, or ErrNotFound.
	Status(ctx context.Context, taskID string) (Status, error)
	// List reports every task the runtime still has, running or not. This
	// is how an agent re-attaches to its tasks after a restart.
	List(ctx context.Context) ([]Status, error)
	// Logs streams the task's output (stdout and stderr).
	Logs(ctx context.Context, taskID string, opts LogOptions) (io.ReadCloser, error)
}
