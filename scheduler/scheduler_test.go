package scheduler

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestFilterExplanations(t *testing.T) {
	three := func() []*api.Node {
		return []*api.Node{node("n1", map[string]string{"zone": "a"}, 2e9, 4*gib),
			node("n2", map[string]string{"zone": "a"}, 2e9, 4*gib), node("n3", map[string]string{"zone": "b"}, 2e9, 4*gib)}
	}
	cases := []struct {
		name   string
		nodes  func() []*api.Node
		active []*api.Task
		spec   api.ServiceSpec
		n      int
		placed int
		want   string
	}{
		{name: "no nodes", nodes: func() []*api.Node { return nil }, n: 1, want: "no suitable node: no nodes"},
		{name: "down", nodes: func() []*api.Node {
			ns := three()
			for _, n := range ns {
				n.Status = api.NodeDown
			}
			ns[2].Status = ""
			return ns
		}, n: 1, want: "no suitable node: 3 down"},
		{name: "not active", nodes: func() []*api.Node {
			ns := three()
			ns[0].Availability, ns[1].Availability, ns[2].Status = api.AvailabilityPause, api.AvailabilityDrain, api.NodeDown
			return ns
		}, n: 1, want: "no suitable node: 1 down, 2 not active (paused or draining)"},
		{name: "runtime", nodes: three, spec: api.ServiceSpec{Runtime: "containerd"}, n: 1,
			want: "no suitable node: 3 without runtime containerd"},
		{name: "older build", nodes: func() []*api.Node {
			ns := three()
			ns[0].Protocol = api.ProtocolVersion
			return ns
		}, spec: api.ServiceSpec{Secrets: []string{"pw"}, MaxPerNode: 1}, n: 2, placed: 1,
			want: "no suitable node: 2 of a build older than protocol 5 (upgrade them), 1 at max 1 task per node"},
		{name: "memory", nodes: three, spec: api.ServiceSpec{Reservations: api.Resources{MemoryBytes: 3 * gib}}, n: 4, placed: 3,
			want: "no suitable node: 3 with too little memory"},
		{name: "cpu", nodes: three, spec: api.ServiceSpec{Reservations: api.Resources{NanoCPUs: 1e9}}, n: 7, placed: 6,
			want: "no suitable node: 3 with too little cpu"},
		{name: "memory before cpu", nodes: three, spec: api.ServiceSpec{Reservations: api.Resources{NanoCPUs: 3e9, MemoryBytes: 5 * gib}}, n: 1,
			want: "no suitable node: 3 with too little memory"},
		{name: "reserved by active tasks", nodes: three, active: []*api.Task{
			running("r1", "other", "n1", api.ServiceSpec{Reservations: api.Resources{MemoryBytes: 4 * gib}}),
			running("r2", "other", "n2", api.ServiceSpec{Reservations: api.Resources{NanoCPUs: 2e9}}),
		}, spec: api.ServiceSpec{Reservations: api.Resources{NanoCPUs: 1, MemoryBytes: 1}}, n: 2, placed: 1,
			want: "no suitable node: 1 with too little memory, 1 with too little cpu, 1 at max 1 task per node", // n3 took one
		},
		{name: "constraint", nodes: three, spec: api.ServiceSpec{Constraints: mustCons("node.labels.zone==b"), MaxPerNode: 2}, n: 3, placed: 2,
			want: "no suitable node: 2 excluded by constraint node.labels.zone==b, 1 at max 2 tasks per node"},
		{name: "first failing constraint", nodes: three, spec: api.ServiceSpec{Constraints: mustCons("node.name!=n1", "node.labels.zone==c")}, n: 1,
			want: "no suitable node: 1 excluded by constraint node.name!=n1, 2 excluded by constraint node.labels.zone==c"},
		{name: "resources before constraints", nodes: three, spec: api.ServiceSpec{Constraints: mustCons("node.labels.zone==b"),
			Reservations: api.Resources{MemoryBytes: 3 * gib}}, n: 2, placed: 1,
			want: "no suitable node: 1 with too little memory, 2 excluded by constraint node.labels.zone==b"},
		{name: "ports", nodes: three, active: []*api.Task{
			running("r1", "other", "n1", api.ServiceSpec{Ports: []api.PortSpec{{Port: 80}}}),
		}, spec: api.ServiceSpec{Ports: []api.PortSpec{{Port: 80, Protocol: "TCP"}, {Port: 53, Protocol: "udp"}}}, n: 3, placed: 2,
			want: "no suitable node: 3 with port tcp/80 in use"},
		{name: "udp port", nodes: three, spec: api.ServiceSpec{Ports: []api.PortSpec{{Port: 53, Protocol: "udp"}}}, n: 4, placed: 3,
			want: "no suitable node: 3 with port udp/53 in use"},
		{name: "max per node", nodes: three, spec: api.ServiceSpec{MaxPerNode: 2}, n: 7, placed: 6,
			want: "no suitable node: 3 at max 2 tasks per node"},
		{name: "invalid preference", nodes: three, spec: api.ServiceSpec{Preferences: []api.PlacementPreference{{Spread: "zone"}}}, n: 1,
			want: `invalid placement preference "zone": want spread=node.labels.<name>`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := c.spec
			if c.name == "reserved by active tasks" {
				spec.MaxPerNode = 1
			}
			nodes := c.nodes()
			pending := tasks("svc", c.n, spec)
			p := Schedule(nodes, c.active, pending, Options{})
			checkPlan(t, nodes, c.active, pending, p)
			if len(p.Assignments) != c.placed {
				t.Fatalf("placed %d, want %d: %+v", len(p.Assignments), c.placed, p)
			}
			for _, u := range p.Unplaced {
				if u.Err != c.want {
					t.Fatalf("explanation\n got %q\nwant %q", u.Err, c.want)
				}
			}
		})
	}
}

