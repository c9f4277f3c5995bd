package orchestrator

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// rollEach runs rounds until the service's update is no longer in
// progress and nothing changes, calling check after every round.
func rollEach(t *testing.T, e *env, max int, check func()) {
	t.Helper()
	for i := 0; ; i++ {
		changed := e.round()
		check()
		if !changed && !e.updating() {
			return
		}
		if i == max {
			t.Fatalf("the update did not end within %d rounds: %+v", max, e.service("s1").UpdateStatus)
		}
	}
}

func (e *env) service(id string) *api.Service {
	e.t.Helper()
	svc, ok := e.view().Service(id)
	if !ok {
		e.t.Fatalf("service %s not found", id)
	}
	return svc
}

// counts returns, for a service's live tasks: how many run the current
// spec and are ready (running, healthy when checked), how many run the
// current spec but are not ready, and how many are outdated.
func (e *env) counts(id string) (ready, unready, outdated int) {
	svc := e.service(id)
	for _, t := range e.live(id) {
		switch {
		case !api.RunsSame(svc.Spec, t.Spec):
			outdated++
		case t.Status.State == api.TaskRunning && (t.Spec.Health == nil || t.Status.Health == api.HealthHealthy):
			ready++
		default:
			unready++
		}
	}
	return ready, unready, outdated
}

// protocol5 makes the env's nodes speak protocol 5, which health checks
// need.
func protocol5(e *env) {
	for _, n := range e.view().Nodes() {
		c := *n
		c.Protocol = api.ProtocolVersion
		e.apply(api.CmdRegisterNode, api.RegisterNodePayload{Node: c})
	}
}

// healthSpec is spec with a health check.
func healthSpec(name string, replicas uint64) api.ServiceSpec {
	s := spec(name, replicas)
	s.Health = &api.HealthCheck{HTTP: "/health:8080"}
	return s
}

func TestUpdateParallelismBound(t *testing.T) {
	s := spec("web", 6)
	s.Update = &api.UpdatePolicy{Parallelism: 2}
	e := threeNodes(t, s)
	protocol5(e)
	e.converge(10)
	s.Env = []string{"V=2"}
	e.updateService(s)
	e.oneReport = true // so that tasks on their way show between rounds
	most := 0
	rollEach(t, e, 200, func() {
		// A slot being replaced has a new task that is not running yet.
		if _, unready, _ := e.counts("s1"); unready > 2 {
			t.Fatalf("%d slots being replaced at once; parallelism is 2", unready)
		} else if unready > most {
			most = unready
		}
	})
	if most != 2 {
		t.Fatalf("at most %d slots were replaced at once; want 2", most)
	}
	if ready, _, outdated := e.counts("s1"); ready != 6 || outdated != 0 {
		t.Fatalf("after the update: %d ready, %d outdated", ready, outdated)
	}
	if st := e.service("s1").UpdateStatus; st.State != api.UpdateCompleted || st.FromVersion != 1 || st.ToVersion != 2 || st.CompletedAt.IsZero() {
		t.Fatalf("update status %+v", st)
	}
}

func TestUpdateStartFirstKeepsReplicasReady(t *testing.T) {
	s := healthSpec("web", 3)
	s.Update = &api.UpdatePolicy{Parallelism: 2, Order: api.UpdateStartFirst}
	e := threeNodes(t, s)
	protocol5(e)
	e.converge(10)
	s.Env = []string{"V=2"}
	e.updateService(s)
	sawPair := false
	rollEach(t, e, 60, func() {
		healthy := 0
		for _, l := range e.live("s1") {
			if l.Status.State == api.TaskRunning && l.Status.Health == api.HealthHealthy && l.DesiredState == api.TaskRunning {
				healthy++
			}
		}
		if healthy < 3 {
			t.Fatalf("%d running healthy tasks during a start-first update of 3 replicas", healthy)
		}
		if len(e.live("s1")) > 3 {
			sawPair = true
		}
		if _, unready, _ := e.counts("s1"); unready > 2 {
			t.Fatalf("%d new tasks starting at once; parallelism is 2", unready)
		}
	})
	if !sawPair {
		t.Fatal("no new task ever ran beside an old one")
	}
	e.checkSlots()
	if ready, _, outdated := e.counts("s1"); ready != 3 || outdated != 0 || len(e.live("s1")) != 3 {
		t.Fatalf("after the update: %d ready, %d outdated, %d live", ready, outdated, len(e.live("s1")))
	}
	if st := e.service("s1").UpdateStatus; st.State != api.UpdateCompleted {
		t.Fatalf("update status %+v", st)
	}
}

