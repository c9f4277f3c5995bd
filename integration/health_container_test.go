package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/cmd/mkimage/imagebuild"
	"github.com/shoal-project/shoal/integration/harness"
)

// helloCheck is a check the hello image can run without a shell: hello
// itself GETs a URL of the task's own server.
func helloCheck(path string) []string {
	return []string{"CMD", "/hello", "-check", "http://127.0.0.1:8080" + path}
}

// TestHealthContainerExec: cmd checks run inside containers. A service
// whose check passes turns healthy, and its container holds only its
// main process between checks (every exec'd check is gone); a service
// whose check fails turns unhealthy, its task is failed with the check's
// output and replaced in its slot.
func TestHealthContainerExec(t *testing.T) {
	c := containerCluster(t, 1)
	a := c.agents[0]
	if out, err := a.CLI("image", "load", ctrEnv.helloTar); err != nil {
		t.Fatalf("image load: %v\n%s", err, out)
	}
	manifest := filepath.Join(t.TempDir(), "health.toml")
	svc := func(name, path string) string {
		return fmt.Sprintf(`
[[service]]
name = %q
image = "shoal/hello:v1"
env = ["PORT=8080"]
restart = { delay = "200ms" }
health = { cmd = ["%s"], interval = "200ms", timeout = "2s", retries = 2 }
`, name, strings.Join(helloCheck(path), `", "`))
	}
	doc := svc("good", "/healthz") + svc("bad", "/nope")
	if err := os.WriteFile(manifest, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := a.CLI("apply", "-f", manifest); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, out, doc)
	}
	var good api.TaskInfo
	harness.WaitFor(t, 90*time.Second, "good.1 healthy", func() (bool, string) {
		ts, err := tasks(a, "good")
		if err != nil || len(ts) != 1 {
			return false, fmt.Sprintf("%v %+v", err, ts)
		}
		good = ts[0]
		return good.State == api.TaskRunning && good.Health == api.HealthHealthy, fmt.Sprintf("%s %q %q", good.State, good.Health, good.Error)
	})
	if out, err := a.CLI("service", "ps", "good", "-o", "json"); err != nil || !strings.Contains(out, `"health": "healthy"`) {
		t.Fatalf("service ps -o json: %v\n%s", err, out)
	}

	// Checks run every 200ms and take a few ms: over 30 looks (several
	// seconds, a dozen checks and more) the container never holds more
	// than its main process and one check, and ends with the main
	// process alone.
	looks, most := 0, 0
	harness.WaitFor(t, 30*time.Second, "30 looks at good.1's processes, the last showing only hello", func() (bool, string) {
		pids := ctrTaskPids(t, a.namespace(), good.ID)
		looks++
		most = max(most, len(pids))
		if most > 2 {
			t.Fatalf("good.1 holds %d processes: %v (exec'd checks leak)", len(pids), pids)
		}
		return looks >= 30 && len(pids) == 1, fmt.Sprintf("look %d: %v", looks, pids)
	})
	if ts, err := tasks(a, "good"); err != nil || len(ts) != 1 || ts[0].ID != good.ID || ts[0].Health != api.HealthHealthy {
		t.Fatalf("good after the checks: %v %+v", err, ts)
	}

	var first api.TaskInfo
	harness.WaitFor(t, 60*time.Second, "bad.1 failed unhealthy and replaced", func() (bool, string) {
		ts, err := tasks(a, "bad")
		if err != nil {
			return false, err.Error()
		}
		failed, replaced := false, false
		detail := ""
		for _, x := range ts {
			detail += fmt.Sprintf("%s.%d %s %q %q; ", x.ID[:8], x.Slot, x.State, x.Health, x.Error)
			if x.State == api.TaskFailed && x.Health == api.HealthUnhealthy && first.ID == "" {
				first = x
			}
			if x.ID == first.ID {
				failed = true
			}
		}
		for _, x := range ts {
			if failed && x.ID != first.ID && x.Slot == first.Slot {
				replaced = true
			}
		}
		return failed && replaced, detail
	})
	t.Logf("at most %d processes in %d looks; bad.1 failed %q", most, looks, first.Error)
	if !strings.HasPrefix(first.Error, "unhealthy: exit code 1: hello -check: GET http://127.0.0.1:8080/nope: 404") {
		t.Errorf("bad.1 failed with %q, want the check's exit code and output", first.Error)
	}
}

// TestHealthImageHealthcheck: an image that declares a HEALTHCHECK gets
// it checked without any flag; --no-healthcheck turns it off.
func TestHealthImageHealthcheck(t *testing.T) {
	c := containerCluster(t, 1)
	a := c.agents[0]
	img := helloWithHealthcheck(t, &v1.HealthConfig{Test: helloCheck("/healthz"), Interval: 200 * time.Millisecond})
	var buf bytes.Buffer
	if err := imagebuild.WriteOCIArchive(&buf, img, "shoal/hello:hc"); err != nil {
		t.Fatal(err)
	}
	tar := filepath.Join(t.TempDir(), "hello-hc.tar")
	if err := os.WriteFile(tar, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := a.CLI("image", "load", tar); err != nil {
		t.Fatalf("image load: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"service", "create", "checked", "--detach", "--image", "shoal/hello:hc", "--env", "PORT=8080"},
		{"service", "create", "unchecked", "--detach", "--image", "shoal/hello:hc", "--env", "PORT=8080", "--no-healthcheck"},
	} {
		if out, err := a.CLI(args...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	harness.WaitFor(t, 90*time.Second, "checked.1 healthy, unchecked.1 running", func() (bool, string) {
		c, err1 := tasks(a, "checked")
		u, err2 := tasks(a, "unchecked")
		if err1 != nil || err2 != nil || len(c) != 1 || len(u) != 1 {
			return false, fmt.Sprintf("%v %v %+v %+v", err1, err2, c, u)
		}
		return c[0].State == api.TaskRunning && c[0].Health == api.HealthHealthy && u[0].State == api.TaskRunning,
			fmt.Sprintf("checked %s %q, unchecked %s", c[0].State, c[0].Health, u[0].State)
	})
	// checked turned healthy after its first check; unchecked, started at
	// the same time, would have too.
	if u, err := tasks(a, "unchecked"); err != nil || len(u) != 1 || u[0].Health != "" {
		t.Fatalf("unchecked has a health: %v %+v", err, u)
	}
}

// helloWithHealthcheck is the hello image with hc as its HEALTHCHECK.
func helloWithHealthcheck(t *testing.T, hc *v1.HealthConfig) v1.Image {
	cf, err := ctrEnv.helloImg.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Healthcheck = hc
	img, err := mutate.ConfigFile(ctrEnv.helloImg, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// ctrTaskPids lists the processes of a task's container, as containerd
// sees them (ctr tasks ps).
func ctrTaskPids(t *testing.T, ns, taskID string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ctr", "--address", ctrEnv.sock, "-n", ns, "tasks", "ps", taskID).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr tasks ps %s: %v\n%s", taskID, err, out)
	}
	var pids []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] { // a header, then a PID per line
		if f := strings.Fields(line); len(f) > 0 {
			pids = append(pids, f[0])
		}
	}
	return pids
}
