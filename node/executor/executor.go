// Package executor is the node-side task agent: every node, the leader
// included, receives from the leader the set of tasks assigned to it, runs
// them through a runtime.Runtime and reports what it observes back.
//
// Each task has a supervisor goroutine while there is something to do for
// it (start it, wait for it, stop it, remove it). The assignment set and the
// latest observed statuses are persisted in Config.StateDir, so a restarted
// agent knows its tasks, re-attaches to the workloads that kept running,
// and never reports a task's state backwards. Tasks keep running while the
// leader is unreachable and when the executor itself stops.
package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/runtime"
)

// DefaultReportInterval is the batch window for status reports.
const DefaultReportInterval = 100 * time.Millisecond

// Reporter commits a batch of observed statuses through the leader. It may
// fail while the leader is unreachable; the executor then retries.
type Reporter func(ctx context.Context, updates []api.TaskStatusUpdate) error

// Config configures an Executor.
type Config struct {
	// NodeID and NodeName identify this node; NodeName is given to
	// workloads (SHOAL_NODE) and used in error messages.
	NodeID, NodeName string
	// StateDir is where assignments are persisted, e.g. <data-dir>/executor.
	StateDir string
	// Runtimes are the enabled runtimes by name ("process", "containerd").
	Runtimes map[string]runtime.Runtime
	// Report sends status updates to the leader.
	Report Reporter
	// Secrets fetches the secrets a task's spec names; without it such
	// tasks are rejected.
	Secrets SecretFetcher
	// ReportInterval is the batch window for reports (DefaultReportInterval
	// if zero).
	ReportInterval time.Duration
	// Started, if set, is called when a workload this executor started is
	// running, with the task's attempt (0 for the first task of its slot)
	// and the time since the task was assigned here. It must not block.
	Started func(attempt uint64, latency time.Duration)
	// HealthChecker runs tasks' health checks (default: from the node,
	// cmd checks through the task's runtime, see nodeChecker); Clock times them (default: the real clock).
	HealthChecker HealthChecker
	Clock         Clock
	// ImageHealth, if set, says whether a workload whose spec has no
	// health check may be checked with its image's HEALTHCHECK now: its
	// health reports need every node at protocol 5, which a spec's
	// check got at create (nil: always).
	ImageHealth func() bool
	// Logger receives every step of the tasks (at info, with task,
	// service and slot attributes) and the problems the executor handles
	// itself (default slog.Default()).
	Logger *slog.Logger
}

// Executor runs the tasks assigned to one node. Its methods are safe for
// concurrent use.
type Executor struct {
	cfg     Config
	log     *slog.Logger
	store   *store
	reports *reportQueue

	mu       sync.Mutex
	tasks    map[string]*entry         // assigned tasks and those being removed
	observed map[string]api.TaskStatus // latest status observed here, by task
	runCtx   context.Context           // non-nil while Run runs
	ran      bool
	seq      uint64 // numbers persisted snapshots
	// index is the replicated-state index the assignment set reflects
	// (0 if unknown); older sets are ignored.
	index uint64
	wg    sync.WaitGroup
}

// New makes an Executor and loads the assignments an earlier executor on
// the same StateDir persisted. It starts nothing until Run.
func New(cfg Config) (*Executor, error) {
	switch {
	case cfg.NodeID == "":
		return nil, errors.New("executor: NodeID is empty")
	case cfg.StateDir == "":
		return nil, errors.New("executor: StateDir is empty")
	case cfg.Report == nil:
		return nil, errors.New("executor: Report is nil")
	case cfg.ReportInterval < 0:
		return nil, fmt.Errorf("executor: ReportInterval %s is negative", cfg.ReportInterval)
	}
	for name, rt := range cfg.Runtimes {
		if rt == nil {
			return nil, fmt.Errorf("executor: runtime %q is nil", name)
		}
	}
	if cfg.NodeName == "" {
		cfg.NodeName = cfg.NodeID
	}
	if cfg.ReportInterval == 0 {
		cfg.ReportInterval = DefaultReportInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HealthChecker == nil {
		cfg.HealthChecker = nodeChecker{runtimes: cfg.Runtimes}
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	st, err := newStore(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	tasks, index, observed, err := loadState(cfg.StateDir, cfg.NodeID)
	if err != nil {
		return nil, err
	}
	e := &Executor{
		cfg: cfg, log: cfg.Logger, store: st, reports: newReportQueue(),
		tasks: map[string]*entry{}, observed: observed, index: index,
	}
	for id, t := range tasks {
		e.tasks[id] = newEntry(t)
	}
	return e, nil
}

// Run re-attaches to the workloads that still exist in the runtimes, then
// runs and reports the assigned tasks until ctx ends. Tasks are left
// running when it returns: workloads survive agent restarts. It returns
// nil when ctx ends, or an error if the runtimes cannot be listed. Run
// may be called only once.
func (e *Executor) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.ran {
		e.mu.Unlock()
		return errors.New("executor: Run called twice")
	}
	e.ran = true
	e.mu.Unlock()

	strays, err := e.attach(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	e.wg.Add(2)
	go e.reportLoop(ctx)
	go e.removeStrays(ctx, strays)

	e.mu.Lock()
	e.runCtx = ctx
	for _, en := range e.tasks {
		e.kick(en)
	}
	e.mu.Unlock()

	<-ctx.Done()
	e.mu.Lock()
	e.runCtx = nil // no supervisor starts from now on
	e.mu.Unlock()
	e.wg.Wait()
	return nil
}

// Assignments returns the assigned tasks sorted by ID, each with the
// latest status known here: the leader's, or a newer one observed by this
// node and perhaps not yet reported.
func (e *Executor) Assignments() []api.Task {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]api.Task, 0, len(e.tasks))
	for id, en := range e.tasks {
		if !en.assigned {
			continue
		}
		t := en.task
		if obs, ok := e.observed[id]; ok && obs.State > t.Status.State {
			t.Status = obs
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Logs streams the output of a task assigned to this node.
func (e *Executor) Logs(ctx context.Context, taskID string, opts runtime.LogOptions) (io.ReadCloser, error) {
	e.mu.Lock()
	en, ok := e.tasks[taskID]
	var spec api.ServiceSpec
	if ok {
		spec = en.task.Spec
	}
	e.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("task %s is not assigned to node %s: %w", taskID, e.cfg.NodeName, runtime.ErrNotFound)
	}
	rt, err := e.runtimeFor(spec)
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", taskID, err)
	}
	return rt.Logs(ctx, taskID, opts)
}

// runtimeFor returns the runtime a spec asks for.
func (e *Executor) runtimeFor(spec api.ServiceSpec) (runtime.Runtime, error) {
	if spec.Runtime == "" {
		return nil, errors.New("the task's spec names no runtime")
	}
	rt, ok := e.cfg.Runtimes[spec.Runtime]
	if !ok {
		return nil, fmt.Errorf("runtime %s is not enabled on node %s", spec.Runtime, e.cfg.NodeName)
	}
	return rt, nil
}
