package orchestrator

import (
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/scheduler"
)

// twoThenThree runs 8 replicas of web on n1 and n2 (4/4), then adds n3.
func twoThenThree(t *testing.T, s api.ServiceSpec) *env {
	e := newEnv(t)
	e.addNode("n2", nil)
	e.createService("s1", s)
	e.converge(10)
	if got := e.perNode("s1"); !maps.Equal(got, map[string]int{"n1": 4, "n2": 4}) {
		t.Fatalf("before n3: %v", got)
	}
	e.addNode("n3", nil)
	return e
}

// serving counts the service's tasks that run and are meant to.
func (e *env) serving(svc string) int {
	n := 0
	for _, t := range e.live(svc) {
		if t.Status.State == api.TaskRunning {
			n++
		}
	}
	return n
}

// moves returns the live tasks of svc that move another.
func (e *env) moves(svc string) []*api.Task {
	var out []*api.Task
	for _, t := range e.live(svc) {
		if t.Replaces != "" {
			if a, ok := e.view().Task(t.Replaces); ok && a.Active() {
				out = append(out, t)
			}
		}
	}
	return out
}

// rebalanceRounds runs rounds until nothing changes, checking at every
// round that the service never serves fewer than want tasks and has at
// most one move in flight.
func (e *env) rebalanceRounds(svc string, want, max int) {
	e.t.Helper()
	for i := 0; i < max; i++ { // moves wait on time too: every round
		e.round()
		if n := e.serving(svc); n < want {
			e.t.Fatalf("round %d: %d tasks serving, want at least %d", i, n, want)
		}
		if m := e.moves(svc); len(m) > MaxMoves {
			e.t.Fatalf("round %d: %d moves in flight", i, len(m))
		}
	}
	e.converge(5)
}

// TestRebalanceEvensTheSpread: a 4/4/0 spread becomes 3/3/2, one move at
// a time, never below the replica count running; the first move's
// replacement is pinned to the empty node and lands there.
func TestRebalanceEvensTheSpread(t *testing.T) {
	e := twoThenThree(t, spec("web", 8))
	p := Rebalance(e.view(), e.now, e.newID)
	if len(p.Create) != 1 || p.Create[0].PreferredNode != "n3" || p.Create[0].Replaces == "" || len(p.Desire) != 0 {
		t.Fatalf("first pass: %s, want one move pinned to n3", summary(p))
	}
	moved := e.task(p.Create[0].Replaces)
	if moved.NodeID != "n1" || moved.Slot != p.Create[0].Slot {
		t.Fatalf("moves %s (node %s, slot %d), want a task of n1 in the replacement's slot %d", moved.ID, moved.NodeID, moved.Slot, p.Create[0].Slot)
	}
	e.write(p)
	a := Allocate(e.view(), scheduler.Options{})
	if len(a.Assign) != 1 || a.Assign[0].NodeID != "n3" {
		t.Fatalf("allocate: %+v, want the pinned task on n3", a.Assign)
	}
	e.write(a)
	e.rebalanceRounds("s1", 8, 40)
	if got := e.perNode("s1"); !maps.Equal(got, map[string]int{"n1": 3, "n2": 3, "n3": 2}) {
		t.Fatalf("after rebalancing: %v", got)
	}
	if got := e.task(moved.ID); got.DesiredState != api.TaskShutdown {
		t.Fatalf("moved task %s is desired %v", got.ID, got.DesiredState)
	}
}

// TestRebalanceWaitsForHealth: the old task stops only once the
// replacement is healthy for min_healthy.
func TestRebalanceWaitsForHealth(t *testing.T) {
	s := spec("web", 8)
	s.Health = &api.HealthCheck{Cmd: []string{"true"}}
	s.Update = &api.UpdatePolicy{MinHealthy: api.Duration(3 * time.Second)}
	s.Normalize()
	e := twoThenThree(t, s)
	e.rebalanceRounds("s1", 8, 80)
	if got := e.perNode("s1"); !maps.Equal(got, map[string]int{"n1": 3, "n2": 3, "n3": 2}) {
		t.Fatalf("after rebalancing: %v", got)
	}
	for _, t2 := range e.view().TasksByService("s1") {
		if t2.Replaces == "" || t2.DesiredState != api.TaskRunning {
			continue
		}
		old := e.task(t2.Replaces)
		if old.UpdatedAt.Before(t2.UpdatedAt.Add(3 * time.Second)) {
			t.Fatalf("old task %s stopped at %v, its replacement healthy since %v", old.ID, old.UpdatedAt, t2.UpdatedAt)
		}
	}
}

