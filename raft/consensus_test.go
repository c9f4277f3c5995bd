package raft

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	hraft "github.com/hashicorp/raft"
	"github.com/shoal-project/shoal/api"
)

// eventually polls cond until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// member is one in-process Raft server of a test cluster.
type member struct {
	id, dir string
	trans   *hraft.InmemTransport
	c       *Consensus
}

type testRafts struct {
	t       *testing.T
	members map[string]*member
}

func newTestRafts(t *testing.T, ids ...string) *testRafts {
	tr := &testRafts{t: t, members: map[string]*member{}}
	for _, id := range ids {
		tr.members[id] = &member{id: id, dir: filepath.Join(t.TempDir(), id)}
		tr.start(id)
	}
	t.Cleanup(func() {
		for _, m := range tr.members {
			if m.c != nil {
				m.c.Shutdown()
			}
		}
	})
	return tr
}

// start opens (or reopens) a member on its data dir with a fresh
// transport connected to every other running member.
func (tr *testRafts) start(id string) *Consensus {
	tr.t.Helper()
	m := tr.members[id]
	_, m.trans = hraft.NewInmemTransport(hraft.ServerAddress(id))
	for _, o := range tr.members {
		if o.id != id && o.c != nil {
			m.trans.Connect(hraft.ServerAddress(o.id), o.trans)
			o.trans.Connect(hraft.ServerAddress(id), m.trans)
		}
	}
	c, err := Open(Config{DataDir: m.dir, LocalID: id, Transport: m.trans, Logger: hclog.NewNullLogger()})
	if err != nil {
		tr.t.Fatal(err)
	}
	m.c = c
	return c
}

// kill shuts a member down and cuts it off.
func (tr *testRafts) kill(id string) {
	tr.t.Helper()
	m := tr.members[id]
	if err := m.c.Shutdown(); err != nil {
		tr.t.Fatal(err)
	}
	m.c = nil
	m.trans.DisconnectAll()
	for _, o := range tr.members {
		if o.id != id {
			o.trans.Disconnect(hraft.ServerAddress(id))
		}
	}
}

