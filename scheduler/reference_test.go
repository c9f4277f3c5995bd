package scheduler

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// referenceSchedule is the obvious O(tasks × nodes) scheduler, written
// independently of the heaps, the candidate bound and the caches: for every
// task it scores every node. Services must have one spec each.
func referenceSchedule(nodes []*api.Node, active, pending []*api.Task, strat Strategy) Plan {
	ns := slices.Clone(nodes)
	slices.SortFunc(ns, func(a, b *api.Node) int { return strings.Compare(a.ID, b.ID) })
	cpu, mem, load := map[string]int64{}, map[string]int64{}, map[string]int64{}
	ports := map[string]map[string]bool{}
	svc := map[string]map[string]int64{} // service → node → tasks
	book := func(nodeID string, t *api.Task) {
		cpu[nodeID] += t.Spec.Reservations.NanoCPUs
		mem[nodeID] += t.Spec.Reservations.MemoryBytes
		load[nodeID]++
		if ports[nodeID] == nil {
			ports[nodeID] = map[string]bool{}
		}
		for _, p := range normPorts(t.Spec.Ports) {
			ports[nodeID][p.String()] = true
		}
		if svc[t.ServiceID] == nil {
			svc[t.ServiceID] = map[string]int64{}
		}
		svc[t.ServiceID][nodeID]++
	}
	for _, t := range active {
		book(t.NodeID, t)
	}
	freeOf := func(capacity, used int64) int64 {
		if capacity == 0 {
			return math.MaxInt64
		}
		return capacity - used
	}
	// groupOf names a node's preference group at depth l.
	groupOf := func(n *api.Node, prefs []string, l int) string {
		var b strings.Builder
		for _, k := range prefs[:l] {
			if v, ok := n.Labels[k]; ok {
				b.WriteString("=" + v + "\x00")
			} else {
				b.WriteString("!\x00")
			}
		}
		return b.String()
	}
	var order []string
	byService := map[string][]*api.Task{}
	for _, t := range pending {
		if byService[t.ServiceID] == nil {
			order = append(order, t.ServiceID)
		}
		byService[t.ServiceID] = append(byService[t.ServiceID], t)
	}
	var plan Plan
	for _, sid := range order {
		for _, t := range byService[sid] {
			sp := &t.Spec
			cons := sp.Constraints
			var prefs []string
			for _, p := range sp.Preferences {
				k, _ := ParsePreference(p.Spread)
				prefs = append(prefs, k)
			}
			var best *api.Node
			var bestKey []int64
			for _, n := range ns {
				id := n.ID
				ok := n.Status == api.NodeReady && n.Availability == api.AvailabilityActive && n.HasRuntime(sp.Runtime) &&
					(sp.Reservations.MemoryBytes == 0 || freeOf(n.Resources.MemoryBytes, mem[id]) >= sp.Reservations.MemoryBytes) &&
					(sp.Reservations.NanoCPUs == 0 || freeOf(n.Resources.NanoCPUs, cpu[id]) >= sp.Reservations.NanoCPUs) &&
					(sp.MaxPerNode == 0 || svc[sid][id] < int64(sp.MaxPerNode))
				for _, c := range cons {
					ok = ok && MatchConstraint(c, n)
				}
				for _, p := range normPorts(sp.Ports) {
					ok = ok && !ports[id][p.String()]
				}
				if !ok {
					continue
				}
				var key []int64
				for l := 1; l <= len(prefs); l++ {
					g, sum := groupOf(n, prefs, l), int64(0)
					for _, m := range ns {
						if groupOf(m, prefs, l) == g {
							sum += svc[sid][m.ID]
						}
					}
					key = append(key, sum)
				}
				fm := freeOf(n.Resources.MemoryBytes, mem[id])
				if strat == BinPack {
					key = append(key, fm, freeOf(n.Resources.NanoCPUs, cpu[id]), -load[id])
				} else {
					key = append(key, svc[sid][id], load[id], -fm)
				}
				if best == nil || slices.Compare(key, bestKey) < 0 {
					best, bestKey = n, key
				}
			}
			if best == nil {
				plan.Unplaced = append(plan.Unplaced, api.TaskAssignment{TaskID: t.ID})
				continue
			}
			book(best.ID, t)
			plan.Assignments = append(plan.Assignments, api.TaskAssignment{TaskID: t.ID, NodeID: best.ID})
		}
	}
	return plan
}

