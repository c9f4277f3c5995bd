package orchestrator

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// threeNodes returns an env with nodes n1..n3 and service "web" (ID s1).
func threeNodes(t *testing.T, s api.ServiceSpec) *env {
	e := newEnv(t)
	e.addNode("n2", nil)
	e.addNode("n3", nil)
	e.createService("s1", s)
	return e
}

func TestScaleKeepsSpread(t *testing.T) {
	e := threeNodes(t, spec("web", 6))
	e.converge(10)
	if got := e.perNode("s1"); !maps.Equal(got, map[string]int{"n1": 2, "n2": 2, "n3": 2}) {
		t.Fatalf("6 replicas per node = %v", got)
	}
	before := e.live("s1")
	e.updateService(spec("web", 3))
	e.converge(10)
	if got := e.perNode("s1"); !maps.Equal(got, map[string]int{"n1": 1, "n2": 1, "n3": 1}) {
		t.Fatalf("after scaling to 3, per node = %v", got)
	}
	// A scale never replaces tasks: the three left are original ones.
	for _, t2 := range e.live("s1") {
		if !slices.ContainsFunc(before, func(b *api.Task) bool { return b.ID == t2.ID }) {
			t.Fatalf("scale-down created task %s", t2.ID)
		}
	}
	kept := e.live("s1")
	e.updateService(spec("web", 5))
	e.converge(10)
	after := e.live("s1")
	if len(after) != 5 {
		t.Fatalf("%d live tasks after scaling to 5", len(after))
	}
	for _, k := range kept {
		if task := e.task(k.ID); !task.Active() || task.Status.State != api.TaskRunning {
			t.Fatalf("scale-up disturbed task %s: %+v", k.ID, task.Status)
		}
	}
	// Slots stay within 1..6 and unique.
	var slots []uint64
	for _, t2 := range after {
		slots = append(slots, t2.Slot)
	}
	slices.Sort(slots)
	if slots = slices.Compact(slots); len(slots) != 5 || slots[4] > 6 {
		t.Fatalf("slots = %v", slots)
	}
}

func TestOrchestrateCreatesLowestFreeSlots(t *testing.T) {
	e := threeNodes(t, spec("web", 3))
	p := Orchestrate(e.view(), e.now, e.newID)
	if len(p.Create) != 3 || len(p.Desire) != 0 {
		t.Fatalf("payload = %+v", p)
	}
	for i, c := range p.Create {
		want := api.Task{ID: fmt.Sprintf("t%04d", i+1), ServiceID: "s1", ServiceName: "web", Slot: uint64(i + 1), SpecVersion: 1,
			Spec: spec("web", 3), DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskNew}}
		if !reflect.DeepEqual(c, want) {
			t.Fatalf("create[%d] = %+v\nwant %+v", i, c, want)
		}
	}
	e.write(p)
	if p := Orchestrate(e.view(), e.now, e.newID); !Empty(p) {
		t.Fatalf("second call = %+v", p)
	}
}

func TestRestartInTheSameSlot(t *testing.T) {
	e := threeNodes(t, spec("web", 2))
	e.converge(10)
	victim := e.live("s1")[0]
	e.fail(victim.ID, 3)
	p := Orchestrate(e.view(), e.now, e.newID)
	if len(p.Create) != 1 || len(p.Desire) != 0 {
		t.Fatalf("payload = %+v", p)
	}
	c := p.Create[0]
	ended := e.task(victim.ID).Status.Timestamp
	if c.Slot != victim.Slot || c.Attempt != victim.Attempt+1 || !c.NotBefore.Equal(ended.Add(time.Second)) {
		t.Fatalf("replacement = slot %d attempt %d notBefore %v; want slot %d attempt %d notBefore %v",
			c.Slot, c.Attempt, c.NotBefore, victim.Slot, victim.Attempt+1, ended.Add(time.Second))
	}
	e.converge(10)
	if n := len(e.live("s1")); n != 2 {
		t.Fatalf("%d live tasks", n)
	}
}

func TestRestartPolicyKeepsSlotEmpty(t *testing.T) {
	cases := []struct {
		name   string
		policy api.RestartPolicy
		code   int
	}{
		{"none", api.RestartPolicy{Condition: api.RestartNone}, 1},
		{"on-failure after exit 0", api.RestartPolicy{Condition: api.RestartOnFailure}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := spec("web", 2)
			s.Restart = c.policy
			e := threeNodes(t, s)
			e.converge(10)
			victim := e.live("s1")[0]
			e.fail(victim.ID, c.code)
			e.converge(10)
			if n := len(e.live("s1")); n != 1 {
				t.Fatalf("%d live tasks; the ended slot must stay empty", n)
			}
			// A scale does not refill it either; a new spec does.
			e.updateService(spec2(s, 2, nil))
			e.converge(10)
			if n := len(e.live("s1")); n != 1 {
				t.Fatalf("%d live tasks after a scale-only update", n)
			}
			s.Env = []string{"A=1"}
			e.updateService(s)
			e.converge(20)
			live := e.live("s1")
			if len(live) != 2 {
				t.Fatalf("%d live tasks after a spec change", len(live))
			}
			for _, l := range live {
				if l.SpecVersion != 3 {
					t.Fatalf("task %s runs spec version %d", l.ID, l.SpecVersion)
				}
			}
		})
	}
}

// spec2 returns s with replicas set and env replaced when env is not nil.
func spec2(s api.ServiceSpec, replicas uint64, env []string) api.ServiceSpec {
	s.Replicas = replicas
	if env != nil {
		s.Env = env
	}
	return s
}

func TestMaxAttemptsInTheStore(t *testing.T) {
	s := spec("web", 1)
	s.Restart.MaxAttempts = 2
	e := threeNodes(t, s)
	for i := 0; i < 3; i++ {
		e.converge(10)
		live := e.live("s1")
		if len(live) != 1 || live[0].Slot != 1 || live[0].Attempt != uint64(i) {
			t.Fatalf("run %d: live = %+v", i, live)
		}
		e.fail(live[0].ID, 1)
	}
	e.converge(10)
	if n := len(e.live("s1")); n != 0 {
		t.Fatalf("%d live tasks after max attempts", n)
	}
	// A scale-up adds a slot but does not refill the given-up one.
	e.updateService(spec2(s, 2, nil))
	e.converge(10)
	live := e.live("s1")
	if len(live) != 1 || live[0].Slot != 2 {
		t.Fatalf("after scaling to 2: %+v", live)
	}
}

func TestScaleDownDropsEmptySlotsFirst(t *testing.T) {
	s := spec("web", 3)
	s.Restart.Condition = api.RestartNone
	e := threeNodes(t, s)
	e.converge(10)
	victim := e.live("s1")[0]
	e.fail(victim.ID, 1)
	e.updateService(spec2(s, 2, nil))
	if p := Orchestrate(e.view(), e.now, e.newID); !Empty(p) {
		t.Fatalf("scaling 3→2 with one empty slot stopped tasks: %+v", p)
	}
	e.updateService(spec2(s, 1, nil))
	p := Orchestrate(e.view(), e.now, e.newID)
	if len(p.Desire) != 1 || len(p.Create) != 0 {
		t.Fatalf("scaling to 1: %+v", p)
	}
}
