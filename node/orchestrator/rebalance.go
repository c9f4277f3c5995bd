package orchestrator

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/scheduler"
	"github.com/shoal-project/shoal/state"
)

// Rebalancing budget and timing. Everything Rebalance decides follows
// from the view and now, so a new leader decides the same.
const (
	// MaxMoves is how many rebalance moves one service has in flight.
	MaxMoves = 1
	// MoveTimeout is how long a move's replacement may take to become
	// ready; past it the move is abandoned (a rebalance move's
	// replacement is stopped, a drain stops the old task).
	MoveTimeout = 2 * time.Minute
	// RebalanceBackoff is how long a service is left alone after one of
	// its rebalance moves failed (its replacement ended, or was stopped,
	// while the task it was to replace still ran), counted from the
	// replacement's end (or its last change).
	RebalanceBackoff = time.Minute
)

// Rebalance moves tasks of replicated services start-first: a move
// creates a replacement in the same slot (api.Task.Replaces names the
// task it moves), the orchestrator keeps both (slot.moving), and once the
// replacement is ready — running, healthy if checked, for the update
// policy's MinHealthy — the old task stops. Moves come from two places:
//
//   - drain: every running task of a replicated service on a draining
//     node is moved, whatever its rebalance mode (HandleNodeFailures
//     leaves it running), at most the update policy's Parallelism per
//     service at a time; the replacement goes wherever the scheduler
//     puts it. The old task stops anyway,
//     with the node's drain deadline, when no node can take the
//     replacement (the allocator left it pending with a reason), when
//     the replacement failed or timed out (MoveTimeout), and once the
//     drain deadline has passed: start-first when there is a place,
//     Swarm's stop otherwise;
//   - rebalance: a service with rebalance auto, no update in progress,
//     no move in flight or failed within RebalanceBackoff, and every slot
//     running one ready task of the current spec, has its live tasks
//     counted on its eligible nodes (scheduler.Eligible). When the most
//     loaded holds at least two more than the least loaded, one task of
//     the most loaded (its lowest slot) moves, its replacement pinned
//     (api.Task.PreferredNode) to the least loaded node that can take it
//     (scheduler.Fits). A replacement that fails is left to end, its old
//     task stays, and the service backs off; one not ready within
//     MoveTimeout, or that no node can take, is stopped.
//
// Services with placement preferences are not rebalanced (an even spread
// over nodes may contradict the preference's spread over label values);
// their drains still move. Nothing moves while some node speaks a
// protocol older than 6 (movesAllowed): drains stop tasks as before.
// Rebalance reads every replicated service's tasks: the leader runs it at
// most once a second (see BenchmarkRebalance).
func Rebalance(v *state.View, now time.Time, newID IDGen) api.WriteTasksPayload {
	var out api.WriteTasksPayload
	if !movesAllowed(v) {
		return out
	}
	nodes := v.Nodes()
	byID := make(map[string]*api.Node, len(nodes))
	for _, n := range nodes {
		byID[n.ID] = n
	}
	for _, svc := range v.Services() {
		if svc.Spec.Mode == api.ModeGlobal {
			continue
		}
		m := &mover{v: v, now: now, newID: newID, out: &out, svc: svc, nodes: nodes, byID: byID,
			pol: svc.Spec.Update.Effective()}
		m.service()
	}
	return out
}

// movesAllowed reports whether every node speaks the protocol the
// fields of a move (replaces, preferred_node) need.
func movesAllowed(v *state.View) bool {
	for _, n := range v.Nodes() {
		if n.ProtocolOf() < moveProtocol {
			return false
		}
	}
	return true
}

// moveProtocol is the protocol a node needs to apply a move.
var moveProtocol = api.ProtocolOf(api.Command{Type: api.CmdWriteTasks, Payload: []byte(`{"create":[{"replaces":"x","preferred_node":"y"}]}`)})

