package executor

import (
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

func TestGraceIsCutByStopDeadline(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	task := func(grace time.Duration, deadline time.Time) api.Task {
		return api.Task{Spec: api.ServiceSpec{StopGracePeriod: api.Duration(grace)}, StopDeadline: deadline}
	}
	cases := []struct {
		name string
		t    api.Task
		want time.Duration
	}{
		{"no deadline: the spec's grace", task(time.Minute, time.Time{}), time.Minute},
		{"no deadline, no grace: the runtime's default", task(0, time.Time{}), 0},
		{"deadline after the grace", task(5*time.Second, now.Add(time.Minute)), 5 * time.Second},
		{"deadline before the grace", task(time.Minute, now.Add(3*time.Second)), 3 * time.Second},
		{"deadline before the default grace", task(0, now.Add(3*time.Second)), 3 * time.Second},
		{"deadline passed: kill at once", task(time.Minute, now.Add(-time.Second)), -1},
		{"deadline now: kill at once", task(time.Minute, now), -1},
	}
	for _, c := range cases {
		if got := graceAt(c.t, now); got != c.want {
			t.Errorf("%s: grace %v, want %v", c.name, got, c.want)
		}
	}
}
