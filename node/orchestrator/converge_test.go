package orchestrator

import (
	"reflect"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/scheduler"
)

func TestNodeDownReplacesInTheSameSlot(t *testing.T) {
	s := spec("web", 3)
	s.Restart.MaxAttempts = 1
	e := threeNodes(t, s)
	e.converge(10)
	// Scale to 2 by stopping slot 1, so a lower slot than the lost one is free.
	s.Replicas = 2
	e.updateService(s)
	bySlot := map[uint64]*api.Task{}
	for _, l := range e.live("s1") {
		bySlot[l.Slot] = l
	}
	e.write(api.WriteTasksPayload{Desire: []api.TaskDesire{{TaskID: bySlot[1].ID, DesiredState: api.TaskShutdown}}})
	e.converge(10)
	lost := bySlot[3]
	e.setStatus(lost.NodeID, api.NodeDown)
	e.converge(10)
	if task := e.task(lost.ID); task.Status.State != api.TaskOrphaned || task.DesiredState != api.TaskShutdown {
		t.Fatalf("lost task = %+v", task)
	}
	repl := liveInSlot(e, 3)
	if repl == nil || repl.NodeID == lost.NodeID || repl.Status.State != api.TaskRunning || repl.Attempt != lost.Attempt+1 || !repl.NotBefore.IsZero() {
		t.Fatalf("replacement of slot 3 = %+v", repl)
	}
	if n := len(e.live("s1")); n != 2 {
		t.Fatalf("%d live tasks", n)
	}
	// The orphan did not use up the restart policy's single attempt...
	e.fail(repl.ID, 1)
	e.converge(10)
	again := liveInSlot(e, 3)
	if again == nil {
		t.Fatal("the replacement's failure was not restarted")
	}
	// ...which the next failure does.
	e.fail(again.ID, 1)
	e.converge(10)
	if l := liveInSlot(e, 3); l != nil || len(e.live("s1")) != 1 {
		t.Fatalf("slot 3 was restarted past max attempts: %+v", l)
	}
}

func liveInSlot(e *env, slot uint64) *api.Task {
	for _, l := range e.live("s1") {
		if l.Slot == slot {
			return l
		}
	}
	return nil
}

// scenario builds a busy state: two services, a failure, a lost node.
func scenario(t *testing.T) *env {
	e := threeNodes(t, spec("web", 4))
	e.createService("g1", globalSpec())
	e.converge(10)
	e.fail(e.live("s1")[0].ID, 1)
	e.setStatus("n3", api.NodeDown)
	return e
}

func TestDeterminism(t *testing.T) {
	a, b := scenario(t), scenario(t)
	for i := 0; i < 2; i++ { // and a second call on the same view
		pa := Orchestrate(a.view(), a.now, a.newID)
		pb := Orchestrate(b.view(), b.now, b.newID)
		if !reflect.DeepEqual(pa, pb) || Empty(pa) {
			t.Fatalf("Orchestrate differs:\n%+v\n%+v", pa, pb)
		}
		for _, f := range []func(e *env) api.WriteTasksPayload{
			func(e *env) api.WriteTasksPayload { return HandleNodeFailures(e.view()) },
			func(e *env) api.WriteTasksPayload { return Allocate(e.view(), scheduler.Options{}) },
			func(e *env) api.WriteTasksPayload {
				return Place(e.view(), Orchestrate(e.view(), e.now, e.newID), scheduler.Options{})
			},
			func(e *env) api.WriteTasksPayload { return Reap(e.view(), 1) },
		} {
			if pa, pb := f(a), f(b); !reflect.DeepEqual(pa, pb) {
				t.Fatalf("payloads differ:\n%+v\n%+v", pa, pb)
			}
		}
		a.ids, b.ids = 0, 0
	}
}

func TestIdempotence(t *testing.T) {
	e := scenario(t)
	for i, f := range e.loops() {
		p := f(e.view())
		if Empty(p) && i != 2 && i != 3 { // nothing to reap or to move
			t.Fatalf("loop %d has nothing to do in the scenario", i)
		}
		e.write(p)
		if p := f(e.view()); !Empty(p) {
			t.Fatalf("loop %d is not idempotent: %+v", i, p)
		}
	}
	e.converge(20)
}

func TestConvergesAfterChurn(t *testing.T) {
	e := scenario(t)
	e.converge(20)
	e.setStatus("n3", api.NodeReady)
	e.updateService(spec("web", 7))
	e.addNode("n4", nil)
	e.converge(20)
	if n := len(e.live("s1")); n != 7 {
		t.Fatalf("%d replicas", n)
	}
	if n := len(e.live("g1")); n != 4 {
		t.Fatalf("%d global tasks", n)
	}
	e.apply(api.CmdRemoveService, api.RemoveServicePayload{Name: "agent"})
	e.converge(20)
	if n := len(e.view().TasksByService("g1")); n != 0 {
		t.Fatalf("%d tasks of the removed global service remain", n)
	}
}

func TestMergeAndEmpty(t *testing.T) {
	if !Empty(api.WriteTasksPayload{}) || !Empty(Merge()) || Empty(api.WriteTasksPayload{Delete: []string{"x"}}) {
		t.Fatal("Empty is wrong")
	}
	d := api.TaskDesire{TaskID: "a", DesiredState: api.TaskShutdown}
	m := Merge(
		api.WriteTasksPayload{Create: []api.Task{{ID: "n1"}}, Desire: []api.TaskDesire{d}, Delete: []string{"x"}},
		api.WriteTasksPayload{Assign: []api.TaskAssignment{{TaskID: "n1", NodeID: "n"}}, Desire: []api.TaskDesire{d},
			Delete: []string{"x", "y"}, Orphan: []api.TaskOrphan{{TaskID: "o"}, {TaskID: "o"}}},
	)
	want := api.WriteTasksPayload{Create: []api.Task{{ID: "n1"}}, Assign: []api.TaskAssignment{{TaskID: "n1", NodeID: "n"}},
		Desire: []api.TaskDesire{d}, Delete: []string{"x", "y"}, Orphan: []api.TaskOrphan{{TaskID: "o"}}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("Merge = %+v", m)
	}
}

// TestRestartDelayIsHonoured checks that a crash-looping slot backs off:
// replacements' NotBefore grows.
func TestRestartDelayIsHonoured(t *testing.T) {
	e := threeNodes(t, spec("web", 1))
	var gaps []time.Duration
	for i := 0; i < 4; i++ {
		e.converge(30)
		l := e.live("s1")[0]
		e.fail(l.ID, 1)
		p := Orchestrate(e.view(), e.now, e.newID)
		gaps = append(gaps, p.Create[0].NotBefore.Sub(e.task(l.ID).Status.Timestamp))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	if !reflect.DeepEqual(gaps, want) {
		t.Fatalf("delays = %v, want %v", gaps, want)
	}
}