// movable reports whether a drain moves t start-first rather than
// stopping it: a running task of a replicated service.
func movable(v *state.View, t *api.Task) bool {
	if t.Status.State != api.TaskRunning || t.Slot == 0 {
		return false
	}
	svc, ok := v.Service(t.ServiceID)
	return ok && svc.Spec.Mode != api.ModeGlobal
}

// mover rebalances one service.
type mover struct {
	v     *state.View
	now   time.Time
	newID IDGen
	out   *api.WriteTasksPayload
	svc   *api.Service
	nodes []*api.Node
	byID  map[string]*api.Node
	pol   api.UpdatePolicy
	live  []*api.Task // the service's live tasks in slots, by slot then ID
	// movers are the service's tasks that were created to move another
	// (api.Task.Replaces), live or not.
	movers []*api.Task
	// moving holds the tasks a live replacement is moving, replacing
	// those replacements.
	moving, replacing map[string]bool
	inflight          int
}

// service follows the service's moves in flight, then moves its tasks
// off draining nodes, then evens out its spread.
func (m *mover) service() {
	sorted := true
	for _, t := range m.v.TasksByService(m.svc.ID) {
		if t.Replaces != "" {
			m.movers = append(m.movers, t)
		}
		if t.Active() && t.Slot > 0 {
			if n := len(m.live); n > 0 && m.live[n-1].Slot > t.Slot {
				sorted = false
			}
			m.live = append(m.live, t)
		}
	}
	if !sorted { // tasks are listed by ID; slots mostly follow
		slices.SortStableFunc(m.live, func(a, b *api.Task) int { return cmp.Compare(a.Slot, b.Slot) })
	}
	m.moving, m.replacing = map[string]bool{}, map[string]bool{}
	for _, b := range m.live {
		if a := m.replaced(b); a != nil {
			m.moving[a.ID], m.replacing[b.ID] = true, true
			m.follow(a, b)
		}
	}
	m.drain()
	m.rebalance()
}

// replaced returns the live task b is moving, or nil.
func (m *mover) replaced(b *api.Task) *api.Task {
	if b.Replaces == "" {
		return nil
	}
	a, ok := m.v.Task(b.Replaces)
	if !ok || !a.Active() || a.Slot != b.Slot || a.ServiceID != b.ServiceID {
		return nil
	}
	return a
}

// follow advances the move of a to b.
func (m *mover) follow(a, b *api.Task) {
	n := m.byID[a.NodeID]
	drain := n != nil && n.Availability == api.AvailabilityDrain
	switch {
	case ready(b, m.pol, m.now):
		m.stop(a)
	case drain && m.drainOver(n):
		m.stop(a)
	case unplaceable(b) || !m.now.Before(b.CreatedAt.Add(MoveTimeout)):
		if drain {
			m.stop(a)
		} else {
			m.stop(b)
		}
	default:
		m.inflight++
	}
}

// unplaceable reports whether the allocator found no node for t.
func unplaceable(t *api.Task) bool {
	return t.Status.State == api.TaskPending && t.Status.Err != ""
}

// drainOver reports whether n's drain deadline has passed.
func (m *mover) drainOver(n *api.Node) bool {
	return !n.DrainDeadline.IsZero() && !m.now.Before(n.DrainDeadline)
}

// drain moves the running tasks on draining nodes. A replacement that
// landed on a node drained since moves once its own move is done (moving
// it sooner would stop the task it replaces), unless the drain deadline
// passed: then it stops, and the task it was to replace stays.
func (m *mover) drain() {
	budget := int(min(m.pol.Parallelism, api.MaxReplicas)) - m.inflight
	for _, a := range m.live {
		n := m.byID[a.NodeID]
		if n == nil || n.Availability != api.AvailabilityDrain || m.moving[a.ID] || !movable(m.v, a) {
			continue
		}
		switch {
		case m.replacing[a.ID]:
			if m.drainOver(n) {
				m.stop(a)
			}
		case m.drainOver(n) || m.moveFailed(a):
			m.stop(a)
		case budget > 0:
			m.move(a, "")
			budget--
		}
	}
}

