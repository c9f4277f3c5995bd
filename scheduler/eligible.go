package scheduler

import "github.com/shoal-project/shoal/api"

// Eligible returns the nodes that pass Schedule's static filters for tasks
// of service serviceID with spec: ready, active, offering the runtime,
// speaking the protocol the spec needs and satisfying its constraints. It
// leaves out what changes as tasks come and go (room for reservations,
// host ports, MaxPerNode); Fits asks those of one node.
func Eligible(nodes []*api.Node, serviceID string, spec *api.ServiceSpec) []*api.Node {
	g := newGroup(&api.Task{ServiceID: serviceID, Spec: *spec})
	if g.err != "" {
		return nil
	}
	var out []*api.Node
	for _, n := range nodes {
		if n != nil && staticOK(g, n) {
			out = append(out, n)
		}
	}
	return out
}

// Fits reports whether Schedule would place task t on node n now, given
// active, the tasks that hold resources on n: every filter Schedule
// applies, static and dynamic.
func Fits(n *api.Node, active []*api.Task, t *api.Task) bool {
	plan := Schedule([]*api.Node{n}, active, []*api.Task{t}, Options{})
	return len(plan.Assignments) == 1
}
