package node

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/node/orchestrator"
	"github.com/shoal-project/shoal/state"
)

// fakeReconcileHost is a leader over a real FSM: commits apply at once.
type fakeReconcileHost struct {
	t       *testing.T
	fsm     *state.FSM
	mu      sync.Mutex
	index   uint64
	failing atomic.Bool
	commits atomic.Int32
}

func (h *fakeReconcileHost) verifyLeader(context.Context) error { return nil }
func (h *fakeReconcileHost) store() *state.Store                { return h.fsm.Store() }
func (h *fakeReconcileHost) trackDirty() *state.DirtyTracker    { return h.fsm.TrackDirty() }
func (h *fakeReconcileHost) observePass(string, time.Duration)  {}

func (h *fakeReconcileHost) commitTasks(_ context.Context, _ string, p api.WriteTasksPayload) bool {
	h.commits.Add(1)
	if h.failing.Load() {
		return false
	}
	h.apply(api.CmdWriteTasks, p)
	return true
}

func (h *fakeReconcileHost) apply(typ api.CommandType, payload any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.index++
	p, _ := json.Marshal(payload)
	data, _ := json.Marshal(api.Command{Version: api.CommandVersion, Type: typ, Time: time.Unix(1e9, 0).Add(time.Duration(h.index) * time.Second).UTC(), Payload: p})
	if res := h.fsm.Apply(state.Entry{Index: h.index, Data: data}); res.Err != nil {
		h.t.Fatalf("%s: %v", typ, res.Err)
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// TestReconcileLoopPassesOnlyWhatChanged checks the loop's scopes: a full
// first pass, then only the service a command touched, nothing for a
// change that touches no service or node, a full pass again once
// fullPassEvery has passed, and a full pass after a write that failed.
func TestReconcileLoopPassesOnlyWhatChanged(t *testing.T) {
	h := &fakeReconcileHost{t: t, fsm: state.NewFSM(state.NewStore())}
	h.apply(api.CmdBootstrap, api.BootstrapPayload{
		Cluster: api.Cluster{ID: "c1", SigningKey: ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)), GossipKey: make([]byte, 32), TokenNonce: []byte("n")},
		Node:    api.Node{ID: "n1", Name: "n1"},
	})
	clock := &fakeClock{}
	clock.ns.Store(time.Unix(1e9, 0).UnixNano())
	scopes := make(chan orchestrator.Scope, 16)
	var writeOnce atomic.Bool
	r := reconciler{name: "test", pass: func(v *state.View, _ time.Time, sc orchestrator.Scope) api.WriteTasksPayload {
		// Decide before reporting the pass: once the test has seen a pass
		// it may arm writeOnce for the next one, and that one only.
		var p api.WriteTasksPayload
		if writeOnce.CompareAndSwap(true, false) {
			p = api.WriteTasksPayload{Create: []api.Task{{ID: "t1", ServiceID: "svc-a", Slot: 1, SpecVersion: 1,
				Spec: api.ServiceSpec{Name: "a", Runtime: "process", Command: []string{"x"}, Mode: api.ModeReplicated, Replicas: 1}, DesiredState: api.TaskRunning}}}
		}
		scopes <- sc
		return p
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); reconcileLoop(ctx, h, r, clock.now) }()
	defer func() { cancel(); <-done }()
	next := func(what string) orchestrator.Scope {
		t.Helper()
		select {
		case sc := <-scopes:
			return sc
		case <-time.After(5 * time.Second):
			t.Fatalf("no pass after %s", what)
			return orchestrator.Scope{}
		}
	}
	if sc := next("start"); !sc.All {
		t.Fatalf("first pass %+v, want everything", sc)
	}
	h.apply(api.CmdCreateService, api.CreateServicePayload{ServiceID: "svc-a", Spec: api.ServiceSpec{Name: "a", Runtime: "process", Command: []string{"x"}, Mode: api.ModeReplicated, Replicas: 1}})
	if sc := next("a service was created"); sc.All || !sc.Services["svc-a"] || len(sc.Services) != 1 {
		t.Fatalf("pass after a create %+v, want svc-a only", sc)
	}
	// A token rotation touches no service or node: no pass at all.
	h.apply(api.CmdRotateToken, api.RotateTokenPayload{TokenNonce: []byte("n2")})
	select {
	case sc := <-scopes:
		t.Fatalf("a pass over %+v after a change to no service or node", sc)
	case <-time.After(300 * time.Millisecond): // bounded look for a pass that must not happen
	}
	// Time alone: after fullPassEvery the next tick brings a full pass.
	clock.advance(fullPassEvery)
	if sc := next("fullPassEvery passed"); !sc.All {
		t.Fatalf("pass after %v: %+v, want everything", fullPassEvery, sc)
	}
	// A write that fails: the next pass looks at everything again.
	h.failing.Store(true)
	writeOnce.Store(true)
	h.apply(api.CmdUpdateNode, api.UpdateNodePayload{NodeID: "n1", LabelAdd: map[string]string{"zone": "a"}})
	if sc := next("a node changed"); sc.All || !sc.Nodes["n1"] {
		t.Fatalf("pass after a node update %+v, want node n1", sc)
	}
	// The pass reports its scope before it writes: let the write fail first.
	eventually(t, 5*time.Second, "the failing write", func() bool { return h.commits.Load() == 1 })
	h.failing.Store(false)
	if sc := next("a failed write"); !sc.All {
		t.Fatalf("pass after a failed write %+v, want everything", sc)
	}
	if h.commits.Load() != 1 {
		t.Fatalf("%d commits, want 1", h.commits.Load())
	}
}

