package orchestrator

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/scheduler"
	"github.com/shoal-project/shoal/state"
)

// MaxAllocateBatch caps the assignments one Allocate call returns; the
// rest follow in the next calls. Only that many pending tasks are
// scheduled in a call, oldest first.
const MaxAllocateBatch = 5000

// Allocate runs the scheduler over the current state. Pending tasks are
// the live tasks of existing services that are new or pending; a task with
// a preset NodeID (a global task) may only go to that node, and these are
// placed first. A task with a PreferredNode (a rebalance move) goes there
// next if that node can take it (every filter of the scheduler), and is
// otherwise placed as any pending task. Active tasks (assigned to running, desired at most running)
// hold resources. It returns an assignment for every placed task and, for
// a task no node can take, an assignment with Err set to the explanation,
// but only when that differs from the task's current Status.Err. Pending
// tasks are tried oldest first, and at most MaxAllocateBatch entries are
// returned.
func Allocate(v *state.View, opts scheduler.Options) api.WriteTasksPayload {
	if !v.HasUnplacedTasks() {
		return api.WriteTasksPayload{}
	}
	var active, pending []*api.Task
	preset, pinned := map[string][]*api.Task{}, map[string][]*api.Task{}
	for _, t := range v.Tasks() {
		switch {
		case !t.Active():
		case t.Status.State >= api.TaskAssigned:
			if t.NodeID != "" {
				active = append(active, t)
			}
		case !serviceExists(v, t.ServiceID):
		case t.NodeID != "":
			preset[t.NodeID] = append(preset[t.NodeID], t)
		case t.PreferredNode != "":
			pinned[t.PreferredNode] = append(pinned[t.PreferredNode], t)
		default:
			pending = append(pending, t)
		}
	}
	var out api.WriteTasksPayload
	var noImage []api.TaskAssignment
	pending, noImage = withoutImage(v, pending)
	out.Assign = append(out.Assign, noImage...)
	for _, id := range slices.Sorted(maps.Keys(preset)) {
		preset[id], noImage = withoutImage(v, preset[id])
		out.Assign = append(out.Assign, noImage...)
	}
	byNode := map[string][]*api.Task{}
	for _, t := range active {
		byNode[t.NodeID] = append(byNode[t.NodeID], t)
	}
	nodeIDs := make([]string, 0, len(preset))
	for id := range preset {
		nodeIDs = append(nodeIDs, id)
	}
	slices.Sort(nodeIDs)
	for _, id := range nodeIDs {
		var nodes []*api.Node
		if n, ok := v.Node(id); ok {
			nodes = []*api.Node{n}
		}
		ts := preset[id]
		sortPending(ts)
		plan := scheduler.Schedule(nodes, byNode[id], ts, opts)
		book(v, plan, &active, byNode)
		collect(&out, v, plan)
	}
	for _, id := range slices.Sorted(maps.Keys(pinned)) {
		ts := pinned[id]
		n, ok := v.Node(id)
		if !ok {
			pending = append(pending, ts...)
			continue
		}
		sortPending(ts)
		plan := scheduler.Schedule([]*api.Node{n}, byNode[id], ts, opts)
		book(v, plan, &active, byNode)
		out.Assign = append(out.Assign, plan.Assignments...)
		for _, a := range plan.Unplaced { // the pin cannot hold: place it as any task
			t, _ := v.Task(a.TaskID)
			pending = append(pending, t)
		}
	}
	sortPending(pending)
	if room := max(MaxAllocateBatch-len(out.Assign), 0); len(pending) > room {
		pending = pending[:room]
	}
	collect(&out, v, scheduler.Schedule(v.Nodes(), active, pending, opts))
	if len(out.Assign) > MaxAllocateBatch {
		out.Assign = out.Assign[:MaxAllocateBatch]
	}
	return out
}

// book adds the tasks a plan placed to active and byNode, so the rest of
// the batch sees them.
func book(v *state.View, plan scheduler.Plan, active *[]*api.Task, byNode map[string][]*api.Task) {
	for _, a := range plan.Assignments {
		t, _ := v.Task(a.TaskID)
		c := *t
		c.Status.State = api.TaskAssigned
		c.NodeID = a.NodeID
		*active = append(*active, &c)
		byNode[a.NodeID] = append(byNode[a.NodeID], &c)
	}
}

// collect adds a plan's assignments, and its failures whose explanation
// changed, to out.
func collect(out *api.WriteTasksPayload, v *state.View, plan scheduler.Plan) {
	out.Assign = append(out.Assign, plan.Assignments...)
	for _, a := range plan.Unplaced {
		if t, ok := v.Task(a.TaskID); ok && t.Status.State == api.TaskPending && t.Status.Err == a.Err {
			continue
		}
		out.Assign = append(out.Assign, a)
	}
}

// sortPending orders tasks oldest first, then by service, slot and ID.
func sortPending(ts []*api.Task) {
	slices.SortFunc(ts, func(a, b *api.Task) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		if c := strings.Compare(a.ServiceID, b.ServiceID); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Slot, b.Slot); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

func serviceExists(v *state.View, id string) bool {
	_, ok := v.Service(id)
	return ok
}