// TestPinFallsBackWhenTargetIneligible: a replacement pinned to a node
// that was paused since is placed as any task.
func TestPinFallsBackWhenTargetIneligible(t *testing.T) {
	e := twoThenThree(t, spec("web", 8))
	p := Rebalance(e.view(), e.now, e.newID)
	e.write(p)
	e.updateNode(api.UpdateNodePayload{NodeID: "n3", Availability: api.AvailabilityPause})
	a := Allocate(e.view(), scheduler.Options{})
	if len(a.Assign) != 1 || a.Assign[0].NodeID == "n3" || a.Assign[0].NodeID == "" {
		t.Fatalf("allocate: %+v, want the task placed off the paused n3", a.Assign)
	}
}

// TestAllocateHonoursPin: a pinned task goes to its node even where the
// spread would put it elsewhere.
func TestAllocateHonoursPin(t *testing.T) {
	e := threeNodes(t, spec("web", 3))
	e.converge(10)
	svc, _ := e.view().Service("s1")
	e.write(api.WriteTasksPayload{Create: []api.Task{{ID: "pin1", ServiceID: "s1", Slot: 9, SpecVersion: svc.Version,
		Spec: svc.Spec, DesiredState: api.TaskRunning, PreferredNode: "n2"}}})
	a := Allocate(e.view(), scheduler.Options{})
	if len(a.Assign) != 1 || a.Assign[0].TaskID != "pin1" || a.Assign[0].NodeID != "n2" {
		t.Fatalf("allocate: %+v, want pin1 on n2", a.Assign)
	}
}

// TestRebalanceOffMovesNothing: a service with rebalance off keeps 4/4/0.
func TestRebalanceOffMovesNothing(t *testing.T) {
	s := spec("web", 8)
	s.Rebalance = api.RebalanceOff
	e := twoThenThree(t, s)
	e.converge(10)
	if got := e.perNode("s1"); !maps.Equal(got, map[string]int{"n1": 4, "n2": 4}) {
		t.Fatalf("rebalance off: %v", got)
	}
	// Turning it on replaces no task and starts the moves.
	s.Rebalance = api.RebalanceAuto
	e.updateService(s)
	if svc, _ := e.view().Service("s1"); svc.UpdateStatus.Active() {
		t.Fatalf("a change of rebalance alone started an update: %+v", svc.UpdateStatus)
	}
	if p := Orchestrate(e.view(), e.now, e.newID); !Empty(p) {
		t.Fatalf("a change of rebalance alone replaces tasks: %s", summary(p))
	}
	e.rebalanceRounds("s1", 8, 40)
	if got := e.perNode("s1"); !maps.Equal(got, map[string]int{"n1": 3, "n2": 3, "n3": 2}) {
		t.Fatalf("after rebalance auto: %v", got)
	}
}

// TestUpdateBlocksRebalance: no move starts while an update is in
// progress; once it completed, the spread evens out.
func TestUpdateBlocksRebalance(t *testing.T) {
	e := newEnv(t)
	e.addNode("n2", nil)
	e.createService("s1", spec("web", 8))
	e.converge(10)
	s := spec("web", 8)
	s.Env = []string{"V=2"}
	e.updateService(s)
	e.addNode("n3", nil)
	for e.updating() {
		if p := Rebalance(e.view(), e.now, e.newID); len(p.Create) > 0 {
			t.Fatalf("a move during an update: %s", summary(p))
		}
		e.round()
	}
	e.rebalanceRounds("s1", 7, 60) // the update is stop-first: 7 may serve at its end
	// Even, whichever node ends with 2 (the update's new tasks may
	// already have gone to n3).
	got := e.perNode("s1")
	lo, hi, sum := 8, 0, 0
	for _, n := range []string{"n1", "n2", "n3"} {
		lo, hi, sum = min(lo, got[n]), max(hi, got[n]), sum+got[n]
	}
	if sum != 8 || hi-lo > 1 {
		t.Fatalf("after the update: %v, want 8 tasks spread evenly", got)
	}
}

