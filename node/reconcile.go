package node

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/ctxutil"
	"github.com/shoal-project/shoal/node/orchestrator"
	"github.com/shoal-project/shoal/scheduler"
	"github.com/shoal-project/shoal/state"
)

// maxTaskBatch bounds the tasks one WriteTasks command creates, so Raft
// entries stay small; maxSpawnBatch bounds the tasks it spawns, which
// carry no spec and take about a quarter of the bytes. One entry is one
// go-memdb transaction, and a transaction that changes more than 8,192
// radix nodes of an index wakes its watchers by walking the whole index:
// into a store of 50,000 tasks, an entry of 2,000 spawns costs 57–67 µs
// per task, one of 1,000 31–37 µs (state.BenchmarkSpawnBatchSize).
const (
	maxTaskBatch  = 500
	maxSpawnBatch = 1000
)

// fullPassEvery is how often a reconciler looks at everything rather than
// at what changed: decisions that change with time alone (a restart
// policy's window) and a safety net.
const fullPassEvery = 5 * time.Second

// reconciler is one of the leader's task loops: a pure function of
// node/orchestrator over a store view and the scope that changed.
type reconciler struct {
	name string
	pass func(v *state.View, now time.Time, sc orchestrator.Scope) api.WriteTasksPayload
	// every, when set, is the least time between two passes: changes that
	// come sooner are gathered into the next one.
	every time.Duration
	// onTick runs a pass every second even when nothing changed: the
	// orchestrator's rolling updates wait on time (delay, min healthy,
	// monitor), and its scoped pass looks at just the services updating.
	onTick bool
}

// reconcilers lists the leader's task loops. Each watches the store,
// computes what it must change from a read snapshot (pure functions in
// node/orchestrator) over what changed since its last pass, commits that
// through Raft, and waits for the next change. They never call each other.
func reconcilers() []reconciler {
	return []reconciler{
		// The orchestrator's new tasks are placed in the same pass, with
		// the pending ones: every placement is decided by this one loop.
		{name: "orchestrator", onTick: true, pass: func(v *state.View, now time.Time, sc orchestrator.Scope) api.WriteTasksPayload {
			return orchestrator.Place(v, orchestrator.OrchestrateScope(v, now, api.NewRequestID, sc), scheduler.Options{})
		}},
		{name: "node-failures", pass: func(v *state.View, _ time.Time, sc orchestrator.Scope) api.WriteTasksPayload {
			return orchestrator.HandleNodeFailuresScope(v, sc)
		}},
		// Rebalance reads every replicated service's tasks (about 6 ms
		// for 20,000: BenchmarkRebalance), whatever changed: at most one
		// pass a second while things change, and the full pass every 5 s,
		// which also catches what waits on time alone (min healthy,
		// timeouts, back-off, drain deadlines).
		{name: "rebalancer", every: time.Second, pass: func(v *state.View, now time.Time, _ orchestrator.Scope) api.WriteTasksPayload {
			return orchestrator.Rebalance(v, now, api.NewRequestID)
		}},
		// Nothing waits on the reaper: it deletes old history, and looks
		// at the services of 5 s of changes at once (during a large
		// creation every service changes every second, and reading their
		// tasks each second was a tenth of the leader's CPU).
		{name: "reaper", every: 5 * time.Second, pass: func(v *state.View, _ time.Time, sc orchestrator.Scope) api.WriteTasksPayload {
			return orchestrator.ReapScope(v, orchestrator.DefaultHistoryLimit, sc)
		}},
	}
}

// reconcileHost is what a reconcile loop needs from the leader: a
// leadership check with a barrier, the store (views, watches, the FSM's
// dirty tracking), and a way to commit a result.
type reconcileHost interface {
	verifyLeader(ctx context.Context) error
	store() *state.Store
	trackDirty() *state.DirtyTracker
	// commitTasks commits p and reports whether all of it committed.
	commitTasks(ctx context.Context, name string, p api.WriteTasksPayload) bool
	// observePass records how long a pass took.
	observePass(name string, d time.Duration)
}

