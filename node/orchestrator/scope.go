package orchestrator

import (
	"slices"
	"sort"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// Scope is what a reconciler pass looks at: the services and nodes that
// changed since its last pass (state.Dirty), or everything. A scoped pass
// returns what a full pass would, provided the reconciler's earlier
// results were committed: services and nodes that did not change then
// need nothing. The leader still runs a full pass every few seconds, for
// decisions that change with time alone and as a safety net.
type Scope = state.Dirty

// Everything is the scope of a full pass.
var Everything = Scope{All: true}

// scopeServiceIDs lists, sorted, the services a scoped pass must look at:
// those that changed, those with tasks on a node that changed, and, when
// any node changed, every global service (its tasks follow the node set).
// IDs of services that no longer exist are included. With rolling, a
// service whose tasks only progressed is included too if it was ever
// updated: a rolling update waits for tasks to reach running, and a
// service at its first version has nothing to roll. With rolling, a
// service whose update is in progress is always included: its update
// also waits for time alone (delay, min healthy, monitor).
func scopeServiceIDs(v *state.View, sc Scope, rolling bool) []string {
	ids := map[string]bool{}
	for id := range sc.Services {
		ids[id] = true
	}
	if rolling {
		for id := range sc.Progress {
			if svc, ok := v.Service(id); ok && svc.Version > 1 {
				ids[id] = true
			}
		}
		for _, svc := range v.Services() {
			if svc.UpdateStatus.Active() {
				ids[svc.ID] = true
			}
		}
	}
	if len(sc.Nodes) > 0 {
		for _, s := range v.Services() {
			if s.Spec.Mode == api.ModeGlobal {
				ids[s.ID] = true
			}
		}
		for id := range sc.Nodes {
			for _, t := range v.TasksByNode(id) {
				if t.ServiceID != "" {
					ids[t.ServiceID] = true
				}
			}
		}
	}
	out := make([]string, 0, len(ids))
	for id := range ids {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// scopeTasks returns the tasks of the scope's services (see
// scopeServiceIDs; progress alone does not count), sorted by ID as
// View.Tasks lists them.
func scopeTasks(v *state.View, sc Scope) []*api.Task {
	if sc.All {
		return v.Tasks()
	}
	var out []*api.Task
	for _, id := range scopeServiceIDs(v, sc, false) {
		out = append(out, v.TasksByService(id)...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// sortedKeys returns a set's members in order.
func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