// TestCommitPartsPipelines: the first part commits alone, first; the
// creations after it are in flight together, never more than
// partsInFlight at once; a failure stops further parts and is reported.
func TestCommitPartsPipelines(t *testing.T) {
	var create []api.Task
	for i := range 20*maxTaskBatch + 1 {
		create = append(create, api.Task{ID: fmt.Sprintf("t%05d", i)})
	}
	parts := splitPayload(api.WriteTasksPayload{Create: create, Desire: []api.TaskDesire{{TaskID: "old"}}})
	if len(parts) != 21 || len(parts[0].Desire) != 1 || len(parts[1].Desire) != 0 {
		t.Fatalf("split into %d parts", len(parts))
	}
	var mu sync.Mutex
	inFlight, most, committed := 0, 0, 0
	release := make(chan struct{})
	firstDone := false
	commit := func(p api.WriteTasksPayload) bool {
		mu.Lock()
		if len(p.Desire) == 0 && !firstDone {
			mu.Unlock()
			t.Error("a later part went before the first committed")
			return false
		}
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		if len(p.Desire) == 0 {
			<-release
		}
		mu.Lock()
		defer mu.Unlock()
		inFlight--
		committed++
		if len(p.Desire) == 1 {
			firstDone = true
		}
		return true
	}
	done := make(chan bool, 1)
	go func() { done <- commitParts(parts, commit) }()
	eventually(t, 5*time.Second, "partsInFlight parts in flight", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return inFlight == partsInFlight
	})
	close(release)
	if !<-done || committed != len(parts) || most != partsInFlight {
		t.Fatalf("committed %d of %d, at most %d in flight", committed, len(parts), most)
	}

	// A failing part: no part starts after the failure is known.
	calls := 0
	ok := commitParts(parts, func(p api.WriteTasksPayload) bool {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return len(p.Desire) == 1 && calls == 1 // only the first succeeds
	})
	if ok || calls > 1+partsInFlight {
		t.Fatalf("with failing parts: ok %v after %d calls", ok, calls)
	}
}

