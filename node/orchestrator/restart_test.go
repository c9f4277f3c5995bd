package orchestrator

import (
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// ended returns a task that ended on its own at t0+at with exit code code
// (state complete for 0, failed otherwise).
func ended(attempt uint64, at time.Duration, code int) *api.Task {
	st := api.TaskFailed
	if code == 0 {
		st = api.TaskComplete
	}
	return &api.Task{ID: "x", Attempt: attempt, DesiredState: api.TaskRunning,
		Status: api.TaskStatus{State: st, ExitCode: &code, Timestamp: t0.Add(at)}}
}

// lostTask returns a task orphaned at t0+at.
func lostTask(attempt uint64, at time.Duration) *api.Task {
	return &api.Task{ID: "x", Attempt: attempt, DesiredState: api.TaskShutdown,
		Status: api.TaskStatus{State: api.TaskOrphaned, Timestamp: t0.Add(at)}}
}

func TestRestart(t *testing.T) {
	sec := time.Second
	running := &api.Task{ID: "r", DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskRunning}}
	stopped := &api.Task{ID: "s", DesiredState: api.TaskShutdown, Status: api.TaskStatus{State: api.TaskShutdown, Timestamp: t0}}
	anyP := api.RestartPolicy{Condition: api.RestartAny, Delay: api.Duration(sec)}
	onFail := api.RestartPolicy{Condition: api.RestartOnFailure, Delay: api.Duration(sec)}
	max2 := api.RestartPolicy{Condition: api.RestartAny, Delay: api.Duration(sec), MaxAttempts: 2}
	max2w := max2
	max2w.Window = api.Duration(10 * sec)
	cases := []struct {
		name    string
		hist    []*api.Task
		p       api.RestartPolicy
		restart bool
		after   time.Duration // notBefore - t0, when restart
		reason  string
	}{
		{"empty history", nil, anyP, true, -1, ""},
		{"still running", []*api.Task{running}, anyP, false, 0, "has not ended"},
		{"stopped by the leader", []*api.Task{stopped}, api.RestartPolicy{Condition: api.RestartNone}, true, -1, ""},
		{"orphaned is not a failure", []*api.Task{lostTask(0, 0)}, api.RestartPolicy{Condition: api.RestartNone}, true, -1, ""},
		{"any after exit 0", []*api.Task{ended(0, 0, 0)}, anyP, true, sec, ""},
		{"any after failure", []*api.Task{ended(0, 0, 1)}, anyP, true, sec, ""},
		{"empty condition is any", []*api.Task{ended(0, 0, 0)}, api.RestartPolicy{}, true, sec, ""},
		{"zero delay is the default", []*api.Task{ended(0, 5*sec, 1)}, api.RestartPolicy{}, true, 5*sec + api.DefaultRestartDelay.Std(), ""},
		{"on-failure after failure", []*api.Task{ended(0, 0, 2)}, onFail, true, sec, ""},
		{"on-failure after exit 0", []*api.Task{ended(0, 0, 0)}, onFail, false, 0, "on-failure"},
		{"none", []*api.Task{ended(0, 0, 1)}, api.RestartPolicy{Condition: api.RestartNone}, false, 0, "condition none"},
		{"backoff doubles", []*api.Task{ended(0, 0, 1), ended(1, 2*sec, 1), ended(2, 5*sec, 1)}, anyP, true, 5*sec + 4*sec, ""},
		{"backoff capped at 10x", []*api.Task{ended(0, 0, 1), ended(1, 1, 1), ended(2, 2, 1), ended(3, 3, 1), ended(4, 4, 1), ended(5, 5, 1)}, anyP, true, 5 + 10*sec, ""},
		{"exit 0 resets backoff", []*api.Task{ended(0, 0, 1), ended(1, 0, 1), ended(2, 9*sec, 0)}, anyP, true, 10 * sec, ""},
		{"orphan breaks the chain", []*api.Task{ended(0, 0, 1), lostTask(1, sec), ended(2, 5*sec, 1)}, anyP, true, 6 * sec, ""},
		{"max attempts not reached", []*api.Task{ended(0, 0, 1), ended(1, sec, 1)}, max2, true, 3 * sec, ""},
		{"max attempts reached", []*api.Task{ended(0, 0, 1), ended(1, sec, 1), ended(2, 2*sec, 1)}, max2, false, 0, "max attempts 2 reached"},
		{"orphan replacements do not count", []*api.Task{lostTask(0, 0), lostTask(1, sec), ended(2, 2*sec, 1), ended(3, 3*sec, 1)}, max2, true, 5 * sec, ""},
		{"attempts outside the window do not count", []*api.Task{ended(0, 0, 1), ended(1, 20*sec, 1), ended(2, 25*sec, 1)}, max2w, true, 27 * sec, ""},
		{"attempts within the window", []*api.Task{ended(0, 16*sec, 1), ended(1, 20*sec, 1), ended(2, 25*sec, 1)}, max2w, false, 0, "max attempts 2 within 10s reached"},
	}
	for _, c := range cases {
		ok, nb, reason := Restart(c.hist, c.p, t0.Add(time.Hour))
		if ok != c.restart || !strings.Contains(reason, c.reason) || (c.reason == "" && reason != "") {
			t.Errorf("%s: Restart = %v, %q; want %v, %q", c.name, ok, reason, c.restart, c.reason)
			continue
		}
		switch {
		case !ok && !nb.IsZero():
			t.Errorf("%s: refused with a notBefore %v", c.name, nb)
		case ok && c.after < 0 && !nb.IsZero():
			t.Errorf("%s: notBefore = %v, want none", c.name, nb)
		case ok && c.after >= 0 && !nb.Equal(t0.Add(c.after)):
			t.Errorf("%s: notBefore = t0+%v, want t0+%v", c.name, nb.Sub(t0), c.after)
		}
	}
}

