package scheduler

import (
	"github.com/shoal-project/shoal/api"
)

// Strategy is how the scheduler ranks the nodes that can take a task.
type Strategy int

const (
	// Spread (the default) puts a task where its service has the fewest
	// tasks (after placement preferences), then on the least loaded node.
	Spread Strategy = iota
	// BinPack puts a task on the fullest node that still fits it.
	BinPack
)

// String returns "spread" or "binpack".
func (s Strategy) String() string {
	switch s {
	case Spread:
		return "spread"
	case BinPack:
		return "binpack"
	}
	return "strategy(" + itoa(int64(s)) + ")"
}

// ParseStrategy reads "spread" (or "") or "binpack".
func ParseStrategy(name string) (Strategy, error) {
	switch name {
	case "", "spread":
		return Spread, nil
	case "binpack":
		return BinPack, nil
	}
	return 0, api.Errorf(api.CodeInvalid, "unknown scheduling strategy %q (want spread or binpack)", name)
}

// Options tune Schedule.
type Options struct {
	// Strategy ranks feasible nodes; the zero value is Spread.
	Strategy Strategy
}

// Plan is the outcome of one Schedule call.
type Plan struct {
	// Assignments place tasks: NodeID is set.
	Assignments []api.TaskAssignment
	// Unplaced are tasks no node can take: NodeID is empty and Err
	// explains why, e.g. "no suitable node: 3 down, 2 with too little memory".
	Unplaced []api.TaskAssignment
}

// Schedule places pending tasks (of any services) on nodes.
//
// active is every task that holds resources (assigned to running, desired
// state at most running); per-node reservations, used host ports and
// per-service counts are derived from it. The view is updated as tasks are
// placed, so one batch never over-commits a node.
//
// A node must be ready, active, offer the task's runtime, have room for its
// reservations (a capacity of zero is unknown and unlimited), satisfy its
// constraints, have its host ports free and hold fewer than MaxPerNode
// tasks of its service. Among those nodes, placement preferences come
// first, as in Swarm: the group of nodes sharing a label value with the
// fewest tasks of the service wins (nodes without the label form a group of
// their own). Within it, Spread prefers the node with the fewest tasks of
// the service, then the fewest tasks in all, then the most free memory;
// BinPack prefers the least free memory, then the least free CPU, then the
// most tasks. Remaining ties go to the lowest node ID, so the same input
// always gives the same plan.
//
// Tasks are placed grouped by service, in order of first appearance in
// pending. Nil tasks, nil nodes and repeated IDs are ignored.
func Schedule(nodes []*api.Node, active []*api.Task, pending []*api.Task, opts Options) Plan {
	return schedule(nodes, active, pending, opts, searchAuto)
}

// schedule is Schedule with the candidate search picked by mode; every
// mode gives the same plan.
func schedule(nodes []*api.Node, active []*api.Task, pending []*api.Task, opts Options, mode searchMode) Plan {
	s := newState(nodes, active)
	s.binpack, s.mode = opts.Strategy == BinPack, mode
	var plan Plan
	plan.Assignments = make([]api.TaskAssignment, 0, len(pending))
	for _, g := range groupTasks(pending) {
		s.place(g, s.binpack, &plan)
	}
	return plan
}

// place assigns the tasks of one group.
func (s *state) place(g *group, binpack bool, plan *Plan) {
	if g.err != "" {
		for _, t := range g.tasks {
			plan.Unplaced = append(plan.Unplaced, api.TaskAssignment{TaskID: t.ID, Err: g.err})
		}
		return
	}
	g.svcNodes = s.svcNodes(g.serviceID)
	for i, c := range g.svcNodes {
		s.svcCount[i] = c
	}
	p := s.newPlacer(g, binpack)
	why := ""
	for _, t := range g.tasks {
		i := p.next()
		if i < 0 {
			if why == "" {
				why = s.explain(g)
			}
			plan.Unplaced = append(plan.Unplaced, api.TaskAssignment{TaskID: t.ID, Err: why})
			continue
		}
		plan.Assignments = append(plan.Assignments, api.TaskAssignment{TaskID: t.ID, NodeID: s.nodes[i].ID})
	}
	for i := range g.svcNodes {
		s.svcCount[i] = 0
	}
}
