// Package integration runs real `shoal agent` processes on 127.0.0.1 and
// drives them over the HTTP API and the CLI, so that kill -9 is real.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// shoalBin is the binary under test, built once by TestMain.
var shoalBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shoal-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shoalBin = filepath.Join(dir, "shoal")
	build := exec.Command("go", "build", "-o", shoalBin, "../cmd/shoal")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building shoal:", err)
		os.Exit(1)
	}
	code := m.Run()
	stopCtrEnv()
	os.RemoveAll(dir)
	os.Exit(code)
}

// agentProc is one `shoal agent` process and the ports it owns.
type agentProc struct {
	t       testing.TB
	name    string
	dataDir string
	p2pPort int
	gPort   int
	apiAddr string
	args    []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	out    *bytes.Buffer
	exited chan struct{}
}

// pickPort returns a port free on 127.0.0.1 for TCP and UDP.
func pickPort() (int, error) {
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port")
}

// freePort is pickPort for tests.
func freePort(t testing.TB) int {
	t.Helper()
	port, err := pickPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// newAgent prepares (but does not start) an agent with its own ports and
// data dir.
func newAgent(t testing.TB, name string, extra ...string) *agentProc {
	p := &agentProc{t: t, name: name, dataDir: filepath.Join(t.TempDir(), name),
		p2pPort: freePort(t), gPort: freePort(t)}
	p.apiAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p.args = append([]string{"agent", "--name", name, "--data-dir", p.dataDir, "--bind", "127.0.0.1",
		"--p2p-port", fmt.Sprint(p.p2pPort), "--gossip-port", fmt.Sprint(p.gPort), "--api-addr", p.apiAddr}, extra...)
	t.Cleanup(func() {
		p.kill()
		killWorkloads(p.dataDir)
	})
	return p
}

func (p *agentProc) p2pAddr() string { return fmt.Sprintf("127.0.0.1:%d", p.p2pPort) }

// start runs the agent with its base args plus extra.
func (p *agentProc) start(extra ...string) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(shoalBin, append(append([]string{}, p.args...), extra...)...)
	p.out = &bytes.Buffer{}
	cmd.Stdout = &lockedWriter{w: p.out, mu: &p.mu}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	p.cmd = cmd
	exited := make(chan struct{})
	p.exited = exited
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

// output is everything the agent printed so far.
func (p *agentProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out == nil {
		return ""
	}
	return p.out.String()
}

// kill sends SIGKILL to the agent (not its workloads) and waits for it.
func (p *agentProc) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// die kills the agent and its workloads with SIGKILL: the node is gone.
func (p *agentProc) die() {
	p.kill()
	killWorkloads(p.dataDir)
}

// stop sends SIGTERM and waits up to 20s.
func (p *agentProc) stop() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		p.t.Errorf("%s did not stop within 20s of SIGTERM", p.name)
		p.kill()
	}
}

// exitCode waits for the process to exit and returns its code.
func (p *agentProc) exitCode(timeout time.Duration) (int, bool) {
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode(), true
	case <-time.After(timeout):
		return 0, false
	}
}

func (p *agentProc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// get decodes GET path from this agent's API into v.
func (p *agentProc) get(path string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.apiAddr+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return json.Unmarshal(body, v)
}

// post sends a JSON body and decodes the answer.
func (p *agentProc) post(path string, body, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+p.apiAddr+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, strings.TrimSpace(string(rb)))
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(rb, v)
}

func (p *agentProc) status() (api.ClusterStatus, error) {
	var st api.ClusterStatus
	err := p.get("/v1/cluster", &st)
	return st, err
}

// cli runs the shoal CLI against this agent.
func (p *agentProc) cli(args ...string) (string, error) {
	cmd := exec.Command(shoalBin, args...)
	cmd.Env = append(os.Environ(), "SHOAL_ADDR="+p.apiAddr)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if detail != "" {
			last = detail
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last: %s", timeout, what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cluster is a set of agents started together.
type cluster struct {
	t      testing.TB
	agents []*agentProc
	token  string
}

// startCluster bootstraps the first agent and joins n-1 more, then waits
// until every node is a ready member.
func startCluster(t testing.TB, n int, extra ...string) *cluster {
	t.Helper()
	return startClusterWith(t, n, func(string) []string { return extra })
}

// startClusterWith is startCluster with per-node extra agent arguments.
func startClusterWith(t testing.TB, n int, extra func(name string) []string) *cluster {
	t.Helper()
	c := &cluster{t: t}
	first := newAgent(t, "n1", extra("n1")...)
	first.start("--bootstrap")
	c.agents = append(c.agents, first)
	waitFor(t, 20*time.Second, "bootstrap leader", func() (bool, string) {
		st, err := first.status()
		if err != nil {
			return false, err.Error() + "\n" + first.output()
		}
		return st.Leader == "n1", fmt.Sprintf("%+v", st)
	})
	var tok api.TokenResponse
	if err := first.get("/v1/token", &tok); err != nil {
		t.Fatal(err)
	}
	c.token = tok.Token
	if !strings.Contains(first.output(), "--token "+c.token) {
		t.Fatalf("bootstrap did not print the join command with the token; output:\n%s", first.output())
	}
	for i := 2; i <= n; i++ {
		name := fmt.Sprintf("n%d", i)
		a := newAgent(t, name, extra(name)...)
		a.start("--join", first.p2pAddr(), "--token", c.token)
		c.agents = append(c.agents, a)
	}
	c.waitMembers(n)
	return c
}

// waitMembers waits until every running agent reports want ready members.
func (c *cluster) waitMembers(want int) {
	c.t.Helper()
	waitFor(c.t, 30*time.Second, fmt.Sprintf("%d ready members on every node", want), func() (bool, string) {
		for _, a := range c.agents {
			if !a.running() {
				continue
			}
			var nodes []api.NodeInfo
			if err := a.get("/v1/nodes", &nodes); err != nil {
				return false, a.name + ": " + err.Error()
			}
			ready := 0
			for _, n := range nodes {
				if n.Status == api.NodeReady {
					ready++
				}
			}
			if ready != want {
				return false, fmt.Sprintf("%s sees %d ready of %d", a.name, ready, len(nodes))
			}
		}
		return true, ""
	})
}

// leader returns the agent that leads, as the running agents agree.
func (c *cluster) leader() *agentProc {
	c.t.Helper()
	var found *agentProc
	waitFor(c.t, 20*time.Second, "an agreed leader", func() (bool, string) {
		names := map[string]bool{}
		for _, a := range c.agents {
			if !a.running() {
				continue
			}
			st, err := a.status()
			if err != nil {
				return false, err.Error()
			}
			names[st.Leader] = true
		}
		if len(names) != 1 || names[""] {
			return false, fmt.Sprintf("leaders seen: %v", names)
		}
		for n := range names {
			found = c.byName(n)
		}
		return found != nil && found.running(), ""
	})
	return found
}

func (c *cluster) byName(name string) *agentProc {
	for _, a := range c.agents {
		if a.name == name {
			return a
		}
	}
	return nil
}

// anyRunning returns a running agent other than skip.
func (c *cluster) anyRunning(skip *agentProc) *agentProc {
	for _, a := range c.agents {
		if a != skip && a.running() {
			return a
		}
	}
	c.t.Fatal("no running agent")
	return nil
}
