package executor

import (
	"context"
	"fmt"
	"sort"

	"github.com/shoal-project/shoal/runtime"
)

// stray is a workload no assigned task accounts for.
type stray struct {
	rt runtime.Runtime
	id string
}

// attach lists every runtime's workloads: those of known tasks (assigned
// or being removed) are handed to their supervisors, the others are
// returned as strays. It also
// queues again the statuses the leader's copy of the tasks is behind on.
func (e *Executor) attach(ctx context.Context) ([]stray, error) {
	names := make([]string, 0, len(e.cfg.Runtimes))
	for name := range e.cfg.Runtimes {
		names = append(names, name)
	}
	sort.Strings(names)
	var strays []stray
	for _, name := range names {
		rt := e.cfg.Runtimes[name]
		list, err := rt.List(ctx)
		if err != nil {
			return nil, fmt.Errorf("executor: list the tasks of runtime %s: %w", name, err)
		}
		e.mu.Lock()
		for _, st := range list {
			if en, ok := e.tasks[st.TaskID]; ok && en.attached == nil {
				en.attached = &attachment{rt: rt, st: st}
			} else {
				strays = append(strays, stray{rt: rt, id: st.TaskID})
			}
		}
		e.mu.Unlock()
	}
	e.mu.Lock()
	for id := range e.tasks {
		e.resendLocked(id)
	}
	e.mu.Unlock()
	return strays, nil
}

// removeStrays stops and removes workloads that are not assigned to this
// node (deleted by the leader while this agent was down). One that was
// assigned meanwhile is left to its supervisor.
func (e *Executor) removeStrays(ctx context.Context, strays []stray) {
	defer e.wg.Done()
	for _, s := range strays {
		e.mu.Lock()
		_, known := e.tasks[s.id]
		e.mu.Unlock()
		if known || ctx.Err() != nil {
			continue
		}
		if err := s.rt.Stop(ctx, s.id, 0); err != nil && ctx.Err() == nil {
			e.log.Warn("executor: stop unassigned task", "task", s.id, "err", err)
		}
		if err := s.rt.Remove(ctx, s.id); err != nil && ctx.Err() == nil {
			e.log.Warn("executor: remove unassigned task", "task", s.id, "err", err)
		}
	}
}
