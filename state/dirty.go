package state

import (
	"sync"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// maxDirty bounds how many IDs a tracker accumulates; past it the tracker
// asks for a full pass instead (cheaper than a huge scoped one).
const maxDirty = 50000

// Dirty is what changed in the store since a reconciler last looked: the
// services and nodes whose records changed, or whose tasks did (a task
// marks its service and its node, before and after the change). A task
// that only progressed — its observed state moved forward between two
// states that are not terminal, nothing else changed — marks only its
// service, in Progress: only a rolling update waits for such a change.
// All asks for a look at everything: after a restore, an image change, or
// when the tracker overflowed.
type Dirty struct {
	All      bool
	Services map[string]bool
	Progress map[string]bool
	Nodes    map[string]bool
}

// Empty reports whether nothing changed.
func (d Dirty) Empty() bool {
	return !d.All && len(d.Services) == 0 && len(d.Progress) == 0 && len(d.Nodes) == 0
}

// DirtyTracker accumulates what the FSM changes, for one reconciler. The
// FSM adds to it on every successful apply, never blocking on its reader.
type DirtyTracker struct {
	fsm    *FSM
	mu     sync.Mutex
	d      Dirty
	notify chan struct{} // signalled after each add
}

// dirtyTrackers is the FSM's set of live trackers.
type dirtyTrackers struct {
	mu  sync.Mutex
	set map[*DirtyTracker]struct{}
}

// TrackDirty returns a tracker that accumulates changes from now on. Its
// first Take reports All: nothing is known of what came before. Close it
// when done.
func (f *FSM) TrackDirty() *DirtyTracker {
	t := &DirtyTracker{fsm: f, d: Dirty{All: true}, notify: make(chan struct{}, 1)}
	f.dirty.mu.Lock()
	defer f.dirty.mu.Unlock()
	if f.dirty.set == nil {
		f.dirty.set = map[*DirtyTracker]struct{}{}
	}
	f.dirty.set[t] = struct{}{}
	return t
}

// Close stops the tracker.
func (t *DirtyTracker) Close() {
	t.fsm.dirty.mu.Lock()
	defer t.fsm.dirty.mu.Unlock()
	delete(t.fsm.dirty.set, t)
}

// Changed is signalled once the tracker has something new to Take (at
// least once after any number of changes). The FSM signals it after it
// added an entry's changes, and so after the entry is in the feed window;
// a reader woken by the window (EntriesChanged) may Take before the FSM
// has added them.
func (t *DirtyTracker) Changed() <-chan struct{} { return t.notify }

// Take returns what changed since the last Take and starts afresh. Take,
// then read a view: everything taken is in the view.
func (t *DirtyTracker) Take() Dirty {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.d
	t.d = Dirty{}
	return d
}

// MarkAll makes the next Take report All (e.g. after a pass whose writes
// failed, so its scope is not lost).
func (t *DirtyTracker) MarkAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.d = Dirty{All: true}
}

func (t *DirtyTracker) add(c changed) {
	t.mu.Lock()
	defer t.mu.Unlock()
	defer t.signal()
	if t.d.All {
		return
	}
	if c.all || len(t.d.Services)+len(t.d.Progress)+len(t.d.Nodes)+len(c.services)+len(c.progress)+len(c.nodes) > maxDirty {
		t.d = Dirty{All: true}
		return
	}
	mark(&t.d.Services, c.services)
	mark(&t.d.Progress, c.progress)
	mark(&t.d.Nodes, c.nodes)
}

func (t *DirtyTracker) signal() {
	select {
	case t.notify <- struct{}{}:
	default:
	}
}

func mark(set *map[string]bool, ids []string) {
	if len(ids) > 0 && *set == nil {
		*set = map[string]bool{}
	}
	for _, id := range ids {
		(*set)[id] = true
	}
}

// changed is what one applied entry touched.
type changed struct {
	services, progress, nodes []string
	all                       bool
}

func (c changed) empty() bool {
	return !c.all && len(c.services) == 0 && len(c.progress) == 0 && len(c.nodes) == 0
}

// markDirty hands one apply's changes to every tracker.
func (f *FSM) markDirty(c changed) {
	if c.empty() {
		return
	}
	f.dirty.mu.Lock()
	defer f.dirty.mu.Unlock()
	for t := range f.dirty.set {
		t.add(c)
	}
}

// touched lists the services and nodes a transaction's changes concern,
// and whether they need a full look (an image changed).
func touched(changes memdb.Changes) (c changed) {
	for _, ch := range changes {
		switch ch.Table {
		case tableServices:
			for _, o := range []any{ch.Before, ch.After} {
				if s, ok := o.(*api.Service); ok {
					c.services = append(c.services, s.ID)
				}
			}
		case tableNodes:
			for _, o := range []any{ch.Before, ch.After} {
				if n, ok := o.(*api.Node); ok {
					c.nodes = append(c.nodes, n.ID)
				}
			}
		case tableTasks:
			before, _ := ch.Before.(*api.Task)
			after, _ := ch.After.(*api.Task)
			progress := onlyProgressed(before, after)
			if progress {
				if after.ServiceID != "" {
					c.progress = append(c.progress, after.ServiceID)
				}
				continue
			}
			for _, t := range []*api.Task{before, after} {
				if t == nil {
					continue
				}
				if t.ServiceID != "" {
					c.services = append(c.services, t.ServiceID)
				}
				if t.NodeID != "" {
					c.nodes = append(c.nodes, t.NodeID)
				}
			}
		case tableImages:
			c.all = true
		}
	}
	return c
}

// onlyProgressed reports whether a task change only moved its observed
// state forward between states that are not terminal, on the same node
// and with the same desired state.
func onlyProgressed(before, after *api.Task) bool {
	return before != nil && after != nil &&
		before.NodeID == after.NodeID && before.DesiredState == after.DesiredState &&
		!before.Status.State.Terminal() && !after.Status.State.Terminal() &&
		before.StopDeadline.Equal(after.StopDeadline) && before.NotBefore.Equal(after.NotBefore)
}