func TestSpreadEven(t *testing.T) {
	nodes := []*api.Node{node("n1", nil, 0, 0), node("n2", nil, 0, 0), node("n3", nil, 0, 0)}
	pending := tasks("web", 10, api.ServiceSpec{})
	p := Schedule(nodes, nil, pending, Options{})
	checkPlan(t, nodes, nil, pending, p)
	if got := perNode(p); !reflect.DeepEqual(got, map[string]int{"n1": 4, "n2": 3, "n3": 3}) {
		t.Fatalf("spread %v, want n1:4 n2:3 n3:3", got)
	}
}

func TestSpreadCountsServiceThenLoad(t *testing.T) {
	nodes := []*api.Node{node("n1", nil, 0, 0), node("n2", nil, 0, 0), node("n3", nil, 0, 0)}
	active := []*api.Task{
		running("a1", "web", "n1", api.ServiceSpec{}), running("a2", "web", "n1", api.ServiceSpec{}),
		running("b1", "db", "n2", api.ServiceSpec{}), running("b2", "db", "n2", api.ServiceSpec{}), running("b3", "db", "n2", api.ServiceSpec{}),
		running("c1", "db", "n3", api.ServiceSpec{}),
	}
	// web: n1 holds 2, n2 and n3 none; n3 is less loaded than n2, so it
	// goes first, then n2, then both sit at 1 vs n1's 2.
	pending := tasks("web", 3, api.ServiceSpec{})
	p := Schedule(nodes, active, pending, Options{})
	checkPlan(t, nodes, active, pending, p)
	got := []string{p.Assignments[0].NodeID, p.Assignments[1].NodeID, p.Assignments[2].NodeID}
	if !reflect.DeepEqual(got, []string{"n3", "n2", "n3"}) {
		t.Fatalf("placements %v, want [n3 n2 n3]", got)
	}
}

func TestSpreadPrefersFreeMemoryOnTies(t *testing.T) {
	nodes := []*api.Node{node("n1", nil, 4e9, 4*gib), node("n2", nil, 4e9, 8*gib), node("n3", nil, 4e9, 0)}
	pending := tasks("web", 3, api.ServiceSpec{Reservations: api.Resources{MemoryBytes: gib}})
	p := Schedule(nodes, nil, pending, Options{})
	got := []string{p.Assignments[0].NodeID, p.Assignments[1].NodeID, p.Assignments[2].NodeID}
	// n3's unknown memory counts as unlimited.
	if !reflect.DeepEqual(got, []string{"n3", "n2", "n1"}) {
		t.Fatalf("placements %v, want [n3 n2 n1]", got)
	}
}

