package integration

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// tmpfsMounts lists the mount points of tmpfs file systems under root.
func tmpfsMounts(t *testing.T, root string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		for i, x := range f {
			if x == "-" && i+1 < len(f) && f[i+1] == "tmpfs" && strings.HasPrefix(f[4], root) {
				out = append(out, f[4])
			}
		}
	}
	return out
}

// filesHolding lists the files under root, outside tmpfs mounts, whose
// bytes contain needle.
func filesHolding(t *testing.T, root string, needle []byte) []string {
	skip := map[string]bool{}
	for _, m := range tmpfsMounts(t, root) {
		skip[m] = true
	}
	var hits []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && skip[p] {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, needle) {
				hits = append(hits, p)
			}
		}
		return nil
	})
	return hits
}

// TestSecretsReachOnlyTheirTasks: a secret created from stdin is read by
// a process service's tasks on two nodes from $SHOAL_SECRETS_DIR (a tmpfs,
// file mode 0400; the tasks print its SHA-256, so that their own logs do
// not hold it); its value is in no file under any data dir, no API
// answer and no agent log; it cannot be removed while a service uses it;
// and once the service is gone its tmpfs mounts are gone too.
func TestSecretsReachOnlyTheirTasks(t *testing.T) {
	c := startCluster(t, 2, "--runtime", "process")
	a := c.agents[0]
	value := fmt.Sprintf("hunter2-%d", time.Now().UnixNano())
	cmd := exec.Command(shoalBin, "--addr", a.Endpoint(), "secret", "create", "db-password", "-")
	cmd.Stdin = strings.NewReader(value)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("secret create: %v %s", err, out)
	}
	if out, err := a.CLI("service", "create", "reader", "--detach", "--runtime", "process", "--replicas", "2", "--max-per-node", "1",
		"--secret", "db-password", "--", "sh", "-c", `echo "sha256=$(sha256sum < $SHOAL_SECRETS_DIR/db-password | cut -d' ' -f1) mode=$(stat -c %a $SHOAL_SECRETS_DIR/db-password)"; exec sleep 1000`); err != nil {
		t.Fatalf("service create: %v %s", err, out)
	}
	waitRunning(t, a, "reader", 2, 30*time.Second)
	harness.WaitFor(t, 20*time.Second, "both tasks to print the secret", func() (bool, string) {
		out, _ := a.CLI("service", "logs", "reader")
		return strings.Count(out, fmt.Sprintf("sha256=%x mode=400", sha256.Sum256([]byte(value)))) == 2, out
	})
	if out, err := a.CLI("secret", "rm", "db-password"); err == nil || !strings.Contains(out, "in use by service reader") {
		t.Fatalf("rm of a secret in use: %v %s", err, out)
	}

	// Nowhere else: files (outside the tasks' tmpfs), API answers, logs.
	for _, ag := range c.agents {
		if hits := filesHolding(t, ag.DataDir, []byte(value)); len(hits) > 0 {
			t.Errorf("%s: the secret's value is in %v", ag.Name, hits)
		}
		if strings.Contains(ag.Output(), value) {
			t.Errorf("%s: the secret's value is in the agent log", ag.Name)
		}
		if len(tmpfsMounts(t, ag.DataDir)) != 1 {
			t.Errorf("%s: tmpfs mounts %v, want the one task's", ag.Name, tmpfsMounts(t, ag.DataDir))
		}
	}
	for _, args := range [][]string{{"secret", "ls", "-o", "json"}, {"secret", "inspect", "db-password"}, {"service", "inspect", "reader"},
		{"service", "ps", "reader", "-o", "json"}} {
		if out, _ := a.CLI(args...); strings.Contains(out, value) {
			t.Errorf("%v shows the value", args)
		}
	}
	var infos []api.SecretInfo
	if err := a.get("/v1/secrets", &infos); err != nil || len(infos) != 1 || infos[0].Size != len(value) || fmt.Sprint(infos[0].UsedBy) != "[reader]" {
		t.Fatalf("secret ls: %v %+v", err, infos)
	}

	if out, err := a.CLI("service", "rm", "reader"); err != nil {
		t.Fatalf("service rm: %v %s", err, out)
	}
	harness.WaitFor(t, 30*time.Second, "the tasks' secret mounts to go", func() (bool, string) {
		var left []string
		for _, ag := range c.agents {
			left = append(left, tmpfsMounts(t, ag.DataDir)...)
		}
		return len(left) == 0, fmt.Sprint(left)
	})
	if out, err := a.CLI("secret", "rm", "db-password"); err != nil {
		t.Fatalf("secret rm after the service went: %v %s", err, out)
	}
}

