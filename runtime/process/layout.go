package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/shoal-project/shoal/internal/fsutil"
)

// Files in a task's directory, <Root>/tasks/<taskID>/.
const (
	specFile    = "spec.json"  // launchSpec, written by Prepare
	startedFile = "started"    // created exclusively by Start
	stateFile   = "state.json" // shimState, written by the shim once the workload runs
	exitFile    = "exit.json"  // exitRecord, written by the shim when the workload ends
	logFile     = "output.log" // the workload's stdout and stderr; rotated as output.log.1, .2, ...
	workDirName = "work"
)

// Files in Root that belong to the keeper (see shim.go). The socket, lock
// and use files carry the keeper's version, raised whenever a keeper of an
// earlier build would start a launch spec differently: an agent never
// hands a task to an older keeper that outlived its upgrade (it keeps
// supervising its own tasks and exits once they end), and starts its own
// beside it. Version 2 honours launchSpec.User (version 1 ran it as root).
const (
	keeperSockFile = "keeper2.sock" // where agents ask it to start tasks
	keeperLockFile = "keeper2.lock" // held by the live keeper; has its PID
	keeperUseFile  = "keeper2.use"  // flock: shared by agents talking to it
	keeperLogFile  = "keeper.log"   // its stderr (shared by every version)
)

// launchSpec is everything the shim needs, resolved by Prepare.
type launchSpec struct {
	TaskID      string        `json:"task_id"`
	Argv        []string      `json:"argv"`
	Env         []string      `json:"env"`
	Dir         string        `json:"dir"`
	StopSignal  string        `json:"stop_signal"`
	StopGrace   time.Duration `json:"stop_grace"`
	MaxLogBytes int64         `json:"max_log_bytes"`
	MaxLogFiles int           `json:"max_log_files"`
	// User is the spec's user as api.ParseUser writes it, looked up by
	// the keeper when it starts the workload; empty runs it as root.
	User string `json:"user,omitempty"`
}

// shimState is written by the keeper once the workload has started.
// ShimPID is the keeper's PID when Keeper is set; without it the state was
// written by a per-task shim of an earlier release, which exits when its
// workload has ended and its exit is recorded.
type shimState struct {
	ShimPID   int       `json:"shim_pid"`
	ShimStart uint64    `json:"shim_start"` // /proc start time, in clock ticks since boot
	PID       int       `json:"pid"`
	PIDStart  uint64    `json:"pid_start"`
	StartedAt time.Time `json:"started_at"`
	Keeper    bool      `json:"keeper,omitempty"`
}

// exitRecord is written when the workload has ended or could not start.
type exitRecord struct {
	ExitCode   int       `json:"exit_code"`
	Signal     string    `json:"signal,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at"`
	Err        string    `json:"error,omitempty"`
}

// writeJSONAtomic replaces path with v as JSON (fsutil.WriteFile, mode
// 0600), so readers see the old file, the new file, or nothing. It does not
// fsync: these files describe processes, which a host crash ends anyway;
// the rename is what protects them from a crash of the agent or the shim.
func writeJSONAtomic(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	return fsutil.WriteFile(path, b, 0o600, false)
}

// readJSON reads path into v. A missing file gives an error that matches
// os.ErrNotExist.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("corrupt %s: %w", path, err)
	}
	return nil
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}
