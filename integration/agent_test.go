package integration

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
	"github.com/shoal-project/shoal/node/vip"
)

// agentProc is one `shoal agent` process with this package's timeouts.
type agentProc struct {
	*harness.Agent
	t  testing.TB
	id string // its node ID, once waitMembers has seen it
}

// newAgent prepares (but does not start) an agent with its own ports and
// a data dir under the test's temp dir; the node dies at cleanup.
func newAgent(t testing.TB, name string, extra ...string) *agentProc {
	p := &agentProc{Agent: harness.NewAgent(t, shoalBin, name, filepath.Join(t.TempDir(), name), extra...), t: t}
	t.Cleanup(func() {
		p.Die()
		if p.id != "" {
			// The agents of a test share the host's network namespace: a
			// killed agent's VIP table would catch the next test's VIPs.
			if err := vip.Remove(vip.TableName(p.id)); err != nil {
				t.Logf("%s's VIP table: %v", name, err)
			}
		}
		if t.Failed() && os.Getenv("SHOAL_TEST_LOGS") != "" {
			t.Logf("---- %s's log\n%s", name, p.Log())
		}
	})
	return p
}

// stop sends SIGTERM and fails the test if the agent outlives 20s.
func (p *agentProc) stop() {
	if !p.Stop(20 * time.Second) {
		p.t.Errorf("%s did not stop within 20s of SIGTERM", p.Name)
	}
}

// get decodes GET path from this agent's API into v within 3s.
func (p *agentProc) get(path string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return p.Get(ctx, path, v)
}

// post sends a JSON body and decodes the answer within 20s.
func (p *agentProc) post(path string, body, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return p.Post(ctx, path, body, v)
}

// status is GET /v1/cluster within 3s.
func (p *agentProc) status() (api.ClusterStatus, error) { return p.Status(3 * time.Second) }
