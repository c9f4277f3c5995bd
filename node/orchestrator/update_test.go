package orchestrator

import (
	"testing"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/scheduler"
)

// rollStep checks one Orchestrate call during a rolling update: it must
// replace exactly one outdated slot, stop-first, in the same slot.
func rollStep(t *testing.T, e *env, svc string, version uint64) api.TaskDesire {
	t.Helper()
	p := Orchestrate(e.view(), e.now, e.newID)
	if len(p.Desire) != 1 || len(p.Create) != 1 {
		t.Fatalf("update step = %+v; want one stop and one create", p)
	}
	old := e.task(p.Desire[0].TaskID)
	c := p.Create[0]
	if old.Slot != c.Slot || (c.Slot == 0 && old.NodeID != c.NodeID) || c.SpecVersion != version || c.Attempt != old.Attempt+1 {
		t.Fatalf("replaced %+v with %+v", old, c)
	}
	e.write(p)
	// Until the new task runs, the update waits.
	if p := Orchestrate(e.view(), e.now, e.newID); !Empty(p) {
		t.Fatalf("the update went on before the new task ran: %+v", p)
	}
	e.write(Allocate(e.view(), scheduler.Options{}))
	if p := Orchestrate(e.view(), e.now, e.newID); !Empty(p) {
		t.Fatalf("the update went on before the new task ran: %+v", p)
	}
	e.runNodes()
	return p.Desire[0]
}

func TestRollingUpdateOneSlotAtATime(t *testing.T) {
	s := spec("web", 3)
	e := threeNodes(t, s)
	e.converge(10)
	s.Env = []string{"V=2"}
	e.updateService(s)
	slots := map[uint64]bool{}
	for i := 0; i < 3; i++ {
		d := rollStep(t, e, "s1", 2)
		slots[e.task(d.TaskID).Slot] = true
	}
	if len(slots) != 3 {
		t.Fatalf("updated slots %v", slots)
	}
	e.converge(10)
	for _, l := range e.live("s1") {
		if l.SpecVersion != 2 || l.Status.State != api.TaskRunning {
			t.Fatalf("after the update: %+v", l)
		}
	}
	// A scale afterwards bumps the version but replaces nothing.
	s.Replicas = 4
	e.updateService(s)
	p := Orchestrate(e.view(), e.now, e.newID)
	if len(p.Desire) != 0 || len(p.Create) != 1 {
		t.Fatalf("scale after update: %+v", p)
	}
}

func TestRollingUpdateGlobal(t *testing.T) {
	e := newEnv(t)
	e.addNode("n2", nil)
	s := globalSpec()
	e.createService("g1", s)
	e.converge(10)
	s.Args = []string{"--v2"}
	e.updateService(s)
	rollStep(t, e, "g1", 2)
	rollStep(t, e, "g1", 2)
	e.converge(10)
	for _, l := range e.live("g1") {
		if l.SpecVersion != 2 {
			t.Fatalf("after the update: %+v", l)
		}
	}
}

func TestRollingUpdateWaitsForAFailingTask(t *testing.T) {
	s := spec("web", 2)
	e := threeNodes(t, s)
	e.converge(10)
	s.Env = []string{"V=2"}
	e.updateService(s)
	p := Orchestrate(e.view(), e.now, e.newID)
	e.write(p)
	e.write(Allocate(e.view(), scheduler.Options{}))
	e.runNodes()
	// The new task crashes: its restart is part of the update, which waits.
	e.fail(p.Create[0].ID, 1)
	p2 := Orchestrate(e.view(), e.now, e.newID)
	if len(p2.Create) != 1 || len(p2.Desire) != 0 || p2.Create[0].Slot != p.Create[0].Slot {
		t.Fatalf("after the new task failed: %+v", p2)
	}
	e.write(p2)
	if p3 := Orchestrate(e.view(), e.now, e.newID); !Empty(p3) {
		t.Fatalf("the update went on past a failing slot: %+v", p3)
	}
}

func TestScaleOnlyUpdateReplacesNothing(t *testing.T) {
	s := spec("web", 2)
	e := threeNodes(t, s)
	e.converge(10)
	orig := e.live("s1")
	for _, r := range []uint64{3, 3} { // a scale, then an update that changes nothing
		s.Replicas = r
		e.updateService(s)
		if p := Orchestrate(e.view(), e.now, e.newID); len(p.Desire) != 0 {
			t.Fatalf("updating to %d replicas stopped tasks: %+v", r, p)
		}
		e.converge(10)
	}
	for _, o := range orig {
		if task := e.task(o.ID); !task.Active() || task.Status.State != api.TaskRunning {
			t.Fatalf("task %s was disturbed: %+v", o.ID, task)
		}
	}
	if n := len(e.live("s1")); n != 3 {
		t.Fatalf("%d live tasks", n)
	}
}

// TestRollingUpdateWithReportsOneByOne runs a rolling update whose nodes
// report one change at a time, so that an updated task reaching running
// (a change that only progresses it) is the only change the orchestrator
// sees: the scoped passes must still go on with the update, as the
// harness checks against the full pass every round.
func TestRollingUpdateWithReportsOneByOne(t *testing.T) {
	s := spec("web", 3)
	e := threeNodes(t, s)
	e.converge(10)
	e.oneReport = true
	s.Env = []string{"V=2"}
	e.updateService(s)
	e.converge(30)
	for _, l := range e.live("s1") {
		if l.SpecVersion != 2 || l.Status.State != api.TaskRunning {
			t.Fatalf("after the update: %+v", l)
		}
	}
}
