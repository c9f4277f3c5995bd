package raft

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	hraft "github.com/hashicorp/raft"
	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

func serviceCmd(id, name string, replicas uint64) api.Command {
	spec := testSpec(name)
	spec.Replicas = replicas
	p, _ := json.Marshal(api.CreateServicePayload{ServiceID: id, Spec: spec})
	return api.Command{Type: api.CmdCreateService, Payload: p}
}

func removeServiceCmd(name string) api.Command {
	p, _ := json.Marshal(api.RemoveServicePayload{Name: name})
	return api.Command{Type: api.CmdRemoveService, Payload: p}
}

// TestRestoreBackupReachesEveryServer: a backup restored on the leader of
// three voters is installed on all of them at one index above every log,
// and the FSM's entry window restarts there, so the state feed sends plain
// members a snapshot.
func TestRestoreBackupReachesEveryServer(t *testing.T) {
	tr := newTestRafts(t, "a", "b", "c")
	a := tr.members["a"].c
	if err := a.BootstrapSelf(); err != nil {
		t.Fatal(err)
	}
	l := tr.leader(5 * time.Second)
	tr.addVoter(l, "b")
	tr.addVoter(l, "c")
	for _, cmd := range []api.Command{bootstrapCmd(""), registerCmd("", "b"), serviceCmd("svc-web", "web", 3)} {
		if _, err := a.Propose(ctxTimeout(t, 5*time.Second), cmd); err != nil {
			t.Fatal(err)
		}
	}
	data, _, err := a.Store().EncodeBackup(a.Term(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	backup, err := state.DecodeBackup(data)
	if err != nil {
		t.Fatal(err)
	}
	// After the backup: web goes, api comes, a node joins.
	for _, cmd := range []api.Command{removeServiceCmd("web"), serviceCmd("svc-api", "api", 1), registerCmd("", "c")} {
		if _, err := a.Propose(ctxTimeout(t, 5*time.Second), cmd); err != nil {
			t.Fatal(err)
		}
	}
	// A member that followed the feed up to here.
	feedFrom := a.Store().AppliedIndex()
	before := a.raft.LastIndex()

	sum, err := a.RestoreBackup(backup, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Index != before+1 || sum.Services != 1 || sum.Nodes != 3 || sum.Foreign {
		t.Fatalf("summary %+v (last index before %d)", sum, before)
	}
	for _, id := range []string{"a", "b", "c"} {
		s := tr.members[id].c.Store()
		eventually(t, 5*time.Second, id+" installing the restore", func() bool { return s.AppliedIndex() >= sum.Index })
		if _, ok := s.ServiceByName("web"); !ok {
			t.Fatalf("%s: service web not restored", id)
		}
		if _, ok := s.ServiceByName("api"); ok {
			t.Fatalf("%s: service api survived the restore", id)
		}
		if _, ok := s.Node("c"); !ok {
			t.Fatalf("%s: live node c was dropped", id)
		}
	}
	if _, ok := a.FSM().EntriesSince(feedFrom + 1); ok {
		t.Fatal("the entry window still serves entries from before the restore: a member would miss it")
	}
	// Writes go on after it.
	if _, err := a.Propose(ctxTimeout(t, 5*time.Second), registerCmd("", "d")); err != nil {
		t.Fatal(err)
	}
	if got := a.Store().AppliedIndex(); got <= sum.Index {
		t.Fatalf("applied index %d after a write, restore at %d", got, sum.Index)
	}
}

// TestForceNewCluster: with two of three voters gone for good, the third
// restarts with ForceNewCluster as the only voter, with the state intact,
// and accepts writes.
func TestForceNewCluster(t *testing.T) {
	tr := newTestRafts(t, "a", "b", "c")
	a := tr.members["a"].c
	if err := a.BootstrapSelf(); err != nil {
		t.Fatal(err)
	}
	l := tr.leader(5 * time.Second)
	tr.addVoter(l, "b")
	tr.addVoter(l, "c")
	for _, cmd := range []api.Command{bootstrapCmd(""), serviceCmd("svc-web", "web", 3)} {
		if _, err := a.Propose(ctxTimeout(t, 5*time.Second), cmd); err != nil {
			t.Fatal(err)
		}
	}
	c := tr.members["c"].c
	eventually(t, 5*time.Second, "c applying the service", func() bool { _, ok := c.Store().ServiceByName("web"); return ok })
	tr.kill("a")
	tr.kill("b")
	tr.kill("c")

	m := tr.members["c"]
	_, m.trans = newInmem("c")
	c, err := Open(Config{DataDir: m.dir, LocalID: "c", Transport: m.trans, Logger: hclog.NewNullLogger(), ForceNewCluster: true})
	if err != nil {
		t.Fatal(err)
	}
	m.c = c
	eventually(t, 10*time.Second, "c leading alone", c.IsLeader)
	if got := serverMap(t, c); len(got) != 1 || !got["c"] {
		t.Fatalf("servers %v, want c alone", got)
	}
	if cl, ok := c.Store().Cluster(); !ok || cl.ID != "cluster-1" {
		t.Fatal("cluster identity lost")
	}
	if _, ok := c.Store().ServiceByName("web"); !ok {
		t.Fatal("service lost")
	}
	if _, err := c.Propose(ctxTimeout(t, 5*time.Second), registerCmd("", "e")); err != nil {
		t.Fatal(err)
	}
}

func TestForceNewClusterNeedsState(t *testing.T) {
	_, trans := newInmem("x")
	_, err := Open(Config{DataDir: t.TempDir(), LocalID: "x", Transport: trans, Logger: hclog.NewNullLogger(), ForceNewCluster: true})
	if err == nil {
		t.Fatal("forced a new cluster on an empty data dir")
	}
}

func newInmem(id string) (hraft.ServerAddress, *hraft.InmemTransport) {
	return hraft.NewInmemTransport(hraft.ServerAddress(id))
}
