package raft

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-memdb"
	hraft "github.com/hashicorp/raft"
	"github.com/shoal-project/shoal/api"
)

// snapshotFormat is the version of the snapshot stream this build writes.
const snapshotFormat = 1

// snapshotHeader opens a snapshot stream.
type snapshotHeader struct {
	Format int    `json:"shoal_snapshot"`
	Index  uint64 `json:"index"`
}

// snapshotRecord is one row of a snapshot stream; exactly one field is set.
type snapshotRecord struct {
	Cluster *api.Cluster   `json:"cluster,omitempty"`
	Node    *api.Node      `json:"node,omitempty"`
	Service *api.Service   `json:"service,omitempty"`
	Task    *api.Task      `json:"task,omitempty"`
	Request *RequestRecord `json:"request,omitempty"`
	Image   *api.Image     `json:"image,omitempty"`
}

// fsmSnapshot is a point-in-time read transaction of the store.
type fsmSnapshot struct {
	view *View
}

// Snapshot captures the store as it is now; Persist streams it later
// without blocking Apply.
func (f *FSM) Snapshot() (hraft.FSMSnapshot, error) {
	f.snapshots.Add(1)
	return &fsmSnapshot{view: f.store.View()}, nil
}

// Persist writes the snapshot as a stream of JSON values: a header, then
// one record per row, table by table in ID order.
func (s *fsmSnapshot) Persist(sink hraft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) write(w io.Writer) error {
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

// Release does nothing: a read transaction holds no resources.
func (s *fsmSnapshot) Release() {}

// Restore replaces the whole store with the snapshot in rc and wakes every
// watcher. On error the store is left as it was.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	db, index, err := readSnapshot(rc)
	if err != nil {
		return err
	}
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	f.store.replace(db, index)
	f.feed.reset(index)
	f.events.reset(index)
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
	switch {
	case set != 1:
		return "", nil, fmt.Errorf("record holds %d rows, want 1", set)
	case id == "":
		return "", nil, fmt.Errorf("%s row has an empty id", table)
	}
	return table, obj, nil
}
