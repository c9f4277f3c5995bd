package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// httpsCLI runs the CLI against a's HTTPS endpoint with the token in a
// file and the CA pinned by fingerprint, as a remote operator does.
func httpsCLI(t *testing.T, a *agentProc, fingerprint, token string, args ...string) (string, error) {
	t.Helper()
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	full := append([]string{"--addr", "https://" + a.APIAddr, "--ca-fingerprint", fingerprint, "--token-file", tokFile}, args...)
	cmd := exec.Command(shoalBin, full...)
	cmd.Env = append(os.Environ(), "SHOAL_ADDR=", "SHOAL_TOKEN=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// curl runs the real curl and returns the HTTP status and body.
func curl(t *testing.T, args ...string) (int, string) {
	t.Helper()
	full := append([]string{"-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"}, args...)
	out, err := exec.Command("curl", full...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	s := strings.TrimRight(string(out), "\n")
	i := strings.LastIndex(s, "\n")
	var code int
	fmt.Sscan(s[i+1:], &code)
	return code, s[:max(i, 0)]
}

// TestAPIOverHTTPSNeedsTokensWithRoles reproduces the "API is open"
// finding on the TCP endpoint and checks what replaced it: HTTPS with a
// certificate from the cluster CA that curl (OpenSSL) verifies, 401
// without a token, 403 for a read-only token writing, operator tokens
// that run services but cannot mint tokens, revocation and expiry that
// take effect at once, browser-style bodies refused even with a token,
// and every write logged with the caller's name.
func TestAPIOverHTTPSNeedsTokensWithRoles(t *testing.T) {
	c := startClusterWith(t, 1, func(string) []string {
		return []string{"--runtime", "process", "--api-addr", fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))}
	})
	a := c.agents[0]
	base := "https://" + a.APIAddr

	// The bootstrap admin token, 0600 in the data dir.
	adminFile := filepath.Join(a.DataDir, "admin.token")
	fi, err := os.Stat(adminFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bootstrap admin token file: %v %v, want mode 0600", err, fi)
	}
	adminTok, _ := os.ReadFile(adminFile)
	admin := strings.TrimSpace(string(adminTok))

	// The CA, from the socket; curl verifies the server against it.
	caPEM, err := a.CLI("cluster", "ca")
	if err != nil {
		t.Fatalf("cluster ca: %v: %s", err, caPEM)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, []byte(caPEM), 0o644)
	fp, err := a.CLI("cluster", "ca", "--fingerprint")
	if err != nil || !strings.HasPrefix(fp, "sha256:") {
		t.Fatalf("cluster ca --fingerprint: %v %q", err, fp)
	}
	fp = strings.TrimSpace(fp)

	// The finding, as it was found: a POST with text/plain and no
	// credentials. Now: 401 before anything is read.
	finding := `{"name":"x","command":["sh","-c","id > /tmp/shoal-auth-x"],"replicas":2}`
	if code, body := curl(t, "--cacert", caFile, "-X", "POST", "-H", "Content-Type: text/plain", "--data", finding, base+"/v1/services"); code != 401 || !strings.Contains(body, "needs an API token") {
		t.Fatalf("unauthenticated POST: %d %s", code, body)
	}
	for _, path := range []string{"/v1/token", "/v1/cluster", "/metrics", "/v1/snapshot"} {
		if code, _ := curl(t, "--cacert", caFile, base+path); code != 401 {
			t.Errorf("GET %s without a token: %d, want 401", path, code)
		}
	}
	if code, _ := curl(t, "--cacert", caFile, "-H", "Authorization: Bearer "+api.NewAPIToken(), base+"/v1/cluster"); code != 401 {
		t.Errorf("unknown token: %d, want 401", code)
	}
	// Plain HTTP on the TLS port gets nowhere.
	if code, _ := curl(t, "http://"+a.APIAddr+"/v1/cluster"); code == 200 {
		t.Errorf("plain HTTP answered 200")
	}

	// Tokens with roles, made over HTTPS with the admin token.
	mk := func(name, role string, extra ...string) string {
		t.Helper()
		out, err := httpsCLI(t, a, fp, admin, append([]string{"acl", "token", "create", "--name", name, "--role", role, "-q"}, extra...)...)
		if err != nil || !strings.HasPrefix(out, "shoal_") {
			t.Fatalf("acl token create %s: %v %s", name, err, out)
		}
		return strings.TrimSpace(out)
	}
	reader, operator := mk("viewer", "read-only"), mk("ci", "operator")

	if code, body := curl(t, "--cacert", caFile, "-H", "Authorization: Bearer "+reader, base+"/v1/cluster"); code != 200 || !strings.Contains(body, `"leader"`) {
		t.Fatalf("read-only GET: %d %s", code, body)
	}
	spec := `{"name":"web","command":["/bin/sleep","1000"],"replicas":1,"runtime":"process"}`
	if code, body := curl(t, "--cacert", caFile, "-H", "Authorization: Bearer "+reader, "-H", "Content-Type: application/json", "--data", spec, base+"/v1/services"); code != 403 || !strings.Contains(body, "needs role operator") {
		t.Fatalf("read-only POST: %d %s", code, body)
	}
	if code, body := curl(t, "--cacert", caFile, "-H", "Authorization: Bearer "+operator, "-H", "Content-Type: text/plain", "--data", spec, base+"/v1/services"); code != 415 {
		t.Fatalf("operator POST as text/plain: %d %s", code, body)
	}
	if out, err := httpsCLI(t, a, fp, operator, "service", "create", "web", "--runtime", "process", "--", "/bin/sleep", "1000"); err != nil {
		t.Fatalf("operator service create: %v %s", err, out)
	}
	if out, err := httpsCLI(t, a, fp, operator, "acl", "token", "create", "--name", "x", "--role", "admin"); err == nil || !strings.Contains(out, "needs role admin") {
		t.Fatalf("operator minting an admin token: %v %s", err, out)
	}
	if out, err := httpsCLI(t, a, fp, operator, "token", "show"); err == nil || !strings.Contains(out, "needs role admin") {
		t.Fatalf("operator reading the join token: %v %s", err, out)
	}
	if out, err := httpsCLI(t, a, fp, reader, "acl", "whoami"); err != nil || strings.TrimSpace(out) != "viewer (role read-only)" {
		t.Fatalf("whoami: %v %q", err, out)
	}
	// A wrong pin is refused before the token is sent.
	if out, err := httpsCLI(t, a, fp[:len(fp)-4]+"0000", reader, "service", "ls"); err == nil || !strings.Contains(out, "does not match") {
		t.Fatalf("wrong pin: %v %s", err, out)
	}

	// Every write is logged with its caller.
	harness.WaitFor(t, 5*time.Second, "the operator's write in the agent log", func() (bool, string) {
		return strings.Contains(a.Output(), "api write") && strings.Contains(a.Output(), "caller=ci"), ""
	})
	// The token list shows no secret, and no secret or hash is in any answer.
	list, err := a.CLI("acl", "token", "ls", "-o", "json")
	if err != nil || strings.Contains(list, "shoal_") || strings.Contains(list, api.SecretHash(operator)) || !strings.Contains(list, `"ci"`) {
		t.Fatalf("token ls: %v %s", err, list)
	}

	// Revocation and expiry take effect on the next request.
	if out, err := a.CLI("acl", "token", "revoke", "ci"); err != nil {
		t.Fatalf("revoke: %v %s", err, out)
	}
	if code, _ := curl(t, "--cacert", caFile, "-H", "Authorization: Bearer "+operator, base+"/v1/services"); code != 401 {
		t.Fatalf("revoked token: %d, want 401", code)
	}
	short := mk("short", "read-only", "--ttl", "2s")
	harness.WaitFor(t, 10*time.Second, "the 2s token to expire", func() (bool, string) {
		code, body := curl(t, "--cacert", caFile, "-H", "Authorization: Bearer "+short, base+"/v1/cluster")
		return code == 401 && strings.Contains(body, "expired"), fmt.Sprint(code, body)
	})
}

// TestSocketIsForRootAndGroupShoal: the local API socket is mode 0660 and
// an unprivileged user (uid 65534, as in the finding) cannot open it, with
// the CLI or with curl; root can.
func TestSocketIsForRootAndGroupShoal(t *testing.T) {
	c := startCluster(t, 1, "--runtime", "process")
	a := c.agents[0]
	fi, err := os.Stat(a.Socket)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket %s: %v %v, want a socket with mode 0660", a.Socket, err, fi)
	}
	nobody := []string{"--reuid=65534", "--regid=65534", "--clear-groups", "--"}
	out, err := exec.Command("setpriv", append(nobody, shoalBin, "--addr", a.Endpoint(), "service", "ls")...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "permission denied") || strings.Count(strings.TrimSpace(string(out)), "\n") > 0 {
		t.Fatalf("uid 65534 ran the CLI: %v %q", err, out)
	}
	body := `{"name":"x","command":["sh","-c","id > /tmp/shoal-socket-x"],"replicas":1}`
	// curl reports the refused connect(2) (EACCES) as exit 7.
	out, err = exec.Command("setpriv", append(nobody, "curl", "-sS", "--unix-socket", a.Socket, "-H", "Content-Type: application/json", "--data", body, "http://localhost/v1/services")...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Fatalf("uid 65534 reached the socket with curl: %v %s", err, out)
	}
	// The same curl as root gets in: the socket's mode made the difference.
	if code, body := curl(t, "--unix-socket", a.Socket, "http://localhost/v1/cluster"); code != 200 {
		t.Fatalf("root with curl over the socket: %d %s", code, body)
	}
	var svcs []api.ServiceInfo
	if err := a.get("/v1/services", &svcs); err != nil || len(svcs) != 0 {
		t.Fatalf("services after the refused attempts: %v %v", err, svcs)
	}
}

