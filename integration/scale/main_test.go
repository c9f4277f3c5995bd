// Package scale benchmarks the control plane at scale: 3 real `shoal
// agent` processes as the Raft voters, plus N simulated nodes
// (node/simnode) in this process that join with the token, gossip, follow
// the state feed and report their tasks running. Run it with
// `make bench-scale`.
package scale

import (
	"os"
	"testing"

	"github.com/shoal-project/shoal/integration/harness"
)

// shoalBin is the binary under test, built once by TestMain (or taken
// from $SHOAL_BIN).
var shoalBin string

func TestMain(m *testing.M) { os.Exit(harness.Run(m, &shoalBin)) }