// TestDrainMovesStartFirst: every running task of a draining node gets
// a replacement before it stops, at most parallelism at a time, and the
// service never serves fewer than its replicas.
func TestDrainMovesStartFirst(t *testing.T) {
	s := spec("web", 6)
	s.Update = &api.UpdatePolicy{Parallelism: 2}
	s.Normalize()
	e := threeNodes(t, s)
	e.converge(10)
	e.updateNode(api.UpdateNodePayload{NodeID: "n2", Availability: api.AvailabilityDrain})
	for i := 0; e.round(); i++ {
		if i == 40 {
			t.Fatal("no convergence")
		}
		if n := e.serving("s1"); n < 6 {
			t.Fatalf("round %d: %d serving", i, n)
		}
		if m := e.moves("s1"); len(m) > 2 {
			t.Fatalf("round %d: %d moves in flight, parallelism 2", i, len(m))
		}
	}
	e.converge(5)
	if on := e.perNode("s1"); on["n2"] != 0 || on["n1"]+on["n3"] != 6 {
		t.Fatalf("after the drain: %v", on)
	}
	for _, t2 := range e.view().TasksByNode("n2") {
		if t2.Status.State != api.TaskShutdown {
			t.Fatalf("task %s on n2 is %v", t2.ID, t2.Status.State)
		}
	}
}

// TestDrainStopsWhenNoPlace: with nowhere else to go (max one per node
// and every other node full) the drained task stops anyway.
func TestDrainStopsWhenNoPlace(t *testing.T) {
	s := spec("web", 3)
	s.MaxPerNode = 1
	s.Normalize()
	e := threeNodes(t, s)
	e.converge(10)
	e.updateNode(api.UpdateNodePayload{NodeID: "n2", Availability: api.AvailabilityDrain})
	e.converge(20)
	if on := e.perNode("s1"); on["n2"] != 0 || on["n1"] != 1 || on["n3"] != 1 {
		t.Fatalf("after the drain: %v", on)
	}
}

// TestMoveCarriesOnAfterLeaderChange: a new leader, with only the
// replicated log, decides the same for a move in flight: nothing new
// while the replacement starts, the old task's stop once it is ready.
func TestMoveCarriesOnAfterLeaderChange(t *testing.T) {
	e := twoThenThree(t, spec("web", 8))
	p := Rebalance(e.view(), e.now, e.newID)
	e.write(p)
	moved := p.Create[0].Replaces
	e.write(Allocate(e.view(), scheduler.Options{}))
	if q := Rebalance(e.replica().Store().View(), e.now, e.newID); !Empty(q) {
		t.Fatalf("new leader while the replacement starts: %s", summary(q))
	}
	e.runNodes() // the replacement runs
	q := Rebalance(e.replica().Store().View(), e.now, e.newID)
	want := Rebalance(e.view(), e.now, e.newID)
	if !reflect.DeepEqual(q, want) || len(q.Desire) != 1 || q.Desire[0].TaskID != moved {
		t.Fatalf("new leader: %s, old leader %s; want %s stopped", summary(q), summary(want), moved)
	}
}

// TestFailedMoveBacksOff: a replacement that fails leaves the old task
// running; the service is not moved again before RebalanceBackoff.
func TestFailedMoveBacksOff(t *testing.T) {
	e := twoThenThree(t, spec("web", 8))
	e.breaks = func(t *api.Task) bool { return t.PreferredNode != "" }
	var first string
	for i := 0; i < 10; i++ {
		e.round()
		if n := e.serving("s1"); n < 8 {
			t.Fatalf("round %d: %d serving", i, n)
		}
	}
	var pinned []*api.Task
	for _, t2 := range e.view().TasksByService("s1") {
		if t2.PreferredNode != "" {
			pinned = append(pinned, t2)
		}
	}
	if len(pinned) != 1 || pinned[0].Status.State != api.TaskFailed {
		t.Fatalf("moves within 10 s of a failed one: %d", len(pinned))
	}
	first = pinned[0].Replaces
	if got := e.task(first); !got.Active() {
		t.Fatalf("the task a failed move replaced is %v", got.Status.State)
	}
	e.now = e.now.Add(RebalanceBackoff)
	p := Rebalance(e.view(), e.now, e.newID)
	if len(p.Create) != 1 || p.Create[0].PreferredNode != "n3" {
		t.Fatalf("after the back-off: %s, want a new move", summary(p))
	}
}

