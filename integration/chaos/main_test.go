// Package chaos runs a 5-node cluster of real `shoal agent` processes under
// a seeded random fault schedule (kill -9, SIGSTOP, partitions, a full
// disk) while a client workload drives the HTTP API, then checks the
// invariants: linearizable service specs, no acknowledged write lost, at
// most one leader per term, convergence after healing, no slot running
// twice, clean restarts and no leaks.
//
//	make chaos SEED=7 DURATION=60s
//
// replays the schedule of seed 7; the schedule is printed before the run.
package chaos

import (
	"flag"
	"os"
	"testing"
	"time"

	"github.com/shoal-project/shoal/integration/harness"
)

var (
	seedFlag     = flag.Int64("seed", 1, "seed of the fault schedule and the workload")
	durationFlag = flag.Duration("duration", 45*time.Second, "how long faults are injected")
)

// shoalBin is the binary under test, built once by TestMain (or taken
// from $SHOAL_BIN).
var shoalBin string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(harness.Run(m, &shoalBin))
}