// randomCluster builds a small random cluster, running tasks and a batch.
func randomCluster(rng *rand.Rand) ([]*api.Node, []*api.Task, []*api.Task) {
	var nodes []*api.Node
	for i := range 5 + rng.IntN(30) {
		labels := map[string]string{}
		if rng.IntN(6) > 0 {
			labels["zone"] = []string{"a", "b", "c"}[rng.IntN(3)]
		}
		if rng.IntN(4) > 0 {
			labels["rack"] = fmt.Sprintf("r%d", rng.IntN(4))
		}
		n := node(fmt.Sprintf("n%03d", rng.IntN(1000)*100+i), labels, int64(rng.IntN(5))*1e9, int64(rng.IntN(5))*gib)
		switch rng.IntN(12) {
		case 0:
			n.Status = api.NodeDown
		case 1:
			n.Availability = api.AvailabilityPause
		case 2:
			n.Runtimes = []string{"containerd"}
		}
		nodes = append(nodes, n)
	}
	spec := func() api.ServiceSpec {
		sp := api.ServiceSpec{Runtime: "process",
			Reservations: api.Resources{NanoCPUs: int64(rng.IntN(3)) * 25e7, MemoryBytes: int64(rng.IntN(3)) * gib / 4}}
		if rng.IntN(4) == 0 {
			sp.Constraints = mustCons("node.labels.zone!=" + []string{"a", "b", "c"}[rng.IntN(3)])
		}
		switch rng.IntN(4) {
		case 0:
			sp.Preferences = []api.PlacementPreference{{Spread: "node.labels.zone"}}
		case 1:
			sp.Preferences = []api.PlacementPreference{{Spread: "node.labels.zone"}, {Spread: "node.labels.rack"}}
		}
		if rng.IntN(5) == 0 {
			sp.Ports = []api.PortSpec{{Port: uint16(80 + rng.IntN(2))}}
		}
		if rng.IntN(4) == 0 {
			sp.MaxPerNode = uint64(1 + rng.IntN(3))
		}
		return sp
	}
	var active, pending []*api.Task
	for s := range 3 + rng.IntN(12) {
		sid := fmt.Sprintf("s%02d", s)
		sp := spec()
		for j := range rng.IntN(4) {
			active = append(active, running(fmt.Sprintf("%s.old%d", sid, j), sid, nodes[rng.IntN(len(nodes))].ID, sp))
		}
		pending = append(pending, tasks(sid, 1+rng.IntN(15), sp)...)
	}
	rng.Shuffle(len(pending), func(i, j int) { pending[i], pending[j] = pending[j], pending[i] })
	return nodes, active, pending
}

func TestMatchesReference(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 42))
		nodes, active, pending := randomCluster(rng)
		for _, strat := range []Strategy{Spread, BinPack} {
			got := Schedule(nodes, active, pending, Options{Strategy: strat})
			want := referenceSchedule(nodes, active, pending, strat)
			for i := range got.Unplaced {
				if got.Unplaced[i].Err == "" {
					t.Fatalf("seed %d: unplaced without a reason", seed)
				}
				got.Unplaced[i].Err = ""
			}
			if !slices.Equal(got.Assignments, want.Assignments) || !slices.Equal(got.Unplaced, want.Unplaced) {
				t.Fatalf("seed %d %v: plan differs from the reference\n got %v\nwant %v", seed, strat, got, want)
			}
		}
	}
}
