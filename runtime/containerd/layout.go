package containerd

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/containerd/containerd/v2/pkg/identifiers"
)

// Container labels.
const (
	labelService    = "shoal.service"
	labelTask       = "shoal.task"
	labelSlot       = "shoal.slot"
	labelNode       = "shoal.node"
	labelStopSignal = "shoal.stop-signal"
	labelStopGrace  = "shoal.stop-grace"
	labelStartedAt  = "shoal.started-at"
	// The task's address in its own network namespace (none on the host
	// network).
	labelIP = "shoal.ip"
	// The image's HEALTHCHECK as an api.HealthCheck in JSON, for a task
	// whose spec has no health check (absent when the image has none).
	labelImageHealth = "shoal.image-health"
	// Set when the task could not be started (no containerd task exists).
	labelExitCode   = "shoal.exit-code"
	labelFinishedAt = "shoal.finished-at"
	labelError      = "shoal.error"
)

const logFile = "output.log"

// taskDir is <Root>/tasks/<taskID>: the task's log and secrets tmpfs.
func (r *Runtime) taskDir(taskID string) string {
	return filepath.Join(r.root, "tasks", taskID)
}

// cgroupPath is the task's cgroup path below each hierarchy's root.
func (r *Runtime) cgroupPath(taskID string) string {
	return "/" + r.ns + "/" + taskID
}

// validTaskID accepts IDs that are valid containerd identifiers (letters
// and digits, joined by single '.', '_' or '-'; at most 76 bytes), which
// are also safe as a directory name.
func validTaskID(id string) error {
	if id == "" {
		return errors.New("task ID is empty")
	}
	if err := identifiers.Validate(id); err != nil {
		return fmt.Errorf("task ID %q: not a valid container ID (letters and digits joined by single '.', '_' or '-', at most 76 bytes)", id)
	}
	return nil
}