func TestUpdatePausesOnFailure(t *testing.T) {
	s := spec("web", 4)
	e := threeNodes(t, s)
	protocol5(e)
	e.converge(10)
	e.breaks = func(t *api.Task) bool { return strings.Contains(strings.Join(t.Spec.Env, ","), "BROKEN") }
	s.Env = []string{"BROKEN=1"}
	e.updateService(s)
	e.converge(30)
	st := e.service("s1").UpdateStatus
	if st.State != api.UpdatePaused || !strings.Contains(st.Message, "update paused: task") || !strings.Contains(st.Message, "exit code 1") {
		t.Fatalf("update status %+v; want paused with the failure", st)
	}
	// One slot was tried (parallelism 1) and keeps restarting under the
	// restart policy; the other three still run the old spec.
	if _, _, outdated := e.counts("s1"); outdated != 3 {
		t.Fatalf("%d outdated tasks left; want 3 (the update paused after the first slot)", outdated)
	}
	for range 5 {
		e.round()
	}
	if _, _, outdated := e.counts("s1"); outdated != 3 {
		t.Fatalf("a paused update went on: %d outdated", outdated)
	}
}

func TestUpdateRollsBackAutomatically(t *testing.T) {
	s := healthSpec("web", 4)
	e := threeNodes(t, s)
	protocol5(e)
	e.converge(10)
	orig := e.service("s1").Spec
	e.breaks = func(t *api.Task) bool { return strings.Contains(strings.Join(t.Spec.Env, ","), "BROKEN") }
	bad := s
	bad.Env = []string{"BROKEN=1"}
	bad.Update = &api.UpdatePolicy{Parallelism: 2, FailureAction: api.FailureRollback}
	bad.Rollback = &api.UpdatePolicy{Parallelism: 4}
	e.updateService(bad)
	e.converge(60)
	svc := e.service("s1")
	st := svc.UpdateStatus
	if st.State != api.UpdateRollbackCompleted || st.FromVersion != 2 || st.ToVersion != 3 || !strings.Contains(st.Message, "rollback completed") {
		t.Fatalf("update status %+v; want a completed rollback from 2 to 3", st)
	}
	if svc.Version != 3 || !api.RunsSame(svc.Spec, orig) || !reflect.DeepEqual(svc.Spec.Update, bad.Update) {
		t.Fatalf("after the rollback: version %d spec %+v; want version 3 with the original spec and the update's policies", svc.Version, svc.Spec)
	}
	if ready, _, outdated := e.counts("s1"); ready != 4 || outdated != 0 || len(e.live("s1")) != 4 {
		t.Fatalf("after the rollback: %d ready, %d outdated, %d live", ready, outdated, len(e.live("s1")))
	}
}

// TestUpdateCarriesOnAfterLeaderChange checks, at every round of an
// update, that a new leader — a replica built from the same log — makes
// the same decisions as the old one, and that the update then finishes.
func TestUpdateCarriesOnAfterLeaderChange(t *testing.T) {
	s := healthSpec("web", 5)
	s.Update = &api.UpdatePolicy{Parallelism: 2, Order: api.UpdateStartFirst, Delay: api.Duration(2 * time.Second)}
	e := threeNodes(t, s)
	protocol5(e)
	e.converge(10)
	s.Env = []string{"V=2"}
	e.updateService(s)
	rounds := 0
	rollEach(t, e, 80, func() {
		rounds++
		fresh := e.replica().Store().View()
		a := Orchestrate(e.view(), e.now, e.scopedID())
		b := Orchestrate(fresh, e.now, e.scopedID())
		if !reflect.DeepEqual(normal(a), normal(b)) {
			t.Fatalf("round %d: a new leader decides differently:\nold: %s\nnew: %s", rounds, summary(a), summary(b))
		}
	})
	if st := e.service("s1").UpdateStatus; st.State != api.UpdateCompleted {
		t.Fatalf("update status %+v", st)
	}
}

func TestUpdateDelayBetweenSlots(t *testing.T) {
	s := spec("web", 3)
	s.Update = &api.UpdatePolicy{Delay: api.Duration(4 * time.Second)}
	e := threeNodes(t, s)
	protocol5(e)
	e.converge(10)
	s.Env = []string{"V=2"}
	e.updateService(s)
	if p := Orchestrate(e.view(), e.now, e.scopedID()); len(p.Create) != 1 {
		t.Fatalf("the first slot waited for the delay: %s", summary(p))
	}
	e.converge(60)
	var created []time.Time
	for _, l := range e.live("s1") {
		created = append(created, l.CreatedAt)
	}
	for i := range created {
		for j := range created {
			if i != j && created[i].Before(created[j]) && created[j].Sub(created[i]) < 4*time.Second {
				t.Fatalf("slots replaced %s apart; the delay is 4s", created[j].Sub(created[i]))
			}
		}
	}
}

