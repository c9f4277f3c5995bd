// Package integration runs real `shoal agent` processes on 127.0.0.1 and
// drives them over the HTTP API and the CLI, so that kill -9 is real.
package integration

import (
	"os"
	"testing"

	"github.com/shoal-project/shoal/integration/harness"
)

// shoalBin is the binary under test, built once by TestMain (or taken
// from $SHOAL_BIN).
var shoalBin string

func TestMain(m *testing.M) {
	code := harness.Run(m, &shoalBin)
	stopCtrEnv()
	removeHelloBinary()
	os.Exit(code)
}
