package orchestrator

import (
	"sort"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// Orchestrate converges each service's tasks to its spec and returns the
// tasks to create and to stop.
//
// Replicated services keep exactly Replicas held slots. A slot is held
// while it has a live task, or while its last task ended on its own: the
// restart policy (see Restart) then either replaces that task in the same
// slot (Attempt+1, NotBefore = end + backoff) or leaves the slot empty,
// and an empty slot stays held, so nothing replaces it, until the spec
// changes. Missing slots get new tasks, first in slots whose last task
// was lost with its node or evicted from a draining node (so a
// replacement keeps its slot), then in the lowest free slot numbers. Extra
// slots go empty ones first, then live tasks chosen by
// scheduler.SelectForRemoval so the spread stays even.
//
// Global services keep one live task on every node that is ready, active,
// offers the runtime and passes the constraints; the task is created with
// its NodeID preset and left to Allocate. A paused node keeps its task but
// gets no new one; tasks on other nodes are stopped.
//
// Rolling update: live tasks that are outdated (older spec version whose
// spec differs in more than Replicas and the update policies) are
// replaced as the service's update policy says (its rollback policy
// during a rollback); see roll.
//
// Tasks of removed services are stopped.
//
// New tasks take their IDs from newID, in a deterministic order.
func Orchestrate(v *state.View, now time.Time, newID IDGen) api.WriteTasksPayload {
	return OrchestrateScope(v, now, newID, Everything)
}

// OrchestrateScope is Orchestrate over the services sc covers (see
// scopeServiceIDs).
func OrchestrateScope(v *state.View, now time.Time, newID IDGen, sc Scope) api.WriteTasksPayload {
	r := &run{v: v, now: now, newID: newID, nodes: map[string]*api.Node{}}
	for _, n := range v.Nodes() {
		r.nodes[n.ID] = n
	}
	converge := func(svc *api.Service) {
		tasks := v.TasksByService(svc.ID)
		o := &svcRun{run: r, svc: svc, chk: newSpecCheck(svc), tasks: tasks}
		switch svc.Spec.Mode {
		case api.ModeReplicated:
			o.replicated(tasks)
		case api.ModeGlobal:
			o.global(tasks)
		}
	}
	if sc.All {
		known := map[string]bool{}
		for _, svc := range v.Services() {
			known[svc.ID] = true
			converge(svc)
		}
		for _, t := range v.Tasks() {
			if !known[t.ServiceID] && t.Active() {
				r.stop(t)
			}
		}
		return r.out
	}
	var orphans []*api.Task
	for _, id := range scopeServiceIDs(v, sc, true) {
		if svc, ok := v.Service(id); ok {
			converge(svc)
			continue
		}
		for _, t := range v.TasksByService(id) {
			if t.Active() {
				orphans = append(orphans, t)
			}
		}
	}
	sort.Slice(orphans, func(i, j int) bool { return orphans[i].ID < orphans[j].ID })
	for _, t := range orphans {
		r.stop(t)
	}
	return r.out
}

// run is the state of one Orchestrate call.
type run struct {
	v     *state.View
	now   time.Time
	newID IDGen
	nodes map[string]*api.Node
	out   api.WriteTasksPayload
}

// stop asks a task to shut down.
func (r *run) stop(t *api.Task) {
	r.out.Desire = append(r.out.Desire, api.TaskDesire{TaskID: t.ID, DesiredState: api.TaskShutdown})
}

// svcRun orchestrates one service.
type svcRun struct {
	*run
	svc   *api.Service
	chk   *specCheck
	tasks []*api.Task
	// inflight counts the tasks created in this payload that replace an
	// outdated one (or its failed replacement); created counts them all.
	inflight, created int
}

// slot is the history of one replica slot, or of one node for a global
// service.
type slot struct {
	num  uint64
	node string
	hist []*api.Task // oldest first
	live *api.Task   // the live task, if any
	// old is an outdated live task beside a current live one: a
	// start-first replacement under way. It stops once live is ready.
	old *api.Task
	// moving is the live task that live replaces in a start-first move
	// (api.Task.Replaces: a rebalance or a drain). Rebalance, not the
	// orchestrator, stops it once live is ready.
	moving    *api.Task
	notBefore time.Time // for a restart
}

// last returns the newest task of the slot, or nil.
func (s *slot) last() *api.Task {
	if len(s.hist) == 0 {
		return nil
	}
	return s.hist[len(s.hist)-1]
}

// nextAttempt is the Attempt of the slot's next task.
func (s *slot) nextAttempt() uint64 {
	if l := s.last(); l != nil {
		return l.Attempt + 1
	}
	return 0
}

// newSlot sorts a slot's history and finds its live task: the newest
// that runs the current spec, else the newest. Beside a current live
// task, the newest outdated one is kept as the slot's old task (a
// start-first replacement), and the task live replaces in a move as its
// moving task; any other live task is stopped.
func (o *svcRun) newSlot(num uint64, node string, hist []*api.Task) *slot {
	s := &slot{num: num, node: node, hist: hist}
	sortHistory(hist)
	var lives []*api.Task
	for _, t := range hist {
		if t.Active() {
			lives = append(lives, t)
		}
	}
	for i := len(lives) - 1; i >= 0; i-- {
		if s.live == nil || (o.chk.outdated(s.live) && !o.chk.outdated(lives[i])) {
			s.live = lives[i]
		}
	}
	if s.live != nil && !o.chk.outdated(s.live) {
		for i := len(lives) - 1; i >= 0; i-- {
			if o.chk.outdated(lives[i]) {
				s.old = lives[i]
				break
			}
		}
	}
	for _, t := range lives {
		if t == s.live || t == s.old {
			continue
		}
		if s.live != nil && s.live.Replaces == t.ID {
			s.moving = t
			continue
		}
		o.stop(t)
	}
	return s
}

// stopSlot stops a slot's live tasks.
func (o *svcRun) stopSlot(s *slot) {
	o.stop(s.live)
	if s.old != nil {
		o.stop(s.old)
	}
	if s.moving != nil {
		o.stop(s.moving)
	}
}

// vacancy is what a slot without a live task calls for.
type vacancy int

const (
	// vacantFree: never used, or its last task was stopped or lost.
	vacantFree vacancy = iota
	// vacantRestart: its last task ended on its own; replace it.
	vacantRestart
	// vacantHold: its last task ended on its own; the policy keeps it empty.
	vacantHold
)

// vacancy classifies a slot that has no live task and, for a restart,
// sets its notBefore. A last task of an older spec is replaced at once:
// a new spec resets the attempts.
func (o *svcRun) vacancy(s *slot) vacancy {
	last := s.last()
	if last == nil || !endedOnItsOwn(last) {
		return vacantFree
	}
	if o.chk.outdated(last) {
		return vacantRestart
	}
	ok, nb, _ := Restart(o.chk.generation(s.hist), o.svc.Spec.Restart, o.now)
	if !ok {
		return vacantHold
	}
	s.notBefore = nb
	return vacantRestart
}

// create adds the slot's next task, running the service's current spec.
func (o *svcRun) create(s *slot, notBefore time.Time) {
	t := api.Task{
		ID: o.newID(), ServiceID: o.svc.ID, ServiceName: o.svc.Spec.Name,
		Slot: s.num, SpecVersion: o.svc.Version, Spec: cloneSpec(o.svc.Spec), NodeID: s.node,
		DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskNew},
		Attempt: s.nextAttempt(), NotBefore: notBefore,
	}
	o.out.Create = append(o.out.Create, t)
	o.created++
	if len(o.chk.generation(s.hist)) < len(s.hist) {
		o.inflight++
	}
}