func TestRestartIgnoresNowWhenEndIsKnown(t *testing.T) {
	hist := []*api.Task{ended(0, 0, 1), ended(1, time.Second, 1), ended(2, 2*time.Second, 1)}
	p := api.RestartPolicy{MaxAttempts: 2, Window: api.Duration(time.Minute)}
	for _, now := range []time.Time{t0, t0.Add(time.Minute), t0.Add(24 * time.Hour)} {
		if ok, _, _ := Restart(hist, p, now); ok {
			t.Fatalf("at %v the refusal turned into a restart", now)
		}
	}
}

// FuzzRestart checks Restart's invariants on arbitrary histories: a
// refusal has a reason and no time, a restart is due between the last
// end and MaxBackoffFactor delays after it, and the answer ignores now.
func FuzzRestart(f *testing.F) {
	f.Add([]byte{1, 1, 1, 1}, uint8(0), uint8(2), uint8(0))
	f.Add([]byte{0, 3, 1, 2, 0}, uint8(1), uint8(0), uint8(5))
	f.Add([]byte{4, 4, 1}, uint8(2), uint8(1), uint8(1))
	f.Add([]byte{}, uint8(0), uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, kinds []byte, cond, maxAttempts, window uint8) {
		var hist []*api.Task
		for i, k := range kinds {
			at := time.Duration(i) * time.Second
			switch k % 5 {
			case 0:
				hist = append(hist, ended(uint64(i), at, 0))
			case 1:
				hist = append(hist, ended(uint64(i), at, 1))
			case 2:
				hist = append(hist, lostTask(uint64(i), at))
			case 3:
				hist = append(hist, &api.Task{ID: "s", Attempt: uint64(i), DesiredState: api.TaskShutdown,
					Status: api.TaskStatus{State: api.TaskShutdown, Timestamp: t0.Add(at)}})
			default:
				hist = append(hist, &api.Task{ID: "r", Attempt: uint64(i), DesiredState: api.TaskRunning,
					Status: api.TaskStatus{State: api.TaskRunning}})
			}
		}
		conds := []api.RestartCondition{"", api.RestartAny, api.RestartOnFailure, api.RestartNone}
		p := api.RestartPolicy{Condition: conds[int(cond)%len(conds)], MaxAttempts: uint64(maxAttempts % 8),
			Window: api.Duration(time.Duration(window%16) * time.Second)}
		ok, nb, reason := Restart(hist, p, t0)
		ok2, nb2, reason2 := Restart(hist, p, t0.Add(time.Hour))
		if ok != ok2 || !nb.Equal(nb2) || reason != reason2 {
			t.Fatalf("answer depends on now: %v %v %q / %v %v %q", ok, nb, reason, ok2, nb2, reason2)
		}
		if !ok {
			if reason == "" || !nb.IsZero() {
				t.Fatalf("refusal %q with notBefore %v", reason, nb)
			}
			return
		}
		if reason != "" {
			t.Fatalf("restart with a reason %q", reason)
		}
		if nb.IsZero() {
			return
		}
		last := hist[len(hist)-1]
		delay := nb.Sub(last.Status.Timestamp)
		if delay < time.Second || delay > MaxBackoffFactor*time.Second {
			t.Fatalf("delay %v out of range", delay)
		}
	})
}
