package scheduler

import (
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// benchSchedule runs Schedule in a loop and reports placements per second
// of wall time and per second of process CPU time (the latter is steadier
// on a shared machine).
func benchSchedule(b *testing.B, nodes []*api.Node, pending []*api.Task, wantAll bool) {
	placed := 0
	var cpu time.Duration
	for b.Loop() {
		c0 := cpuTime()
		p := Schedule(nodes, nil, pending, Options{})
		cpu += cpuTime() - c0
		placed += len(p.Assignments)
		if wantAll && len(p.Unplaced) != 0 {
			b.Fatalf("%d unplaced: %s", len(p.Unplaced), p.Unplaced[0].Err)
		}
	}
	b.ReportMetric(float64(placed)/b.Elapsed().Seconds(), "placements/s")
	if cpu > 0 {
		b.ReportMetric(float64(placed)/cpu.Seconds(), "placements/cpu-s")
	}
}

// BenchmarkSchedule100kOn10k places 1,000 services × 100 replicas with a
// mix of constraints, reservations, preferences, ports and caps on 10,000
// nodes in one Schedule call.
func BenchmarkSchedule100kOn10k(b *testing.B) {
	nodes, pending := workload(10000, 1000, 100)
	benchSchedule(b, nodes, pending, true)
}

// BenchmarkScheduleManySmallServices places 10,000 services of one replica
// each on 10,000 nodes: the worst case for per-service work.
func BenchmarkScheduleManySmallServices(b *testing.B) {
	nodes, pending := workload(10000, 10000, 1)
	benchSchedule(b, nodes, pending, false)
}
