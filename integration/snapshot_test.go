package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// serviceReplicas returns each service's desired replica count as agent a
// sees it.
func serviceReplicas(a *agentProc) (map[string]uint64, error) {
	var ss []api.ServiceInfo
	if err := a.get("/v1/services", &ss); err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, s := range ss {
		out[s.Spec.Name] = s.Spec.Replicas
	}
	return out, nil
}

// nonLeaders returns the running agents that do not lead, plain members
// (not voters) first.
func nonLeaders(t testing.TB, c *cluster) []*agentProc {
	t.Helper()
	leader := c.leader()
	st, err := leader.status()
	if err != nil {
		t.Fatal(err)
	}
	voter := map[string]bool{}
	for _, v := range st.Voters {
		voter[v] = true
	}
	var out []*agentProc
	for _, a := range c.agents {
		if a != leader && a.Running() {
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return !voter[out[i].Name] && voter[out[j].Name] })
	return out
}

// TestSnapshotSaveRestore: a snapshot saved through a plain member holds
// the services; after one is deleted and another scaled, a corrupt or
// truncated copy is refused and changes nothing, and restoring the file
// through another non-leader brings the saved services back on every node,
// converged to their replica counts.
func TestSnapshotSaveRestore(t *testing.T) {
	c := startCluster(t, 4, "--runtime", "process")
	waitVoters(t, c.agents[0], 3)
	createService(t, c.agents[0], "web", "--replicas", "3")
	createService(t, c.agents[0], "api", "--replicas", "2")
	waitRunning(t, c.agents[0], "web", 3, 30*time.Second)
	waitRunning(t, c.agents[0], "api", 2, 30*time.Second)

	// Saved through any non-leader; restored through a non-leader voter
	// (a plain member's socket cannot write: TestPlainMemberSocketCannotWrite).
	others := nonLeaders(t, c)
	st0, err := c.agents[0].status()
	if err != nil {
		t.Fatal(err)
	}
	var saver, restorer *agentProc
	for _, a := range others {
		if restorer == nil && slices.Contains(st0.Voters, a.Name) {
			restorer = a
		} else if saver == nil {
			saver = a
		}
	}
	if saver == nil || restorer == nil {
		t.Fatalf("want a non-leader voter and another non-leader; voters %v", st0.Voters)
	}
	file := filepath.Join(t.TempDir(), "cluster.snap")
	start := time.Now()
	if out, err := saver.CLI("operator", "snapshot", "save", file); err != nil || !strings.Contains(out, "Saved snapshot") {
		t.Fatalf("save through %s: %v\n%s", saver.Name, err, out)
	}
	st, _ := saver.status()
	t.Logf("saved through %s (voters %v) in %s", saver.Name, st.Voters, time.Since(start).Round(time.Millisecond))
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot file: %v, mode %v; want 0600", err, fi.Mode())
	}
	out, err := saver.CLI("operator", "snapshot", "inspect", "-o", "json", file)
	if err != nil {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	var info struct {
		Index     uint64 `json:"index"`
		ClusterID string `json:"cluster_id"`
		Counts    struct{ Nodes, Services, Tasks int }
		Size      int `json:"size"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("inspect output: %v\n%s", err, out)
	}
	if info.ClusterID != st.ClusterID || info.Counts.Services != 2 || info.Counts.Nodes != 4 || info.Counts.Tasks < 5 || info.Index == 0 {
		t.Fatalf("inspect: %+v (cluster %s)", info, st.ClusterID)
	}
	t.Logf("snapshot: index %d, %d bytes, %+v", info.Index, info.Size, info.Counts)

	// Change the cluster after the save.
	if out, err := c.agents[0].CLI("service", "rm", "web"); err != nil {
		t.Fatalf("service rm: %v\n%s", err, out)
	}
	if out, err := c.agents[0].CLI("service", "scale", "api=4", "--detach"); err != nil {
		t.Fatalf("service scale: %v\n%s", err, out)
	}
	waitRunning(t, c.agents[0], "api", 4, 30*time.Second)
	changed := map[string]uint64{"api": 4}

	// Damaged files are refused with one line and change nothing.
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)/2] ^= 0x01
	for name, data := range map[string][]byte{"corrupt": corrupt, "truncated": good[:len(good)-100]} {
		bad := filepath.Join(t.TempDir(), name+".snap")
		if err := os.WriteFile(bad, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := restorer.CLI("operator", "snapshot", "restore", bad)
		if err == nil || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, bad) {
			t.Fatalf("restore of a %s file: err=%v, want a one-line error naming the file; output:\n%s", name, err, out)
		}
		t.Logf("%s file: %s", name, strings.TrimSpace(out))
	}
	// The CLI refuses before sending; the agent refuses too.
	var res api.RestoreResult
	err = restorer.post("/v1/snapshot/restore", json.RawMessage(`{"not":"a snapshot"}`), &res)
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "not a shoal snapshot") {
		t.Fatalf("agent given a foreign body: %v", err)
	}
	for _, a := range c.agents {
		got, err := serviceReplicas(a)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(changed) {
			t.Fatalf("%s after refused restores: %v %v, want %v", a.Name, got, err, changed)
		}
	}

	start = time.Now()
	out, err = restorer.CLI("operator", "snapshot", "restore", file)
	if err != nil || !strings.Contains(out, "Restored the snapshot") {
		t.Fatalf("restore through %s: %v\n%s", restorer.Name, err, out)
	}
	t.Logf("restore through %s: %s (%s)", restorer.Name, strings.TrimSpace(out), time.Since(start).Round(time.Millisecond))
	want := map[string]uint64{"api": 2, "web": 3}
	harness.WaitFor(t, 20*time.Second, "every node to show the saved services", func() (bool, string) {
		for _, a := range c.agents {
			got, err := serviceReplicas(a)
			if err != nil {
				return false, a.Name + ": " + err.Error()
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				return false, fmt.Sprintf("%s: %v", a.Name, got)
			}
		}
		return true, ""
	})
	waitRunning(t, saver, "web", 3, 30*time.Second)
	waitRunning(t, saver, "api", 2, 30*time.Second)
	t.Logf("converged %s after the restore", time.Since(start).Round(time.Millisecond))
	// The cluster goes on working: a write through a follower.
	if out, err := restorer.CLI("service", "scale", "web=4", "--detach"); err != nil {
		t.Fatalf("scale after restore: %v\n%s", err, out)
	}
	waitRunning(t, c.agents[0], "web", 4, 30*time.Second)
}
