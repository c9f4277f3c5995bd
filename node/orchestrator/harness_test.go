package orchestrator

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/scheduler"
	"github.com/shoal-project/shoal/state"
)

// t0 is the command time an env starts from.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// env is a replicated store fed through the real FSM, plus a simulation
// of the node agents.
type env struct {
	t     testing.TB
	fsm   *state.FSM
	index uint64
	now   time.Time
	ids   int
	// trackers follow the changes each loop would see, to check that a
	// scoped pass returns what the full pass returns.
	trackers []*state.DirtyTracker
	// oneReport makes the simulated nodes report one change a round, so
	// that each report is a change of its own.
	oneReport bool
	// breaks, if set, says which tasks fail (exit 1) instead of running,
	// or run unhealthy when their spec has a health check.
	breaks func(*api.Task) bool
	// log holds every committed entry, to replay on a new replica.
	log [][]byte
}

func newEnv(t testing.TB) *env {
	e := &env{t: t, fsm: state.NewFSM(state.NewStore()), now: t0}
	for range e.scoped() {
		e.trackers = append(e.trackers, e.fsm.TrackDirty())
	}
	e.addNode("n1", nil)
	return e
}

// apply commits one command a millisecond after the previous one.
func (e *env) apply(typ api.CommandType, payload any) any {
	e.t.Helper()
	e.now = e.now.Add(time.Millisecond)
	p, err := json.Marshal(payload)
	if err != nil {
		e.t.Fatal(err)
	}
	data, err := json.Marshal(api.Command{Version: api.CommandVersion, Type: typ, Time: e.now, Payload: p})
	if err != nil {
		e.t.Fatal(err)
	}
	e.index++
	e.log = append(e.log, data)
	res := e.fsm.Apply(state.Entry{Index: e.index, Data: data})
	if res.Err != nil {
		e.t.Fatalf("%s: %v", typ, res.Err)
	}
	return res.Value
}

func (e *env) view() *state.View { return e.fsm.Store().View() }

// newID is a counter ID generator.
func (e *env) newID() string {
	e.ids++
	return fmt.Sprintf("t%04d", e.ids)
}

// node returns a ready node record with 4 CPUs and 8 GiB.
func node(id string, labels map[string]string) api.Node {
	return api.Node{ID: id, Name: "node-" + id, P2PAddr: "x:1", GossipAddr: "x:2", Labels: labels,
		Resources: api.Resources{NanoCPUs: 4e9, MemoryBytes: 8 << 30}, Runtimes: []string{"process"}, Protocol: api.ProtocolVersion}
}

func (e *env) addNode(id string, labels map[string]string) {
	e.apply(api.CmdRegisterNode, api.RegisterNodePayload{Node: node(id, labels)})
}

func (e *env) setStatus(id string, s api.NodeStatus) {
	e.apply(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: id, Status: s})
}

func (e *env) updateNode(p api.UpdateNodePayload) { e.apply(api.CmdUpdateNode, p) }

// spec returns a normalized replicated process service spec.
func spec(name string, replicas uint64) api.ServiceSpec {
	s := api.ServiceSpec{Name: name, Command: []string{"sleep", "1000"}, Replicas: replicas}
	s.Normalize()
	return s
}

func (e *env) createService(id string, s api.ServiceSpec) {
	e.apply(api.CmdCreateService, api.CreateServicePayload{ServiceID: id, Spec: s})
}

func (e *env) updateService(s api.ServiceSpec) {
	e.apply(api.CmdUpdateService, api.UpdateServicePayload{Name: s.Name, Spec: s})
}

// write commits a payload. Orphan entries are also emulated with a desire
// and a report from the task's node, in case the FSM does not apply them
// (if it does, the emulation changes nothing).
func (e *env) write(p api.WriteTasksPayload) {
	e.t.Helper()
	if Empty(p) {
		return
	}
	e.apply(api.CmdWriteTasks, p)
	for _, o := range p.Orphan {
		t, ok := e.view().Task(o.TaskID)
		if !ok {
			continue
		}
		e.apply(api.CmdWriteTasks, api.WriteTasksPayload{Desire: []api.TaskDesire{{TaskID: t.ID, DesiredState: api.TaskShutdown}}})
		e.report(t.NodeID, t.ID, api.TaskStatus{State: api.TaskOrphaned, Err: o.Reason})
	}
}