// TestJoinTokenNotInAnyCommandLine: agents joined with the token in
// $SHOAL_JOIN_TOKEN; no process's command line holds it.
func TestJoinTokenNotInAnyCommandLine(t *testing.T) {
	c := startCluster(t, 2, "--runtime", "process")
	createService(t, c.agents[0], "env-check", "--replicas", "2")
	waitRunning(t, c.agents[0], "env-check", 2, 20*time.Second)
	secret := c.token[strings.LastIndex(c.token, "-")+1:]
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), secret) {
			t.Errorf("%s holds the join token: %q", p, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	// Nor does a task's environment.
	ts, err := tasks(c.agents[0], "env-check")
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range ts {
		if ts.Status.PID == 0 {
			continue
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", ts.Status.PID)); err == nil && strings.Contains(string(b), secret) {
			t.Errorf("task %s's environment holds the join token", ts.ID)
		}
	}
}

// TestPlainMemberSocketCannotWrite: in a 4-node cluster one node is not a
// voter; its local socket (admin on that host) may read, but a write
// through it is refused by the leader unless it carries an API token —
// a plain member cannot act for the cluster on its own.
func TestPlainMemberSocketCannotWrite(t *testing.T) {
	c := startClusterWith(t, 4, func(string) []string {
		return []string{"--runtime", "process", "--api-addr", fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))}
	})
	waitVoters(t, c.agents[0], 3)
	var member *agentProc
	harness.WaitFor(t, 20*time.Second, "a node that is not a voter", func() (bool, string) {
		var nodes []api.NodeInfo
		err := c.agents[0].get("/v1/nodes", &nodes)
		for _, n := range nodes {
			if n.Role == api.RoleMember || n.Role == api.RoleNonvoter {
				member = c.byName(n.Name)
				return member != nil, ""
			}
		}
		return false, fmt.Sprint(err, nodes)
	})
	if out, err := member.CLI("service", "ls"); err != nil {
		t.Fatalf("read on the member's socket: %v %s", err, out)
	}
	out, err := member.CLI("service", "create", "m", "--runtime", "process", "--", "/bin/sleep", "1000")
	if err == nil || !strings.Contains(out, "is not a voter") || strings.Count(strings.TrimSpace(out), "\n") > 0 {
		t.Fatalf("write through a plain member's socket: %v %q", err, out)
	}
	admin, _ := os.ReadFile(filepath.Join(c.agents[0].DataDir, "admin.token"))
	fp, _ := c.agents[0].CLI("cluster", "ca", "--fingerprint")
	if out, err := httpsCLI(t, member, strings.TrimSpace(fp), strings.TrimSpace(string(admin)), "service", "create", "m", "--runtime", "process", "--", "/bin/sleep", "1000"); err != nil {
		t.Fatalf("write with a token through the plain member: %v %s", err, out)
	}
}

