package state

import (
	"bytes"
	"fmt"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// RestoreSummary says what a restore kept and what it took from the
// backup.
type RestoreSummary = api.RestoreResult

// MergeRestore builds the state a restore of b installs over the running
// cluster's state (live, see mergeRestore) and returns it as the records of
// a snapshot stream, without the header line: the caller writes that with
// the index the restored state will have (see SnapshotHeader).
func MergeRestore(live *View, b *Backup, now time.Time) ([]byte, RestoreSummary, error) {
	db, sum, err := mergeRestore(live, b.db, now)
	if err != nil {
		return nil, sum, err
	}
	sum.BackupIndex = b.Header.Index
	var buf bytes.Buffer
	if err := (&Snapshot{view: &View{txn: db.Txn(false)}}).write(&buf); err != nil {
		return nil, sum, err
	}
	_, records, _ := bytes.Cut(buf.Bytes(), []byte("\n"))
	return records, sum, nil
}

// mergeRestore builds the state a restore installs, from the running
// cluster's state (live) and a backup's (snap):
//
//   - identity and membership stay the running cluster's: the cluster
//     record (signing key, join token, gossip key), the node records, the
//     deny list of removed nodes, the images each node reports holding,
//     the API tokens, the secrets (sealed under the running cluster's
//     data key), and the request records. They
//     describe machines that exist now; a backup's copy of them is at best
//     stale, and for a backup of another cluster it is foreign.
//   - desired state comes from the backup: every service, with its spec and
//     history, and the backup's tasks.
//
// Tasks are reconciled so that the executors' view stays true: a task both
// states know keeps its live record (observed state only moves forward); a
// backup task the running cluster no longer knows, and that has not ended,
// is marked orphaned — its node stopped and forgot it, or it belonged to
// another cluster's node — so the orchestrator replaces it; live tasks the
// backup does not know are dropped, and their nodes stop them. A service's
// version is raised above the live one, when that is higher, so that tasks
// of a spec that was changed after the backup are not taken for current.
func mergeRestore(live *View, snap *memdb.MemDB, now time.Time) (*memdb.MemDB, RestoreSummary, error) {
	sv := &View{txn: snap.Txn(false)}
	lc, ok := live.Cluster()
	if !ok {
		return nil, RestoreSummary{}, fmt.Errorf("the running cluster has no cluster record yet")
	}
	bc, _ := sv.Cluster()
	sum := RestoreSummary{BackupClusterID: bc.ID, ClusterID: lc.ID, Foreign: bc.ID != lc.ID}
	db := newDB()
	txn := db.Txn(true)
	defer txn.Abort()
	put := func(table string, obj any) {
		if err := txn.Insert(table, obj); err != nil {
			panic(fmt.Sprintf("raft: merging a restore into %s: %v", table, err)) // schema misuse only
		}
	}
	put(tableCluster, lc)
	for _, n := range live.Nodes() {
		put(tableNodes, n)
		sum.Nodes++
	}
	for _, im := range live.Images() {
		put(tableImages, im)
	}
	for _, tok := range live.ACLTokens() {
		put(tableACL, tok)
	}
	for _, sec := range live.Secrets() {
		put(tableSecrets, sec)
	}
	for _, d := range live.DeniedPeers() {
		put(tableDenied, d)
	}
	if it, err := live.txn.Get(tableRequests, indexID); err == nil {
		for o := it.Next(); o != nil; o = it.Next() {
			put(tableRequests, o)
		}
	}
	for _, s := range sv.Services() {
		if cur, ok := live.Service(s.ID); ok && cur.Version > s.Version {
			cp := *s
			cp.Version = cur.Version + 1
			s = &cp
		}
		put(tableServices, s)
		sum.Services++
	}
	for _, t := range sv.Tasks() {
		if cur, ok := live.Task(t.ID); ok {
			t = cur
		} else if !t.Status.State.Terminal() {
			cp := *t
			cp.Status = api.TaskStatus{State: api.TaskOrphaned, Timestamp: now.UTC(),
				Err: "restored from a snapshot; no node runs this task any more"}
			if cp.DesiredState < api.TaskShutdown {
				cp.DesiredState = api.TaskShutdown
			}
			cp.UpdatedAt = now.UTC()
			t = &cp
			sum.Orphaned++
		}
		put(tableTasks, t)
		sum.Tasks++
	}
	txn.Commit()
	return db, sum, nil
}
