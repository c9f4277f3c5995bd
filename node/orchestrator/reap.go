package orchestrator

import (
	"slices"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// DefaultHistoryLimit is how many finished tasks Reap keeps per slot.
const DefaultHistoryLimit = 5

// Reap bounds the task history and returns the tasks to delete. Only
// finished tasks are ever deleted: their observed state is terminal, or
// they were stopped before they ever reached a node.
//
// Per slot (per node for a global service) the newest historyLimit
// finished tasks stay (a limit below 1 means DefaultHistoryLimit), so a
// slot's last task, which Orchestrate reads, is never deleted; when the
// service's restart policy has MaxAttempts, the finished tasks of the
// current spec that ended within its Window also stay, so that Restart
// still sees every attempt it counts. Finished tasks of services that no
// longer exist, and of global services on nodes that no longer exist, are
// all deleted. A removed service's task on a node that is down is deleted
// once HandleNodeFailures has orphaned it.
func Reap(v *state.View, historyLimit int) api.WriteTasksPayload {
	return ReapScope(v, historyLimit, Everything)
}

// ReapScope is Reap over the tasks of the services sc covers (see
// scopeServiceIDs): whole slots, since a slot's tasks share its service.
func ReapScope(v *state.View, historyLimit int, sc Scope) api.WriteTasksPayload {
	if historyLimit < 1 {
		historyLimit = DefaultHistoryLimit
	}
	type key struct {
		service string
		slot    uint64
		node    string
	}
	var out api.WriteTasksPayload
	var keys []key
	groups := map[key][]*api.Task{}
	ended := map[key]bool{} // slots with a finished task: the only ones to look at
	services := map[string]*api.Service{}
	service := func(id string) (*api.Service, bool) {
		svc, seen := services[id]
		if !seen {
			svc, _ = v.Service(id)
			services[id] = svc
		}
		return svc, svc != nil
	}
	for _, t := range scopeTasks(v, sc) {
		svc, ok := service(t.ServiceID)
		if !ok || (svc.Spec.Mode == api.ModeGlobal && t.Slot == 0 && !nodeExists(v, t.NodeID)) {
			if finished(t) {
				out.Delete = append(out.Delete, t.ID)
			}
			continue
		}
		k := key{service: t.ServiceID, slot: t.Slot}
		if t.Slot == 0 {
			k.node = t.NodeID
		}
		if _, seen := groups[k]; !seen {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], t)
		if finished(t) {
			ended[k] = true
		}
	}
	checks := map[string]*specCheck{}
	for _, k := range keys {
		if !ended[k] || len(groups[k]) < 2 {
			continue // the last task of a slot stays; only finished ones go
		}
		svc, _ := service(k.service)
		if checks[k.service] == nil {
			checks[k.service] = newSpecCheck(svc)
		}
		out.Delete = append(out.Delete, reapSlot(groups[k], historyLimit, svc.Spec.Restart, checks[k.service])...)
	}
	return out
}

// reapSlot returns the finished tasks of one slot to delete.
func reapSlot(hist []*api.Task, limit int, p api.RestartPolicy, chk *specCheck) []string {
	sortHistory(hist)
	keep := map[*api.Task]bool{}
	if p.MaxAttempts > 0 {
		gen := chk.generation(hist)
		var lastEnd time.Time
		for _, t := range gen {
			if finished(t) && endTime(t, time.Time{}).After(lastEnd) {
				lastEnd = endTime(t, time.Time{})
			}
		}
		for _, t := range gen {
			if finished(t) && (p.Window <= 0 || !endTime(t, time.Time{}).Before(lastEnd.Add(-p.Window.Std()))) {
				keep[t] = true
			}
		}
	}
	var del []string
	kept := 0
	for _, t := range slices.Backward(hist) {
		switch {
		case !finished(t):
		case kept < limit:
			kept++
		case !keep[t]:
			del = append(del, t.ID)
		}
	}
	slices.Reverse(del)
	return del
}

func nodeExists(v *state.View, id string) bool {
	_, ok := v.Node(id)
	return ok
}
