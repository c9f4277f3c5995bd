package harness

import (
	"fmt"
	"testing"
	"time"
)

// pollInterval is how often Poll checks its condition.
const pollInterval = 50 * time.Millisecond

// Poll calls cond every 50ms until it holds or timeout passes; it returns
// how long it took, or an error naming what and cond's last non-empty
// detail.
func Poll(timeout time.Duration, what string, cond func() (bool, string)) (time.Duration, error) {
	return PollEvery(pollInterval, timeout, what, cond)
}

// PollEvery is Poll at another pace, for conditions whose check loads
// what is measured.
func PollEvery(interval, timeout time.Duration, what string, cond func() (bool, string)) (time.Duration, error) {
	start := time.Now()
	last := ""
	for {
		ok, detail := cond()
		if ok {
			return time.Since(start), nil
		}
		if detail != "" {
			last = detail
		}
		if time.Since(start) > timeout {
			return time.Since(start), fmt.Errorf("timed out after %s waiting for %s; last: %s", timeout, what, last)
		}
		time.Sleep(interval)
	}
}

// WaitFor is Poll that fails the test when the deadline passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	if _, err := Poll(timeout, what, cond); err != nil {
		t.Fatal(err)
	}
}

// Holds checks cond every 50ms for d and fails the test the first time it
// does not hold: for what must stay true through a window (tasks that must
// not move while a node restarts), not for waiting.
func Holds(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(pollInterval) {
		if ok, detail := cond(); !ok {
			t.Fatalf("%s stopped holding: %s", what, detail)
		}
	}
}
