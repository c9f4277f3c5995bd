package main

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/fsutil"
	"github.com/shoal-project/shoal/state"
)

// newSnapshotCommand is `shoal operator snapshot`: backup and restore.
func newSnapshotCommand(e *cliEnv) *cobra.Command {
	snap := newGroup("snapshot", "Save, inspect and restore snapshots of the cluster state")
	snap.AddCommand(newSnapshotSaveCommand(e), newSnapshotInspectCommand(), newSnapshotRestoreCommand(e))
	return snap
}

func newSnapshotSaveCommand(e *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "save FILE",
		Short: "Save a checksummed snapshot of the cluster state (services, tasks, nodes, images, identity)",
		Long: `Save a snapshot of the cluster state through any node. The snapshot reflects every
write the leader had committed when it was asked. The file holds the cluster's
signing key: it is written with mode 0600.`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			data, err := e.client().SaveSnapshot(cmd.Context())
			if err != nil {
				return err
			}
			b, err := state.DecodeBackup(data)
			if err != nil {
				return fmt.Errorf("the agent sent a bad snapshot: %v", err)
			}
			if err := fsutil.WriteFile(args[0], data, 0o600, true); err != nil {
				return err
			}
			h := b.Header
			fmt.Fprintf(cmd.OutOrStdout(), "Saved snapshot of cluster %s at index %d (term %d) to %s: %d nodes, %d services, %d tasks, %d images; %s, sha256 %s, in %s\n",
				h.ClusterID, h.Index, h.Term, args[0], h.Counts.Nodes, h.Counts.Services, h.Counts.Tasks, h.Counts.Images,
				api.FormatBytes(int64(b.Size)), b.SHA256[:16], time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
}

// snapshotInfo is what `snapshot inspect -o json` prints.
type snapshotInfo struct {
	File      string             `json:"file"`
	Format    int                `json:"format"`
	Index     uint64             `json:"index"`
	Term      uint64             `json:"term"`
	ClusterID string             `json:"cluster_id"`
	CreatedAt time.Time          `json:"created_at"`
	Counts    state.BackupCounts `json:"counts"`
	Size      int                `json:"size"`
	SHA256    string             `json:"sha256"`
}

func newSnapshotInspectCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Verify a snapshot file and show what it holds (no agent needed)",
		Args:  exactArgs("FILE"),
	}
	out := addOutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		asJSON, err := out.json(cmd)
		if err != nil {
			return err
		}
		b, _, err := loadSnapshotFile(args[0])
		if err != nil {
			return err
		}
		h := b.Header
		info := snapshotInfo{File: args[0], Format: state.BackupFormat, Index: h.Index, Term: h.Term, ClusterID: h.ClusterID,
			CreatedAt: h.CreatedAt, Counts: h.Counts, Size: b.Size, SHA256: b.SHA256}
		w := cmd.OutOrStdout()
		if asJSON {
			return printJSON(w, info)
		}
		t := newTable(w, "FIELD", "VALUE")
		t.row("Cluster ID", h.ClusterID)
		t.row("Index", fmt.Sprint(h.Index))
		t.row("Term", fmt.Sprint(h.Term))
		t.row("Created", h.CreatedAt.Format(time.RFC3339))
		t.row("Format", fmt.Sprint(state.BackupFormat))
		t.row("Nodes", fmt.Sprint(h.Counts.Nodes))
		t.row("Services", fmt.Sprint(h.Counts.Services))
		t.row("Tasks", fmt.Sprint(h.Counts.Tasks))
		t.row("Images", fmt.Sprint(h.Counts.Images))
		t.row("Size", fmt.Sprintf("%s (%d bytes)", api.FormatBytes(int64(b.Size)), b.Size))
		t.row("SHA-256", b.SHA256)
		return t.flush()
	}
	return cmd
}

func newSnapshotRestoreCommand(e *cliEnv) *cobra.Command {
	var allowForeign bool
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Put the running cluster back to the state in a snapshot file",
		Long: `Put the running cluster back to a snapshot's state, through any node; the leader
replicates it to every node. Services and their tasks come from the file; the
cluster's identity (signing key, join token), its node records and images stay
those of the running cluster. Backup tasks that no node runs any more are marked
orphaned and replaced. A file of another cluster is refused unless
--allow-foreign: its services then move into this cluster.`,
		Args: exactArgs("FILE"),
	}
	cmd.Flags().BoolVar(&allowForeign, "allow-foreign", false, "restore a snapshot of another cluster (keeps this cluster's identity and nodes, takes the file's services)")
	out := addOutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		asJSON, err := out.json(cmd)
		if err != nil {
			return err
		}
		b, data, err := loadSnapshotFile(args[0])
		if err != nil {
			return err
		}
		res, err := e.client().RestoreSnapshot(cmd.Context(), data, allowForeign)
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		if asJSON {
			return printJSON(w, res)
		}
		from := "this cluster"
		if res.Foreign {
			from = "cluster " + res.BackupClusterID
		}
		fmt.Fprintf(w, "Restored the snapshot of %s at index %d (sha256 %s) into cluster %s at index %d: %d services, %d tasks (%d orphaned, to be replaced); kept %d nodes.\n",
			from, res.BackupIndex, b.SHA256[:16], res.ClusterID, res.Index, res.Services, res.Tasks, res.Orphaned, res.Nodes)
		return nil
	}
	return cmd
}

// loadSnapshotFile reads a snapshot file once and fully verifies it; the
// bytes it returns are the ones that were checked. Errors are one line
// that names the file.
func loadSnapshotFile(path string) (*state.Backup, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	b, err := state.ReadBackup(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", path, err)
	}
	return b, data, nil
}
