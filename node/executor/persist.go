package executor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/fsutil"
)

// Files in Config.StateDir.
const (
	assignmentsFile = "assignments.json" // assignmentsState
	statusesFile    = "statuses.json"    // statusesState
	stateVersion    = 1
)

// assignmentsState is the task set the leader gave this node.
type assignmentsState struct {
	Version int    `json:"version"`
	NodeID  string `json:"node_id"`
	// Index is the replicated-state index the set reflects (0: unknown).
	Index uint64     `json:"index,omitempty"`
	Tasks []api.Task `json:"tasks"`
}

// statusesState is the latest status this node observed for each of its
// tasks (reported or still queued), so that a restarted agent neither
// reports backwards nor forgets a report the leader never received.
type statusesState struct {
	Version  int                       `json:"version"`
	NodeID   string                    `json:"node_id"`
	Statuses map[string]api.TaskStatus `json:"statuses"`
}

// store writes state files atomically. Callers number their snapshots
// (taken under the executor's lock) and a snapshot older than one already
// written is skipped, so concurrent savers never write state backwards.
type store struct {
	dir     string
	mu      sync.Mutex
	written map[string]uint64
}

func newStore(dir string) (*store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("executor: state dir: %w", err)
	}
	return &store{dir: dir, written: map[string]uint64{}}, nil
}

// save writes v as JSON to name unless a snapshot newer than seq was
// already written. durable adds an fsync.
func (s *store) save(name string, seq uint64, v any, durable bool) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("executor: encode %s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq <= s.written[name] {
		return nil
	}
	path := filepath.Join(s.dir, name)
	if err := fsutil.WriteFile(path, b, 0o600, durable); err != nil {
		return fmt.Errorf("executor: write %s: %w", path, err)
	}
	s.written[name] = seq
	return nil
}

// readState reads a state file into v; a missing file leaves v alone.
func readState(dir, name string, v any) error {
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("executor: read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("executor: %s is corrupt (%v); remove it to start with no assignments", path, err)
	}
	return nil
}

// loadState reads what an earlier executor of this node persisted.
// Assignments of another node (a reused state dir) are dropped.
func loadState(dir, nodeID string) (map[string]api.Task, uint64, map[string]api.TaskStatus, error) {
	var a assignmentsState
	if err := readState(dir, assignmentsFile, &a); err != nil {
		return nil, 0, nil, err
	}
	var s statusesState
	if err := readState(dir, statusesFile, &s); err != nil {
		return nil, 0, nil, err
	}
	tasks := map[string]api.Task{}
	statuses := map[string]api.TaskStatus{}
	if a.Version > stateVersion || s.Version > stateVersion {
		return nil, 0, nil, fmt.Errorf("executor: state in %s has version %d/%d, newer than this agent's %d", dir, a.Version, s.Version, stateVersion)
	}
	var index uint64
	if a.NodeID == nodeID {
		index = a.Index
		for _, t := range a.Tasks {
			if t.ID != "" {
				tasks[t.ID] = t
			}
		}
	}
	if s.NodeID == nodeID {
		for id, st := range s.Statuses {
			if _, ok := tasks[id]; ok {
				statuses[id] = st
			}
		}
	}
	return tasks, index, statuses, nil
}
