// Package scale benchmarks the control plane at scale: 3 real `shoal
// agent` processes as the Raft voters, plus N simulated nodes
// (node/simnode) in this process that join with the token, gossip, follow
// the state feed and report their tasks running. Run it with
// `make bench-scale`.
package scale

import (
	"net/http"
	_ "net/http/pprof" // SCALE_PPROF_ADDR: profile the simulated nodes
	"os"
	"runtime/debug"
	"testing"

	"github.com/shoal-project/shoal/integration/harness"
)

// shoalBin is the binary under test, built once by TestMain (or taken
// from $SHOAL_BIN).
var shoalBin string

func TestMain(m *testing.M) {
	// Thousands of memberlists allocate fast; a larger GC target keeps
	// the collector from eating the cores the agents need.
	debug.SetGCPercent(400)
	if addr := os.Getenv("SCALE_PPROF_ADDR"); addr != "" {
		go http.ListenAndServe(addr, nil)
	}
	os.Exit(harness.Run(m, &shoalBin))
}
