package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// httpc is the harness's own HTTP client for raw requests (fault API,
// consistent service reads, monitors); its idle connections are closed
// before the leak check.
var httpc = &http.Client{Transport: &http.Transport{
	DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
	MaxIdleConnsPerHost: 4,
}}

// agent is one `shoal agent` process (across restarts) and the ports it owns.
type agent struct {
	t       testing.TB
	name    string
	dataDir string
	p2pPort int
	apiAddr string
	args    []string

	mu      sync.Mutex
	cmd     *exec.Cmd
	out     *bytes.Buffer
	exited  chan struct{}
	paused  bool
	starts  int
	clients map[string]*api.Client
}

// freePort returns a port free on 127.0.0.1 for TCP and UDP, below the
// kernel's ephemeral range (32768+), so that an agent's outbound
// connections cannot take it before the agent that owns it binds it.
func freePort(t testing.TB) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for i := 0; i < 200; i++ {
		port := 20000 + portRand.Intn(12000)
		if portsTaken[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			portsTaken[port] = true
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

var (
	portMu     sync.Mutex
	portRand   = rand.New(rand.NewSource(time.Now().UnixNano()))
	portsTaken = map[int]bool{}
)

// newAgent prepares (but does not start) an agent under root with its own
// ports and data dir.
func newAgent(t testing.TB, root, name string) *agent {
	a := &agent{t: t, name: name, dataDir: filepath.Join(root, name), p2pPort: freePort(t),
		out: &bytes.Buffer{}, clients: map[string]*api.Client{}}
	a.apiAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	a.args = []string{"agent", "--name", name, "--data-dir", a.dataDir, "--bind", "127.0.0.1",
		"--p2p-port", fmt.Sprint(a.p2pPort), "--gossip-port", fmt.Sprint(freePort(t)),
		"--api-addr", a.apiAddr, "--runtime", "process", "--fault-injection"}
	return a
}

func (a *agent) p2pAddr() string { return fmt.Sprintf("127.0.0.1:%d", a.p2pPort) }

// start runs the agent with its base args plus extra.
func (a *agent) start(extra ...string) {
	a.t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.starts++
	fmt.Fprintf(a.out, "---- start #%d at %s\n", a.starts, time.Now().Format("15:04:05.000"))
	cmd := exec.Command(shoalBin, append(append([]string{}, a.args...), extra...)...)
	cmd.Stdout = &lockedWriter{w: a.out, mu: &a.mu}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		a.t.Fatalf("start %s: %v", a.name, err)
	}
	a.cmd, a.paused = cmd, false
	exited := make(chan struct{})
	a.exited = exited
	go func() { cmd.Wait(); close(exited) }()
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// output is everything the agent printed so far, across restarts.
func (a *agent) output() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.out.String()
}

// tail is the last n lines of output.
func (a *agent) tail(n int) string {
	lines := strings.Split(strings.TrimRight(a.output(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lastWords is the agent's last panic line if it panicked, or else the
// tail of its output: what to show when it will not come back.
func (a *agent) lastWords() string {
	out := a.output()
	if i := strings.LastIndex(out, "\npanic: "); i >= 0 {
		line, _, _ := strings.Cut(out[i+1:], "\n")
		return line
	}
	return a.tail(8)
}

func (a *agent) proc() (*exec.Cmd, chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cmd, a.exited
}

// running reports whether the agent process is alive (paused or not).
func (a *agent) running() bool {
	cmd, exited := a.proc()
	if cmd == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// usable reports whether the agent runs and is not paused.
func (a *agent) usable() bool {
	a.mu.Lock()
	paused := a.paused
	a.mu.Unlock()
	return !paused && a.running()
}

// kill sends SIGKILL to the agent (not its workloads) and waits for it.
func (a *agent) kill() {
	cmd, exited := a.proc()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// die kills the agent and its workloads with SIGKILL: the node is gone.
func (a *agent) die() {
	a.kill()
	killUnder(a.dataDir)
}

// stop sends SIGTERM (resuming a paused agent first) and waits up to
// timeout; it reports whether the agent exited in time, and kills it if not.
func (a *agent) stop(timeout time.Duration) bool {
	cmd, exited := a.proc()
	if cmd == nil {
		return true
	}
	a.resume()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return true
	case <-time.After(timeout):
		a.kill()
		return false
	}
}

// pause stops the agent process with SIGSTOP (its workloads keep running).
func (a *agent) pause() error {
	cmd, _ := a.proc()
	if cmd == nil {
		return fmt.Errorf("%s is not started", a.name)
	}
	a.mu.Lock()
	a.paused = true
	a.mu.Unlock()
	return cmd.Process.Signal(syscall.SIGSTOP)
}

// resume continues a paused agent.
func (a *agent) resume() {
	cmd, _ := a.proc()
	a.mu.Lock()
	paused := a.paused
	a.paused = false
	a.mu.Unlock()
	if paused && cmd != nil {
		cmd.Process.Signal(syscall.SIGCONT)
	}
}

// client returns this agent's API client for a workload client; each
// workload client has its own so that their connections are independent.
func (a *agent) client(owner string) *api.Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.clients[owner]
	if c == nil {
		c = api.NewClient(a.apiAddr)
		a.clients[owner] = c
	}
	return c
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
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+a.apiAddr+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return api.Errorf(api.CodeUnavailable, "%s: %v", a.name, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var er api.ErrorResponse
		if json.Unmarshal(data, &er) == nil && er.Error != nil {
			return er.Error
		}
		return api.Errorf(api.CodeInternal, "%s: %s %s: %d %s", a.name, method, path, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(data, v)
}

// status is GET /v1/cluster with a short timeout.
func (a *agent) status(timeout time.Duration) (api.ClusterStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var st api.ClusterStatus
	err := a.get(ctx, "/v1/cluster", &st)
	return st, err
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
