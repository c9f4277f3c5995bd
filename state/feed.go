package state

import (
	"bytes"
	"fmt"
	"sync"
)

// feedWindow is how many applied entries the FSM keeps in memory for the
// state feed; a member further behind gets a snapshot first.
const feedWindow = 8192

// Entry is one applied command log as the state feed ships it to nodes
// that are not Raft servers: they apply it to their own FSM, which is
// deterministic, so their state equals the leader's at the same index.
type Entry struct {
	Index uint64 `json:"i"`
	Data  []byte `json:"d"`
}

// entryLog is a bounded ring of recently applied entries.
type entryLog struct {
	mu      sync.Mutex
	entries []Entry
	// floor is the highest index that may be missing from entries
	// (evicted, or applied before the log started: a restore).
	floor   uint64
	changed chan struct{}
}

func (l *entryLog) append(e Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.entries); n > 0 && l.entries[n-1].Index >= e.Index {
		return
	}
	if len(l.entries) >= feedWindow {
		l.floor = l.entries[len(l.entries)-feedWindow/2-1].Index
		copy(l.entries, l.entries[len(l.entries)-feedWindow/2:])
		l.entries = l.entries[:feedWindow/2]
	}
	l.entries = append(l.entries, e)
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// reset forgets the window after a restore to index.
func (l *entryLog) reset(index uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = nil
	l.floor = index
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// EntriesSince returns the applied entries with index >= from, and false if
// the window no longer reaches back that far (the caller sends a snapshot).
func (f *FSM) EntriesSince(from uint64) ([]Entry, bool) {
	l := &f.feed
	l.mu.Lock()
	defer l.mu.Unlock()
	if from <= l.floor {
		return nil, false
	}
	// Non-command logs (configuration changes, no-ops) advance the index
	// without entries: gaps above the floor are not missing data.
	i := 0
	for i < len(l.entries) && l.entries[i].Index < from {
		i++
	}
	return append([]Entry(nil), l.entries[i:]...), true
}

// EntriesChanged returns a channel closed when the next entry is applied.
func (f *FSM) EntriesChanged() <-chan struct{} {
	l := &f.feed
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.changed
}

// ApplyFeed applies an entry received from the leader's feed. Entries at
// or below the applied index are skipped (Raft may have applied them).
func (f *FSM) ApplyFeed(e Entry) error {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	if e.Index <= f.store.AppliedIndex() {
		return nil
	}
	f.applyEntry(e)
	f.store.advance(e.Index)
	return nil
}

// SnapshotJSON serialises the whole store with its applied index.
func (s *Store) SnapshotJSON() ([]byte, uint64, error) {
	snap := &Snapshot{view: s.View()}
	var buf bytes.Buffer
	if err := snap.write(&buf); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), snap.view.Index(), nil
}

// RestoreJSON replaces the store with a SnapshotJSON image from the
// state feed, unless the store is already newer.
func (f *FSM) RestoreJSON(b []byte) error {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	db, index, err := readSnapshot(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("state feed snapshot: %w", err)
	}
	if index <= f.store.AppliedIndex() {
		return nil
	}
	f.store.replace(db, index)
	f.feed.reset(index)
	f.events.reset(index)
	f.markDirty(changed{all: true})
	return nil
}
