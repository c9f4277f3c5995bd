package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// In-process clusters: several agents in one test process on 127.0.0.1.
// The integration package runs the same scenarios as real processes.

func freeTestPort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

func testAgentConfig(t *testing.T, name string) Config {
	c := DefaultConfig()
	c.Name, c.DataDir, c.Bind = name, t.TempDir(), "127.0.0.1"
	c.GossipPort, c.P2PPort = freeTestPort(t), freeTestPort(t)
	c.APISocket = testSocketPath(t)
	c.ContainerdSocket = "/nonexistent/containerd.sock"
	return c
}

// testSocketPath is a fresh API socket path short enough for a unix
// socket (test temp dirs can be longer than 107 bytes).
func testSocketPath(t *testing.T) string {
	dir, err := os.MkdirTemp("", "shoal-node-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "api.sock")
}

// socketClient is an HTTP client for an agent's API socket; URLs name
// "localhost".
func socketClient(a *Agent) *http.Client {
	path := a.cfg.APISocket
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
}

// testSocketServer serves h on a unix socket, as the agent's API.
type testSocketServer struct {
	Endpoint string       // unix:///PATH, for api.NewClient
	HTTP     *http.Client // reaches the socket; URLs name localhost
}

func serveTestSocket(t *testing.T, h http.Handler) testSocketServer {
	path := testSocketPath(t)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return testSocketServer{Endpoint: "unix://" + path, HTTP: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}}}}
}

func startTestAgent(t *testing.T, c Config) *Agent {
	t.Helper()
	a, err := New(c, nil, io.Discard)
	if err != nil {
		t.Fatalf("start %s: %v", c.Name, err)
	}
	t.Cleanup(a.close)
	return a
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestInProcessClusterFailoverAndJoin(t *testing.T) {
	c1 := testAgentConfig(t, "n1")
	c1.Bootstrap = true
	a1 := startTestAgent(t, c1)
	token := a1.Token()
	if !strings.HasPrefix(token, "SHOAL-1-") {
		t.Fatalf("token %q", token)
	}
	agents := []*Agent{a1}
	for _, name := range []string{"n2", "n3"} {
		c := testAgentConfig(t, name)
		c.Join, c.Token = a1.host.Addr(), token
		agents = append(agents, startTestAgent(t, c))
	}
	eventually(t, 20*time.Second, "3 voters", func() bool {
		servers, err := a1.cons.Servers()
		voters := 0
		for _, s := range servers {
			if s.Voter {
				voters++
			}
		}
		return err == nil && voters == 3
	})
	// A wrong token is refused with a clear error.
	bad := testAgentConfig(t, "n4")
	var wrong JoinToken
	wrong.Digest = mustParse(t, token).Digest
	bad.Join, bad.Token = a1.host.Addr(), wrong.String()
	if _, err := New(bad, nil, io.Discard); !errors.Is(err, ErrJoinRefused) || !strings.Contains(err.Error(), "join token rejected") {
		t.Fatalf("wrong token: %v", err)
	}
	// The leader goes away without handing over: another takes over and
	// accepts writes.
	a1.close()
	var leader *Agent
	eventually(t, 10*time.Second, "a new leader", func() bool {
		for _, a := range agents[1:] {
			if a.cons.IsLeader() {
				leader = a
				return true
			}
		}
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := agents[2].submitPayload(ctx, api.CmdUpdateNode, "", api.UpdateNodePayload{NodeID: leader.ID(), LabelAdd: map[string]string{"k": "v"}}); err != nil {
		t.Fatalf("write after failover: %v", err)
	}
	n, _ := agents[2].store().Node(leader.ID())
	if n.Labels["k"] != "v" {
		t.Fatalf("write not visible on the forwarding node: %+v", n.Labels)
	}
}

func mustParse(t *testing.T, s string) JoinToken {
	tok, err := ParseJoinToken(s)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