// TestSpawnFormSplitsSpawns: once every node applies spawn, new tasks go
// without their specs, in parts of maxSpawnBatch, the first part keeping
// the payload's other decisions.
func TestSpawnFormSplitsSpawns(t *testing.T) {
	var create []api.Task
	for i := range 2*maxSpawnBatch + 1 {
		create = append(create, api.Task{ID: fmt.Sprintf("t%05d", i), SpecVersion: 3, Spec: api.ServiceSpec{Name: "web"}})
	}
	p := spawnForm(api.WriteTasksPayload{Create: create, Desire: []api.TaskDesire{{TaskID: "old"}}})
	if len(p.Create) != 0 || len(p.Spawn) != len(create) || p.Spawn[0].Spec.Name != "" || p.Spawn[0].SpecVersion != 3 {
		t.Fatalf("spawn form: %d created, %d spawned, first %+v", len(p.Create), len(p.Spawn), p.Spawn[0])
	}
	if create[0].Spec.Name != "web" {
		t.Fatal("spawnForm changed the caller's tasks")
	}
	parts := splitPayload(p)
	if len(parts) != 3 || len(parts[0].Spawn) != maxSpawnBatch || len(parts[0].Desire) != 1 || len(parts[2].Spawn) != 1 || len(parts[1].Desire) != 0 {
		t.Fatalf("split into %d parts", len(parts))
	}
	if q := spawnForm(api.WriteTasksPayload{Desire: []api.TaskDesire{{TaskID: "old"}}}); q.Spawn != nil {
		t.Fatal("a payload without new tasks gained a spawn list")
	}
}

// TestSplitUpdatesKeepsEveryChangeInOrder: a payload of changes to
// existing tasks alone (a lost node's orphans, a scale-down's stops) goes
// in parts of at most maxUpdateBatch changes, in order, nothing lost or
// doubled, service updates in the first part; a small one stays whole.
func TestSplitUpdatesKeepsEveryChangeInOrder(t *testing.T) {
	var p api.WriteTasksPayload
	for i := range 700 {
		p.Assign = append(p.Assign, api.TaskAssignment{TaskID: fmt.Sprintf("a%04d", i), NodeID: "n1"})
	}
	for i := range 50 {
		p.Desire = append(p.Desire, api.TaskDesire{TaskID: fmt.Sprintf("s%04d", i), DesiredState: api.TaskShutdown})
	}
	for i := range 850 {
		p.Orphan = append(p.Orphan, api.TaskOrphan{TaskID: fmt.Sprintf("o%04d", i)})
	}
	for i := range 601 {
		p.Delete = append(p.Delete, fmt.Sprintf("d%04d", i))
	}
	p.Services = []api.ServiceUpdate{{ServiceID: "svc"}}
	parts := splitPayload(p)
	if len(parts) != 3 || len(parts[0].Services) != 1 || len(parts[1].Services) != 0 {
		t.Fatalf("%d parts, services %d/%d", len(parts), len(parts[0].Services), len(parts[1].Services))
	}
	var got []string
	for _, q := range parts {
		if n := len(q.Assign) + len(q.Desire) + len(q.Orphan) + len(q.Delete); n > maxUpdateBatch || n == 0 {
			t.Fatalf("a part of %d changes", n)
		}
		for _, a := range q.Assign {
			got = append(got, a.TaskID)
		}
		for _, d := range q.Desire {
			got = append(got, d.TaskID)
		}
		for _, o := range q.Orphan {
			got = append(got, o.TaskID)
		}
		got = append(got, q.Delete...)
	}
	if len(got) != 2201 || got[0] != "a0000" || got[699] != "a0699" || got[700] != "s0000" || got[750] != "o0000" || got[1600] != "d0000" || got[2200] != "d0600" {
		t.Fatalf("changes out of order or lost: %d, %v … %v", len(got), got[:2], got[len(got)-2:])
	}
	small := api.WriteTasksPayload{Desire: []api.TaskDesire{{TaskID: "x"}}, Orphan: []api.TaskOrphan{{TaskID: "y"}}}
	if parts := splitPayload(small); len(parts) != 1 || len(parts[0].Desire) != 1 || len(parts[0].Orphan) != 1 {
		t.Fatalf("a small payload was cut: %+v", parts)
	}
}
