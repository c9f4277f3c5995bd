package harness

import (
	"strings"
	"testing"
	"time"
)

func TestPollReturnsOnceTheConditionHolds(t *testing.T) {
	calls := 0
	took, err := Poll(5*time.Second, "three calls", func() (bool, string) {
		calls++
		return calls == 3, ""
	})
	if err != nil || calls != 3 || took <= 0 {
		t.Fatalf("took=%v err=%v calls=%d", took, err, calls)
	}
}

func TestPollNamesWhatAndTheLastDetailOnTimeout(t *testing.T) {
	n := 0
	_, err := Poll(120*time.Millisecond, "the moon", func() (bool, string) {
		n++
		if n == 1 {
			return false, "first"
		}
		return false, "" // an empty detail keeps the last one
	})
	if err == nil || !strings.Contains(err.Error(), "the moon") || !strings.HasSuffix(err.Error(), "last: first") {
		t.Fatalf("err = %v", err)
	}
}