// moveFailed reports whether some replacement of a ended, or was
// stopped, while a runs.
func (m *mover) moveFailed(a *api.Task) bool {
	for _, t := range m.movers {
		if t.Replaces == a.ID && !t.Active() {
			return true
		}
	}
	return false
}

// rebalance starts one move when the service's spread is uneven.
func (m *mover) rebalance() {
	svc := m.svc
	if !svc.Spec.Rebalances() || len(svc.Spec.Preferences) > 0 || svc.UpdateStatus.Active() ||
		m.inflight >= MaxMoves || len(m.moving) > 0 || m.backingOff() {
		return
	}
	chk := newSpecCheck(svc)
	for i, t := range m.live {
		if (i > 0 && m.live[i-1].Slot == t.Slot) || chk.outdated(t) || !ready(t, m.pol, m.now) {
			return // not settled
		}
	}
	if uint64(len(m.live)) != min(svc.Spec.Replicas, api.MaxReplicas) {
		return
	}
	eligible := scheduler.Eligible(m.nodes, svc.ID, &svc.Spec)
	count := make(map[string]int, len(eligible))
	for _, n := range eligible {
		count[n.ID] = 0
	}
	for _, t := range m.live {
		if _, ok := count[t.NodeID]; ok {
			count[t.NodeID]++
		}
	}
	if len(eligible) < 2 {
		return
	}
	// Most loaded first, then least; ties by node ID.
	slices.SortFunc(eligible, func(a, b *api.Node) int {
		if c := cmp.Compare(count[b.ID], count[a.ID]); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	from := eligible[0].ID
	var a *api.Task
	for _, t := range m.live {
		if t.NodeID == from {
			a = t
			break
		}
	}
	for i := len(eligible) - 1; i > 0 && count[from]-count[eligible[i].ID] >= 2; i-- {
		to := eligible[i]
		if m.fits(to, a) {
			m.move(a, to.ID)
			return
		}
	}
}

// backingOff reports whether a rebalance move of the service failed
// within RebalanceBackoff: its replacement ended, or was stopped, while
// the task it was to replace still runs.
func (m *mover) backingOff() bool {
	for _, t := range m.movers {
		if t.PreferredNode == "" || t.Active() {
			continue
		}
		if a, ok := m.v.Task(t.Replaces); ok && a.Active() && m.now.Before(endTime(t, m.now).Add(RebalanceBackoff)) {
			return true
		}
	}
	return false
}

// fits reports whether node n can take a task like a now.
func (m *mover) fits(n *api.Node, a *api.Task) bool {
	var active []*api.Task
	for _, t := range m.v.TasksByNode(n.ID) {
		if t.Active() && t.Status.State >= api.TaskAssigned {
			active = append(active, t)
		}
	}
	c := *a
	c.ID, c.NodeID, c.Status = m.svc.ID+"/rebalance", "", api.TaskStatus{State: api.TaskNew}
	return scheduler.Fits(n, active, &c)
}

// move creates a's replacement in its slot, running the service's
// current spec, pinned to node to when set.
func (m *mover) move(a *api.Task, to string) {
	attempt := a.Attempt + 1
	for _, t := range m.v.TasksBySlot(m.svc.ID, a.Slot) {
		attempt = max(attempt, t.Attempt+1)
	}
	m.out.Create = append(m.out.Create, api.Task{
		ID: m.newID(), ServiceID: m.svc.ID, ServiceName: m.svc.Spec.Name,
		Slot: a.Slot, SpecVersion: m.svc.Version, Spec: cloneSpec(m.svc.Spec),
		DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskNew},
		Attempt: attempt, Replaces: a.ID, PreferredNode: to,
	})
	m.inflight++
}

// stop asks t to shut down; on a draining node, by its drain deadline.
func (m *mover) stop(t *api.Task) {
	d := api.TaskDesire{TaskID: t.ID, DesiredState: api.TaskShutdown}
	if n := m.byID[t.NodeID]; n != nil && n.Availability == api.AvailabilityDrain {
		d.StopDeadline = n.DrainDeadline
	}
	m.out.Desire = append(m.out.Desire, d)
}
