//go:build !unix

package scheduler

import "time"

// cpuTime is unknown here; benchmarks then skip the CPU-time rate.
func cpuTime() time.Duration { return 0 }
