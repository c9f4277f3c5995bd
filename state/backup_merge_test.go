package state

import (
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// TestMergeRestore: identity, nodes and known tasks stay live; services
// come from the backup with versions above the live ones; unknown
// unfinished backup tasks are orphaned; live-only tasks are dropped.
func TestMergeRestore(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("kept", 1), newTask("gone", 2)}})
	b, err := DecodeBackup(backupOf(t, h))
	if err != nil {
		t.Fatal(err)
	}
	// After the backup: the token rotates, web is updated twice, task
	// "gone" is reaped, "fresh" appears, node n3 joins.
	h.ok(api.CmdRotateToken, api.RotateTokenPayload{TokenNonce: []byte("nonce-2")})
	spec := testSpec("web")
	spec.Env = []string{"A=1"}
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: spec})
	spec.Env = []string{"A=2"}
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: spec})
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Delete: []string{"gone"}, Create: []api.Task{newTask("fresh", 3)}})
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: testNode("n3", "node-3")})
	live := h.fsm.store.View()

	db, sum, err := mergeRestore(live, b.db, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	v := &View{txn: db.Txn(false)}
	c, _ := v.Cluster()
	if string(c.TokenNonce) != "nonce-2" {
		t.Fatalf("token nonce %q: the rotated token must stay", c.TokenNonce)
	}
	if len(v.Nodes()) != 3 || sum.Nodes != 3 {
		t.Fatalf("nodes %d (summary %d), want the 3 live ones", len(v.Nodes()), sum.Nodes)
	}
	web, _ := v.ServiceByName("web")
	liveWeb, _ := live.ServiceByName("web")
	if web.Version != liveWeb.Version+1 || len(web.Spec.Env) != 0 {
		t.Fatalf("web v%d env %v; want the backup's spec at v%d", web.Version, web.Spec.Env, liveWeb.Version+1)
	}
	if _, ok := v.Task("fresh"); ok {
		t.Fatal("live-only task kept")
	}
	if k, _ := v.Task("kept"); k.Status.State != api.TaskNew {
		t.Fatalf("known task changed: %v", k.Status.State)
	}
	g, ok := v.Task("gone")
	if !ok || g.Status.State != api.TaskOrphaned || g.DesiredState != api.TaskShutdown || sum.Orphaned != 1 {
		t.Fatalf("reaped task: %+v (orphaned %d)", g, sum.Orphaned)
	}
	if sum.Foreign || sum.Services != 1 || sum.Tasks != 2 {
		t.Fatalf("summary %+v", sum)
	}
}

// TestMergeRestoreForeign: a backup of another cluster keeps this
// cluster's identity and nodes and takes the backup's services; its
// unfinished tasks ran on the other cluster's nodes and are orphaned.
func TestMergeRestoreForeign(t *testing.T) {
	a := bootstrapped(t)
	a.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("a-task", 1)}})
	backup, err := DecodeBackup(backupOf(t, a))
	if err != nil {
		t.Fatal(err)
	}
	b := newHarness(t)
	other := testCluster()
	other.ID = "cluster-2"
	b.ok(api.CmdBootstrap, api.BootstrapPayload{Cluster: other, Node: testNode("m1", "b-node-1")})
	b.ok(api.CmdCreateService, api.CreateServicePayload{ServiceID: "svc-db", Spec: testSpec("db")})

	db, sum, err := mergeRestore(b.fsm.store.View(), backup.db, t0)
	if err != nil {
		t.Fatal(err)
	}
	v := &View{txn: db.Txn(false)}
	c, _ := v.Cluster()
	if !sum.Foreign || sum.BackupClusterID != "cluster-1" || c.ID != "cluster-2" {
		t.Fatalf("summary %+v, cluster %s", sum, c.ID)
	}
	if _, ok := v.Node("m1"); !ok || len(v.Nodes()) != 1 {
		t.Fatalf("nodes %v, want b's only", v.Nodes())
	}
	if _, ok := v.ServiceByName("web"); !ok {
		t.Fatal("backup's service missing")
	}
	if _, ok := v.ServiceByName("db"); ok {
		t.Fatal("b's own service survived")
	}
	if tk, _ := v.Task("a-task"); tk.Status.State != api.TaskOrphaned || sum.Orphaned != 1 {
		t.Fatalf("foreign task %v", tk.Status.State)
	}
}