// reconcileLoop runs r while ctx lasts (while this node leads). Before
// acting it makes sure this node still leads and has applied everything
// committed (the leadership check includes a barrier), so its decisions
// rest on the latest state; after a commit it acts only on a view that
// includes that commit. Each pass looks at what changed since the last one
// (the FSM's dirty tracker): everything on the first pass, after a failed
// write, and every fullPassEvery; with onTick, a pass also runs every
// second over nothing changed.
func reconcileLoop(ctx context.Context, h reconcileHost, r reconciler, clock func() time.Time) {
	dirty := h.trackDirty()
	defer dirty.Close()
	verified, ticked := false, false
	lastFull, lastPass := time.Time{}, time.Time{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for ctx.Err() == nil {
		watch := h.store().Watch()
		if !verified {
			vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := h.verifyLeader(vctx)
			cancel()
			if err != nil {
				ctxutil.Sleep(ctx, 200*time.Millisecond)
				continue
			}
			verified = true
		}
		if wait := r.every - clock().Sub(lastPass); r.every > 0 && wait > 0 {
			if ctxutil.Sleep(ctx, wait) != nil {
				return
			}
		}
		start := clock()
		sc := dirty.Take() // then the view: it holds everything taken
		if start.Sub(lastFull) >= fullPassEvery {
			sc = orchestrator.Everything
		}
		if sc.All {
			lastFull = start
		}
		if !sc.Empty() || (ticked && r.onTick) {
			ticked = false
			lastPass = start
			p := r.pass(h.store().View(), start, sc)
			h.observePass(r.name, clock().Sub(start))
			if !orchestrator.Empty(p) {
				if !h.commitTasks(ctx, r.name, p) {
					dirty.MarkAll()
					verified = false
					ctxutil.Sleep(ctx, 100*time.Millisecond)
				}
				continue // look again, at a state that includes the commit
			}
		}
		select {
		case <-ctx.Done():
		case <-watch:
		case <-tick.C:
			ticked = true
		}
	}
}

// reconcileLoops returns the reconcilers as leader loops of this agent.
func (a *Agent) reconcileLoops() []func(context.Context) {
	rs := reconcilers()
	out := make([]func(context.Context), len(rs))
	for i, r := range rs {
		out[i] = func(ctx context.Context) { reconcileLoop(ctx, a, r, time.Now) }
	}
	return out
}

func (a *Agent) verifyLeader(ctx context.Context) error { return a.cons.VerifyLeader(ctx) }

func (a *Agent) trackDirty() *state.DirtyTracker { return a.cons.FSM().TrackDirty() }

func (a *Agent) observePass(name string, d time.Duration) {
	a.metrics.reconcileDuration.WithLabelValues(name).Observe(d.Seconds())
}

// commitTasks commits a reconciler's result, split into bounded commands,
// and reports whether all of it committed. The first part (which holds a
// rolling update's stops with their replacements) commits first; the
// other parts only create tasks, are independent of each other, and are
// proposed together, up to partsInFlight at once, so that a large
// creation costs a few commit round trips rather than one per part.
func (a *Agent) commitTasks(ctx context.Context, name string, p api.WriteTasksPayload) bool {
	if a.everyNodeSpawns() {
		p = spawnForm(p)
	}
	return commitParts(splitPayload(p), func(part api.WriteTasksPayload) bool { return a.commitPart(ctx, name, part) })
}

// spawnProtocol is the protocol a node needs to apply task.write's spawn.
var spawnProtocol = api.ProtocolOf(api.Command{Type: api.CmdWriteTasks, Payload: []byte(`{"spawn":[]}`)})

// everyNodeSpawns reports whether every node in the cluster applies
// task.write's spawn.
func (a *Agent) everyNodeSpawns() bool {
	for _, n := range a.store().Nodes() {
		if n.ProtocolOf() < spawnProtocol {
			return false
		}
	}
	return true
}

// spawnForm moves p's new tasks to Spawn without their specs: the
// orchestrator creates every task with its service's spec at the
// service's version, which the FSM fills in from the service record.
func spawnForm(p api.WriteTasksPayload) api.WriteTasksPayload {
	if len(p.Create) == 0 {
		return p
	}
	spawn := make([]api.Task, 0, len(p.Spawn)+len(p.Create))
	spawn = append(spawn, p.Spawn...)
	for _, t := range p.Create {
		t.Spec = api.ServiceSpec{}
		spawn = append(spawn, t)
	}
	p.Create, p.Spawn = nil, spawn
	return p
}

// commitParts commits parts[0], then the rest up to partsInFlight at a
// time, and reports whether all committed. After a failure it starts no
// further part.
func commitParts(parts []api.WriteTasksPayload, commit func(api.WriteTasksPayload) bool) bool {
	if !commit(parts[0]) {
		return false
	}
	var failed atomic.Bool
	var wg sync.WaitGroup
	slots := make(chan struct{}, partsInFlight)
	for _, part := range parts[1:] {
		slots <- struct{}{}
		if failed.Load() {
			<-slots
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			if !commit(part) {
				failed.Store(true)
			}
		}()
	}
	wg.Wait()
	return !failed.Load()
}

// partsInFlight bounds the parts of one result proposed at once: two keep
// the log busy while one commits, and a user's write queues behind at
// most two parts (with 8, the scale run's writes waited 4 s at the median).
const partsInFlight = 2

// commitPart commits one part of a reconciler's result.
func (a *Agent) commitPart(ctx context.Context, name string, part api.WriteTasksPayload) bool {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := a.submitPayload(cctx, api.CmdWriteTasks, "", part); err != nil {
		a.log.Warn("reconciler write failed", "reconciler", name, "err", err)
		return false
	}
	a.metrics.placements.Add(float64(placements(part)))
	return true
}

// maxUpdateBatch bounds the changes to existing tasks (assignments,
// stops, deletions, orphans) of one command without new tasks: a node
// lost with 1,000s of tasks, or a service scaled down by as many, stays
// under go-memdb's whole-index notification (see maxSpawnBatch).
const maxUpdateBatch = 1000

// splitPayload cuts a large creation (Create, or Spawn once spawnForm
// moved it there) into several commands. A rolling update's stop and
// create for one slot stay together in the first part. A payload of
// changes to existing tasks alone is cut too (splitUpdates).
func splitPayload(p api.WriteTasksPayload) []api.WriteTasksPayload {
	if len(p.Create) == 0 && len(p.Spawn) == 0 {
		return splitUpdates(p)
	}
	news, limit := p.Create, maxTaskBatch
	with := func(q api.WriteTasksPayload, ts []api.Task) api.WriteTasksPayload { q.Create = ts; return q }
	if len(p.Spawn) > 0 && len(p.Create) == 0 {
		news, limit = p.Spawn, maxSpawnBatch
		with = func(q api.WriteTasksPayload, ts []api.Task) api.WriteTasksPayload { q.Spawn = ts; return q }
	} else if len(p.Spawn) > 0 {
		return []api.WriteTasksPayload{p} // both lists: never made by this package
	}
	if len(news) <= limit {
		return []api.WriteTasksPayload{p}
	}
	out := []api.WriteTasksPayload{with(p, news[:limit])}
	for rest := news[limit:]; len(rest) > 0; {
		n := min(len(rest), limit)
		out = append(out, with(api.WriteTasksPayload{}, rest[:n]))
		rest = rest[n:]
	}
	return out
}

// splitUpdates cuts a payload without new tasks into commands of at most
// maxUpdateBatch task changes, in the payload's order (assignments, then
// stops, orphans and deletions); service updates stay in the first. Each
// change concerns one task, so none depends on another part.
func splitUpdates(p api.WriteTasksPayload) []api.WriteTasksPayload {
	if taskChanges(p) <= maxUpdateBatch {
		return []api.WriteTasksPayload{p}
	}
	out := []api.WriteTasksPayload{{Services: p.Services}}
	// add gives the parts items [0, n) of one list, a contiguous run each.
	add := func(n int, put func(q *api.WriteTasksPayload, from, to int)) {
		for from := 0; from < n; {
			if taskChanges(out[len(out)-1]) == maxUpdateBatch {
				out = append(out, api.WriteTasksPayload{})
			}
			q := &out[len(out)-1]
			to := min(n, from+maxUpdateBatch-taskChanges(*q))
			put(q, from, to)
			from = to
		}
	}
	add(len(p.Assign), func(q *api.WriteTasksPayload, i, j int) { q.Assign = p.Assign[i:j] })
	add(len(p.Desire), func(q *api.WriteTasksPayload, i, j int) { q.Desire = p.Desire[i:j] })
	add(len(p.Orphan), func(q *api.WriteTasksPayload, i, j int) { q.Orphan = p.Orphan[i:j] })
	add(len(p.Delete), func(q *api.WriteTasksPayload, i, j int) { q.Delete = p.Delete[i:j] })
	return out
}

// taskChanges counts p's changes to existing tasks.
func taskChanges(p api.WriteTasksPayload) int {
	return len(p.Assign) + len(p.Desire) + len(p.Orphan) + len(p.Delete)
}

// placements counts the assignments of p that put a task on a node, and
// its new tasks that go out placed.
func placements(p api.WriteTasksPayload) int {
	n := 0
	for _, as := range p.Assign {
		if as.NodeID != "" {
			n++
		}
	}
	for _, ts := range [][]api.Task{p.Create, p.Spawn} {
		for _, t := range ts {
			if t.Status.State == api.TaskAssigned {
				n++
			}
		}
	}
	return n
}
