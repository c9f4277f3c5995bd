package scheduler

import (
	"strings"

	"github.com/shoal-project/shoal/api"
)

// explain says why no node can take a task of g, counting each node under
// the first filter of the chain that excludes it.
func (s *state) explain(g *group) string {
	if len(s.nodes) == 0 {
		return "no suitable node: no nodes"
	}
	var down, inactive, noRuntime, older, mem, cpu, atMax int64
	byCons := make([]int64, len(g.cons))
	byPort := make([]int64, len(g.ports))
	for idx, n := range s.nodes {
		i := int32(idx)
		switch {
		case n.Status != api.NodeReady:
			down++
		case availability(n) != api.AvailabilityActive:
			inactive++
		case g.runtime != "" && !n.HasRuntime(g.runtime):
			noRuntime++
		case olderThan(n, g):
			older++
		case !s.fitsMem(g, i):
			mem++
		case !s.fitsCPU(g, i):
			cpu++
		default:
			if j := firstFailing(g.cons, n); j >= 0 {
				byCons[j]++
			} else if j := s.portInUse(g, i); j >= 0 {
				byPort[j]++
			} else if s.atMax(g, i) {
				atMax++
			}
		}
	}
	var parts []string
	add := func(n int64, what string) {
		if n > 0 {
			parts = append(parts, itoa(n)+" "+what)
		}
	}
	add(down, "down")
	add(inactive, "not active (paused or draining)")
	add(noRuntime, "without runtime "+g.runtime)
	add(older, "of a build older than protocol "+itoa(int64(g.protocolOf()))+" (upgrade them)")
	add(mem, "with too little memory")
	add(cpu, "with too little cpu")
	for j, c := range g.cons {
		add(byCons[j], "excluded by constraint "+c.String())
	}
	for j, p := range g.ports {
		add(byPort[j], "with port "+p.String()+" in use")
	}
	unit := " tasks per node"
	if g.maxPerNode == 1 {
		unit = " task per node"
	}
	add(atMax, "at max "+itoa(g.maxPerNode)+unit)
	if len(parts) == 0 {
		return "no suitable node"
	}
	return "no suitable node: " + strings.Join(parts, ", ")
}

// firstFailing returns the index of the first constraint n fails, or -1.
func firstFailing(cons []api.Constraint, n *api.Node) int {
	for j, c := range cons {
		if !MatchConstraint(c, n) {
			return j
		}
	}
	return -1
}
