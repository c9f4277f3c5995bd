package orchestrator

import (
	"fmt"
	"testing"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/scheduler"
)

// BenchmarkRebalance: one pass over 20,000 running tasks (100 services
// of 200 replicas on 10 nodes) with nothing to move, as the leader runs
// it at most once a second.
func BenchmarkRebalance(b *testing.B) {
	e := newEnv(b)
	for i := 2; i <= 10; i++ {
		e.addNode(fmt.Sprintf("n%d", i), nil)
	}
	for i := range 100 {
		e.createService(fmt.Sprintf("s%03d", i), spec(fmt.Sprintf("web%d", i), 200))
	}
	e.write(Orchestrate(e.view(), e.now, e.newID))
	for !Empty(e.runAllocate()) {
	}
	var ups []api.TaskStatusUpdate
	for _, t := range e.view().Tasks() {
		ups = append(ups, api.TaskStatusUpdate{TaskID: t.ID, Status: api.TaskStatus{State: api.TaskRunning}})
	}
	byNode := map[string][]api.TaskStatusUpdate{}
	for _, u := range ups {
		t, _ := e.view().Task(u.TaskID)
		byNode[t.NodeID] = append(byNode[t.NodeID], u)
	}
	for n, us := range byNode {
		e.apply(api.CmdReportTaskStatus, api.ReportTaskStatusPayload{NodeID: n, Updates: us})
	}
	v := e.view()
	if p := Rebalance(v, e.now, e.newID); !Empty(p) {
		b.Fatalf("moves in an even cluster: %s", summary(p))
	}
	b.ResetTimer()
	for range b.N {
		Rebalance(v, e.now, e.newID)
	}
}

// runAllocate commits one Allocate pass.
func (e *env) runAllocate() api.WriteTasksPayload {
	p := Allocate(e.view(), scheduler.Options{})
	e.write(p)
	return p
}
