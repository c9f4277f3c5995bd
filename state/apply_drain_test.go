package state

import (
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

func TestDrainDeadlineIsStampedAndCleared(t *testing.T) {
	h := bootstrapped(t)
	h.fails(api.CmdUpdateNode, api.CodeInvalid, api.UpdateNodePayload{NodeID: "n2", Availability: api.AvailabilityPause, DrainDeadline: api.Duration(time.Minute)})
	h.fails(api.CmdUpdateNode, api.CodeInvalid, api.UpdateNodePayload{NodeID: "n2", Availability: api.AvailabilityDrain, DrainDeadline: api.Duration(-time.Second)})

	n := h.ok(api.CmdUpdateNode, api.UpdateNodePayload{NodeID: "n2", Availability: api.AvailabilityDrain, DrainDeadline: api.Duration(time.Minute)}).(*api.Node)
	if want := h.now.Add(time.Minute); !n.DrainDeadline.Equal(want) {
		t.Fatalf("deadline %v, want %v (command time + 1m)", n.DrainDeadline, want)
	}
	// A label change keeps the deadline; a change of availability drops it.
	n = h.ok(api.CmdUpdateNode, api.UpdateNodePayload{NodeID: "n2", LabelAdd: map[string]string{"a": "b"}}).(*api.Node)
	if n.DrainDeadline.IsZero() {
		t.Fatal("a label update cleared the drain deadline")
	}
	n = h.ok(api.CmdUpdateNode, api.UpdateNodePayload{NodeID: "n2", Availability: api.AvailabilityDrain}).(*api.Node)
	if !n.DrainDeadline.IsZero() {
		t.Fatalf("a drain without deadline kept %v", n.DrainDeadline)
	}
	h.ok(api.CmdUpdateNode, api.UpdateNodePayload{NodeID: "n2", Availability: api.AvailabilityDrain, DrainDeadline: api.Duration(time.Minute)})
	n = h.ok(api.CmdUpdateNode, api.UpdateNodePayload{NodeID: "n2", Availability: api.AvailabilityActive}).(*api.Node)
	if !n.DrainDeadline.IsZero() || n.Availability != api.AvailabilityActive {
		t.Fatalf("activate: availability %s deadline %v", n.Availability, n.DrainDeadline)
	}
}

func TestDesireCarriesStopDeadline(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("t1", 1)}})
	at := h.now.Add(time.Minute)
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Desire: []api.TaskDesire{{TaskID: "t1", DesiredState: api.TaskShutdown, StopDeadline: at}}})
	if t1 := mustTask(t, h.fsm.store, "t1"); !t1.StopDeadline.Equal(at) || t1.DesiredState != api.TaskShutdown {
		t.Fatalf("t1: desired %s stop deadline %v, want shutdown at %v", t1.DesiredState, t1.StopDeadline, at)
	}
}
