package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
)

// MaxSnapshotUpload is the largest snapshot file the API accepts for a
// restore.
const MaxSnapshotUpload = 1 << 30

// RestoreResult says what `operator snapshot restore` did.
type RestoreResult struct {
	// Index is the Raft index at which the restored state was installed.
	Index uint64 `json:"index"`
	// BackupIndex and BackupClusterID describe the snapshot file.
	BackupIndex     uint64 `json:"backup_index"`
	BackupClusterID string `json:"backup_cluster_id"`
	// ClusterID is the cluster restored into; Foreign is true when the
	// file came from another cluster.
	ClusterID string `json:"cluster_id"`
	Foreign   bool   `json:"foreign"`
	// Services and Tasks are the rows taken from the file; Orphaned counts
	// its unfinished tasks that no node runs any more (they are replaced).
	Services int `json:"services"`
	Tasks    int `json:"tasks"`
	Orphaned int `json:"orphaned"`
	// Nodes is the node records kept from the running cluster.
	Nodes int `json:"nodes"`
}

// SaveSnapshot fetches a snapshot file of the cluster state, taken after
// the leader confirmed every write committed so far.
func (c *Client) SaveSnapshot(ctx context.Context) ([]byte, error) {
	resp, err := c.send(ctx, http.MethodGet, "/v1/snapshot", nil, "", c.stream)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxSnapshotUpload+1))
	if err != nil {
		return nil, Errorf(CodeUnavailable, "reading the snapshot from %s: %v", c.display, err)
	}
	return b, nil
}

// RestoreSnapshot puts the cluster back to the state in a snapshot file.
// allowForeign permits a file of another cluster.
func (c *Client) RestoreSnapshot(ctx context.Context, file []byte, allowForeign bool) (RestoreResult, error) {
	path := "/v1/snapshot/restore"
	if allowForeign {
		path += "?allow_foreign=true"
	}
	resp, err := c.send(ctx, http.MethodPost, path, file, NewRequestID(), c.stream)
	if err != nil {
		return RestoreResult{}, err
	}
	defer resp.Body.Close()
	var out RestoreResult
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return RestoreResult{}, Errorf(CodeInternal, "agent at %s sent a bad answer to a restore: %v", c.display, err)
	}
	return out, nil
}
