package gossip

import (
	"fmt"
	"testing"
	"time"
)

// crashDetectionLimit is well above LANTimings' documented ~2.7 s bound
// for 3 nodes (to absorb -race and a busy CI machine) and still below
// memberlist's LAN preset, which needs ~5.7 s.
const crashDetectionLimit = 5 * time.Second

// TestCrashDetectionTime measures how long until every survivor of a
// 3-node cluster lists a crashed member as dead.
func TestCrashDetectionTime(t *testing.T) {
	if testing.Short() {
		t.Skip("measures real failure detection")
	}
	for i := range 3 {
		d := crashDetection(t, 3)
		t.Logf("run %d: crash seen by all survivors after %v", i, d.Round(time.Millisecond))
		if d > crashDetectionLimit {
			t.Errorf("run %d: detection took %v, over %v", i, d, crashDetectionLimit)
		}
	}
}

// BenchmarkCrashDetection reports the crash-detection time of 3- and
// 10-node clusters as mean and max ms/detect.
func BenchmarkCrashDetection(b *testing.B) {
	for _, n := range []int{3, 10} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			var total, worst time.Duration
			for b.Loop() {
				d := crashDetection(b, n)
				total += d
				worst = max(worst, d)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/detect")
			b.ReportMetric(float64(worst.Milliseconds()), "max-ms/detect")
		})
	}
}
