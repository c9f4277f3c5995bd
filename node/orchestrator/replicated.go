package orchestrator

import (
	"slices"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/scheduler"
)

// replicated converges a replicated service: see Orchestrate.
func (o *svcRun) replicated(tasks []*api.Task) {
	bySlot := map[uint64][]*api.Task{}
	for _, t := range tasks {
		if t.Slot == 0 { // left over from global mode
			if t.Active() {
				o.stop(t)
			}
			continue
		}
		bySlot[t.Slot] = append(bySlot[t.Slot], t)
	}
	nums := make([]uint64, 0, len(bySlot))
	for n := range bySlot {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	slots := map[uint64]*slot{}
	held := map[uint64]bool{}
	var live, restart, hold, free []*slot
	for _, n := range nums {
		s := o.newSlot(n, "", bySlot[n])
		slots[n] = s
		if s.live != nil {
			live = append(live, s)
			held[n] = true
			continue
		}
		switch o.vacancy(s) {
		case vacantRestart:
			restart = append(restart, s)
			held[n] = true
		case vacantHold:
			hold = append(hold, s)
			held[n] = true
		default:
			free = append(free, s)
		}
	}
	want := int(min(o.svc.Spec.Replicas, api.MaxReplicas))
	if excess := len(live) + len(restart) + len(hold) - want; excess > 0 {
		// Empty slots go first, the highest numbers first; then live tasks.
		drop := min(excess, len(hold))
		hold, excess = hold[:len(hold)-drop], excess-drop
		drop = min(excess, len(restart))
		restart, excess = restart[:len(restart)-drop], excess-drop
		live = o.scaleDown(live, excess)
	}
	for _, s := range restart {
		o.create(s, s.notBefore)
	}
	if missing := want - len(live) - len(restart) - len(hold); missing > 0 {
		o.fill(slots, free, held, missing)
	}
	o.roll(live)
}

// scaleDown stops n live tasks chosen to keep the spread even and returns
// the slots left.
func (o *svcRun) scaleDown(live []*slot, n int) []*slot {
	if n <= 0 {
		return live
	}
	tasks := make([]*api.Task, len(live))
	for i, s := range live {
		tasks[i] = s.live
	}
	gone := map[*api.Task]bool{}
	for _, t := range scheduler.SelectForRemoval(tasks, n) {
		gone[t] = true
	}
	for _, s := range live {
		if gone[s.live] {
			o.stopSlot(s)
		}
	}
	return slices.DeleteFunc(live, func(s *slot) bool { return gone[s.live] })
}

// fill creates n tasks in free slots: first slots whose last task was
// lost with its node or evicted from it, then the lowest numbers not held.
func (o *svcRun) fill(slots map[uint64]*slot, free []*slot, held map[uint64]bool, n int) {
	picked := map[uint64]bool{}
	for _, s := range free {
		if len(picked) == n {
			break
		}
		if o.lost(s.last()) {
			picked[s.num] = true
			o.create(s, time.Time{})
		}
	}
	for num := uint64(1); len(picked) < n; num++ {
		if held[num] || picked[num] {
			continue
		}
		s := slots[num]
		if s == nil {
			s = &slot{num: num}
		}
		picked[num] = true
		o.create(s, time.Time{})
	}
}

// lost reports whether t was orphaned, or sits on a node that is gone,
// down or draining.
func (o *svcRun) lost(t *api.Task) bool {
	if t == nil {
		return false
	}
	if t.Status.State == api.TaskOrphaned {
		return true
	}
	if t.NodeID == "" {
		return false
	}
	n, ok := o.nodes[t.NodeID]
	return !ok || n.Status == api.NodeDown || n.Availability == api.AvailabilityDrain
}