// TestContainerCannotDriveTheAPI reproduces "containers reach the API": a
// container POSTs a service to the agent's TCP API on the host's loopback
// (no token) and to the default socket path. Neither gets a 2xx, and no
// service appears.
func TestContainerCannotDriveTheAPI(t *testing.T) {
	port := harness.FreePort(t)
	c := containerCluster(t, 1, "--api-addr", fmt.Sprintf("127.0.0.1:%d", port))
	a := c.agents[0]
	if out, err := a.CLI("image", "load", ctrEnv.helloTar); err != nil {
		t.Fatalf("image load: %v %s", err, out)
	}
	probes := fmt.Sprintf("https://127.0.0.1:%d/v1/services,unix:/run/shoal/shoal.sock", port)
	if out, err := a.CLI("service", "create", "intruder", "--detach", "--image", "shoal/hello:v1", "--env", "PORT=0", "--env", "HELLO_PROBES="+probes); err != nil {
		t.Fatalf("service create: %v %s", err, out)
	}
	var logs string
	harness.WaitFor(t, 60*time.Second, "the container's probe results", func() (bool, string) {
		logs, _ = a.CLI("service", "logs", "intruder")
		return strings.Count(logs, "probe ") >= 2, logs
	})
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "probe ") && strings.Contains(line, "status 2") {
			t.Errorf("a container drove the API: %s", line)
		}
	}
	t.Logf("container probes:\n%s", logs)
	var svcs []api.ServiceInfo
	if err := a.get("/v1/services", &svcs); err != nil || len(svcs) != 1 {
		t.Fatalf("services: %v %+v, want only the intruder", err, svcs)
	}
}
