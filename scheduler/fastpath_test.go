package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// manyServicesCluster builds a random cluster with many small services, so
// that groups take the walk of the order as well as the linear scan: nodes
// of mixed, sometimes unknown or nearly used-up capacity, optional labels,
// down, paused and drained nodes, running tasks, and services with
// constraints, one or two preferences, ports, caps and several specs.
func manyServicesCluster(rng *rand.Rand) ([]*api.Node, []*api.Task, []*api.Task) {
	zones := []string{"a", "b", "c", "d"}
	var nodes []*api.Node
	for i := range 20 + rng.IntN(200) {
		labels := map[string]string{}
		if rng.IntN(8) > 0 {
			labels["zone"] = zones[rng.IntN(len(zones))]
		}
		if rng.IntN(3) > 0 {
			labels["rack"] = fmt.Sprintf("r%d", rng.IntN(6))
		}
		if rng.IntN(5) == 0 {
			labels["gpu"] = "true"
		}
		n := node(fmt.Sprintf("n%04d", rng.IntN(100)*1000+i), labels, int64(rng.IntN(4))*1e9, int64(rng.IntN(4))*gib)
		switch rng.IntN(16) {
		case 0:
			n.Status = api.NodeDown
		case 1:
			n.Availability = api.AvailabilityPause
		case 2:
			n.Availability = api.AvailabilityDrain
		case 3:
			n.Runtimes = append(n.Runtimes, "containerd")
		}
		nodes = append(nodes, n)
	}
	spec := func() api.ServiceSpec {
		sp := api.ServiceSpec{Runtime: "process",
			Reservations: api.Resources{NanoCPUs: int64(rng.IntN(4)) * 25e7, MemoryBytes: int64(rng.IntN(4)) * gib / 8}}
		switch rng.IntN(8) {
		case 0:
			sp.Constraints = mustCons("node.labels.zone==" + zones[rng.IntN(len(zones))])
		case 1:
			sp.Constraints = mustCons("node.labels.zone!=a", "node.labels.rack!=r1")
		case 2:
			sp.Constraints = mustCons("node.labels.gpu==true")
		case 3:
			sp.Constraints = mustCons("node.id==" + nodes[rng.IntN(len(nodes))].ID)
		case 4:
			sp.Runtime = "containerd"
		}
		switch rng.IntN(5) {
		case 0:
			sp.Preferences = []api.PlacementPreference{{Spread: "node.labels.zone"}}
		case 1:
			sp.Preferences = []api.PlacementPreference{{Spread: "node.labels.zone"}, {Spread: "node.labels.rack"}}
		case 2:
			sp.Preferences = []api.PlacementPreference{{Spread: "node.labels.rack"}}
		}
		if rng.IntN(5) == 0 {
			sp.Ports = []api.PortSpec{{Port: uint16(80 + rng.IntN(3))}}
		}
		if rng.IntN(4) == 0 {
			sp.MaxPerNode = uint64(1 + rng.IntN(2))
		}
		return sp
	}
	var active, pending []*api.Task
	for s := range 5 + rng.IntN(150) {
		sid := fmt.Sprintf("s%03d", s)
		sp := spec()
		for j := range rng.IntN(6) {
			active = append(active, running(fmt.Sprintf("%s.old%d", sid, j), sid, nodes[rng.IntN(len(nodes))].ID, sp))
		}
		n := 1 + rng.IntN(3)
		if rng.IntN(10) == 0 {
			n = 1 + rng.IntN(40)
		}
		ts := tasks(sid, n, sp)
		if rng.IntN(10) == 0 {
			// A second spec for some of the service's tasks.
			sp2 := spec()
			for _, t := range ts[:len(ts)/2] {
				t.Spec = sp2
			}
		}
		pending = append(pending, ts...)
	}
	rng.Shuffle(len(pending), func(i, j int) { pending[i], pending[j] = pending[j], pending[i] })
	return nodes, active, pending
}

// TestWalkMatchesScan checks that walking the node order gives exactly the
// plans of scoring every eligible node, whether the walk is forced, gives
// up early or is chosen automatically.
func TestWalkMatchesScan(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		nodes, active, pending := manyServicesCluster(rng)
		for _, strat := range []Strategy{Spread, BinPack} {
			opts := Options{Strategy: strat}
			want := schedule(nodes, active, pending, opts, searchLinear)
			for _, mode := range []searchMode{searchWalk, searchGiveUp, searchAuto} {
				got := schedule(nodes, active, pending, opts, mode)
				if !slices.Equal(got.Assignments, want.Assignments) || !slices.Equal(got.Unplaced, want.Unplaced) {
					t.Fatalf("seed %d %v mode %d: plan differs from the linear scan\n got %v\nwant %v", seed, strat, mode, got, want)
				}
			}
		}
	}
}

// TestWalkMatchesScanWorkload compares the two searches on the benchmark
// workload, scaled down.
func TestWalkMatchesScanWorkload(t *testing.T) {
	for _, c := range []struct{ nodes, svcs, replicas int }{{1000, 1000, 1}, {500, 50, 20}, {300, 600, 2}} {
		nodes, pending := workload(c.nodes, c.svcs, c.replicas)
		for _, strat := range []Strategy{Spread, BinPack} {
			opts := Options{Strategy: strat}
			want := schedule(nodes, nil, pending, opts, searchLinear)
			got := schedule(nodes, nil, pending, opts, searchAuto)
			if !slices.Equal(got.Assignments, want.Assignments) || !slices.Equal(got.Unplaced, want.Unplaced) {
				t.Fatalf("%+v %v: plan differs from the linear scan", c, strat)
			}
		}
	}
}
