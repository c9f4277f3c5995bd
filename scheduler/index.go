package scheduler

import "slices"

// The candidate search of a group without any of its service's tasks on a
// node only depends on the cluster, not the service: under Spread a node
// holding none of the service's tasks scores (0, load, -free memory), under
// BinPack every node scores (free memory, free cpu, -load), service counts
// aside. So the state keeps every ready, active node in one heap by that
// service-independent score, updated as tasks land, and a group walks it in
// score order, collecting the best feasible nodes of every preference leaf,
// instead of scoring every eligible node. A walk that visits too many nodes
// (highly selective constraints, full nodes) gives up and falls back to the
// linear pass, so a group never costs much more than before.

// order is a binary min-heap of the ready, active nodes by their
// service-independent score, with each node's position in it.
type order struct {
	h   []entry
	pos []int32 // per cluster node: its index in h, or -1
}

// searchMode selects how newPlacer finds candidates; tests force one path.
type searchMode int

const (
	searchAuto   searchMode = iota // walk the order, fall back when it is slow
	searchLinear                   // score every eligible node
	searchWalk                     // always walk the order, however long
	searchGiveUp                   // walk at most a few nodes, then fall back
)

// baseKey is node i's score with no task of the service on it.
func (s *state) baseKey(i int32) entry {
	fm := free(s.capMem[i], s.resMem[i])
	if s.binpack {
		return entry{k1: fm, k2: free(s.capCPU[i], s.resCPU[i]), k3: -s.load[i], node: i}
	}
	return entry{k2: s.load[i], k3: -fm, node: i}
}

// buildOrder indexes the ready, active nodes by their current score.
func (s *state) buildOrder() {
	o := &order{pos: make([]int32, len(s.nodes))}
	for i, n := range s.nodes {
		o.pos[i] = -1
		if schedulable(n) {
			o.h = append(o.h, s.baseKey(int32(i)))
		}
	}
	heapify(o.h)
	for j := range o.h {
		o.pos[o.h[j].node] = int32(j)
	}
	s.ord = o
}

// rescore refreshes node i's place in the order after its load changed.
func (s *state) rescore(i int32) {
	o := s.ord
	j := o.pos[i]
	if j < 0 {
		return
	}
	h := o.h
	h[j] = s.baseKey(i)
	// Sift up.
	for j > 0 {
		up := (j - 1) / 2
		if !h[j].less(&h[up]) {
			break
		}
		h[j], h[up] = h[up], h[j]
		o.pos[h[j].node], o.pos[h[up].node] = j, up
		j = up
	}
	// Sift down.
	n := int32(len(h))
	for {
		l := 2*j + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h[r].less(&h[l]) {
			m = r
		}
		if !h[m].less(&h[j]) {
			break
		}
		h[j], h[m] = h[m], h[j]
		o.pos[h[j].node], o.pos[h[m].node] = j, m
		j = m
	}
}

// leafKey keys the per-leaf eligible-node counts.
type leafKey struct{ static, pref string }

// leafCounts returns, per tree node, how many eligible nodes of g sit in
// that leaf (zero for inner nodes), cached per static and preference
// signature.
func (s *state) leafCounts(g *group, t *prefTree, el *eligibility) []int32 {
	k := leafKey{g.staticSig, g.prefSig}
	if c, ok := s.counts[k]; ok {
		return c
	}
	c := make([]int32, len(t.parent))
	for _, i := range el.list {
		c[t.leafOf[i]]++
	}
	s.counts[k] = c
	return c
}

// walk fills p's leaf heaps with the k best feasible nodes of every leaf by
// visiting the order in score order (a best-first search of the heap). The
// leaf heaps come out sorted, hence valid min-heaps. Under Spread, nodes
// already holding tasks of the service are skipped and added afterwards,
// since they score worse than every node without. walk reports false,
// leaving the heaps in an unspecified state, when it would visit more than
// budget nodes (budget < 0: no limit).
func (p *placer) walk(el *eligibility, k int, budget int) bool {
	s, g, t := p.s, p.g, p.t
	h := s.ord.h
	cnt := s.leafCounts(g, t, el)
	seen := s.seenBuf(len(t.parent))
	need := 0
	for _, c := range cnt {
		if c > 0 {
			need++
		}
	}
	front := s.front[:0]
	if len(h) > 0 && need > 0 {
		front = append(front, 0)
	}
	visits := 0
	for need > 0 && len(front) > 0 {
		// Pop the best frontier position; push its children.
		j := front[0]
		last := len(front) - 1
		front[0] = front[last]
		front = front[:last]
		siftFront(front, h, 0)
		if c := 2*j + 1; c < int32(len(h)) {
			front = pushFront(front, h, c)
			if c+1 < int32(len(h)) {
				front = pushFront(front, h, c+1)
			}
		}
		visits++
		if budget >= 0 && visits > budget {
			s.front = front
			return false
		}
		i := h[j].node
		if !el.ok[i] {
			continue
		}
		leaf := t.leafOf[i]
		if len(p.heaps[leaf]) == k || seen[leaf] == cnt[leaf] {
			continue
		}
		seen[leaf]++
		if (p.binpack || s.svcCount[i] == 0) && s.fitsNow(g, i) {
			p.heaps[leaf] = append(p.heaps[leaf], p.key(i))
		}
		if len(p.heaps[leaf]) == k || seen[leaf] == cnt[leaf] {
			need--
		}
	}
	s.front = front
	if !p.binpack {
		// Nodes with tasks of the service: all worse than the ones
		// collected, so they only matter in leaves still short of k.
		// seen now holds how many nodes the walk collected per leaf.
		for x, hp := range p.heaps {
			seen[x] = int32(len(hp))
		}
		grown := false
		for i := range g.svcNodes {
			leaf := t.leafOf[i]
			if el.ok[i] && int(seen[leaf]) < k && s.fitsNow(g, i) {
				p.heaps[leaf] = append(p.heaps[leaf], p.key(i))
				grown = true
			}
		}
		if grown {
			for x, hp := range p.heaps {
				if len(hp) > int(seen[x]) {
					slices.SortFunc(hp[seen[x]:], func(a, b entry) int {
						if a.less(&b) {
							return -1
						}
						return 1
					})
					p.heaps[x] = hp[:min(len(hp), k)]
				}
			}
		}
	}
	return true
}

// seenBuf returns a zeroed scratch slice of n counters.
func (s *state) seenBuf(n int) []int32 {
	if cap(s.seen) < n {
		s.seen = make([]int32, n)
	}
	b := s.seen[:n]
	clear(b)
	return b
}

// frontLess orders frontier positions by the entries they hold.
func frontLess(h []entry, a, b int32) bool { return h[a].less(&h[b]) }

func siftFront(f []int32, h []entry, i int) {
	n := len(f)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && frontLess(h, f[r], f[l]) {
			m = r
		}
		if !frontLess(h, f[m], f[i]) {
			return
		}
		f[i], f[m] = f[m], f[i]
		i = m
	}
}

func pushFront(f []int32, h []entry, j int32) []int32 {
	f = append(f, j)
	for i := len(f) - 1; i > 0; {
		up := (i - 1) / 2
		if !frontLess(h, f[i], f[up]) {
			break
		}
		f[i], f[up] = f[up], f[i]
		i = up
	}
	return f
}
