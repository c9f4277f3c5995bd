package orchestrator

import (
	"reflect"
	"slices"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// holdCanary runs rounds until the service's update holds in its canary
// state and a round changes nothing, checking at every round that a new
// leader (a replica of the same log) decides as the old one does.
func holdCanary(t *testing.T, e *env, max int) {
	t.Helper()
	for i := 0; ; i++ {
		changed := e.round()
		sameAfterLeaderChange(t, e, i)
		if !changed && e.service("s1").UpdateStatus.Held() {
			return
		}
		if i == max {
			t.Fatalf("no canary hold within %d rounds: %+v", max, e.service("s1").UpdateStatus)
		}
	}
}

// sameAfterLeaderChange fails when a fresh replica's orchestrator decides
// otherwise than the current one.
func sameAfterLeaderChange(t *testing.T, e *env, round int) {
	t.Helper()
	a := Orchestrate(e.view(), e.now, e.scopedID())
	b := Orchestrate(e.replica().Store().View(), e.now, e.scopedID())
	if !reflect.DeepEqual(normal(a), normal(b)) {
		t.Fatalf("round %d: a new leader decides differently:\nold: %s\nnew: %s", round, summary(a), summary(b))
	}
}

// canaryEnv is a 3-replica service with a health check and update
// policy pol, converged, then updated to V=2.
func canaryEnv(t *testing.T, pol api.UpdatePolicy) (*env, api.ServiceSpec, []string) {
	s := healthSpec("web", 3)
	s.Update = &pol
	s.Rebalance = api.RebalanceOff // the canaries stay where they started
	e := threeNodes(t, s)
	protocol5(e)
	e.converge(10)
	var old []string
	for _, l := range e.live("s1") {
		old = append(old, l.ID)
	}
	slices.Sort(old)
	s.Env = []string{"V=2"}
	e.updateService(s)
	return e, s, old
}

func liveIDs(e *env, ready bool) []string {
	var out []string
	for _, l := range e.live("s1") {
		if !ready || l.Status.State == api.TaskRunning {
			out = append(out, l.ID)
		}
	}
	slices.Sort(out)
	return out
}

// TestCanaryStartsBesideAndHolds: --canary 1 on 3 replicas starts one
// task of the new spec beside the 3 old ones, holds once it is healthy,
// and stays so: nothing else is replaced while held.
func TestCanaryStartsBesideAndHolds(t *testing.T) {
	e, _, old := canaryEnv(t, api.UpdatePolicy{Canary: 1})
	holdCanary(t, e, 20)
	if ready, unready, outdated := e.counts("s1"); ready != 1 || unready != 0 || outdated != 3 {
		t.Fatalf("held: %d ready new, %d unready, %d old; want 1, 0, 3", ready, unready, outdated)
	}
	for _, id := range old {
		if !e.task(id).Active() {
			t.Fatalf("old task %s stopped during the canary", id)
		}
	}
	for i := range 5 {
		if e.round() {
			t.Fatalf("round %d after the hold changed something", i)
		}
	}
	e.checkSlots()
}

// TestCanaryPromote: promote stops the old task beside the canary (which
// stays: it counts as updated) and replaces the others by the policy;
// the service returns to 3 tasks, all new, and the update completes.
func TestCanaryPromote(t *testing.T) {
	e, _, _ := canaryEnv(t, api.UpdatePolicy{Canary: 1})
	holdCanary(t, e, 20)
	var canary string
	svc := e.service("s1")
	for _, l := range e.live("s1") {
		if l.SpecVersion == svc.Version {
			canary = l.ID
		}
	}
	e.apply(api.CmdPromoteService, api.PromoteServicePayload{Name: "web"})
	if st := e.service("s1").UpdateStatus; st.State != api.UpdateUpdating || !st.Promoted {
		t.Fatalf("after promote: %+v", st)
	}
	rounds := 0
	rollEach(t, e, 60, func() { sameAfterLeaderChange(t, e, rounds); rounds++ })
	if ready, unready, outdated := e.counts("s1"); ready != 3 || unready != 0 || outdated != 0 {
		t.Fatalf("promoted: %d ready, %d unready, %d outdated; want 3 new", ready, unready, outdated)
	}
	if !e.task(canary).Active() {
		t.Fatalf("the canary %s was replaced by the promotion", canary)
	}
	if st := e.service("s1").UpdateStatus; st.State != api.UpdateCompleted {
		t.Fatalf("status %+v", st)
	}
	e.converge(10)
}

// TestCanaryRollback: a rollback while held stops the canary and ends on
// the old version, keeping the old tasks (they run the restored spec).
func TestCanaryRollback(t *testing.T) {
	e, _, old := canaryEnv(t, api.UpdatePolicy{Canary: 1})
	holdCanary(t, e, 20)
	e.apply(api.CmdRollbackService, api.RollbackServicePayload{Name: "web"})
	rounds := 0
	rollEach(t, e, 60, func() { sameAfterLeaderChange(t, e, rounds); rounds++ })
	svc := e.service("s1")
	if len(svc.Spec.Env) != 0 || svc.UpdateStatus.State != api.UpdateRollbackCompleted {
		t.Fatalf("after the rollback: v%d %v %+v", svc.Version, svc.Spec.Env, svc.UpdateStatus)
	}
	if got := liveIDs(e, false); !slices.Equal(got, old) {
		t.Fatalf("live tasks %v, want the old ones %v", got, old)
	}
}

// TestCanaryRollbackAfterWeightChange: a weight-only write while held
// makes a version that runs the same tasks; rollback still goes back to
// the version the update started from.
func TestCanaryRollbackAfterWeightChange(t *testing.T) {
	p := uint64(20)
	e, s, old := canaryEnv(t, api.UpdatePolicy{TrafficNew: &p})
	holdCanary(t, e, 20)
	q := uint64(50)
	s.Update = &api.UpdatePolicy{TrafficNew: &q}
	e.updateService(s)
	if p := Orchestrate(e.view(), e.now, e.newID); !Empty(p) {
		t.Fatalf("a weight change replaced tasks: %s", summary(p))
	}
	if st := e.service("s1").UpdateStatus; !st.Held() {
		t.Fatalf("a weight change left the hold: %+v", st)
	}
	e.apply(api.CmdRollbackService, api.RollbackServicePayload{Name: "web"})
	rollEach(t, e, 60, func() {})
	svc := e.service("s1")
	if len(svc.Spec.Env) != 0 || svc.UpdateStatus.State != api.UpdateRollbackCompleted {
		t.Fatalf("after the rollback: v%d %v %+v", svc.Version, svc.Spec.Env, svc.UpdateStatus)
	}
	if got := liveIDs(e, false); !slices.Equal(got, old) {
		t.Fatalf("live tasks %v, want the old ones %v", got, old)
	}
}

// TestTrafficStartsAllReplicasBeside: a traffic split starts every
// replica of the new spec beside the old ones (6 tasks for 3 replicas),
// then holds; promote leaves 3 new tasks.
func TestTrafficStartsAllReplicasBeside(t *testing.T) {
	p := uint64(20)
	e, _, old := canaryEnv(t, api.UpdatePolicy{TrafficNew: &p})
	holdCanary(t, e, 20)
	if ready, _, outdated := e.counts("s1"); ready != 3 || outdated != 3 {
		t.Fatalf("held: %d new ready, %d old; want 3 and 3", ready, outdated)
	}
	e.apply(api.CmdPromoteService, api.PromoteServicePayload{Name: "web"})
	rollEach(t, e, 60, func() {})
	if ready, unready, outdated := e.counts("s1"); ready != 3 || unready != 0 || outdated != 0 {
		t.Fatalf("promoted: %d ready, %d unready, %d outdated", ready, unready, outdated)
	}
	for _, id := range old {
		if e.task(id).Active() {
			t.Fatalf("old task %s still live after the promotion", id)
		}
	}
}

// TestCanaryFailurePauses: a canary that turns unhealthy is a failure:
// the default failure action pauses the update, the old tasks run on.
func TestCanaryFailurePauses(t *testing.T) {
	e, _, old := canaryEnv(t, api.UpdatePolicy{Canary: 1})
	e.breaks = func(t *api.Task) bool { return len(t.Spec.Env) > 0 }
	for i := 0; i < 30 && e.service("s1").UpdateStatus.State != api.UpdatePaused; i++ {
		e.round()
		sameAfterLeaderChange(t, e, i)
	}
	if st := e.service("s1").UpdateStatus; st.State != api.UpdatePaused {
		t.Fatalf("status %+v, want paused", st)
	}
	for _, id := range old {
		if !e.task(id).Active() {
			t.Fatalf("old task %s stopped", id)
		}
	}
}

// TestHeldCanaryFailureRollsBack: a canary that fails while the update
// holds is a failure; with failure action rollback the update rolls back
// from the hold and ends on the old tasks.
func TestHeldCanaryFailureRollsBack(t *testing.T) {
	e, _, old := canaryEnv(t, api.UpdatePolicy{Canary: 1, FailureAction: api.FailureRollback})
	holdCanary(t, e, 20)
	svc := e.service("s1")
	for _, l := range e.live("s1") {
		if l.SpecVersion == svc.Version {
			e.fail(l.ID, 1)
		}
	}
	rounds := 0
	rollEach(t, e, 60, func() { sameAfterLeaderChange(t, e, rounds); rounds++ })
	svc = e.service("s1")
	if len(svc.Spec.Env) != 0 || svc.UpdateStatus.State != api.UpdateRollbackCompleted {
		t.Fatalf("after the failure: v%d %v %+v", svc.Version, svc.Spec.Env, svc.UpdateStatus)
	}
	if got := liveIDs(e, false); !slices.Equal(got, old) {
		t.Fatalf("live tasks %v, want the old ones %v", got, old)
	}
}

// TestCanaryLostWithItsNode: a held canary whose node goes down is
// replaced on another node and the update holds again; nothing live is
// left on the down node.
func TestCanaryLostWithItsNode(t *testing.T) {
	e, _, _ := canaryEnv(t, api.UpdatePolicy{Canary: 1})
	holdCanary(t, e, 20)
	svc := e.service("s1")
	var down string
	for _, l := range e.live("s1") {
		if l.SpecVersion == svc.Version {
			down = l.NodeID
		}
	}
	e.setStatus(down, api.NodeDown)
	e.round()
	holdCanary(t, e, 30)
	ready, unready, _ := e.counts("s1")
	if ready < 1 || unready != 0 {
		t.Fatalf("held again: %d ready new tasks, %d unready", ready, unready)
	}
	for _, l := range e.live("s1") {
		if l.NodeID == down {
			t.Fatalf("task %s still live on the down node %s", l.ID, down)
		}
	}
}
