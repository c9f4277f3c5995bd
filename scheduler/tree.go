package scheduler

// prefTree groups nodes by the values of a service's preference labels:
// level k holds one tree node per distinct tuple of the first k label values
// (nodes missing a label form their own group). Tree node 0 is the root;
// without preferences the root is the only, leaf, node.
type prefTree struct {
	parent   []int32   // per tree node; -1 for the root
	children [][]int32 // per tree node, in order of first node ID
	leafOf   []int32   // per cluster node: its leaf
}

type treeKey struct {
	parent int32
	value  string
	has    bool
}

// prefTree returns the tree for g's preferences, cached per label list.
func (s *state) prefTree(g *group) *prefTree {
	if t, ok := s.trees[g.prefSig]; ok {
		return t
	}
	t := &prefTree{parent: []int32{-1}, children: [][]int32{nil}, leafOf: make([]int32, len(s.nodes))}
	if len(g.prefs) > 0 {
		ids := map[treeKey]int32{}
		for i, n := range s.nodes {
			cur := int32(0)
			for _, key := range g.prefs {
				v, has := n.Labels[key]
				k := treeKey{parent: cur, value: v, has: has}
				id, ok := ids[k]
				if !ok {
					id = int32(len(t.parent))
					ids[k] = id
					t.parent = append(t.parent, cur)
					t.children = append(t.children, nil)
					t.children[cur] = append(t.children[cur], id)
				}
				cur = id
			}
			t.leafOf[i] = cur
		}
	}
	s.trees[g.prefSig] = t
	return t
}

// entry is a candidate node with its score; smaller is better.
type entry struct {
	k1, k2, k3 int64
	node       int32
}

func (a *entry) less(b *entry) bool {
	switch {
	case a.k1 != b.k1:
		return a.k1 < b.k1
	case a.k2 != b.k2:
		return a.k2 < b.k2
	case a.k3 != b.k3:
		return a.k3 < b.k3
	}
	return a.node < b.node
}

// first reports whether a sits above b in a min-heap, or in a max-heap
// when max is set.
func first(a, b *entry, max bool) bool {
	if max {
		return b.less(a)
	}
	return a.less(b)
}

// siftDown restores the heap property of h below position i: a min-heap,
// or a max-heap when max is set.
func siftDown(h []entry, i int, max bool) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && first(&h[r], &h[l], max) {
			m = r
		}
		if !first(&h[m], &h[i], max) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func heapify(h []entry) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i, false)
	}
}

// pushMax adds e to the max-heap h.
func pushMax(h []entry, e entry) []entry {
	h = append(h, e)
	for i := len(h) - 1; i > 0; {
		up := (i - 1) / 2
		if !first(&h[i], &h[up], true) {
			break
		}
		h[i], h[up] = h[up], h[i]
		i = up
	}
	return h
}

func popMin(h []entry) []entry {
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	siftDown(h, 0, false)
	return h
}

// placer ranks the feasible nodes for one group: a heap of candidates per
// leaf of the preference tree, with the group's service count and the
// number of feasible nodes beneath every tree node.
type placer struct {
	s       *state
	g       *group
	t       *prefTree
	binpack bool
	count   []int64
	live    []int32
	heaps   [][]entry
}

func (s *state) newPlacer(g *group, binpack bool) *placer {
	t := s.prefTree(g)
	nt := len(t.parent)
	// The placer and its slices are reused from group to group: only one
	// group is placed at a time.
	p := &s.pl
	heaps := p.heaps[:cap(p.heaps)]
	if len(heaps) < nt {
		heaps = append(heaps, make([][]entry, nt-len(heaps))...)
	}
	heaps = heaps[:nt]
	for x := range heaps {
		heaps[x] = heaps[x][:0]
	}
	*p = placer{s: s, g: g, t: t, binpack: binpack, count: grow(p.count, nt), live: grow(p.live, nt), heaps: heaps}
	if len(g.prefs) > 0 {
		for i, c := range g.svcNodes {
			for x := t.leafOf[i]; x >= 0; x = t.parent[x] {
				p.count[x] += c
			}
		}
	}
	// Keep only the k best feasible nodes of every leaf, k being the
	// number of tasks to place: a node's score changes only when a task
	// lands on it, so after j < k placements some untouched node of the
	// k best still beats every node outside them. This makes a group cost
	// one cheap pass over the eligible nodes plus O(k log k), or, when
	// the walk of the order applies (see index.go), about O(k log k).
	k := len(g.tasks)
	el := s.eligibleNodes(g)
	if !p.tryWalk(el, k) {
		p.scan(el, k)
	}
	for x, h := range p.heaps {
		heapify(h)
		for y := int32(x); len(h) > 0 && y >= 0; y = t.parent[y] {
			p.live[y] += int32(len(h))
		}
	}
	return p
}

