package state

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// Table names in the memdb schema.
const (
	tableCluster  = "cluster"
	tableNodes    = "nodes"
	tableServices = "services"
	tableTasks    = "tasks"
	tableRequests = "requests"
	tableImages   = "images"
	tableACL      = "acl_tokens"
	tableSecrets  = "secrets"
	tableDenied   = "denied_peers"
)

// Index names in the memdb schema.
const (
	indexID      = "id"
	indexName    = "name"
	indexService = "service_id"
	indexNode    = "node_id"
	indexSlot    = "slot"
	indexTime    = "time"
	indexSecret  = "secret"
	indexSeq     = "seq"
	// indexUnplaced holds the tasks Allocate must place: active and not
	// yet assigned.
	indexUnplaced = "unplaced"
)

// schema describes every table of the replicated store.
func schema() *memdb.DBSchema {
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableCluster: {Name: tableCluster, Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: stringKey(func(any) string { return "cluster" })},
		}},
		tableNodes: {Name: tableNodes, Indexes: map[string]*memdb.IndexSchema{
			indexID:   {Name: indexID, Unique: true, Indexer: stringKey(func(o any) string { return o.(*api.Node).ID })},
			indexName: {Name: indexName, Unique: true, Indexer: stringKey(func(o any) string { return o.(*api.Node).Name })},
		}},
		tableServices: {Name: tableServices, Indexes: map[string]*memdb.IndexSchema{
			indexID:   {Name: indexID, Unique: true, Indexer: stringKey(func(o any) string { return o.(*api.Service).ID })},
			indexName: {Name: indexName, Unique: true, Indexer: stringKey(func(o any) string { return o.(*api.Service).Spec.Name })},
		}},
		tableTasks: {Name: tableTasks, Indexes: map[string]*memdb.IndexSchema{
			indexID:      {Name: indexID, Unique: true, Indexer: stringKey(func(o any) string { return o.(*api.Task).ID })},
			indexService: {Name: indexService, AllowMissing: true, Indexer: stringKey(func(o any) string { return o.(*api.Task).ServiceID })},
			indexNode:    {Name: indexNode, AllowMissing: true, Indexer: stringKey(func(o any) string { return o.(*api.Task).NodeID })},
			indexSlot:    {Name: indexSlot, AllowMissing: true, Indexer: slotIndexer{}},
			indexUnplaced: {Name: indexUnplaced, AllowMissing: true, Indexer: stringKey(func(o any) string {
				if t := o.(*api.Task); t.Active() && t.Status.State < api.TaskAssigned {
					return "unplaced"
				}
				return ""
			})},
		}},
		tableImages: {Name: tableImages, Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: stringKey(func(o any) string { return o.(*api.Image).Ref })},
		}},
		tableACL: {Name: tableACL, Indexes: map[string]*memdb.IndexSchema{
			indexID:     {Name: indexID, Unique: true, Indexer: stringKey(func(o any) string { return o.(*api.ACLToken).ID })},
			indexName:   {Name: indexName, Unique: true, Indexer: stringKey(func(o any) string { return o.(*api.ACLToken).Name })},
			indexSecret: {Name: indexSecret, Unique: true, Indexer: stringKey(func(o any) string { return o.(*api.ACLToken).SecretHash })},
		}},
		tableSecrets: {Name: tableSecrets, Indexes: map[string]*memdb.IndexSchema{
			indexID:   {Name: indexID, Unique: true, Indexer: stringKey(func(o any) string { return o.(*api.Secret).ID })},
			indexName: {Name: indexName, Unique: true, Indexer: stringKey(func(o any) string { return o.(*api.Secret).Name })},
		}},
		tableDenied: {Name: tableDenied, Indexes: map[string]*memdb.IndexSchema{
			indexID:  {Name: indexID, Unique: true, Indexer: stringKey(func(o any) string { return o.(*api.DeniedPeer).ID })},
			indexSeq: {Name: indexSeq, Unique: true, Indexer: seqIndexer{}},
		}},
		tableRequests: {Name: tableRequests, Indexes: map[string]*memdb.IndexSchema{
			indexID:   {Name: indexID, Unique: true, Indexer: stringKey(func(o any) string { return o.(*RequestRecord).ID })},
			indexTime: {Name: indexTime, Indexer: timeIndexer{}},
		}},
	}}
}

// stringKey indexes an object by one string; empty strings are missing.
// Keys end in a NUL byte, as memdb's own string indexes do, so that "a"
// never matches "ab" in a non-unique index.
type stringKey func(obj any) string

// FromObject implements memdb.SingleIndexer.
func (f stringKey) FromObject(obj any) (bool, []byte, error) {
	s := f(obj)
	if s == "" {
		return false, nil, nil
	}
	return true, append([]byte(s), 0), nil
}

// FromArgs implements memdb.Indexer.
func (f stringKey) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("index wants one argument, got %d", len(args))
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("index wants a string argument, got %T", args[0])
	}
	return append([]byte(s), 0), nil
}

// slotIndexer indexes tasks by service ID and slot.
type slotIndexer struct{}

func slotKey(serviceID string, slot uint64) []byte {
	b := make([]byte, 0, len(serviceID)+9)
	b = append(append(b, serviceID...), 0)
	return binary.BigEndian.AppendUint64(b, slot)
}

// FromObject implements memdb.SingleIndexer.
func (slotIndexer) FromObject(obj any) (bool, []byte, error) {
	t := obj.(*api.Task)
	if t.ServiceID == "" {
		return false, nil, nil
	}
	return true, slotKey(t.ServiceID, t.Slot), nil
}

// FromArgs implements memdb.Indexer.
func (slotIndexer) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("slot index wants (service id, slot), got %d arguments", len(args))
	}
	id, ok1 := args[0].(string)
	slot, ok2 := args[1].(uint64)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("slot index wants (string, uint64), got (%T, %T)", args[0], args[1])
	}
	return slotKey(id, slot), nil
}

// timeIndexer orders request records by their applied (command) time.
type timeIndexer struct{}

func timeKey(t time.Time) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(t.Unix())^(1<<63))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

// FromObject implements memdb.SingleIndexer.
func (timeIndexer) FromObject(obj any) (bool, []byte, error) {
	return true, timeKey(obj.(*RequestRecord).Time), nil
}

// FromArgs implements memdb.Indexer.
func (timeIndexer) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("time index wants one argument, got %d", len(args))
	}
	t, ok := args[0].(time.Time)
	if !ok {
		return nil, fmt.Errorf("time index wants a time.Time, got %T", args[0])
	}
	return timeKey(t), nil
}

// seqIndexer orders deny-list entries by their sequence number.
type seqIndexer struct{}

// FromObject implements memdb.SingleIndexer.
func (seqIndexer) FromObject(obj any) (bool, []byte, error) {
	return true, binary.BigEndian.AppendUint64(nil, obj.(*api.DeniedPeer).Seq), nil
}

// FromArgs implements memdb.Indexer.
func (seqIndexer) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("seq index wants one argument, got %d", len(args))
	}
	seq, ok := args[0].(uint64)
	if !ok {
		return nil, fmt.Errorf("seq index wants a uint64, got %T", args[0])
	}
	return binary.BigEndian.AppendUint64(nil, seq), nil
}
