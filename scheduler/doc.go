// Package scheduler decides where tasks run. It is pure: no I/O, no
// goroutines, no clock. The leader hands it the nodes, the tasks that hold
// resources and the tasks waiting for a node, and gets back a Plan.
//
// Placement follows SwarmKit's filter chain (ready, active, runtime,
// resources, constraints, host ports, max per node) and ranks the nodes that
// pass with a spread or bin-pack score. Static feasibility is computed once
// per runtime and constraint signature, every schedulable node is kept in a
// heap by its service-independent score, and a service's candidates are
// found by walking that heap best first (falling back to one pass over the
// eligible nodes when the walk would be long), so a batch typically costs
// about O(signatures × nodes + tasks × log nodes), and at worst
// O(services × nodes + tasks × log nodes), rather than O(tasks × nodes).
package scheduler
