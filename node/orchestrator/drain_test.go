package orchestrator

import (
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// TestDrainDeadlineBecomesStopDeadline: a drain with a deadline stops the
// node's tasks with that deadline; the replacements run elsewhere.
func TestDrainDeadlineBecomesStopDeadline(t *testing.T) {
	e := threeNodes(t, spec("web", 3))
	e.converge(10)
	e.updateNode(api.UpdateNodePayload{NodeID: "n2", Availability: api.AvailabilityDrain, DrainDeadline: api.Duration(3 * time.Second)})
	n2, _ := e.view().Node("n2")
	if n2.DrainDeadline.IsZero() {
		t.Fatal("drain deadline not recorded")
	}
	p := HandleNodeFailures(e.view())
	if len(p.Desire) != 1 || p.Desire[0].DesiredState != api.TaskShutdown || !p.Desire[0].StopDeadline.Equal(n2.DrainDeadline) {
		t.Fatalf("desire = %+v, want one shutdown with stop deadline %v", p.Desire, n2.DrainDeadline)
	}
	e.write(p)
	if got := e.task(p.Desire[0].TaskID).StopDeadline; !got.Equal(n2.DrainDeadline) {
		t.Fatalf("task stop deadline %v", got)
	}
	e.converge(10)
	if on := e.perNode("s1"); on["n2"] != 0 || len(e.live("s1")) != 3 {
		t.Fatalf("after the drain: %v", on)
	}
}