// createSecret creates secret name with value through a's socket, from
// standard input as an operator would.
func createSecret(t *testing.T, a *agentProc, name, value string) {
	t.Helper()
	cmd := exec.Command(shoalBin, "--addr", a.Endpoint(), "secret", "create", name, "-")
	cmd.Stdin = strings.NewReader(value)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("secret create %s: %v %s", name, err, out)
	}
}

// TestSecretsForAProcessUser: a process task that runs as nobody reads its
// secret (given to it, mode 0400) though the task directory above is
// root's.
func TestSecretsForAProcessUser(t *testing.T) {
	c := startCluster(t, 1, "--runtime", "process")
	a := c.agents[0]
	value := fmt.Sprintf("pw-%d", time.Now().UnixNano())
	createSecret(t, a, "api-key", value)
	if out, err := a.CLI("service", "create", "nobody-reader", "--detach", "--runtime", "process", "--user", "nobody",
		"--secret", "api-key", "--", "sh", "-c", `echo "uid=$(id -u) sha256=$(sha256sum < $SHOAL_SECRETS_DIR/api-key | cut -d' ' -f1)"; exec sleep 1000`); err != nil {
		t.Fatalf("service create: %v %s", err, out)
	}
	waitRunning(t, a, "nobody-reader", 1, 30*time.Second)
	want := fmt.Sprintf("uid=65534 sha256=%x", sha256.Sum256([]byte(value)))
	harness.WaitFor(t, 20*time.Second, "the task to read its secret as nobody", func() (bool, string) {
		out, _ := a.CLI("service", "logs", "nobody-reader")
		return strings.Contains(out, want), out
	})
}

// TestSecretsInContainers: a container sees its secret at
// /run/secrets/NAME, read-only on a tmpfs (read through the container's
// own root, /proc/PID/root, from the host).
func TestSecretsInContainers(t *testing.T) {
	c := containerCluster(t, 1)
	a := c.agents[0]
	if out, err := a.CLI("image", "load", ctrEnv.helloTar); err != nil {
		t.Fatalf("image load: %v %s", err, out)
	}
	value := fmt.Sprintf("tls-key-%d", time.Now().UnixNano())
	createSecret(t, a, "tls.key", value)
	if out, err := a.CLI("service", "create", "web", "--detach", "--image", "shoal/hello:v1", "--env", "PORT=0", "--secret", "tls.key"); err != nil {
		t.Fatalf("service create: %v %s", err, out)
	}
	ts := waitRunning(t, a, "web", 1, 60*time.Second)
	pid := ts[0].Status.PID
	got, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/run/secrets/tls.key", pid))
	if err != nil || string(got) != value {
		t.Fatalf("the container's /run/secrets/tls.key: %v %q", err, got)
	}
	mounts, _ := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	var line string
	for _, l := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[4] == "/run/secrets" {
			line = l
		}
	}
	if !strings.Contains(line, " ro,") || !strings.Contains(line, " - tmpfs ") {
		t.Fatalf("/run/secrets in the container is not a read-only tmpfs: %q", line)
	}
	if hits := filesHolding(t, a.DataDir, []byte(value)); len(hits) > 0 {
		t.Fatalf("the secret's value is in %v", hits)
	}
}
