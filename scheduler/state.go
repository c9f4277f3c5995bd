package scheduler

import (
	"math"
	"slices"
	"strings"

	"github.com/shoal-project/shoal/api"
)

// portKey is a host port and its protocol.
type portKey struct {
	proto string
	port  uint16
}

func (p portKey) String() string { return p.proto + "/" + itoa(int64(p.port)) }

// normPorts returns spec's host ports, protocol defaulted to tcp and
// lower-cased, without duplicates, port 0 or ingress ports (those are
// unique in the cluster, and taken by the datapath on every node).
func normPorts(ps []api.PortSpec) []portKey {
	var out []portKey
	for _, p := range ps {
		if !p.HostPublished() {
			continue
		}
		k := portKey{proto: strings.ToLower(p.Protocol), port: p.Port}
		if k.proto == "" {
			k.proto = "tcp"
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// state is the scheduler's view of the cluster, updated as it places tasks.
// Nodes are addressed by their index in nodes, which is sorted by ID, so
// comparing indexes breaks ties by node ID.
type state struct {
	nodes  []*api.Node
	index  map[string]int32
	capCPU []int64 // 0: unknown, unlimited
	capMem []int64
	resCPU []int64 // reserved by active and newly placed tasks
	resMem []int64
	load   []int64 // active and newly placed tasks, every service
	ports  []map[portKey]struct{}
	// svc counts each service's tasks per node.
	svc map[string]map[int32]int64

	// svcCount is scratch: the current group's service count per node.
	svcCount []int64
	// eligible caches, per static signature (runtime + constraints), the
	// nodes that pass the static filters.
	eligible map[string]*eligibility
	// counts caches, per static and preference signature, the number of
	// eligible nodes in every preference leaf.
	counts map[leafKey][]int32
	// trees caches preference trees per list of label names.
	trees map[string]*prefTree
	// pl is the placer of the current group, reused across groups.
	pl placer

	// binpack is the strategy: BinPack rather than Spread.
	binpack bool
	// mode picks the candidate search; tests force one.
	mode searchMode
	// ord is the ready, active nodes by service-independent score, built
	// on first use and kept up to date by take.
	ord *order
	// seen and front are scratch for walk.
	seen  []int32
	front []int32
}

// eligibility is the set of nodes passing a static signature's filters,
// as a list in node order and as a per-node flag.
type eligibility struct {
	list []int32
	ok   []bool
}

func newState(nodes []*api.Node, active []*api.Task) *state {
	s := &state{index: make(map[string]int32, len(nodes)), svc: map[string]map[int32]int64{},
		eligible: map[string]*eligibility{}, counts: map[leafKey][]int32{}, trees: map[string]*prefTree{}}
	for _, n := range nodes {
		if n != nil {
			s.nodes = append(s.nodes, n)
		}
	}
	slices.SortStableFunc(s.nodes, func(a, b *api.Node) int { return strings.Compare(a.ID, b.ID) })
	s.nodes = slices.CompactFunc(s.nodes, func(a, b *api.Node) bool { return a.ID == b.ID })
	n := len(s.nodes)
	s.capCPU, s.capMem = make([]int64, n), make([]int64, n)
	s.resCPU, s.resMem = make([]int64, n), make([]int64, n)
	s.load, s.svcCount = make([]int64, n), make([]int64, n)
	s.ports = make([]map[portKey]struct{}, n)
	for i, nd := range s.nodes {
		s.index[nd.ID] = int32(i)
		s.capCPU[i] = max(nd.Resources.NanoCPUs, 0)
		s.capMem[i] = max(nd.Resources.MemoryBytes, 0)
	}
	for _, t := range active {
		if t == nil || t.NodeID == "" || !t.Active() {
			continue
		}
		if i, ok := s.index[t.NodeID]; ok {
			s.take(i, s.svcNodes(t.ServiceID), &t.Spec.Reservations, normPorts(t.Spec.Ports))
		}
	}
	return s
}

// svcNodes returns service svc's task count per node, creating it empty.
func (s *state) svcNodes(svc string) map[int32]int64 {
	m := s.svc[svc]
	if m == nil {
		m = map[int32]int64{}
		s.svc[svc] = m
	}
	return m
}

// take books a task on node i; m is its service's count per node.
func (s *state) take(i int32, m map[int32]int64, r *api.Resources, ports []portKey) {
	s.resCPU[i] += max(r.NanoCPUs, 0)
	s.resMem[i] += max(r.MemoryBytes, 0)
	s.load[i]++
	for _, p := range ports {
		if s.ports[i] == nil {
			s.ports[i] = map[portKey]struct{}{}
		}
		s.ports[i][p] = struct{}{}
	}
	m[i]++
	if s.ord != nil {
		s.rescore(i)
	}
}

// free returns the unreserved amount of a dimension; unknown capacity is
// unlimited.
func free(capacity, reserved int64) int64 {
	if capacity <= 0 {
		return math.MaxInt64
	}
	return capacity - reserved
}

// fitsMem and fitsCPU report whether the group's reservation fits node i.
func (s *state) fitsMem(g *group, i int32) bool {
	need := g.res.MemoryBytes
	return need <= 0 || s.capMem[i] <= 0 || s.resMem[i]+need <= s.capMem[i]
}

func (s *state) fitsCPU(g *group, i int32) bool {
	need := g.res.NanoCPUs
	return need <= 0 || s.capCPU[i] <= 0 || s.resCPU[i]+need <= s.capCPU[i]
}

// portInUse returns the index in g.ports of the first port taken on node
// i, or -1.
func (s *state) portInUse(g *group, i int32) int {
	if s.ports[i] == nil {
		return -1
	}
	for j, p := range g.ports {
		if _, ok := s.ports[i][p]; ok {
			return j
		}
	}
	return -1
}

// atMax reports whether node i holds MaxPerNode tasks of the group's service.
func (s *state) atMax(g *group, i int32) bool {
	return g.maxPerNode > 0 && s.svcCount[i] >= g.maxPerNode
}

// fitsNow runs the dynamic filters for node i, which passed the static ones.
func (s *state) fitsNow(g *group, i int32) bool {
	return s.fitsMem(g, i) && s.fitsCPU(g, i) && s.portInUse(g, i) < 0 && !s.atMax(g, i)
}

// staticOK reports whether node n passes the static filters for g:
// ready, active, runtime, constraints.
func staticOK(g *group, n *api.Node) bool {
	if !schedulable(n) {
		return false
	}
	if g.runtime != "" && !n.HasRuntime(g.runtime) {
		return false
	}
	if olderThan(n, g) {
		return false
	}
	for _, c := range g.cons {
		if !MatchConstraint(c, n) {
			return false
		}
	}
	return true
}

// olderThan reports whether node n speaks a protocol older than g's tasks
// need (a node that recorded none speaks 1). Nodes of this build never
// are, and cost nothing to check.
func olderThan(n *api.Node, g *group) bool {
	p := max(n.Protocol, 1)
	return p < api.ProtocolVersion && p < g.protocolOf()
}

// schedulable reports whether node n is ready and active.
func schedulable(n *api.Node) bool {
	return n.Status == api.NodeReady && availability(n) == api.AvailabilityActive
}

// eligibleNodes returns the nodes passing the static filters for g, cached
// per static signature.
func (s *state) eligibleNodes(g *group) *eligibility {
	if e, ok := s.eligible[g.staticSig]; ok {
		return e
	}
	e := &eligibility{ok: make([]bool, len(s.nodes))}
	for i, n := range s.nodes {
		if staticOK(g, n) {
			e.list = append(e.list, int32(i))
			e.ok[i] = true
		}
	}
	s.eligible[g.staticSig] = e
	return e
}

func itoa(v int64) string {
	var b [20]byte
	return string(appendInt(b[:0], v))
}
