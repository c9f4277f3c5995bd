package executor

import (
	"time"

	"github.com/shoal-project/shoal/api"
)

// grace is how long Stop waits between the stop signal and a kill: the
// task's stop grace period (zero lets the runtime use the spec's or its
// default), cut short by the task's stop deadline (a drain's deadline).
// Once the deadline has passed it is negative: kill at once.
func grace(t api.Task) time.Duration { return graceAt(t, time.Now()) }

func graceAt(t api.Task, now time.Time) time.Duration {
	g := time.Duration(t.Spec.StopGracePeriod)
	if t.StopDeadline.IsZero() {
		return g
	}
	left := t.StopDeadline.Sub(now)
	if left <= 0 {
		return -1
	}
	if g <= 0 {
		g = time.Duration(api.DefaultStopGracePeriod)
	}
	return min(g, left)
}
