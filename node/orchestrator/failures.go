package orchestrator

import (
	"fmt"
	"sort"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// HandleNodeFailures reacts to node state. Every task that is not yet
// terminal on a node that is down is orphaned with the reason
// "node <name> is down" (or "node <id> was removed" when the node record is
// gone): the node cannot report, so the leader ends the task itself.
// Every live task on a draining node is stopped, with the node's drain
// deadline (if any) as the task's stop deadline, so the node kills what
// still runs once it passes — except a running task of a replicated
// service while moves are allowed (movesAllowed): Rebalance moves those
// start-first. Either way the slot is
// freed and Orchestrate replaces the task, on another node, without
// counting it against the restart policy: a node failure is not a task
// failure.
func HandleNodeFailures(v *state.View) api.WriteTasksPayload {
	return HandleNodeFailuresScope(v, Everything)
}

// HandleNodeFailuresScope is HandleNodeFailures over the nodes sc covers.
// A task's change marks its node, so a task placed on a node that is down
// or draining is covered too.
func HandleNodeFailuresScope(v *state.View, sc Scope) api.WriteTasksPayload {
	var out api.WriteTasksPayload
	nodes := v.Nodes()
	if !sc.All {
		nodes = nodes[:0:0]
		for _, id := range sortedKeys(sc.Nodes) {
			if n, ok := v.Node(id); ok {
				nodes = append(nodes, n)
			}
		}
	}
	for _, n := range nodes {
		switch {
		case n.Status == api.NodeDown:
			for _, t := range v.TasksByNode(n.ID) {
				if !t.Status.State.Terminal() {
					out.Orphan = append(out.Orphan, api.TaskOrphan{TaskID: t.ID, Reason: fmt.Sprintf("node %s is down", n.Name)})
				}
			}
		case n.Availability == api.AvailabilityDrain:
			moves := movesAllowed(v)
			for _, t := range v.TasksByNode(n.ID) {
				if t.Active() && !(moves && movable(v, t)) {
					out.Desire = append(out.Desire, api.TaskDesire{TaskID: t.ID, DesiredState: api.TaskShutdown, StopDeadline: n.DrainDeadline})
				}
			}
		}
	}
	var placed []*api.Task
	if sc.All {
		placed = v.Tasks()
	} else {
		for _, id := range sortedKeys(sc.Nodes) {
			if _, ok := v.Node(id); !ok {
				placed = append(placed, v.TasksByNode(id)...)
			}
		}
		sort.Slice(placed, func(i, j int) bool { return placed[i].ID < placed[j].ID })
	}
	for _, t := range placed {
		if t.NodeID == "" || t.Status.State.Terminal() {
			continue
		}
		if _, ok := v.Node(t.NodeID); !ok {
			out.Orphan = append(out.Orphan, api.TaskOrphan{TaskID: t.ID, Reason: fmt.Sprintf("node %s was removed", api.ShortID(t.NodeID))})
		}
	}
	return out
}
