package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// TestBrowserRequestsRefused reproduces the web-page path to the API: a
// POST with Content-Type text/plain (no CORS preflight) that created a
// service running a command, a request carrying an Origin, and a DNS
// rebinding request (a Host that names the attacker's domain). Each is
// refused, and nothing was created.
func TestBrowserRequestsRefused(t *testing.T) {
	c := startCluster(t, 1)
	a := c.agents[0]
	hc := a.HTTP()
	body := `{"name":"x","command":["sh","-c","id > /tmp/shoal-browser-x"],"replicas":1}`
	do := func(method, path, contentType, origin, host, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, a.URL(path), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return resp.StatusCode, b.String()
	}
	cases := []struct {
		name                             string
		method, path, ctype, origin, hst string
		body                             string
		want                             int
	}{
		{"text/plain create", "POST", "/v1/services", "text/plain", "", "", body, http.StatusUnsupportedMediaType},
		{"form create", "POST", "/v1/services", "application/x-www-form-urlencoded", "", "", body, http.StatusUnsupportedMediaType},
		{"json create from a page", "POST", "/v1/services", "application/json", "https://evil.example", "", body, http.StatusForbidden},
		{"token read from a page", "GET", "/v1/token", "", "https://evil.example", "", "", http.StatusForbidden},
		{"token read by rebinding", "GET", "/v1/token", "", "", "rebind.evil.example:7948", "", http.StatusForbidden},
	}
	for _, tc := range cases {
		code, got := do(tc.method, tc.path, tc.ctype, tc.origin, tc.hst, tc.body)
		if code != tc.want || strings.Contains(got, "SHOAL-1-") {
			t.Errorf("%s: %d %s, want %d", tc.name, code, strings.TrimSpace(got), tc.want)
		}
	}
	if code, got := do("GET", "/v1/services", "", "", "", ""); code != http.StatusOK || strings.Contains(got, `"x"`) {
		t.Fatalf("services after the refused requests: %d %s", code, got)
	}
	// The CLI's own requests still work, by IP and by localhost.
	if code, _ := do("POST", "/v1/services", "application/json", "", "", `{"name":"ok","command":["sleep","100"],"replicas":1}`); code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("a JSON create was refused: %d", code)
	}
	if code, _ := do("GET", "/v1/cluster", "", "", "localhost", ""); code != http.StatusOK {
		t.Fatalf("Host localhost refused: %d", code)
	}
}

// TestJoinTokenNotInProcessList joins one agent with --token-file and one
// with $SHOAL_JOIN_TOKEN, runs a task on each, and checks that no
// process's command line or the tasks' environment holds the token (every
// local user can read /proc/*/cmdline).
func TestJoinTokenNotInProcessList(t *testing.T) {
	c := startCluster(t, 1, "--runtime", "process")
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(c.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	byFile := newAgent(t, "byfile", "--runtime", "process")
	byFile.Start("--join", c.agents[0].P2PAddr(), "--token-file", file)
	byEnv := newAgent(t, "byenv", "--runtime", "process")
	byEnv.Env = []string{"SHOAL_JOIN_TOKEN=" + c.token}
	byEnv.Start("--join", c.agents[0].P2PAddr())
	c.agents = append(c.agents, byFile, byEnv)
	c.waitMembers(3)
	if out, err := c.agents[0].CLI("service", "create", "envdump", "--replicas", "3", "--max-per-node", "1", "--detach", "--", "/bin/sleep", "1000"); err != nil {
		t.Fatalf("create: %v: %s", err, out)
	}
	if _, err := harness.Poll(20*time.Second, "3 tasks running", func() (bool, string) {
		var svcs []api.ServiceInfo
		c.agents[0].get("/v1/services", &svcs)
		for _, s := range svcs {
			if s.Spec.Name == "envdump" {
				return s.Running == 3, fmt.Sprint(s.Running)
			}
		}
		return false, "no service"
	}); err != nil {
		ps, _ := c.agents[0].CLI("service", "ps", "envdump")
		t.Fatalf("%v\n%s", err, ps)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), c.token) && strings.Contains(string(b), "byfile") {
			t.Errorf("%s holds the join token: %q", p, strings.ReplaceAll(string(b), "\x00", " "))
		}
		if err == nil && strings.Contains(string(b), c.token) && strings.Contains(string(b), "byenv") {
			t.Errorf("%s holds the join token: %q", p, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	envs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range envs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), "SHOAL_TASK_ID=") && strings.Contains(string(b), c.token) {
			t.Errorf("a task's environment (%s) holds the join token", p)
		}
	}
}

// TestHugeRequestRefusedByLimits replays the report's 130-byte request
// for 100,000 replicas: the leader refuses it with one line naming the
// limit, nothing is created, and no node's memory grows for it.
func TestHugeRequestRefusedByLimits(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	c.waitMembers(3)
	rssBefore := c.totalRSS()
	out, err := c.agents[1].CLI("service", "create", "x", "--replicas", "100000", "--", "/bin/sleep", "1")
	if err == nil || !strings.Contains(out, "limits.max_tasks") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("create of 100000 replicas: %v: %q, want one line naming limits.max_tasks", err, out)
	}
	var svcs []api.ServiceInfo
	if err := c.agents[0].get("/v1/services", &svcs); err != nil || len(svcs) != 0 {
		t.Fatalf("services after the refusal: %v %+v", err, svcs)
	}
	if after := c.totalRSS(); after > rssBefore+100<<20 {
		t.Fatalf("agents' RSS grew from %d to %d bytes for a refused request", rssBefore, after)
	}
}

// totalRSS sums the agents' resident memory (VmRSS), in bytes.
func (c *cluster) totalRSS() int64 {
	var total int64
	for _, a := range c.agents {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", a.PID()))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				total += kb << 10
			}
		}
	}
	return total
}

// TestStreamsAreBounded opens event streams from one address until the
// agent refuses one: the 33rd gets 429 with one line, and a stream closed
// frees its slot.
func TestStreamsAreBounded(t *testing.T) {
	c := startCluster(t, 1)
	a := c.agents[0]
	var open []*http.Response
	defer func() {
		for _, r := range open {
			r.Body.Close()
		}
	}()
	get := func() *http.Response {
		t.Helper()
		resp, err := a.HTTP().Get(a.URL("/v1/events"))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for i := 0; i < 32; i++ {
		resp := get()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %d", i, resp.StatusCode)
		}
		open = append(open, resp)
	}
	resp := get()
	body := make([]byte, 512)
	n, _ := resp.Body.Read(body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body[:n]), "too many open log and event streams") {
		t.Fatalf("33rd stream: %d %s", resp.StatusCode, body[:n])
	}
	open[0].Body.Close()
	open = open[1:]
	if _, err := harness.Poll(10*time.Second, "a slot back after a stream closed", func() (bool, string) {
		r := get()
		defer r.Body.Close()
		if r.StatusCode == http.StatusOK {
			return true, ""
		}
		return false, r.Status
	}); err != nil {
		t.Fatal(err)
	}
}
