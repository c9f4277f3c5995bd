package state

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// snapshotFormat is the version of the snapshot stream this build writes.
const snapshotFormat = 1

// SnapshotHeader is the first line of a snapshot stream of the state at
// index, without its newline.
func SnapshotHeader(index uint64) string {
	return fmt.Sprintf(`{"shoal_snapshot":%d,"index":%d}`, snapshotFormat, index)
}

// snapshotHeader opens a snapshot stream.
type snapshotHeader struct {
	Format int    `json:"shoal_snapshot"`
	Index  uint64 `json:"index"`
}

// snapshotRecord is one row of a snapshot stream; exactly one field is set.
type snapshotRecord struct {
	Cluster *api.Cluster    `json:"cluster,omitempty"`
	Node    *api.Node       `json:"node,omitempty"`
	Service *api.Service    `json:"service,omitempty"`
	Task    *api.Task       `json:"task,omitempty"`
	Request *RequestRecord  `json:"request,omitempty"`
	Image   *api.Image      `json:"image,omitempty"`
	Token   *api.ACLToken   `json:"acl_token,omitempty"`
	Denied  *api.DeniedPeer `json:"denied_peer,omitempty"`
	Secret  *api.Secret     `json:"secret,omitempty"`
}

// Snapshot is a point-in-time read transaction of the store.
type Snapshot struct {
	view *View
}

// Snapshot captures the store as it is now; Write streams it later
// without blocking Apply.
func (f *FSM) Snapshot() *Snapshot {
	f.snapshots.Add(1)
	return &Snapshot{view: f.store.View()}
}

// Index is the applied index the snapshot captures.
func (s *Snapshot) Index() uint64 { return s.view.Index() }

// Write writes the snapshot as a stream of JSON values: a header, then
// one record per row, table by table in ID order.
func (s *Snapshot) Write(w io.Writer) error { return s.write(w) }

func (s *Snapshot) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(snapshotHeader{Format: snapshotFormat, Index: s.view.Index()}); err != nil {
		return fmt.Errorf("writing snapshot header: %w", err)
	}
	v := s.view
	if c, ok := v.Cluster(); ok {
		if err := enc.Encode(snapshotRecord{Cluster: c}); err != nil {
			return fmt.Errorf("writing snapshot: %w", err)
		}
	}
	tables := []struct {
		table string
		wrap  func(any) snapshotRecord
	}{
		{tableNodes, func(o any) snapshotRecord { return snapshotRecord{Node: o.(*api.Node)} }},
		{tableServices, func(o any) snapshotRecord { return snapshotRecord{Service: o.(*api.Service)} }},
		{tableTasks, func(o any) snapshotRecord { return snapshotRecord{Task: o.(*api.Task)} }},
		{tableRequests, func(o any) snapshotRecord { return snapshotRecord{Request: o.(*RequestRecord)} }},
		{tableImages, func(o any) snapshotRecord { return snapshotRecord{Image: o.(*api.Image)} }},
		{tableACL, func(o any) snapshotRecord { return snapshotRecord{Token: o.(*api.ACLToken)} }},
		{tableSecrets, func(o any) snapshotRecord { return snapshotRecord{Secret: o.(*api.Secret)} }},
		{tableDenied, func(o any) snapshotRecord { return snapshotRecord{Denied: o.(*api.DeniedPeer)} }},
	}
	for _, t := range tables {
		it, err := v.txn.Get(t.table, indexID)
		if err != nil {
			return fmt.Errorf("reading %s for snapshot: %w", t.table, err)
		}
		for o := it.Next(); o != nil; o = it.Next() {
			if err := enc.Encode(t.wrap(o)); err != nil {
				return fmt.Errorf("writing snapshot %s: %w", t.table, err)
			}
		}
	}
	return bw.Flush()
}

// Restore replaces the whole store with the snapshot in r and wakes every
// watcher. On error the store is left as it was.
func (f *FSM) Restore(r io.Reader) error {
	db, index, err := readSnapshot(r)
	if err != nil {
		return err
	}
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	f.store.replace(db, index)
	f.feed.reset(index)
	f.events.reset(index)
	f.markDirty(changed{all: true})
	return nil
}

// readSnapshot decodes a snapshot stream into a fresh database.
func readSnapshot(r io.Reader) (*memdb.MemDB, uint64, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	var h snapshotHeader
	if err := dec.Decode(&h); err != nil {
		return nil, 0, fmt.Errorf("snapshot header is unreadable: %w", err)
	}
	if h.Format != snapshotFormat {
		return nil, 0, fmt.Errorf("snapshot format %d is not supported (want %d)", h.Format, snapshotFormat)
	}
	db := newDB()
	txn := db.Txn(true)
	defer txn.Abort()
	for n := 1; ; n++ {
		var rec snapshotRecord
		err := dec.Decode(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("snapshot record %d is unreadable: %w", n, err)
		}
		table, obj, err := rec.row()
		if err != nil {
			return nil, 0, fmt.Errorf("snapshot record %d: %w", n, err)
		}
		if err := txn.Insert(table, obj); err != nil {
			return nil, 0, fmt.Errorf("snapshot record %d: %w", n, err)
		}
	}
	txn.Commit()
	return db, h.Index, nil
}

// row returns the table and object of a record, checking that exactly one
// field is set and that it has its key.
func (r *snapshotRecord) row() (string, any, error) {
	var table, id string
	var obj any
	set := 0
	if r.Cluster != nil {
		set, table, obj, id = set+1, tableCluster, r.Cluster, r.Cluster.ID
	}
	if r.Node != nil {
		set, table, obj, id = set+1, tableNodes, r.Node, r.Node.ID
	}
	if r.Service != nil {
		set, table, obj, id = set+1, tableServices, r.Service, r.Service.ID
	}
	if r.Task != nil {
		set, table, obj, id = set+1, tableTasks, r.Task, r.Task.ID
	}
	if r.Request != nil {
		set, table, obj, id = set+1, tableRequests, r.Request, r.Request.ID
	}
	if r.Image != nil {
		set, table, obj, id = set+1, tableImages, r.Image, r.Image.Ref
	}
	if r.Token != nil {
		set, table, obj, id = set+1, tableACL, r.Token, r.Token.ID
	}
	if r.Secret != nil {
		set, table, obj, id = set+1, tableSecrets, r.Secret, r.Secret.ID
	}
	if r.Denied != nil {
		set, table, obj, id = set+1, tableDenied, r.Denied, r.Denied.ID
	}
	switch {
	case set != 1:
		return "", nil, fmt.Errorf("record holds %d rows, want 1", set)
	case id == "":
		return "", nil, fmt.Errorf("%s row has an empty id", table)
	}
	return table, obj, nil
}
