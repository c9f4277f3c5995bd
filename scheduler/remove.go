package scheduler

import (
	"cmp"
	"slices"
	"strings"

	"github.com/shoal-project/shoal/api"
)

// SelectForRemoval chooses n of tasks to remove on scale-down so that each
// service stays evenly spread: tasks without a node go first, then tasks
// from the node holding the most tasks of their service. Among equal
// choices it prefers tasks not yet running, then higher slots, then higher
// task IDs. The result is in removal order; nil tasks are ignored and n
// larger than the number of tasks returns them all.
func SelectForRemoval(tasks []*api.Task, n int) []*api.Task {
	if n <= 0 {
		return nil
	}
	type bucketKey struct{ service, node string }
	idx := map[bucketKey]int{}
	var buckets [][]*api.Task
	var unassigned []*api.Task
	for _, t := range tasks {
		if t == nil {
			continue
		}
		if t.NodeID == "" {
			unassigned = append(unassigned, t)
			continue
		}
		k := bucketKey{t.ServiceID, t.NodeID}
		b, ok := idx[k]
		if !ok {
			b = len(buckets)
			idx[k] = b
			buckets = append(buckets, nil)
		}
		buckets[b] = append(buckets[b], t)
	}
	slices.SortFunc(unassigned, removeOrder)
	out := make([]*api.Task, 0, min(n, len(tasks)))
	for _, t := range unassigned {
		if len(out) == n {
			return out
		}
		out = append(out, t)
	}
	// Each bucket is sorted best-to-remove first; h is a max-heap of
	// buckets by remaining size, ties by their next task.
	h := make([][]*api.Task, 0, len(buckets))
	for _, b := range buckets {
		slices.SortFunc(b, removeOrder)
		h = append(h, b)
	}
	before := func(a, b []*api.Task) bool {
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		return removeOrder(a[0], b[0]) < 0
	}
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			m := l
			if r := l + 1; r < len(h) && before(h[r], h[l]) {
				m = r
			}
			if !before(h[m], h[i]) {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	for len(out) < n && len(h) > 0 {
		out = append(out, h[0][0])
		h[0] = h[0][1:]
		if len(h[0]) == 0 {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		down(0)
	}
	return out
}

// removeOrder sorts tasks best-to-remove first: not yet running, higher
// slot, higher ID; ties (equal IDs) by node ID for a total order.
func removeOrder(a, b *api.Task) int {
	ar, br := a.Status.State == api.TaskRunning, b.Status.State == api.TaskRunning
	if ar != br {
		if br {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(b.Slot, a.Slot); c != 0 {
		return c
	}
	if c := strings.Compare(b.ID, a.ID); c != 0 {
		return c
	}
	return strings.Compare(a.NodeID, b.NodeID)
}
