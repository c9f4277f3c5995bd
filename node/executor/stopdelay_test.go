package executor

import (
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// TestStopDelayKeepsServingBeforeTheSignal: a task of a service with
// ports, told to stop, keeps running for its stop delay (while every
// node's datapath drops it) and only then gets its stop signal; a delay
// of zero stops at once; a drain's earlier stop deadline cuts the delay.
func TestStopDelayKeepsServingBeforeTheSignal(t *testing.T) {
	cases := []struct {
		name     string
		delay    *api.Duration
		ports    bool
		deadline time.Duration // from the order; 0: none
		least    time.Duration
		most     time.Duration
	}{
		{name: "default with ports", ports: true, least: api.DefaultStopDelay.Std(), most: 10 * time.Second},
		{name: "set", delay: durp(600 * time.Millisecond), least: 600 * time.Millisecond, most: 10 * time.Second},
		{name: "none without ports", least: 0, most: 500 * time.Millisecond},
		{name: "zero with ports", delay: durp(0), ports: true, least: 0, most: 500 * time.Millisecond},
		{name: "cut by a drain deadline", delay: durp(time.Minute), deadline: 300 * time.Millisecond, least: 250 * time.Millisecond, most: 10 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newEnv(t).start(nil)
			task := shTask("t1", "exec sleep 30")
			task.Spec.StopDelay = tc.delay
			if tc.ports {
				task.Spec.Ports = []api.PortSpec{{Name: "http", TargetPort: 8080, Protocol: "tcp"}}
			}
			n.e.SetAssignments([]api.Task{task})
			running := n.waitReported("t1", api.TaskRunning)

			ordered := time.Now()
			task.DesiredState = api.TaskShutdown
			task.Status = running
			if tc.deadline > 0 {
				task.StopDeadline = ordered.Add(tc.deadline)
			}
			n.e.UpdateAssignments([]api.Task{task}, nil)
			n.waitReported("t1", api.TaskShutdown)
			took := time.Since(ordered)
			if took < tc.least || took > tc.most {
				t.Fatalf("stopped %s after the order, want between %s and %s", took.Round(time.Millisecond), tc.least, tc.most)
			}
		})
	}
}

func durp(d time.Duration) *api.Duration {
	x := api.Duration(d)
	return &x
}
