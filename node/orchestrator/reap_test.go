package orchestrator

import (
	"slices"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// crashLoop makes slot 1 of service s1 fail n times, converging between.
func crashLoop(e *env, n int) {
	for i := 0; i < n; i++ {
		e.converge(10)
		e.fail(e.live("s1")[0].ID, 1)
	}
	e.converge(10)
}

func TestReapKeepsHistoryLimit(t *testing.T) {
	e := threeNodes(t, spec("web", 1))
	crashLoop(e, 8) // converge runs Reap with DefaultHistoryLimit
	hist := e.view().TasksBySlot("s1", 1)
	sortHistory(hist)
	if len(hist) != DefaultHistoryLimit+1 {
		t.Fatalf("slot 1 holds %d tasks, want %d finished plus the live one", len(hist), DefaultHistoryLimit)
	}
	if a := hist[0].Attempt; a != 3 {
		t.Fatalf("oldest kept attempt = %d, want 3 (the newest are kept)", a)
	}
	p := Reap(e.view(), 2)
	if len(p.Delete) != 3 || !slices.Equal(p.Delete, []string{hist[0].ID, hist[1].ID, hist[2].ID}) {
		t.Fatalf("Reap(2) = %v", p.Delete)
	}
}

func TestReapKeepsAttemptsTheRestartPolicyCounts(t *testing.T) {
	s := spec("web", 1)
	s.Restart.MaxAttempts = 7
	e := threeNodes(t, s)
	crashLoop(e, 8)
	if n := len(e.live("s1")); n != 0 {
		t.Fatalf("%d live tasks after 8 failures with max attempts 7", n)
	}
	if n := len(e.view().TasksBySlot("s1", 1)); n != 8 {
		t.Fatalf("slot 1 holds %d tasks; Reap must keep all 8 attempts", n)
	}
	// After a spec change, the old generation is trimmed as usual.
	s.Env = []string{"V=2"}
	e.updateService(s)
	e.converge(10)
	if n := len(e.view().TasksBySlot("s1", 1)); n != DefaultHistoryLimit+1 {
		t.Fatalf("slot 1 holds %d tasks after a spec change", n)
	}
}

func TestReapRemovedService(t *testing.T) {
	e := threeNodes(t, spec("web", 3))
	e.converge(10)
	e.setStatus("n1", api.NodeDown)
	e.apply(api.CmdRemoveService, api.RemoveServicePayload{Name: "web"})
	// Nothing is deleted before it is finished.
	if p := Reap(e.view(), DefaultHistoryLimit); !Empty(p) {
		t.Fatalf("deleted unfinished tasks: %+v", p)
	}
	e.converge(10)
	if n := len(e.view().TasksByService("s1")); n != 0 {
		t.Fatalf("%d tasks of the removed service remain", n)
	}
}

func TestReapNeverAssignedTasks(t *testing.T) {
	s := spec("web", 2)
	s.Reservations.MemoryBytes = 1 << 40 // fits nowhere
	e := newEnv(t)
	e.createService("s1", s)
	e.converge(10)
	e.apply(api.CmdRemoveService, api.RemoveServicePayload{Name: "web"})
	p := Reap(e.view(), DefaultHistoryLimit)
	if len(p.Delete) != 2 {
		t.Fatalf("pending tasks of a removed service: delete = %v", p.Delete)
	}
}
