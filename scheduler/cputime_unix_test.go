//go:build unix

package scheduler

import (
	"syscall"
	"time"
)

// cpuTime is the process's user plus system CPU time, so benchmarks can
// report a rate that does not depend on how busy a shared machine is.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
