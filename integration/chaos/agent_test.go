package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// agent is one `shoal agent` process (across restarts) that the schedule
// may pause, with an API client per workload client.
type agent struct {
	*harness.Agent

	mu      sync.Mutex
	paused  bool
	clients map[string]*api.Client
	// creds, once set (cluster.start), make the workload's clients use
	// the HTTPS endpoint with the bootstrap admin token: a write through
	// a plain member is then forwarded with the caller's token, as a
	// remote operator's is (its socket is admin on that host only).
	creds *api.ClientConfig
}

// newAgent prepares (but does not start) an agent under root with its own
// ports and data dir, the process runtime and the fault API.
func newAgent(t testing.TB, root, name string) *agent {
	a := &agent{Agent: harness.NewAgent(t, shoalBin, name, filepath.Join(root, name), "--runtime", "process", "--fault-injection",
		"--api-addr", fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))), clients: map[string]*api.Client{}}
	return a
}

// Start runs the agent with its base args plus extra; it is not paused.
func (a *agent) Start(extra ...string) {
	a.setPaused(false)
	a.Agent.Start(extra...)
}

// Stop is harness.Agent.Stop that resumes a paused agent first.
func (a *agent) Stop(timeout time.Duration) bool {
	a.resume()
	return a.Agent.Stop(timeout)
}

// tail is the last n lines of output (across restarts).
func (a *agent) tail(n int) string {
	lines := strings.Split(strings.TrimRight(a.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lastWords is the agent's last panic line if it panicked, or else the
// tail of its output: what to show when it will not come back.
func (a *agent) lastWords() string {
	out := a.Log()
	if i := strings.LastIndex(out, "\npanic: "); i >= 0 {
		line, _, _ := strings.Cut(out[i+1:], "\n")
		return line
	}
	return a.tail(8)
}

// usable reports whether the agent runs and is not paused.
func (a *agent) usable() bool {
	a.mu.Lock()
	paused := a.paused
	a.mu.Unlock()
	return !paused && a.Running()
}

// pause stops the agent process with SIGSTOP (its workloads keep running).
func (a *agent) pause() error {
	a.setPaused(true)
	err := a.Signal(syscall.SIGSTOP)
	if err != nil {
		a.setPaused(false)
	}
	return err
}

func (a *agent) setPaused(p bool) {
	a.mu.Lock()
	a.paused = p
	a.mu.Unlock()
}

// resume continues a paused agent.
func (a *agent) resume() {
	a.mu.Lock()
	paused := a.paused
	a.paused = false
	a.mu.Unlock()
	if paused {
		a.Signal(syscall.SIGCONT)
	}
}

// client returns this agent's API client for a workload client; each
// workload client has its own so that their connections are independent.
func (a *agent) client(owner string) *api.Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.clients[owner]
	if c == nil {
		if a.creds != nil && a.APIAddr != "" {
			cfg := *a.creds
			cfg.Addr = "https://" + a.APIAddr
			c = api.ClientFor(cfg)
		} else {
			c = api.NewClient(a.Endpoint())
		}
		a.clients[owner] = c
	}
	return c
}

// useCreds makes the agent's workload clients use the HTTPS endpoint
// with creds (an API token and the pinned cluster CA).
func (a *agent) useCreds(creds api.ClientConfig) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.creds = &creds
	a.clients = map[string]*api.Client{}
}

// get decodes GET path from this agent's API into v.
func (a *agent) get(ctx context.Context, path string, v any) error {
	return a.do(ctx, http.MethodGet, path, nil, v)
}

// post sends a JSON body to this agent's API and decodes the answer.
func (a *agent) post(ctx context.Context, path string, body, v any) error {
	return a.do(ctx, http.MethodPost, path, body, v)
}

// do sends one request (no retries) and returns an *api.Error on failure.
func (a *agent) do(ctx context.Context, method, path string, body, v any) error {
	return a.apiError(a.Do(ctx, method, path, body, v))
}

// status is GET /v1/cluster with a short timeout.
func (a *agent) status(timeout time.Duration) (api.ClusterStatus, error) {
	st, err := a.Status(timeout)
	return st, a.apiError(err)
}

// apiError turns a failed request into an *api.Error: Unavailable if the
// agent did not answer, the error in its answer if there is one, or else
// Internal with the status and body.
func (a *agent) apiError(err error) error {
	var unreachable *harness.UnreachableError
	var status *harness.HTTPError
	switch {
	case errors.As(err, &unreachable):
		return api.Errorf(api.CodeUnavailable, "%s: %v", a.Name, unreachable.Err)
	case errors.As(err, &status):
		var er api.ErrorResponse
		if json.Unmarshal(status.Body, &er) == nil && er.Error != nil {
			return er.Error
		}
		return api.Errorf(api.CodeInternal, "%s: %s", a.Name, status)
	}
	return err
}

// fault posts a fault-injection request.
func (a *agent) fault(req faultRequest) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return a.post(ctx, "/v1/debug/faults", req, nil)
}

// faultRequest mirrors node.FaultRequest (the body of POST /v1/debug/faults).
type faultRequest struct {
	Block        []string `json:"block,omitempty"`
	OutboundOnly bool     `json:"outbound_only,omitempty"`
	Heal         bool     `json:"heal,omitempty"`
}