// report commits one observed status from a node.
func (e *env) report(nodeID, taskID string, st api.TaskStatus) {
	e.apply(api.CmdReportTaskStatus, api.ReportTaskStatusPayload{NodeID: nodeID, Updates: []api.TaskStatusUpdate{{TaskID: taskID, Status: st}}})
}

// fail reports a task's exit with code.
func (e *env) fail(taskID string, code int) {
	t := e.task(taskID)
	state := api.TaskFailed
	if code == 0 {
		state = api.TaskComplete
	}
	e.report(t.NodeID, t.ID, api.TaskStatus{State: state, ExitCode: &code})
}

func (e *env) task(id string) *api.Task {
	e.t.Helper()
	t, ok := e.view().Task(id)
	if !ok {
		e.t.Fatalf("task %s not found", id)
	}
	return t
}

// replica replays the log on a fresh FSM: the store a new leader has.
func (e *env) replica() *state.FSM {
	f := state.NewFSM(state.NewStore())
	for i, data := range e.log {
		if res := f.Apply(state.Entry{Index: uint64(i + 1), Data: data}); res.Err != nil {
			e.t.Fatalf("replay of entry %d: %v", i+1, res.Err)
		}
	}
	return f
}

// runNodes plays the node agents of ready nodes: assigned tasks whose
// NotBefore has passed start running (or fail, if e.breaks says so),
// running tasks with a health check report healthy (or unhealthy, and
// fail as the executor stops them), tasks desired shut down stop. It
// reports whether anything changed.
func (e *env) runNodes() bool {
	v := e.view()
	changed := false
	for _, t := range v.Tasks() {
		n, ok := v.Node(t.NodeID)
		if !ok || n.Status != api.NodeReady || t.Status.State < api.TaskAssigned || t.Status.State.Terminal() {
			continue
		}
		switch {
		case t.DesiredState > api.TaskRunning:
			e.report(n.ID, t.ID, api.TaskStatus{State: api.TaskShutdown})
			changed = true
		case t.Status.State < api.TaskRunning && !t.NotBefore.After(e.now):
			if e.breaks != nil && e.breaks(t) && t.Spec.Health == nil {
				e.fail(t.ID, 1)
			} else {
				e.report(n.ID, t.ID, api.TaskStatus{State: api.TaskRunning})
			}
			changed = true
		case t.Status.State == api.TaskRunning && t.Spec.Health != nil && t.Status.Health == "":
			e.report(n.ID, t.ID, api.TaskStatus{State: api.TaskRunning, Health: api.HealthStarting})
			changed = true
		case t.Status.State == api.TaskRunning && t.Spec.Health != nil && t.Status.Health == api.HealthStarting:
			if e.breaks != nil && e.breaks(t) {
				e.report(n.ID, t.ID, api.TaskStatus{State: api.TaskRunning, Health: api.HealthUnhealthy})
			} else {
				e.report(n.ID, t.ID, api.TaskStatus{State: api.TaskRunning, Health: api.HealthHealthy})
			}
			changed = true
		case t.Status.State == api.TaskRunning && t.Status.Health == api.HealthUnhealthy:
			code := 1
			e.report(n.ID, t.ID, api.TaskStatus{State: api.TaskFailed, ExitCode: &code, Err: "unhealthy: check failed"})
			changed = true
		}
		if changed && e.oneReport {
			return true
		}
	}
	return changed
}

// round runs every leader function once, commits their results, advances
// the clock by a second and plays the nodes. It reports whether anything
// changed.
func (e *env) round() bool {
	changed := false
	scoped := e.scoped()
	for i, f := range e.loops() {
		d := e.trackers[i].Take()
		v := e.view()
		sp := scoped[i](v, d) // first: the full pass takes new IDs
		p := f(v)
		if !reflect.DeepEqual(normal(p), normal(sp)) {
			e.t.Fatalf("loop %d: the pass scoped to %+v differs from the full pass:\nscoped: %s\nfull:   %s", i, d, summary(sp), summary(p))
		}
		if !Empty(p) {
			e.write(p)
			changed = true
		}
	}
	e.now = e.now.Add(time.Second)
	return e.runNodes() || changed
}

// loops returns the leader functions as the leader runs them.
func (e *env) loops() []func(*state.View) api.WriteTasksPayload {
	return []func(*state.View) api.WriteTasksPayload{
		HandleNodeFailures,
		func(v *state.View) api.WriteTasksPayload {
			return Place(v, Orchestrate(v, e.now, e.newID), scheduler.Options{})
		},
		func(v *state.View) api.WriteTasksPayload { return Reap(v, DefaultHistoryLimit) },
		func(v *state.View) api.WriteTasksPayload { return Rebalance(v, e.now, e.newID) },
	}
}

