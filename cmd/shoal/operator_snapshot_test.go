package main

import (
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/fsutil"
	"github.com/shoal-project/shoal/state"
)

// snapshotFile writes a backup of a one-node cluster to dir and returns
// its path.
func snapshotFile(t *testing.T, dir string) string {
	t.Helper()
	p, _ := json.Marshal(api.BootstrapPayload{Cluster: api.Cluster{ID: "c1", SigningKey: ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)), GossipKey: make([]byte, 32), TokenNonce: []byte("n")}, Node: api.Node{ID: "n1", Name: "n1"}})
	cmd, _ := json.Marshal(api.Command{Version: api.CommandVersion, Type: api.CmdBootstrap, Time: fixedNow, Payload: p})
	fsm := state.NewFSM(state.NewStore())
	if res := fsm.Apply(state.Entry{Index: 1, Data: cmd}); res.Err != nil {
		t.Fatal(res.Err)
	}
	data, _, err := fsm.Store().EncodeBackup(3, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "c1.snap")
	if err := fsutil.WriteFile(path, data, 0o600, true); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSnapshotInspectOffline(t *testing.T) {
	dir := t.TempDir()
	path := snapshotFile(t, dir)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, err %v; want 0600", fi.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	// No agent: --addr points nowhere.
	env := &cliEnv{getenv: func(string) string { return "" }, now: func() time.Time { return fixedNow }}
	var out, errOut strings.Builder
	if code := runWith([]string{"--addr", "127.0.0.1:1", "operator", "snapshot", "inspect", "-o", "json", path}, env, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	jsonKeys(t, []byte(out.String()), "index", "term", "cluster_id", "counts", "size", "sha256", "created_at", "format")
	out.Reset()
	if code := runWith([]string{"operator", "snapshot", "inspect", path}, env, &out, &errOut); code != 0 || !strings.Contains(out.String(), "Cluster ID   c1") {
		t.Fatalf("exit %d:\n%s%s", code, out.String(), errOut.String())
	}

	data, _ := os.ReadFile(path)
	data[len(data)-3] ^= 1
	bad := filepath.Join(dir, "bad.snap")
	os.WriteFile(bad, data, 0o600)
	errOut.Reset()
	code := runWith([]string{"operator", "snapshot", "inspect", bad}, env, &out, &errOut)
	if msg := strings.TrimSpace(errOut.String()); code == 0 || strings.Contains(msg, "\n") || !strings.Contains(msg, bad+": snapshot checksum does not match") {
		t.Fatalf("corrupt file: exit %d, %q", code, msg)
	}
}
