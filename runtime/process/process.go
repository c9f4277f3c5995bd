// Package process is the "process" runtime: it runs a service's Command and
// Args as a host process.
//
// Every task of a Root is supervised by one keeper process (the shoal
// binary re-executed as `shoal runtime-shim <root>`, see RunShim), started
// on demand in its own session so that workloads survive a restart or
// kill -9 of the agent, and exiting once it has no task left. The keeper
// starts each workload in its own process group, as the service's user
// (looked up on this node; root when the service names none), copies its
// output into rotated log files, and records its state and exit status as
// files in the task's directory, where any later Runtime on the same Root
// finds them. A workload that runs as a user owns its work dir and can
// reach nothing else under Root.
// One keeper per node instead of one shim per task keeps what a task costs
// the host to tens of KiB (see BenchmarkTaskMemory).
package process

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	rtapi "github.com/shoal-project/shoal/runtime"
)

// Name is the runtime's name, as used in api.ServiceSpec.Runtime.
const Name = "process"

// Defaults for Config fields left zero.
const (
	DefaultMaxLogBytes = 10 << 20
	DefaultMaxLogFiles = 3
	// DefaultStopGrace is used by Stop when neither the caller nor the
	// spec gives a grace period.
	DefaultStopGrace = 10 * time.Second
	// shimStartTimeout bounds how long Start waits for the keeper to
	// report when the context has no deadline.
	shimStartTimeout = 30 * time.Second
)

// Config configures a Runtime.
type Config struct {
	// Root holds all task state, e.g. <data-dir>/runtime/process.
	Root string
	// ShimCommand is the command that runs RunShim (the keeper); Root is
	// appended as its last argument. Default: this executable followed by
	// "runtime-shim".
	ShimCommand []string
	// MaxLogBytes is the size at which a task's log file is rotated.
	MaxLogBytes int64
	// MaxLogFiles is how many log files (current plus rotated) are kept.
	MaxLogFiles int
	// ExtraEnv, if set, adds KEY=VALUE entries the node gives every task
	// when it is prepared (SHOAL_TASK_IP, the node's address, and SHOAL_DNS
	// once the node's DNS server runs).
	ExtraEnv func() []string
}

// Runtime runs tasks as host processes. It implements runtime.Runtime.
type Runtime struct {
	root        string
	shim        []string
	maxLogBytes int64
	maxLogFiles int
	extraEnv    func() []string

	// reapers counts goroutines that reap keepers this process started.
	reapers sync.WaitGroup
}

var _ rtapi.Runtime = (*Runtime)(nil)

// New makes a Runtime, creating cfg.Root if needed.
func New(cfg Config) (*Runtime, error) {
	if cfg.Root == "" {
		return nil, errors.New("process runtime: Root is empty")
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("process runtime: root %q: %w", cfg.Root, err)
	}
	if cfg.MaxLogBytes < 0 || cfg.MaxLogFiles < 0 {
		return nil, fmt.Errorf("process runtime: negative log limits (MaxLogBytes=%d, MaxLogFiles=%d)", cfg.MaxLogBytes, cfg.MaxLogFiles)
	}
	r := &Runtime{root: root, shim: cfg.ShimCommand, maxLogBytes: cfg.MaxLogBytes, maxLogFiles: cfg.MaxLogFiles, extraEnv: cfg.ExtraEnv}
	if r.maxLogBytes == 0 {
		r.maxLogBytes = DefaultMaxLogBytes
	}
	if r.maxLogFiles == 0 {
		r.maxLogFiles = DefaultMaxLogFiles
	}
	if len(r.shim) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("process runtime: find own executable for the shim: %w", err)
		}
		r.shim = []string{exe, "runtime-shim"}
	}
	if err := os.MkdirAll(filepath.Join(root, "tasks"), 0o700); err != nil {
		return nil, fmt.Errorf("process runtime: %w", err)
	}
	return r, nil
}

// Name returns "process".
func (r *Runtime) Name() string { return Name }

// Root returns the absolute directory that holds the runtime's state.
func (r *Runtime) Root() string { return r.root }

// taskDir returns the directory of a task after checking its ID.
func (r *Runtime) taskDir(taskID string) (string, error) {
	if err := validTaskID(taskID); err != nil {
		return "", err
	}
	return filepath.Join(r.root, "tasks", taskID), nil
}

// existingTaskDir is taskDir for a task that must already be prepared.
func (r *Runtime) existingTaskDir(taskID string) (string, error) {
	dir, err := r.taskDir(taskID)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("task %q: %w", taskID, rtapi.ErrNotFound)
		}
		return "", err
	}
	return dir, nil
}

// validTaskID accepts IDs that are safe as a single directory name.
func validTaskID(id string) error {
	if id == "" {
		return errors.New("task ID is empty")
	}
	if len(id) > 128 {
		return fmt.Errorf("task ID %.20q... is longer than 128 bytes", id)
	}
	if id == "." || id == ".." {
		return fmt.Errorf("task ID %q is not allowed", id)
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return fmt.Errorf("task ID %q has character %q; only letters, digits, '-', '_' and '.' are allowed", id, c)
		}
	}
	return nil
}
