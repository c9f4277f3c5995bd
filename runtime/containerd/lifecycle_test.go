package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/shoal-project/shoal/api"
	rtapi "github.com/shoal-project/shoal/runtime"
)

// helloSpec is a task running the hello image on a free port.
func helloSpec(t testing.TB, id string) (rtapi.TaskSpec, int) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return rtapi.TaskSpec{
		TaskID: id, ServiceName: "web", NodeName: "node-a", Slot: 1,
		Spec: api.ServiceSpec{
			Name: "web", Runtime: Name, Image: "shoal/hello:v1",
			Env: []string{"PORT=" + strconv.Itoa(port)},
		},
	}, port
}

func httpGet(url string) (string, error) {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func readCgroup(t *testing.T, ctrl, ns, id, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cgroupRoot, ctrl, ns, id, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestLifecycle(t *testing.T) {
	r := newRuntime(t, nil)
	importHello(t, r)
	ctx := context.Background()
	spec, port := helloSpec(t, "life1")
	spec.Spec.Limits = api.Resources{NanoCPUs: 500_000_000, MemoryBytes: 64 << 20}
	spec.Spec.PidsLimit = 32
	spec.Spec.Mounts = []api.Mount{{Type: api.MountVolume, Source: "data", Target: "/data"}}
	if err := r.Prepare(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Prepare(ctx, spec); err != nil {
		t.Fatalf("second Prepare: %v", err)
	}
	if st, err := r.Status(ctx, "life1"); err != nil || st.State != rtapi.StateCreated {
		t.Fatalf("status after prepare = %+v, %v; want created", st, err)
	}
	if err := r.Start(ctx, "life1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, "life1"); err == nil || !strings.Contains(err.Error(), "already started") {
		t.Fatalf("second Start: %v, want 'already started'", err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	var body string
	waitFor(t, "the hello server to answer", 10*time.Second, func() bool {
		b, err := httpGet(url)
		body = b
		return err == nil
	})
	if want := "hello from task life1 on node-a\n"; body != want {
		t.Fatalf("GET / = %q, want %q", body, want)
	}
	st, err := r.Status(ctx, "life1")
	if err != nil || st.State != rtapi.StateRunning || st.PID <= 0 || st.StartedAt.IsZero() {
		t.Fatalf("status = %+v, %v; want running with a PID", st, err)
	}

	// Limits are in the cgroup files.
	ns := r.Namespace()
	if got := readCgroup(t, "memory", ns, "life1", "memory.limit_in_bytes"); got != strconv.Itoa(64<<20) {
		t.Errorf("memory.limit_in_bytes = %s", got)
	}
	if got := readCgroup(t, "pids", ns, "life1", "pids.max"); got != "32" {
		t.Errorf("pids.max = %s", got)
	}
	if got := readCgroup(t, "cpu", ns, "life1", "cpu.cfs_quota_us"); got != "50000" {
		t.Errorf("cpu.cfs_quota_us = %s", got)
	}
	if got := readCgroup(t, "cpu", ns, "life1", "cpu.shares"); got != "512" {
		t.Errorf("cpu.shares = %s", got)
	}
	if _, err := os.Stat(filepath.Join(r.Root(), "volumes", "data")); err != nil {
		t.Errorf("volume dir: %v", err)
	}

	// Logs: tail and follow.
	waitFor(t, "the request line in the log", 5*time.Second, func() bool {
		return strings.Contains(readLogs(t, r, "life1", rtapi.LogOptions{Tail: -1}), "request GET /")
	})
	all := readLogs(t, r, "life1", rtapi.LogOptions{Tail: -1})
	if !strings.HasPrefix(all, "hello listening on [::]:"+strconv.Itoa(port)) {
		t.Errorf("log starts %q", all)
	}
	if got := readLogs(t, r, "life1", rtapi.LogOptions{Tail: 1}); !strings.HasPrefix(got, "request GET / ") || strings.Count(got, "\n") != 1 {
		t.Errorf("tail 1 = %q", got)
	}
	follow, err := r.Logs(ctx, "life1", rtapi.LogOptions{Follow: true, Tail: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer follow.Close()
	followed := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(follow)
		followed <- string(b)
	}()
	httpGet(url + "healthz")

	// Stop: SIGTERM ends the server; 128+15.
	if err := r.Stop(ctx, "life1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err = r.Status(ctx, "life1")
	if err != nil || st.State != rtapi.StateExited || st.ExitCode != 143 || st.FinishedAt.IsZero() {
		t.Fatalf("status after stop = %+v, %v; want exited 143", st, err)
	}
	select {
	case got := <-followed:
		if !strings.Contains(got, "request GET /healthz") {
			t.Errorf("followed logs = %q, want the healthz request", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("following the logs did not end after the task exited")
	}

	// Remove leaves nothing behind but the volume.
	if err := r.Remove(ctx, "life1"); err != nil {
		t.Fatal(err)
	}
	assertGone(t, r, "life1")
	if _, err := os.Stat(filepath.Join(r.Root(), "volumes", "data")); err != nil {
		t.Errorf("volume should outlive the task: %v", err)
	}
	if err := r.Remove(ctx, "life1"); err != nil {
		t.Errorf("removing again: %v", err)
	}
}

func readLogs(t *testing.T, r *Runtime, id string, o rtapi.LogOptions) string {
	t.Helper()
	rc, err := r.Logs(context.Background(), id, o)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertGone checks that nothing of task id is left.
func assertGone(t *testing.T, r *Runtime, id string) {
	t.Helper()
	ctx := r.withNS(context.Background())
	if _, err := r.Status(ctx, id); !errors.Is(err, rtapi.ErrNotFound) {
		t.Errorf("status after remove: %v, want ErrNotFound", err)
	}
	if _, err := r.client.LoadContainer(ctx, id); !errdefs.IsNotFound(err) {
		t.Errorf("container still there: %v", err)
	}
	if _, err := r.client.SnapshotService(snapshotter).Stat(ctx, id); !errdefs.IsNotFound(err) {
		t.Errorf("snapshot still there: %v", err)
	}
	for _, p := range []string{r.taskDir(id), filepath.Join(DefaultRuncRoot, r.ns, id)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there: %v", p, err)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(cgroupRoot, "*", r.ns, id)); len(m) > 0 {
		t.Errorf("cgroup dirs still there: %v", m)
	}
}

func TestStartFailureRecordsExitCode(t *testing.T) {
	r := newRuntime(t, nil)
	importHello(t, r)
	ctx := context.Background()
	spec, _ := helloSpec(t, "nope")
	spec.Spec.Entrypoint = []string{"/does-not-exist"}
	if err := r.Prepare(ctx, spec); err != nil {
		t.Fatal(err)
	}
	err := r.Start(ctx, "nope")
	if err == nil || !strings.Contains(err.Error(), "exit code 127") {
		t.Fatalf("Start = %v, want an error with exit code 127", err)
	}
	st, err := r.Wait(ctx, "nope")
	if err != nil || st.State != rtapi.StateExited || st.ExitCode != 127 || st.Err == "" {
		t.Fatalf("status = %+v, %v; want exited 127 with a reason", st, err)
	}
	if err := r.Remove(ctx, "nope"); err != nil {
		t.Fatal(err)
	}
	assertGone(t, r, "nope")
}

func TestLiveRestoreAndKill9(t *testing.T) {
	r1 := newRuntime(t, nil)
	importHello(t, r1)
	ctx := context.Background()
	spec, port := helloSpec(t, "restore1")
	if err := r1.Prepare(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := r1.Start(ctx, "restore1"); err != nil {
		t.Fatal(err)
	}
	st1, err := r1.Status(ctx, "restore1")
	if err != nil || st1.PID <= 0 {
		t.Fatalf("status = %+v, %v", st1, err)
	}
	waitFor(t, "the hello server", 10*time.Second, func() bool {
		_, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		return err == nil
	})
	r1.Close() // the agent goes away; the container does not

	r2, err := New(ctx, r1.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	list, err := r2.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].TaskID != "restore1" || list[0].State != rtapi.StateRunning || list[0].PID != st1.PID {
		t.Fatalf("List after restart = %+v, want restore1 running with PID %d", list, st1.PID)
	}
	waited := make(chan rtapi.Status, 1)
	go func() {
		st, err := r2.Wait(ctx, "restore1")
		if err != nil {
			st.Err = "wait error: " + err.Error()
		}
		waited <- st
	}()
	if err := killPID(st1.PID); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-waited:
		if st.State != rtapi.StateExited || st.ExitCode != 137 {
			t.Fatalf("Wait after kill -9 = %+v, want exited 137", st)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Wait did not return after kill -9")
	}
	if st, _ := r2.Status(ctx, "restore1"); st.ExitCode != 137 || st.OOMKilled {
		t.Fatalf("status = %+v, want exit 137, not OOM", st)
	}
	if err := r2.Remove(ctx, "restore1"); err != nil {
		t.Fatal(err)
	}
	assertGone(t, r2, "restore1")
}

// TestSeccompDefaultAndUnconfined checks a container gets containerd's
// default system-call filter unless its spec says unconfined, and that it
// runs under it.
func TestSeccompDefaultAndUnconfined(t *testing.T) {
	r := newRuntime(t, nil)
	importHello(t, r)
	ctx := context.Background()
	for _, c := range []struct {
		id       string
		seccomp  string
		filtered bool
	}{{"sec-default", "", true}, {"sec-off", api.SeccompUnconfined, false}} {
		spec, port := helloSpec(t, c.id)
		spec.Spec.Seccomp = c.seccomp
		if err := r.Prepare(ctx, spec); err != nil {
			t.Fatal(err)
		}
		ctr, err := r.load(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ctr.Spec(r.withNS(ctx))
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Linux != nil && s.Linux.Seccomp != nil && len(s.Linux.Seccomp.Syscalls) > 0; got != c.filtered {
			t.Fatalf("%s: seccomp filter in the OCI spec = %v, want %v", c.id, got, c.filtered)
		}
		if err := r.Start(ctx, c.id); err != nil {
			t.Fatal(err)
		}
		waitFor(t, c.id+" to answer", 10*time.Second, func() bool {
			_, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", port))
			return err == nil
		})
		if err := r.Stop(ctx, c.id, time.Second); err != nil {
			t.Fatal(err)
		}
		if err := r.Remove(ctx, c.id); err != nil {
			t.Fatal(err)
		}
	}
}