// tryWalk fills the leaf heaps by walking the order when that looks
// cheaper than scan, and reports whether it did.
func (p *placer) tryWalk(el *eligibility, k int) bool {
	s := p.s
	budget := -1
	switch s.mode {
	case searchLinear:
		return false
	case searchAuto:
		if len(el.list) == 0 {
			return false
		}
		if s.ord == nil {
			s.buildOrder()
		}
		// A walk visit costs a few linear steps; the walk visits about
		// k nodes per leaf over the share of eligible nodes.
		est := int64(k) * int64(len(p.t.parent)) * int64(len(s.ord.h)) / int64(len(el.list))
		if 4*est > int64(len(el.list)) {
			return false
		}
		budget = len(el.list) / 2
	case searchGiveUp:
		budget = 3
	}
	if s.ord == nil {
		s.buildOrder()
	}
	if p.walk(el, k, budget) {
		return true
	}
	for x := range p.heaps {
		p.heaps[x] = p.heaps[x][:0]
	}
	return false
}

// scan fills the leaf heaps by scoring every eligible node.
func (p *placer) scan(el *eligibility, k int) {
	s, g, t := p.s, p.g, p.t
	for _, i := range el.list {
		e := p.key(i)
		leaf := t.leafOf[i]
		h := p.heaps[leaf]
		full := len(h) == k
		if (full && !e.less(&h[0])) || !s.fitsNow(g, i) {
			continue
		}
		if full {
			h[0] = e
			siftDown(h, 0, true)
		} else {
			p.heaps[leaf] = pushMax(h, e)
		}
	}
}

// grow returns b resized to n zeros, reusing its array when it can.
func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	b = b[:n]
	clear(b)
	return b
}

// key scores node i for the group.
func (p *placer) key(i int32) entry {
	s := p.s
	fm := free(s.capMem[i], s.resMem[i])
	if p.binpack {
		return entry{k1: fm, k2: free(s.capCPU[i], s.resCPU[i]), k3: -s.load[i], node: i}
	}
	return entry{k1: s.svcCount[i], k2: s.load[i], k3: -fm, node: i}
}

// pick returns the leaf beneath tree node x to place on: at every level the
// child with the fewest tasks of the service, ties going to the child with
// the better best node. x must have live nodes.
func (p *placer) pick(x int32) int32 {
	ch := p.t.children[x]
	if len(ch) == 0 {
		return x
	}
	best, bestLeaf := int32(-1), int32(-1)
	for _, c := range ch {
		if p.live[c] == 0 || (best >= 0 && p.count[c] > p.count[best]) {
			continue
		}
		leaf := p.pick(c)
		if best < 0 || p.count[c] < p.count[best] || p.better(leaf, bestLeaf) {
			best, bestLeaf = c, leaf
		}
	}
	return bestLeaf
}

// better reports whether leaf a beats leaf b, both at the same depth: the
// service counts of their groups compare from the outermost level where
// they differ, then their best nodes.
func (p *placer) better(la, lb int32) bool {
	cmp := 0
	for a, b := la, lb; a != b; a, b = p.t.parent[a], p.t.parent[b] {
		if ca, cb := p.count[a], p.count[b]; ca != cb {
			cmp = -1
			if ca > cb {
				cmp = 1
			}
		}
	}
	if cmp != 0 {
		return cmp < 0
	}
	return p.heaps[la][0].less(&p.heaps[lb][0])
}

// next places one task: it returns the chosen node and updates the view,
// the counts and the heaps. It returns -1 when no node is feasible.
func (p *placer) next() int32 {
	if p.live[0] == 0 {
		return -1
	}
	s, g, t := p.s, p.g, p.t
	leaf := p.pick(0)
	h := p.heaps[leaf]
	i := h[0].node
	s.take(i, g.svcNodes, &g.res, g.ports)
	s.svcCount[i]++
	for x := leaf; x >= 0; x = t.parent[x] {
		p.count[x]++
	}
	if s.fitsNow(g, i) {
		h[0] = p.key(i)
		siftDown(h, 0, false)
	} else {
		p.heaps[leaf] = popMin(h)
		for x := leaf; x >= 0; x = t.parent[x] {
			p.live[x]--
		}
	}
	return i
}
