package orchestrator

import (
	"fmt"
	"time"

	"github.com/shoal-project/shoal/api"
)

// MaxBackoffFactor caps the restart delay at this multiple of the policy's
// Delay.
const MaxBackoffFactor = 10

// Restart is the restart supervisor's policy. Given a slot's history
// (oldest first; the caller passes only the current spec generation) and
// the service's policy, it says whether to replace the last task, and not
// before when; when it refuses, reason says why in one line.
//
// Only a task that ended on its own (exit, crash, rejection) is subject to
// the policy. A task lost with its node (orphaned) or stopped by the leader
// is replaced at once (restart true, zero notBefore): a node failure is not
// a task failure. A task that has not ended is not replaced.
//
// Condition any (or empty) always restarts; on-failure restarts after
// state failed or rejected or a non-zero exit code; none never restarts.
// The delay is Delay (api.DefaultRestartDelay if not positive), doubled for
// every consecutive failure before the last one within Window, up to
// MaxBackoffFactor × Delay; notBefore is the last task's end plus the
// delay. MaxAttempts (0: no limit) counts the restarts in history, that is
// the tasks whose predecessor ended on its own, within Window (0: forever).
// Orphaned predecessors never count. The window is measured back from the
// last task's end, not from now, so the answer does not change while the
// leader waits; now only stands in for an end time the history lacks.
func Restart(history []*api.Task, p api.RestartPolicy, now time.Time) (restart bool, notBefore time.Time, reason string) {
	if len(history) == 0 || history[len(history)-1] == nil {
		return true, time.Time{}, ""
	}
	last := history[len(history)-1]
	if !last.Status.State.Terminal() && last.DesiredState <= api.TaskRunning {
		return false, time.Time{}, fmt.Sprintf("task %s has not ended", last.ID)
	}
	if !endedOnItsOwn(last) {
		return true, time.Time{}, ""
	}
	switch p.Condition {
	case api.RestartNone:
		return false, time.Time{}, "restart policy: condition none"
	case api.RestartOnFailure:
		if !failed(last) {
			return false, time.Time{}, "restart policy: condition on-failure, and the task exited successfully"
		}
	}
	end := endTime(last, now)
	window := p.Window.Std()
	inWindow := func(t *api.Task) bool { return window <= 0 || !endTime(t, now).Before(end.Add(-window)) }
	if p.MaxAttempts > 0 {
		var restarts uint64
		for i := 1; i < len(history); i++ {
			if prev := history[i-1]; prev != nil && endedOnItsOwn(prev) && inWindow(prev) {
				restarts++
			}
		}
		if restarts >= p.MaxAttempts {
			if window > 0 {
				return false, time.Time{}, fmt.Sprintf("restart policy: max attempts %d within %s reached", p.MaxAttempts, window)
			}
			return false, time.Time{}, fmt.Sprintf("restart policy: max attempts %d reached", p.MaxAttempts)
		}
	}
	return true, end.Add(backoff(history, p.Delay.Std(), inWindow)), ""
}

// backoff is the delay before the next restart: base doubled for every
// consecutive failure before the last one, capped at MaxBackoffFactor×base.
func backoff(history []*api.Task, base time.Duration, inWindow func(*api.Task) bool) time.Duration {
	if base <= 0 {
		base = api.DefaultRestartDelay.Std()
	}
	limit := MaxBackoffFactor * base
	d := base
	if !failed(history[len(history)-1]) {
		return d
	}
	for i := len(history) - 2; i >= 0; i-- {
		t := history[i]
		if t == nil || !endedOnItsOwn(t) || !failed(t) || !inWindow(t) {
			break
		}
		if d *= 2; d >= limit {
			return limit
		}
	}
	return d
}
