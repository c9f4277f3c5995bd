package state

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/shoal-project/shoal/api"
)

// EventWindow is how many events the FSM keeps for GET /v1/events.
const EventWindow = 10000

// ErrEventsGone is returned when a resume point, or a subscriber's
// position, is older than the events a node still keeps.
type ErrEventsGone struct {
	// Since is the index the caller asked to resume after.
	Since uint64
	// Oldest is the smallest index from which a resume is complete.
	Oldest uint64
}

func (e *ErrEventsGone) Error() string {
	return fmt.Sprintf("events after index %d are no longer kept on this node: resume with since >= %d", e.Since, e.Oldest)
}

// ErrTooSlow is returned to a subscriber that fell too far behind.
type ErrTooSlow struct {
	Behind int
	// Resume is the last index the subscriber consumed completely.
	Resume uint64
}

func (e *ErrTooSlow) Error() string {
	return fmt.Sprintf("consumer too slow: %d events behind; resume with ?since=%d", e.Behind, e.Resume)
}

// eventRing is a bounded ring of recent events. Appends never block: a
// subscriber holds only a position, and one that falls more than maxLag
// events behind is cut off when it next reads.
type eventRing struct {
	mu sync.Mutex
	// buf holds events with sequence numbers [next-len(buf), next).
	buf  []api.Event
	head int // position in buf of the oldest event
	next uint64
	// floor is the highest index whose events may be incomplete (evicted,
	// or before a snapshot restore): a resume after floor loses nothing.
	floor   uint64
	epoch   uint64 // bumped by a reset; older subscriptions are gone
	changed chan struct{}
	size    int // capacity, EventWindow unless a test sets it
	maxLag  int
}

func (r *eventRing) init() {
	if r.size == 0 {
		r.size = EventWindow
	}
	if r.maxLag == 0 {
		r.maxLag = r.size / 2
	}
}

// at returns the event with sequence seq; the caller holds mu and has
// checked that it is retained.
func (r *eventRing) at(seq uint64) api.Event {
	off := int(seq - (r.next - uint64(len(r.buf))))
	return r.buf[(r.head+off)%len(r.buf)]
}

// append adds the events of one entry, all at once, so a reader never
// sees part of an entry.
func (r *eventRing) append(evs []api.Event) {
	if len(evs) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	for _, e := range evs {
		if len(r.buf) < r.size {
			r.buf = append(r.buf, e)
		} else {
			r.floor = max(r.floor, r.buf[r.head].Index)
			r.buf[r.head] = e
			r.head = (r.head + 1) % r.size
		}
		r.next++
	}
	r.wake()
}

func (r *eventRing) wake() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// reset forgets every event after a snapshot restore to index: events up
// to it can no longer be derived on this node.
func (r *eventRing) reset(index uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf, r.head = nil, 0
	r.floor = max(r.floor, index)
	r.epoch++
	r.wake()
}

// EventSub is one reader's position in the FSM's events.
type EventSub struct {
	ring  *eventRing
	seq   uint64 // next event to read
	epoch uint64
	// last is the index of the last event read; every event up to it has
	// been read.
	last uint64
	// after skips replicated events at or below a resume index the ring
	// had not reached when the subscription started (local events
	// appended since are new to the reader).
	after uint64
	read  bool
}

// SubscribeEvents starts reading events: after index *since when it is
// set, otherwise from the next event. It fails with *ErrEventsGone when
// events after since are no longer all kept.
func (f *FSM) SubscribeEvents(since *uint64) (*EventSub, error) {
	r := &f.events
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	s := &EventSub{ring: r, seq: r.next, epoch: r.epoch, last: r.floor}
	if since == nil {
		if len(r.buf) > 0 {
			s.last = max(s.last, r.at(r.next-1).Index)
		}
		return s, nil
	}
	if *since < r.floor {
		return nil, &ErrEventsGone{Since: *since, Oldest: r.floor}
	}
	first := r.next - uint64(len(r.buf))
	n := sort.Search(len(r.buf), func(i int) bool { return r.at(first+uint64(i)).Index > *since })
	s.seq, s.last, s.after = first+uint64(n), *since, *since
	return s, nil
}

// Next returns the events after the subscriber's position, waiting until
// there is one or ctx ends. It returns *ErrTooSlow when the subscriber,
// after its first read, falls more than half the window behind (or its
// position was evicted), and *ErrEventsGone when a snapshot restore
// replaced the state under it.
func (s *EventSub) Next(ctx context.Context) ([]api.Event, error) {
	r := s.ring
	for {
		r.mu.Lock()
		if s.epoch != r.epoch {
			r.mu.Unlock()
			return nil, &ErrEventsGone{Since: s.last, Oldest: r.floor}
		}
		// The first read may catch up on a whole window; later ones
		// must keep up.
		if behind := int(r.next - s.seq); behind > r.maxLag && (s.read || behind > len(r.buf)) {
			r.mu.Unlock()
			return nil, &ErrTooSlow{Behind: behind, Resume: s.last}
		}
		var out []api.Event
		for ; s.seq < r.next; s.seq++ {
			if e := r.at(s.seq); e.Local || e.Index > s.after {
				out = append(out, e)
				s.last = e.Index
			}
		}
		if len(out) > 0 {
			s.read = true
			r.mu.Unlock()
			return out, nil
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Last is the index up to which the subscriber has read every event.
func (s *EventSub) Last() uint64 { return s.last }

// RecordLeader adds a local "leader_elected" cluster event: this node's
// Raft server saw leaderID lead term. It is not replicated; its index is
// the one this node had applied, taken under the apply lock so it never
// lands before the events of that index.
func (f *FSM) RecordLeader(leaderID string, term uint64, now time.Time) {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	e := api.Event{Index: f.store.AppliedIndex(), Time: now, Type: api.EventCluster, Action: "leader_elected",
		ID: leaderID, Name: leaderID, Local: true, Attrs: map[string]string{"term": strconv.FormatUint(term, 10)}}
	if n, ok := f.store.Node(leaderID); ok {
		e.Name, e.Node = n.Name, n.Name
	}
	f.events.append([]api.Event{e})
}
