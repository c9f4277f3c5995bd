package harness

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Agent is one `shoal agent` process (across restarts), the ports it
// owns and everything it printed. Its exported fields are read by Start,
// so a test may change them between runs.
type Agent struct {
	Name       string
	DataDir    string
	P2PPort    int
	GossipPort int
	// Socket is the agent's API socket (--api-socket), the harness's way
	// in: it is an admin endpoint.
	Socket string
	// APIAddr is the HTTPS API's host:port when a test asks for one with
	// --api-addr (NewAgent does not).
	APIAddr string
	// LegacyAddr is the plain-HTTP API of a release before 0.3 (see
	// UseLegacyAPI); empty otherwise.
	LegacyAddr string
	Bin        string   // the shoal binary
	Env        []string // extra environment (KEY=VALUE) of the agent process
	Args       []string // the base arguments; Start appends its own
	// Prefix is a command Bin runs under, e.g. ip netns exec NS: Start
	// runs Prefix[0] with Prefix[1:], Bin and the arguments. It must exec
	// Bin in its own process so that signals reach the agent.
	Prefix []string
	Host   string // the IP the agent listens on for p2p (P2PAddr)

	t      testing.TB
	mu     sync.Mutex
	http   *http.Client
	httpTo string // what http dials, "network:addr"
	cmd    *exec.Cmd
	exited chan struct{}
	log    bytes.Buffer
	run    int // offset in log where the latest run's output starts
	starts int
}

// NewAgent prepares (but does not start) an agent named name on dataDir
// with three free ports; extra is appended to its base arguments.
func NewAgent(t testing.TB, bin, name, dataDir string, extra ...string) *Agent {
	t.Helper()
	a := &Agent{t: t, Name: name, DataDir: dataDir, Bin: bin, Host: "127.0.0.1",
		P2PPort: FreePort(t), GossipPort: FreePort(t), Socket: socketPath(t, name)}
	a.Args = append([]string{"agent", "--name", name, "--data-dir", dataDir, "--bind", "127.0.0.1",
		"--p2p-port", fmt.Sprint(a.P2PPort), "--gossip-port", fmt.Sprint(a.GossipPort), "--api-socket", a.Socket}, extra...)
	for i := 0; i+1 < len(extra); i++ {
		if extra[i] == "--api-addr" {
			a.APIAddr = extra[i+1]
		}
	}
	return a
}

// socketPath is a fresh, short API socket path (a unix socket path holds
// at most 107 bytes; test data dirs can be longer).
func socketPath(t testing.TB, name string) string {
	dir, err := os.MkdirTemp("", "shoal-api-")
	if err != nil {
		t.Fatal(err)
	}
	// Traversable by everyone, so that the socket's own mode is what
	// decides who may connect (as under /run/shoal).
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, name+".sock")
}

// Endpoint is the agent's API address as the CLI takes it.
func (a *Agent) Endpoint() string {
	if a.LegacyAddr != "" {
		return a.LegacyAddr
	}
	return "unix://" + a.Socket
}

// P2PAddr is the agent's libp2p address, the one others join.
func (a *Agent) P2PAddr() string { return fmt.Sprintf("%s:%d", a.Host, a.P2PPort) }

// Start runs Bin with Args plus extra (under Prefix, if set) in its own
// process group; it fails the test if the process cannot start.
func (a *Agent) Start(extra ...string) {
	a.t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.starts++
	fmt.Fprintf(&a.log, "---- start #%d at %s\n", a.starts, time.Now().Format("15:04:05.000"))
	a.run = a.log.Len()
	argv := append(append(append(append([]string{}, a.Prefix...), a.Bin), a.Args...), extra...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = lockedWriter{a}
	cmd.Stderr = cmd.Stdout
	if len(a.Env) > 0 {
		cmd.Env = append(os.Environ(), a.Env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		a.t.Fatalf("start %s: %v", a.Name, err)
	}
	a.cmd = cmd
	exited := make(chan struct{})
	a.exited = exited
	go func() { cmd.Wait(); close(exited) }()
}

// lockedWriter appends a process's output to its agent's log.
type lockedWriter struct{ a *Agent }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.a.mu.Lock()
	defer w.a.mu.Unlock()
	return w.a.log.Write(b)
}

// Output is what the agent printed since it was last started.
func (a *Agent) Output() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.log.String()[a.run:]
}

// Log is everything the agent printed across restarts, each run after a
// "---- start #N at hh:mm:ss.mmm" line.
func (a *Agent) Log() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.log.String()
}
