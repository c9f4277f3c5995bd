package orchestrator

import (
	"slices"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/scheduler"
)

// global converges a global service: see Orchestrate.
func (o *svcRun) global(tasks []*api.Task) {
	cons := o.svc.Spec.Constraints
	byNode := map[string][]*api.Task{}
	for _, t := range tasks {
		if t.Slot != 0 || t.NodeID == "" { // left over from replicated mode
			if t.Active() {
				o.stop(t)
			}
			continue
		}
		byNode[t.NodeID] = append(byNode[t.NodeID], t)
	}
	ids := make([]string, 0, len(o.nodes)+len(byNode))
	for id := range o.nodes {
		ids = append(ids, id)
	}
	for id := range byNode {
		if o.nodes[id] == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var live []*slot
	for _, id := range ids {
		s := o.newSlot(0, id, byNode[id])
		n := o.nodes[id]
		if s.live != nil {
			if !o.keeps(n, cons) {
				o.stopSlot(s)
			} else if o.takes(n, cons) {
				live = append(live, s)
			}
			continue
		}
		if !o.takes(n, cons) {
			continue
		}
		if o.vacancy(s) != vacantHold {
			o.create(s, s.notBefore)
		}
	}
	o.roll(live)
}

// keeps reports whether node n may keep running a task of the service:
// it exists, is ready or restarting (its tasks keep their places through
// an agent restart), is not draining, and fits the runtime and
// constraints.
func (o *svcRun) keeps(n *api.Node, cons []api.Constraint) bool {
	if n == nil || (n.Status != api.NodeReady && n.Status != api.NodeRestarting) || n.Availability == api.AvailabilityDrain || !n.HasRuntime(o.svc.Spec.Runtime) {
		return false
	}
	for _, c := range cons {
		if !scheduler.MatchConstraint(c, n) {
			return false
		}
	}
	return true
}

// takes reports whether node n may get a new task of the service: it
// keeps one, is ready and is active (not paused).
func (o *svcRun) takes(n *api.Node, cons []api.Constraint) bool {
	return o.keeps(n, cons) && n.Status == api.NodeReady && (n.Availability == api.AvailabilityActive || n.Availability == "")
}