// TestRebalanceCountsEligibleNodesOnly: a node the constraints exclude
// takes no task, and the spread over the others counts as even.
func TestRebalanceCountsEligibleNodesOnly(t *testing.T) {
	s := spec("web", 8)
	cons, err := api.ParseConstraints([]string{"node.labels.zone!=c"})
	if err != nil {
		t.Fatal(err)
	}
	s.Constraints = cons
	e := newEnv(t)
	e.addNode("n2", nil)
	e.createService("s1", s)
	e.converge(10)
	e.addNode("n3", map[string]string{"zone": "c"})
	e.converge(10)
	if got := e.perNode("s1"); !maps.Equal(got, map[string]int{"n1": 4, "n2": 4}) {
		t.Fatalf("with n3 excluded: %v", got)
	}
}

// TestStuckMoveIsAbandoned: a replacement not ready within MoveTimeout
// (its node stopped reporting) is stopped, the old task keeps running,
// and the service backs off.
func TestStuckMoveIsAbandoned(t *testing.T) {
	e := twoThenThree(t, spec("web", 8))
	p := Rebalance(e.view(), e.now, e.newID)
	e.write(p)
	b, moved := p.Create[0].ID, p.Create[0].Replaces
	e.write(Allocate(e.view(), scheduler.Options{}))
	// n3's agent restarts: its task keeps its place, and runs nothing here.
	e.apply(api.CmdNodeRestarting, api.NodeRestartingPayload{NodeID: "n3", Grace: time.Hour})
	e.now = e.now.Add(MoveTimeout - time.Second)
	if q := Rebalance(e.view(), e.now, e.newID); !Empty(q) {
		t.Fatalf("before the timeout: %s", summary(q))
	}
	e.now = e.now.Add(time.Second)
	q := Rebalance(e.view(), e.now, e.newID)
	if len(q.Desire) != 1 || q.Desire[0].TaskID != b || len(q.Create) != 0 {
		t.Fatalf("at the timeout: %s, want %s stopped", summary(q), b)
	}
	e.write(q)
	e.setStatus("n3", api.NodeReady)
	if got := e.task(moved); !got.Active() {
		t.Fatalf("the old task %s is %v", moved, got.Status.State)
	}
	if q := Rebalance(e.view(), e.now, e.newID); len(q.Create) != 0 {
		t.Fatalf("a new move within the back-off: %s", summary(q))
	}
}

// TestDrainOfAMoveTarget: the node a move's replacement runs on is
// drained before the replacement is ready (parallelism 2 leaves the
// drain room for a move); the move completes first, then the drain moves
// the replacement on, and the service never serves fewer than its
// replicas.
func TestDrainOfAMoveTarget(t *testing.T) {
	s := spec("web", 8)
	s.Update = &api.UpdatePolicy{MinHealthy: api.Duration(3 * time.Second), Parallelism: 2}
	s.Normalize()
	e := newEnv(t)
	e.addNode("n2", nil)
	e.createService("s1", s)
	for range 10 {
		e.round()
	}
	e.addNode("n3", nil)
	p := Rebalance(e.view(), e.now, e.newID)
	if len(p.Create) != 1 {
		t.Fatalf("no move: %s", summary(p))
	}
	e.write(p)
	e.write(Allocate(e.view(), scheduler.Options{}))
	e.runNodes() // the replacement runs on n3, not ready for 3 s
	e.updateNode(api.UpdateNodePayload{NodeID: "n3", Availability: api.AvailabilityDrain})
	e.rebalanceRounds("s1", 8, 30)
	if got := e.perNode("s1"); !maps.Equal(got, map[string]int{"n1": 4, "n2": 4}) {
		t.Fatalf("after the drain of n3: %v", got)
	}
}