func TestUpdatePolicyChangeReplacesNothing(t *testing.T) {
	s := spec("web", 2)
	e := threeNodes(t, s)
	protocol5(e)
	e.converge(10)
	s.Update = &api.UpdatePolicy{Parallelism: 2, Order: api.UpdateStartFirst}
	e.updateService(s)
	if p := Orchestrate(e.view(), e.now, e.newID); !Empty(p) {
		t.Fatalf("a policy change alone did %s", summary(p))
	}
	if st := e.service("s1").UpdateStatus; st != nil {
		t.Fatalf("a policy change started an update: %+v", st)
	}
}

func TestUpdateGlobalStartFirst(t *testing.T) {
	e := newEnv(t)
	e.addNode("n2", nil)
	e.addNode("n3", nil)
	protocol5(e)
	s := globalSpec()
	s.Update = &api.UpdatePolicy{Order: api.UpdateStartFirst}
	e.createService("g1", s)
	e.converge(10)
	s.Args = []string{"--v2"}
	e.updateService(s)
	e.oneReport = true
	checkRunning := func() {
		running := 0
		for _, l := range e.live("g1") {
			if l.Status.State == api.TaskRunning && l.DesiredState == api.TaskRunning {
				running++
			}
		}
		if running < 3 {
			t.Fatalf("%d running tasks during a start-first update of a global service on 3 nodes", running)
		}
	}
	for i := 0; e.round() || e.updating(); i++ {
		checkRunning()
		if i == 100 {
			t.Fatal("no convergence")
		}
	}
	svc := e.service("g1")
	if svc.UpdateStatus.State != api.UpdateCompleted || len(e.live("g1")) != 3 {
		t.Fatalf("status %+v, %d live", svc.UpdateStatus, len(e.live("g1")))
	}
	for _, l := range e.live("g1") {
		if l.SpecVersion != 2 {
			t.Fatalf("after the update: %+v", l)
		}
	}
}

// TestManualRollbackRolls: service.rollback restores the previous spec,
// rolled with the rollback policy's parallelism.
func TestManualRollbackRolls(t *testing.T) {
	s := spec("web", 4)
	s.Rollback = &api.UpdatePolicy{Parallelism: 4}
	e := threeNodes(t, s)
	e.converge(10)
	s.Env = []string{"V=2"}
	e.updateService(s)
	e.converge(60)
	e.apply(api.CmdRollbackService, api.RollbackServicePayload{Name: "web"})
	p := Orchestrate(e.view(), e.now, e.newID)
	if len(p.Create) != 4 || len(p.Desire) != 4 {
		t.Fatalf("the rollback's first step %s; want all 4 slots at once", summary(p))
	}
	e.converge(60)
	svc := e.service("s1")
	if svc.Version != 3 || len(svc.Spec.Env) != 0 || svc.UpdateStatus.State != api.UpdateRollbackCompleted {
		t.Fatalf("after the rollback: v%d %v %+v", svc.Version, svc.Spec.Env, svc.UpdateStatus)
	}
	if ready, _, outdated := e.counts("s1"); ready != 4 || outdated != 0 {
		t.Fatalf("%d ready, %d outdated", ready, outdated)
	}
}

// TestStartFirstRetryWaitsForRestartDelay: with failure action continue,
// a start-first replacement that fails beside its old task is retried
// after the restart delay, not at once.
func TestStartFirstRetryWaitsForRestartDelay(t *testing.T) {
	s := spec("web", 1)
	s.Restart.Delay = api.Duration(5 * time.Second)
	s.Update = &api.UpdatePolicy{Order: api.UpdateStartFirst, FailureAction: api.FailureContinue}
	e := threeNodes(t, s)
	protocol5(e)
	e.converge(10)
	e.breaks = func(t *api.Task) bool { return strings.Contains(strings.Join(t.Spec.Env, ","), "BROKEN") }
	s.Env = []string{"BROKEN=1"}
	e.updateService(s)
	for range 10 {
		e.round()
	}
	var tries []*api.Task
	for _, x := range e.view().TasksByService("s1") {
		if x.SpecVersion == 2 {
			tries = append(tries, x)
		}
	}
	if len(tries) < 2 || len(tries) > 3 {
		t.Fatalf("%d tries of the new spec in 10s with a 5s restart delay; want 2 or 3", len(tries))
	}
	sortHistory(tries)
	for _, x := range tries[1:] {
		if x.NotBefore.IsZero() {
			t.Fatalf("retry %s has no restart delay", x.ID)
		}
	}
	running := 0
	for _, x := range e.live("s1") {
		if x.SpecVersion == 1 && x.Status.State == api.TaskRunning {
			running++
		}
	}
	if running != 1 {
		t.Fatalf("%d old tasks running; want the old task to keep running", running)
	}
}
