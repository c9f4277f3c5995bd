package harness

import (
	"os"
	"os/exec"
)

// CLI runs the shoal command line with args against this agent's API and
// returns its combined output.
func (a *Agent) CLI(args ...string) (string, error) {
	cmd := exec.Command(a.Bin, args...)
	cmd.Env = append(os.Environ(), "SHOAL_ADDR="+a.Endpoint())
	out, err := cmd.CombinedOutput()
	return string(out), err
}
