// Package orchestrator holds the leader's reconciliation logic as pure
// functions over a read snapshot of the replicated store. Each function
// returns the task decisions to commit as one api.CmdWriteTasks command;
// the leader runs each in its own loop (watch the store, call, commit,
// repeat). The functions never call each other, read no clock and keep no
// state, and each is idempotent: called again on the state after its own
// result was applied, it returns an empty payload.
//
//   - Orchestrate converges every service's tasks to its spec: replica
//     count, restart policy, global placement and rolling updates (and
//     advances their update status: api.ServiceUpdate).
//   - Allocate places new tasks on nodes with the scheduler.
//   - HandleNodeFailures orphans the tasks of lost nodes and evicts the
//     tasks of draining ones.
//   - Reap bounds the task history.
//   - Rebalance moves tasks start-first: off draining nodes, and onto
//     nodes that hold fewer of a service's tasks.
//
// Vocabulary. A slot is the history of one replica (replicated services,
// Slot 1..N) or of one node (global services, Slot 0, keyed by NodeID). A
// task is live when it is active (api.Task.Active). A task ended on its
// own when its observed state is terminal while it was still desired
// running and it was not orphaned: only such ends are failures that the
// restart policy governs. Tasks the leader stopped and tasks lost with
// their node are not failures: their slot is simply free again.
package orchestrator

import "github.com/shoal-project/shoal/api"

// IDGen returns a new, unique task ID on every call. The leader passes a
// random generator; tests pass a counter.
type IDGen func() string

// Merge concatenates payloads in order. Desire, Delete and Orphan entries
// that repeat a task ID already present are dropped, so merging the
// output of several loops never names a task twice in one list.
func Merge(ps ...api.WriteTasksPayload) api.WriteTasksPayload {
	var out api.WriteTasksPayload
	desired, deleted, orphaned := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, p := range ps {
		out.Create = append(out.Create, p.Create...)
		out.Assign = append(out.Assign, p.Assign...)
		for _, d := range p.Desire {
			if !desired[d.TaskID] {
				desired[d.TaskID] = true
				out.Desire = append(out.Desire, d)
			}
		}
		for _, id := range p.Delete {
			if !deleted[id] {
				deleted[id] = true
				out.Delete = append(out.Delete, id)
			}
		}
		for _, o := range p.Orphan {
			if !orphaned[o.TaskID] {
				orphaned[o.TaskID] = true
				out.Orphan = append(out.Orphan, o)
			}
		}
		out.Services = append(out.Services, p.Services...)
	}
	return out
}

// Empty reports whether p decides nothing.
func Empty(p api.WriteTasksPayload) bool {
	return len(p.Create) == 0 && len(p.Assign) == 0 && len(p.Desire) == 0 && len(p.Delete) == 0 && len(p.Orphan) == 0 && len(p.Services) == 0
}