// leader waits for a running member to lead and returns it.
func (tr *testRafts) leader(timeout time.Duration) *member {
	tr.t.Helper()
	var found *member
	eventually(tr.t, timeout, "a leader", func() bool {
		for _, m := range tr.members {
			if m.c != nil && m.c.IsLeader() {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

func jsonRaw(v any) (json.RawMessage, error) { return json.Marshal(v) }

func bootstrapCmd(req string) api.Command {
	p, _ := jsonRaw(api.BootstrapPayload{Cluster: testCluster(), Node: testNode("a", "node-a")})
	return api.Command{Type: api.CmdBootstrap, RequestID: req, Payload: p}
}

func registerCmd(req, id string) api.Command {
	p, _ := jsonRaw(api.RegisterNodePayload{Node: testNode(id, "node-"+id)})
	return api.Command{Type: api.CmdRegisterNode, RequestID: req, Payload: p}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// addVoter adds id as a nonvoter, waits for it to catch up, and promotes it.
func (tr *testRafts) addVoter(l *member, id string) {
	tr.t.Helper()
	if err := l.c.AddNonvoter(id); err != nil {
		tr.t.Fatal(err)
	}
	eventually(tr.t, 5*time.Second, id+" catching up", func() bool {
		return tr.members[id].c.AppliedIndex() >= l.c.CommitIndex()
	})
	if err := l.c.Promote(id); err != nil {
		tr.t.Fatal(err)
	}
}

func serverMap(t *testing.T, c *Consensus) map[string]bool {
	t.Helper()
	s, err := c.Servers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, x := range s {
		out[x.ID] = x.Voter
	}
	return out
}

func TestConsensusElectProposeFailover(t *testing.T) {
	tr := newTestRafts(t, "a", "b", "c")
	a := tr.members["a"].c
	if a.HasExistingState() {
		t.Fatal("fresh data dir has state")
	}
	if err := a.BootstrapSelf(); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-a.LeaderChanges():
		if !v {
			t.Fatal("first leader change is false")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no leader change after bootstrap")
	}
	l := tr.leader(5 * time.Second)
	if l.id != "a" {
		t.Fatalf("leader %s, want a", l.id)
	}
	tr.addVoter(l, "b")
	tr.addVoter(l, "c")
	if got := serverMap(t, a); len(got) != 3 || !got["a"] || !got["b"] || !got["c"] {
		t.Fatalf("servers = %v", got)
	}

	v, err := a.Propose(ctxTimeout(t, 5*time.Second), bootstrapCmd("boot-1"))
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := v.(*api.Cluster); !ok || c.ID != "cluster-1" {
		t.Fatalf("bootstrap value = %#v", v)
	}
	_, err = a.Propose(ctxTimeout(t, 5*time.Second), bootstrapCmd("boot-2"))
	if api.CodeOf(err) != api.CodeConflict {
		t.Fatalf("second bootstrap: %v, want conflict", err)
	}
	for _, id := range []string{"b", "c"} {
		f := tr.members[id].c
		eventually(t, 5*time.Second, id+" applying the bootstrap", func() bool { _, ok := f.Store().Cluster(); return ok })
		if f.Leader() != "a" || f.IsLeader() {
			t.Fatalf("%s: leader %q", id, f.Leader())
		}
		if _, err := f.Propose(ctxTimeout(t, time.Second), registerCmd("r", "x")); api.CodeOf(err) != api.CodeNoLeader {
			t.Fatalf("propose on follower %s: %v, want no_leader", id, err)
		}
		if err := f.VerifyLeader(ctxTimeout(t, time.Second)); api.CodeOf(err) != api.CodeNoLeader {
			t.Fatalf("VerifyLeader on follower %s: %v, want no_leader", id, err)
		}
	}
	if err := a.VerifyLeader(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	term := a.Term()

	// Kill the leader; one of the others takes over.
	killed := time.Now()
	tr.kill("a")
	nl := tr.leader(10 * time.Second)
	t.Logf("leader killed -> new leader %s after %s", nl.id, time.Since(killed).Round(time.Millisecond))
	if nl.c.Term() <= term {
		t.Fatalf("new term %d, old %d", nl.c.Term(), term)
	}
	eventually(t, 5*time.Second, "leader change to true on "+nl.id, func() bool {
		select {
		case v := <-nl.c.LeaderChanges():
			return v
		default:
			return false
		}
	})
	v, err = nl.c.Propose(ctxTimeout(t, 5*time.Second), registerCmd("reg-d", "d"))
	if err != nil {
		t.Fatal(err)
	}
	if n := v.(*api.Node); n.ID != "d" {
		t.Fatalf("register value = %+v", n)
	}
	// A retry of an old request after failover returns its first result.
	if _, err := nl.c.Propose(ctxTimeout(t, 5*time.Second), bootstrapCmd("boot-1")); err != nil {
		t.Fatalf("retry of boot-1 after failover: %v", err)
	}
}

func TestConsensusNonvoterLifecycle(t *testing.T) {
	tr := newTestRafts(t, "a", "b", "c")
	a := tr.members["a"].c
	if err := a.BootstrapSelf(); err != nil {
		t.Fatal(err)
	}
	l := tr.leader(5 * time.Second)
	if _, err := l.c.Propose(ctxTimeout(t, 5*time.Second), bootstrapCmd("")); err != nil {
		t.Fatal(err)
	}
	tr.addVoter(l, "b")
	if err := a.AddNonvoter("c"); err != nil {
		t.Fatal(err)
	}
	if got := serverMap(t, a); got["c"] || len(got) != 3 {
		t.Fatalf("after AddNonvoter: %v", got)
	}
	c := tr.members["c"].c
	eventually(t, 5*time.Second, "the nonvoter receiving the log", func() bool { _, ok := c.Store().Cluster(); return ok })
	if err := a.ApplyChange(Change{Kind: Promote, ID: "c"}); err != nil {
		t.Fatal(err)
	}
	if got := serverMap(t, a); !got["c"] {
		t.Fatalf("after Promote: %v", got)
	}
	if err := a.Demote("c"); err != nil {
		t.Fatal(err)
	}
	if got := serverMap(t, a); got["c"] {
		t.Fatalf("after Demote: %v", got)
	}
	if err := a.Remove("c"); err != nil {
		t.Fatal(err)
	}
	if got := serverMap(t, a); len(got) != 2 {
		t.Fatalf("after Remove: %v", got)
	}
	if err := tr.members["b"].c.AddNonvoter("c"); api.CodeOf(err) != api.CodeNoLeader {
		t.Fatalf("AddNonvoter on a follower: %v, want no_leader", err)
	}
	if err := a.TransferLeadership(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "b to lead", func() bool { return tr.members["b"].c.IsLeader() })
}

func TestConsensusRestartKeepsState(t *testing.T) {
	tr := newTestRafts(t, "a")
	a := tr.members["a"].c
	if err := a.BootstrapSelf(); err != nil {
		t.Fatal(err)
	}
	tr.leader(5 * time.Second)
	if _, err := a.Propose(ctxTimeout(t, 5*time.Second), bootstrapCmd("")); err != nil {
		t.Fatal(err)
	}
	// Half the state goes into a snapshot, half stays in the log.
	if err := a.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Propose(ctxTimeout(t, 5*time.Second), registerCmd("", "b")); err != nil {
		t.Fatal(err)
	}
	tr.kill("a")

	a = tr.start("a")
	if !a.HasExistingState() {
		t.Fatal("restart lost its raft state")
	}
	if err := a.BootstrapSelf(); err == nil {
		t.Fatal("bootstrap over existing state succeeded")
	}
	tr.leader(5 * time.Second)
	eventually(t, 5*time.Second, "state to be replayed", func() bool {
		_, ok := a.Store().Node("b")
		return ok
	})
	if _, ok := a.Store().Cluster(); !ok {
		t.Fatal("cluster from the snapshot is missing")
	}
}

func TestOpenRefusesBadConfig(t *testing.T) {
	_, trans := hraft.NewInmemTransport("x")
	good := Config{DataDir: t.TempDir(), LocalID: "x", Transport: trans}
	cases := map[string]func(*Config){
		"no data dir":  func(c *Config) { c.DataDir = "" },
		"no id":        func(c *Config) { c.LocalID = "" },
		"no transport": func(c *Config) { c.Transport = nil },
		"lease > hb": func(c *Config) {
			c.Timings = Timings{HeartbeatTimeout: 100 * time.Millisecond, LeaderLeaseTimeout: time.Second}
		},
		"et < hb": func(c *Config) {
			c.Timings = Timings{HeartbeatTimeout: time.Second, ElectionTimeout: 100 * time.Millisecond}
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := good
			mutate(&cfg)
			if c, err := Open(cfg); err == nil {
				c.Shutdown()
				t.Fatal("Open accepted a bad config")
			}
		})
	}
}

func TestMapError(t *testing.T) {
	tr := newTestRafts(t, "a")
	c := tr.members["a"].c
	cases := []struct {
		err  error
		code api.ErrorCode
		msg  string
	}{
		{hraft.ErrLeadershipLost, api.CodeUnavailable, "retry with the same request id"},
		{errOutcomeUnknown, api.CodeUnavailable, "outcome unknown"},
		{hraft.ErrNotLeader, api.CodeNoLeader, "not the leader"},
		{hraft.ErrEnqueueTimeout, api.CodeUnavailable, "not applied"},
		{hraft.ErrRaftShutdown, api.CodeUnavailable, "shut down"},
		{errors.New("disk on fire"), api.CodeInternal, "disk on fire"},
	}
	for _, tc := range cases {
		err := c.mapError(tc.err, "x")
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != tc.code || !strings.Contains(ae.Message, tc.msg) {
			t.Errorf("mapError(%v) = %v, want %s containing %q", tc.err, err, tc.code, tc.msg)
		}
	}
}

// TestTimingsDefaultLeaseFollowsTheHeartbeat: the default lease is the
// default heartbeat timeout, and never longer than a heartbeat timeout set
// shorter (hashicorp/raft refuses that).
func TestTimingsDefaultLeaseFollowsTheHeartbeat(t *testing.T) {
	for _, tc := range []struct {
		in   Timings
		want time.Duration
	}{
		{Timings{}, 300 * time.Millisecond},
		{Timings{HeartbeatTimeout: 200 * time.Millisecond}, 200 * time.Millisecond},
		{Timings{HeartbeatTimeout: time.Second}, 300 * time.Millisecond},
		{Timings{HeartbeatTimeout: time.Second, LeaderLeaseTimeout: 500 * time.Millisecond}, 500 * time.Millisecond},
	} {
		got := tc.in.withDefaults()
		if got.LeaderLeaseTimeout != tc.want {
			t.Errorf("%+v: lease %v, want %v", tc.in, got.LeaderLeaseTimeout, tc.want)
		}
		c := hraft.DefaultConfig()
		c.LocalID = "a"
		if err := got.apply(c); err != nil {
			t.Errorf("%+v: %v", tc.in, err)
		}
	}
}
