package state

import (
	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// View is a consistent read-only snapshot of a Store. Lists come sorted by
// ID. Returned objects are shared: never mutate them.
type View struct {
	txn   *memdb.Txn
	index uint64
}

// Index is the Raft index of the last log applied when the view was taken.
func (v *View) Index() uint64 { return v.index }

// Cluster returns the cluster record, if the cluster is bootstrapped.
func (v *View) Cluster() (*api.Cluster, bool) {
	return first[api.Cluster](v.txn, tableCluster, indexID, "cluster")
}

// Nodes returns every node, sorted by ID.
func (v *View) Nodes() []*api.Node { return list[api.Node](v.txn, tableNodes, indexID) }

// NodesChanged returns a channel that is closed once the node records
// change after this view was taken (memdb's watch on the nodes table).
func (v *View) NodesChanged() <-chan struct{} {
	it, err := v.txn.Get(tableNodes, indexID)
	if err != nil { // schema misuse: never wait on it
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return it.WatchCh()
}

// Node returns the node with id.
func (v *View) Node(id string) (*api.Node, bool) {
	return first[api.Node](v.txn, tableNodes, indexID, id)
}

// NodeByName returns the node called name.
func (v *View) NodeByName(name string) (*api.Node, bool) {
	return first[api.Node](v.txn, tableNodes, indexName, name)
}

// Services returns every service, sorted by ID.
func (v *View) Services() []*api.Service { return list[api.Service](v.txn, tableServices, indexID) }

// Service returns the service with id.
func (v *View) Service(id string) (*api.Service, bool) {
	return first[api.Service](v.txn, tableServices, indexID, id)
}

// ServiceByName returns the service called name.
func (v *View) ServiceByName(name string) (*api.Service, bool) {
	return first[api.Service](v.txn, tableServices, indexName, name)
}

// Tasks returns every task, sorted by ID.
func (v *View) Tasks() []*api.Task { return list[api.Task](v.txn, tableTasks, indexID) }

// HasUnplacedTasks reports whether some task is active and not yet
// assigned: whether Allocate has anything to do.
func (v *View) HasUnplacedTasks() bool {
	_, ok := first[api.Task](v.txn, tableTasks, indexUnplaced, "unplaced")
	return ok
}

// Task returns the task with id.
func (v *View) Task(id string) (*api.Task, bool) {
	return first[api.Task](v.txn, tableTasks, indexID, id)
}

// TasksByService returns the tasks of a service, sorted by ID.
func (v *View) TasksByService(serviceID string) []*api.Task {
	return list[api.Task](v.txn, tableTasks, indexService, serviceID)
}

// TasksByNode returns the tasks assigned to a node, sorted by ID.
func (v *View) TasksByNode(nodeID string) []*api.Task {
	return list[api.Task](v.txn, tableTasks, indexNode, nodeID)
}

// TasksBySlot returns the tasks (current and past) of one slot of a
// service, sorted by ID. Global services use slot 0.
func (v *View) TasksBySlot(serviceID string, slot uint64) []*api.Task {
	return list[api.Task](v.txn, tableTasks, indexSlot, serviceID, slot)
}

// request returns the dedupe record for a request ID.
func (v *View) request(id string) (*RequestRecord, bool) {
	return first[RequestRecord](v.txn, tableRequests, indexID, id)
}

// first looks one object up. Lookups with malformed arguments cannot
// happen through the typed getters, so errors read as "not found".
func first[T any](txn *memdb.Txn, table, index string, args ...any) (*T, bool) {
	raw, err := txn.First(table, index, args...)
	if err != nil || raw == nil {
		return nil, false
	}
	return raw.(*T), true
}

// list returns every object an index lookup yields, in index order.
func list[T any](txn *memdb.Txn, table, index string, args ...any) []*T {
	it, err := txn.Get(table, index, args...)
	if err != nil {
		return nil
	}
	var out []*T
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*T))
	}
	return out
}

// Images returns every image some node holds, by ref.
func (v *View) Images() []*api.Image { return list[api.Image](v.txn, tableImages, indexID) }

// Image returns the image with ref.
func (v *View) Image(ref string) (*api.Image, bool) {
	return first[api.Image](v.txn, tableImages, indexID, ref)
}

// ACLTokens returns every API token, by ID.
func (v *View) ACLTokens() []*api.ACLToken { return list[api.ACLToken](v.txn, tableACL, indexID) }

// ACLTokenBySecretHash returns the token whose secret hashes to hash.
func (v *View) ACLTokenBySecretHash(hash string) (*api.ACLToken, bool) {
	return first[api.ACLToken](v.txn, tableACL, indexSecret, hash)
}

// ACLToken returns the token named, or with ID, ref.
func (v *View) ACLToken(ref string) (*api.ACLToken, bool) {
	if t, ok := first[api.ACLToken](v.txn, tableACL, indexName, ref); ok {
		return t, true
	}
	return first[api.ACLToken](v.txn, tableACL, indexID, ref)
}

// Secrets returns every secret, by ID.
func (v *View) Secrets() []*api.Secret { return list[api.Secret](v.txn, tableSecrets, indexID) }

// Secret returns the secret named name.
func (v *View) Secret(name string) (*api.Secret, bool) {
	return first[api.Secret](v.txn, tableSecrets, indexName, name)
}

// ClusterChanged returns a channel closed when the cluster record changes.
func (v *View) ClusterChanged() <-chan struct{} {
	it, err := v.txn.Get(tableCluster, indexID)
	if err != nil { // schema misuse: never wait on it
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return it.WatchCh()
}
