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
// marks its service and its node, before and after the change). All asks
// for a look at everything: after a restore, an image change, or when the
// tracker overflowed.
type Dirty struct {
	All      bool
	Services map[string]bool
	Nodes    map[string]bool
}

// Empty reports whether nothing changed.
func (d Dirty) Empty() bool { return !d.All && len(d.Services) == 0 && len(d.Nodes) == 0 }

// DirtyTracker accumulates what the FSM changes, for one reconciler. The
// FSM adds to it on every successful apply, never blocking on its reader.
type DirtyTracker struct {
	fsm *FSM
	mu  sync.Mutex
	d   Dirty
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
	t := &DirtyTracker{fsm: f, d: Dirty{All: true}}
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

func (t *DirtyTracker) add(services, nodes []string, all bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.d.All {
		return
	}
	if all || len(t.d.Services)+len(t.d.Nodes)+len(services)+len(nodes) > maxDirty {
		t.d = Dirty{All: true}
		return
	}
	if len(services) > 0 && t.d.Services == nil {
		t.d.Services = map[string]bool{}
	}
	for _, id := range services {
		t.d.Services[id] = true
	}
	if len(nodes) > 0 && t.d.Nodes == nil {
		t.d.Nodes = map[string]bool{}
	}
	for _, id := range nodes {
		t.d.Nodes[id] = true
	}
}

// markDirty hands one apply's changes to every tracker.
func (f *FSM) markDirty(services, nodes []string, all bool) {
	if len(services) == 0 && len(nodes) == 0 && !all {
		return
	}
	f.dirty.mu.Lock()
	defer f.dirty.mu.Unlock()
	for t := range f.dirty.set {
		t.add(services, nodes, all)
	}
}

// touched lists the services and nodes a transaction's changes concern,
// and whether they need a full look (an image changed).
func touched(changes memdb.Changes) (services, nodes []string, all bool) {
	for _, c := range changes {
		switch c.Table {
		case tableServices:
			for _, o := range []any{c.Before, c.After} {
				if s, ok := o.(*api.Service); ok {
					services = append(services, s.ID)
				}
			}
		case tableNodes:
			for _, o := range []any{c.Before, c.After} {
				if n, ok := o.(*api.Node); ok {
					nodes = append(nodes, n.ID)
				}
			}
		case tableTasks:
			for _, o := range []any{c.Before, c.After} {
				if t, ok := o.(*api.Task); ok {
					if t.ServiceID != "" {
						services = append(services, t.ServiceID)
					}
					if t.NodeID != "" {
						nodes = append(nodes, t.NodeID)
					}
				}
			}
		case tableImages:
			all = true
		}
	}
	return services, nodes, all
}