// scoped returns the loops' scoped forms, in the order of loops.
func (e *env) scoped() []func(*state.View, Scope) api.WriteTasksPayload {
	return []func(*state.View, Scope) api.WriteTasksPayload{
		HandleNodeFailuresScope,
		func(v *state.View, sc Scope) api.WriteTasksPayload {
			return Place(v, OrchestrateScope(v, e.now, e.scopedID(), sc), scheduler.Options{})
		},
		func(v *state.View, sc Scope) api.WriteTasksPayload { return ReapScope(v, DefaultHistoryLimit, sc) },
		func(v *state.View, _ Scope) api.WriteTasksPayload { return Rebalance(v, e.now, e.scopedID()) },
	}
}

// scopedID numbers the scoped pass's new tasks as the full pass that runs
// right after it will (the full pass's result is the one committed).
func (e *env) scopedID() IDGen {
	n := e.ids
	return func() string { n++; return fmt.Sprintf("t%04d", n) }
}

// summary names what a payload does, briefly.
func summary(p api.WriteTasksPayload) string {
	var b []string
	for _, t := range p.Create {
		b = append(b, "create "+t.ID+"@"+t.ServiceID)
	}
	for _, a := range p.Assign {
		b = append(b, "assign "+a.TaskID+"->"+a.NodeID+a.Err)
	}
	for _, d := range p.Desire {
		b = append(b, fmt.Sprintf("desire %s %v", d.TaskID, d.DesiredState))
	}
	for _, id := range p.Delete {
		b = append(b, "delete "+id)
	}
	for _, o := range p.Orphan {
		b = append(b, "orphan "+o.TaskID)
	}
	return fmt.Sprint(b)
}

// normal makes an empty payload compare equal to a zero one.
func normal(p api.WriteTasksPayload) api.WriteTasksPayload {
	if Empty(p) {
		return api.WriteTasksPayload{}
	}
	return p
}

// converge runs rounds until nothing changes and no update is in
// progress (one waits for time), failing after max rounds, then checks that every function is idempotent on the result and that no
// slot holds two live tasks.
func (e *env) converge(max int) {
	e.t.Helper()
	for i := 0; e.round() || e.updating(); i++ {
		if i == max {
			e.t.Fatalf("no convergence within %d rounds", max)
		}
	}
	for i, f := range e.loops() {
		if p := f(e.view()); !Empty(p) {
			e.t.Fatalf("loop %d is not idempotent on a converged state: %+v", i, p)
		}
	}
	e.checkSlots()
}

// updating reports whether a service's update is in progress.
func (e *env) updating() bool {
	for _, svc := range e.view().Services() {
		if svc.UpdateStatus.Active() {
			return true
		}
	}
	return false
}

// checkSlots fails if a slot (or a global service's node) has two live
// tasks (a start-first update may run one outdated task beside one of the
// current spec).
func (e *env) checkSlots() {
	e.t.Helper()
	seen := map[string]string{}
	for _, t := range e.view().Tasks() {
		if !t.Active() {
			continue
		}
		k := fmt.Sprintf("%s/%d/%s", t.ServiceID, t.Slot, t.NodeID)
		if t.Slot != 0 {
			k = fmt.Sprintf("%s/%d", t.ServiceID, t.Slot)
		}
		if svc, ok := e.view().Service(t.ServiceID); ok && !api.RunsSame(svc.Spec, t.Spec) {
			k += "/outdated"
		}
		if other, dup := seen[k]; dup {
			e.t.Fatalf("slot %s has two live tasks: %s and %s", k, other, t.ID)
		}
		seen[k] = t.ID
	}
}

// live returns the live tasks of a service.
func (e *env) live(svc string) []*api.Task {
	var out []*api.Task
	for _, t := range e.view().TasksByService(svc) {
		if t.Active() {
			out = append(out, t)
		}
	}
	return out
}

// perNode counts the running live tasks of a service per node.
func (e *env) perNode(svc string) map[string]int {
	out := map[string]int{}
	for _, t := range e.live(svc) {
		if t.Status.State == api.TaskRunning {
			out[t.NodeID]++
		}
	}
	return out
}
