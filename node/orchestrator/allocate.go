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
	return allocate(v, nil, opts)
}

// Place completes an orchestrator result p with the scheduler's decisions
// in the same step: p's new tasks go out already placed (NodeID set,
// status assigned) or pending with the reason, and the view's pending
// tasks get their assignments in p.Assign, as Allocate gives them. One
// step decides every placement, so no two decisions race for a node's
// room, and a new task costs one write instead of a create and an
// assignment. The new tasks are placed before the view's pending ones
// (they are newer only by the orchestrator's pass).
func Place(v *state.View, p api.WriteTasksPayload, opts scheduler.Options) api.WriteTasksPayload {
	if len(p.Create) == 0 {
		if v.HasUnplacedTasks() {
			p.Assign = append(p.Assign, allocate(v, nil, opts).Assign...)
		}
		return p
	}
	p.Create = slices.Clone(p.Create)
	fresh := map[string]*api.Task{}
	for i := range p.Create {
		fresh[p.Create[i].ID] = &p.Create[i]
	}
	a := allocate(v, fresh, opts)
	for _, as := range a.Assign {
		t, ok := fresh[as.TaskID]
		switch {
		case !ok:
			p.Assign = append(p.Assign, as)
		case as.NodeID != "":
			t.NodeID, t.Status = as.NodeID, api.TaskStatus{State: api.TaskAssigned}
		default:
			t.Status = api.TaskStatus{State: api.TaskPending, Err: as.Err}
		}
	}
	return p
}

// allocate is Allocate over the view's tasks and fresh, new tasks that
// are not in the view yet.
func allocate(v *state.View, fresh map[string]*api.Task, opts scheduler.Options) api.WriteTasksPayload {
	var active, pending []*api.Task
	preset, pinned := map[string][]*api.Task{}, map[string][]*api.Task{}
	sortOut := func(t *api.Task) {
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
	for _, id := range slices.Sorted(maps.Keys(fresh)) {
		sortOut(fresh[id])
	}
	for _, t := range v.Tasks() {
		sortOut(t)
	}
	task := func(id string) *api.Task {
		if t, ok := fresh[id]; ok {
			return t
		}
		t, _ := v.Task(id)
		return t
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
	for _, id := range slices.Sorted(maps.Keys(preset)) {
		var nodes []*api.Node
		if n, ok := v.Node(id); ok {
			nodes = []*api.Node{n}
		}
		ts := preset[id]
		sortPending(ts)
		plan := scheduler.Schedule(nodes, byNode[id], ts, opts)
		book(task, plan, &active, byNode)
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
		book(task, plan, &active, byNode)
		out.Assign = append(out.Assign, plan.Assignments...)
		for _, a := range plan.Unplaced { // the pin cannot hold: place it as any task
			pending = append(pending, task(a.TaskID))
		}
	}
	// New tasks are all decided (they sort first: the FSM stamps their
	// creation time); pending ones up to the batch.
	limit := MaxAllocateBatch + len(fresh)
	sortPending(pending)
	if room := max(limit-len(out.Assign), 0); len(pending) > room {
		pending = pending[:room]
	}
	collect(&out, v, scheduler.Schedule(v.Nodes(), active, pending, opts))
	if len(out.Assign) > limit {
		out.Assign = out.Assign[:limit]
	}
	return out
}

// book adds the tasks a plan placed to active and byNode, so the rest of
// the batch sees them; task finds a task by ID.
func book(task func(string) *api.Task, plan scheduler.Plan, active *[]*api.Task, byNode map[string][]*api.Task) {
	for _, a := range plan.Assignments {
		c := *task(a.TaskID)
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
