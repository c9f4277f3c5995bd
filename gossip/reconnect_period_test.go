package gossip

import (
	"testing"
	"time"
)

// A small cluster retries a failed member every 4 probe intervals; a large
// one less often, so the whole cluster never makes more than
// reconnectsPerRound retries (push-pulls) per probe interval.
func TestReconnectPeriodBoundsTheClusterRate(t *testing.T) {
	probe := 500 * time.Millisecond
	for _, c := range []struct {
		n    int
		want time.Duration
	}{{0, 2 * time.Second}, {3, 2 * time.Second}, {100, 2 * time.Second}, {300, 6 * time.Second}, {1000, 20 * time.Second}} {
		if got := reconnectPeriod(probe, c.n); got != c.want {
			t.Errorf("reconnectPeriod(%d) = %v, want %v", c.n, got, c.want)
		}
	}
	for n := 1; n <= 10000; n += 37 {
		rounds := float64(reconnectPeriod(probe, n)) / float64(probe)
		if perRound := float64(n) / rounds; perRound > reconnectsPerRound {
			t.Fatalf("%d members: %.1f retries per probe interval", n, perRound)
		}
	}
}
