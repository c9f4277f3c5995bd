// Package state holds Shoal's replicated state: the indexed in-memory store
// (go-memdb) with its schema, consistent read views and watches; the
// deterministic FSM that applies typed commands to it; the events derived
// from each applied entry; the entry window of the state feed; and the
// snapshot and backup formats. It knows nothing of consensus: package raft
// hands it committed entries, and the state feed hands it the leader's.
package state

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// RequestRecord remembers the result of a command that carried a request
// ID, so a retry of it returns the first result instead of applying again.
type RequestRecord struct {
	ID   string          `json:"id"`
	Type api.CommandType `json:"type"`
	// Time is the command time at which the request was applied; records
	// are pruned by command time, never by wall clock.
	Time  time.Time       `json:"time"`
	Value json.RawMessage `json:"value,omitempty"`
	Err   *api.Error      `json:"error,omitempty"`
}

// Store is the replicated state: cluster, nodes, services, tasks and
// request records in an indexed in-memory database. Only the FSM writes it.
//
// Every object a Store or View returns is shared with the store and with
// other readers: callers must never mutate it (copy it first). The FSM
// copies on write, so returned objects never change underneath a reader.
type Store struct {
	mu    sync.RWMutex
	db    *memdb.MemDB
	index uint64
	watch chan struct{}
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{db: newDB(), watch: make(chan struct{})}
}

func newDB() *memdb.MemDB {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		// The schema is a constant; an error here is a programming bug.
		panic(fmt.Sprintf("raft: invalid store schema: %v", err))
	}
	return db
}

// View returns a consistent read-only snapshot of the store. It never
// changes, so a View may be held and read from any goroutine.
func (s *Store) View() *View {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return &View{txn: s.db.Txn(false), index: s.index}
}

// Watch returns a channel that is closed at the next committed change. Each
// call after a change returns a fresh channel.
func (s *Store) Watch() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.watch
}

// AppliedIndex is the Raft index of the last log applied to the store.
func (s *Store) AppliedIndex() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.index
}

// commit commits a write transaction and records index as applied, both
// under the lock so that a View sees data and index together.
func (s *Store) commit(txn *memdb.Txn, index uint64) {
	s.mu.Lock()
	txn.Commit()
	if index > s.index {
		s.index = index
	}
	s.mu.Unlock()
}

// advance records index as applied and wakes every watcher.
func (s *Store) advance(index uint64) {
	s.mu.Lock()
	if index > s.index {
		s.index = index
	}
	close(s.watch)
	s.watch = make(chan struct{})
	s.mu.Unlock()
}

// replace swaps in a whole new database (after a snapshot restore) and
// wakes every watcher.
func (s *Store) replace(db *memdb.MemDB, index uint64) {
	s.mu.Lock()
	s.db = db
	s.index = index
	close(s.watch)
	s.watch = make(chan struct{})
	s.mu.Unlock()
}

// writeTxn opens the single write transaction. Only the FSM goroutine
// calls it, so it never races with replace.
func (s *Store) writeTxn() *memdb.Txn { return s.db.Txn(true) }

// Cluster returns the cluster record; see View.Cluster.
func (s *Store) Cluster() (*api.Cluster, bool) { return s.View().Cluster() }

// Nodes returns every node; see View.Nodes.
func (s *Store) Nodes() []*api.Node { return s.View().Nodes() }

// Node returns a node by ID; see View.Node.
func (s *Store) Node(id string) (*api.Node, bool) { return s.View().Node(id) }

// NodeByName returns a node by name; see View.NodeByName.
func (s *Store) NodeByName(name string) (*api.Node, bool) { return s.View().NodeByName(name) }

// Services returns every service; see View.Services.
func (s *Store) Services() []*api.Service { return s.View().Services() }

// Service returns a service by ID; see View.Service.
func (s *Store) Service(id string) (*api.Service, bool) { return s.View().Service(id) }

// ServiceByName returns a service by name; see View.ServiceByName.
func (s *Store) ServiceByName(name string) (*api.Service, bool) {
	return s.View().ServiceByName(name)
}

// Tasks returns every task; see View.Tasks.
func (s *Store) Tasks() []*api.Task { return s.View().Tasks() }

// Task returns a task by ID; see View.Task.
func (s *Store) Task(id string) (*api.Task, bool) { return s.View().Task(id) }

// TasksByService returns a service's tasks; see View.TasksByService.
func (s *Store) TasksByService(serviceID string) []*api.Task {
	return s.View().TasksByService(serviceID)
}

// TasksByNode returns the tasks assigned to a node; see View.TasksByNode.
func (s *Store) TasksByNode(nodeID string) []*api.Task { return s.View().TasksByNode(nodeID) }

// TasksBySlot returns the tasks of one slot; see View.TasksBySlot.
func (s *Store) TasksBySlot(serviceID string, slot uint64) []*api.Task {
	return s.View().TasksBySlot(serviceID, slot)
}

// Images returns every image some node holds (see View.Images).
func (s *Store) Images() []*api.Image { return s.View().Images() }

// Image returns the image with ref (see View.Image).
func (s *Store) Image(ref string) (*api.Image, bool) { return s.View().Image(ref) }
