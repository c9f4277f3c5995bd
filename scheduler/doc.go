// Package scheduler decides where tasks run. It is pure: no I/O, no
// goroutines, no clock. The leader hands it the nodes, the tasks that hold
// resources and the tasks waiting for a node, and gets back a Plan.
//
// Placement follows SwarmKit's filter chain (ready, active, runtime,
// resources, constraints, host ports, max per node) and ranks the nodes that
// pass with a spread or bin-pack score. Feasibility is computed once per
// service spec and nodes are kept in heaps keyed by score, so a batch costs
// about O(services × nodes + tasks × log nodes) rather than O(tasks × nodes).
package scheduler
