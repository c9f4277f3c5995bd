package node

import (
	"context"
	"sync"

	"github.com/shoal-project/shoal/state"
)

// A member's feed frames are paced (feedGap), so that the leader's writes
// grow with the members and not with members × commits. A member's own
// work should not wait for the pace, though: a task placed on it, a task
// of its told to stop. feedWaker wakes the feed of each member a committed
// entry concerns — a node whose record or tasks changed other than by a
// task's own progress (see state.Dirty) — and that feed sends within a
// quarter of its gap (feedUrgentShare). Kubernetes splits the same way: a
// kubelet watches its own pods, apart from the endpoint broadcasts.

// feedWaker holds the wake channels of the feeds this node serves, by
// member ID.
type feedWaker struct {
	mu    sync.Mutex
	feeds map[string]map[chan struct{}]struct{}
}

// watch registers a feed to member; the channel receives (without
// blocking its sender) when an entry concerning member commits. Call
// stop when the feed ends.
func (w *feedWaker) watch(member string) (wake <-chan struct{}, stop func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.feeds == nil {
		w.feeds = map[string]map[chan struct{}]struct{}{}
	}
	if w.feeds[member] == nil {
		w.feeds[member] = map[chan struct{}]struct{}{}
	}
	w.feeds[member][ch] = struct{}{}
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.feeds[member], ch)
		if len(w.feeds[member]) == 0 {
			delete(w.feeds, member)
		}
	}
}

// wake signals the feeds of the given members.
func (w *feedWaker) wake(members map[string]bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.feeds) == 0 {
		return
	}
	for id := range members {
		for ch := range w.feeds[id] {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// changeSource is what the wake loop reads: what the FSM's applied
// entries changed.
type changeSource interface {
	TrackDirty() *state.DirtyTracker
}

// start begins tracking src's changes and returns the loop that wakes the
// feeds of the members each applied entry concerns, until ctx ends. The
// loop runs beside the FSM and never holds it up: the tracker accumulates
// while a pass runs. A tracker that overflowed (All) wakes nobody; the
// paced frames carry its changes.
func (w *feedWaker) start(src changeSource) (loop func(ctx context.Context)) {
	t := src.TrackDirty()
	t.Take() // its first report is All: nothing was known before now
	return func(ctx context.Context) {
		defer t.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.Changed(): // after the entries are in the feed window
			}
			if d := t.Take(); !d.All && len(d.Nodes) > 0 {
				w.wake(d.Nodes)
			}
		}
	}
}