func TestPlacementPreferenceZones(t *testing.T) {
	// Zone a has one node, zone b three, and n5 has no zone label: the
	// preference spreads over the three groups, not over the five nodes.
	nodes := []*api.Node{
		node("n1", map[string]string{"zone": "a"}, 0, 0),
		node("n2", map[string]string{"zone": "b"}, 0, 0), node("n3", map[string]string{"zone": "b"}, 0, 0),
		node("n4", map[string]string{"zone": "b"}, 0, 0), node("n5", nil, 0, 0),
	}
	spec := api.ServiceSpec{Preferences: []api.PlacementPreference{{Spread: "node.labels.zone"}}}
	pending := tasks("web", 9, spec)
	p := Schedule(nodes, nil, pending, Options{})
	checkPlan(t, nodes, nil, pending, p)
	got := perNode(p)
	if zb := got["n2"] + got["n3"] + got["n4"]; got["n1"] != 3 || zb != 3 || got["n5"] != 3 {
		t.Fatalf("per node %v: want 3 in zone a, 3 in zone b, 3 unlabelled", got)
	}
	if got["n2"] != 1 || got["n3"] != 1 || got["n4"] != 1 {
		t.Fatalf("zone b not spread over its nodes: %v", got)
	}

	// Existing tasks count: zone a already holds 4, so new ones go to b.
	active := []*api.Task{}
	for i := range 4 {
		active = append(active, running(fmt.Sprintf("old%d", i), "api", "n1", spec))
	}
	pending = tasks("api", 4, spec)
	nodes = nodes[:4]
	p = Schedule(nodes, active, pending, Options{})
	checkPlan(t, nodes, active, pending, p)
	if got := perNode(p); got["n1"] != 0 {
		t.Fatalf("zone a got more tasks: %v", got)
	}
}

func TestNestedPreferences(t *testing.T) {
	var nodes []*api.Node
	for i, zr := range [][2]string{{"a", "r1"}, {"a", "r1"}, {"a", "r2"}, {"b", "r3"}} {
		nodes = append(nodes, node(fmt.Sprintf("n%d", i+1), map[string]string{"zone": zr[0], "rack": zr[1]}, 0, 0))
	}
	spec := api.ServiceSpec{Preferences: []api.PlacementPreference{{Spread: "node.labels.zone"}, {Spread: "spread=node.labels.rack"}}}
	pending := tasks("web", 8, spec)
	p := Schedule(nodes, nil, pending, Options{})
	checkPlan(t, nodes, nil, pending, p)
	got := perNode(p)
	// 4 per zone; zone a splits 2 per rack, rack r1 over its two nodes.
	if !reflect.DeepEqual(got, map[string]int{"n1": 1, "n2": 1, "n3": 2, "n4": 4}) {
		t.Fatalf("per node %v", got)
	}
}

func TestBinPack(t *testing.T) {
	nodes := []*api.Node{node("n1", nil, 8e9, 8*gib), node("n2", nil, 8e9, 4*gib), node("n3", nil, 8e9, 8*gib)}
	active := []*api.Task{running("r1", "other", "n3", api.ServiceSpec{Reservations: api.Resources{MemoryBytes: 2 * gib}})}
	spec := api.ServiceSpec{Reservations: api.Resources{MemoryBytes: gib}}
	pending := tasks("web", 12, spec)
	p := Schedule(nodes, active, pending, Options{Strategy: BinPack})
	checkPlan(t, nodes, active, pending, p)
	// n2 (4 GiB free) fills first, then n3 (6 GiB), then n1.
	want := []string{"n2", "n2", "n2", "n2", "n3", "n3", "n3", "n3", "n3", "n3", "n1", "n1"}
	var got []string
	for _, a := range p.Assignments {
		got = append(got, a.NodeID)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("binpack order %v, want %v", got, want)
	}
}

func TestNoOvercommitInBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	var nodes []*api.Node
	for i := range 20 {
		nodes = append(nodes, node(fmt.Sprintf("n%02d", i), map[string]string{"zone": string(rune('a' + i%3))},
			int64(1+rng.IntN(4))*1e9, int64(1+rng.IntN(8))*gib))
	}
	var active, pending []*api.Task
	for i := range 10 {
		active = append(active, running(fmt.Sprintf("r%d", i), "old", nodes[rng.IntN(20)].ID,
			api.ServiceSpec{Reservations: api.Resources{NanoCPUs: 5e8, MemoryBytes: gib / 2}}))
	}
	for s := range 30 {
		spec := api.ServiceSpec{Reservations: api.Resources{NanoCPUs: int64(rng.IntN(3)) * 25e7, MemoryBytes: int64(rng.IntN(4)) * gib / 4}}
		if s%4 == 0 {
			spec.Constraints = mustCons("node.labels.zone!=a")
		}
		if s%5 == 0 {
			spec.Ports = []api.PortSpec{{Port: uint16(8000 + s%2)}}
		}
		pending = append(pending, tasks(fmt.Sprintf("s%d", s), 1+rng.IntN(12), spec)...)
	}
	for _, strat := range []Strategy{Spread, BinPack} {
		p := Schedule(nodes, active, pending, Options{Strategy: strat})
		checkPlan(t, nodes, active, pending, p)
		if len(p.Unplaced) == 0 || len(p.Assignments) == 0 {
			t.Fatalf("%v: want a batch that saturates the cluster, got %d placed %d unplaced", strat, len(p.Assignments), len(p.Unplaced))
		}
	}
}

func TestDeterminism(t *testing.T) {
	nodes, pending := workload(200, 20, 15)
	a := Schedule(nodes, nil, pending, Options{})
	b := Schedule(nodes, nil, pending, Options{})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same input gave different plans")
	}
	// Node order does not matter either: ties go by node ID.
	shuffled := slices.Clone(nodes)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if c := Schedule(shuffled, nil, pending, Options{}); !reflect.DeepEqual(a, c) {
		t.Fatal("node order changed the plan")
	}
}

func TestWorkloadInvariants(t *testing.T) {
	nodes, pending := workload(300, 40, 20)
	for _, strat := range []Strategy{Spread, BinPack} {
		p := Schedule(nodes, nil, pending, Options{Strategy: strat})
		checkPlan(t, nodes, nil, pending, p)
		if len(p.Unplaced) != 0 {
			t.Fatalf("%v: %d unplaced, first: %+v", strat, len(p.Unplaced), p.Unplaced[0])
		}
	}
	// Spread keeps each unconstrained service within one task per node.
	p := Schedule(nodes, nil, pending, Options{})
	counts := map[[2]string]int{}
	byTask := map[string]*api.Task{}
	for _, tk := range pending {
		byTask[tk.ID] = tk
	}
	for _, a := range p.Assignments {
		counts[[2]string{byTask[a.TaskID].ServiceID, a.NodeID}]++
	}
	for k, c := range counts {
		if c > 1 {
			t.Fatalf("service %s has %d tasks on %s (20 replicas, ≥100 nodes feasible)", k[0], c, k[1])
		}
	}
}

func TestIgnoresNilAndDuplicates(t *testing.T) {
	nodes := []*api.Node{nil, node("n1", nil, 0, 0), node("n1", nil, 0, 0)}
	pending := tasks("web", 2, api.ServiceSpec{})
	pending = append(pending, nil, pending[0])
	p := Schedule(nodes, []*api.Task{nil, running("x", "y", "gone", api.ServiceSpec{})}, pending, Options{})
	if len(p.Assignments) != 2 || len(p.Unplaced) != 0 {
		t.Fatalf("plan %+v", p)
	}
}

func TestStrategyNames(t *testing.T) {
	for _, s := range []Strategy{Spread, BinPack} {
		if got, err := ParseStrategy(s.String()); err != nil || got != s {
			t.Errorf("round trip of %v: %v, %v", s, got, err)
		}
	}
	if _, err := ParseStrategy("random"); err == nil || !strings.Contains(err.Error(), `"random"`) {
		t.Errorf("want error naming random, got %v", err)
	}
	if Strategy(9).String() != "strategy(9)" {
		t.Error(Strategy(9).String())
	}
}
