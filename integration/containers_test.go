package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
	"github.com/shoal-project/shoal/runtime/cni"
	"github.com/shoal-project/shoal/runtime/containerd"
)

// containerCluster starts n agents that run containers, each in its own
// containerd namespace on the shared test daemon, trusting the test
// registry over plain HTTP. The cluster's task network is a /16 of
// 10.128.0.0/9 of its own (clusters of other tests on the host must not
// share addresses). Once the agents have stopped, the task networks they
// leave (the test's services still run) are torn down and their bridges
// deleted.
func containerCluster(t testing.TB, n int, extra ...string) *cluster {
	return containerClusterWith(t, n, func(string) []string { return extra })
}

// boundContainerCluster is containerCluster with each agent on its own
// loopback address (n1 on 127.0.0.1, n2 on 127.0.0.2, …), so that each
// serves a service's published ports on its own address, as hosts do.
func boundContainerCluster(t testing.TB, n int) *cluster {
	return containerClusterWith(t, n, func(name string) []string {
		return []string{"--bind", "127.0.0." + strings.TrimPrefix(name, "n")}
	})
}

func containerClusterWith(t testing.TB, n int, extra func(name string) []string) *cluster {
	needContainerd(t)
	cfg := filepath.Join(t.TempDir(), "agent.toml")
	toml := fmt.Sprintf("containerd_socket = %q\n[registries.%q]\ninsecure = true\n", ctrEnv.sock, ctrEnv.registry)
	if err := os.WriteFile(cfg, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixNano()
	ns := fmt.Sprintf("it-%d", now)
	cidr := fmt.Sprintf("10.%d.0.0/16", 128+(now/1000+int64(os.Getpid()))%127)
	var c *cluster
	ids := map[string]string{} // data dir → node ID
	t.Cleanup(func() {         // registered first: runs after the agents stopped
		for i := 1; i <= n; i++ {
			removeContainers(t, fmt.Sprintf("%s-n%d", ns, i), filepath.Join(t.TempDir(), "rt"))
		}
		for dir, id := range ids {
			teardownTaskNetworks(t, dir, id)
		}
	})
	c = startClusterWith(t, n, func(name string) []string {
		return append([]string{"--config", cfg, "--containerd-namespace", ns + "-" + name, "--cluster-cidr", cidr}, extra(name)...)
	})
	for _, a := range c.agents {
		ids[a.DataDir] = nodeID(t, a)
	}
	return c
}

// removeContainers stops and deletes the containers a dead test cluster
// left in a containerd namespace (workloads outlive their agent by
// design; the test's do not outlive the test).
func removeContainers(t testing.TB, ns, root string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt, err := containerd.New(ctx, containerd.Config{Address: ctrEnv.sock, Namespace: ns, Root: root})
	if err != nil {
		t.Logf("cleanup of %s: %v", ns, err)
		return
	}
	defer rt.Close()
	st, err := rt.List(ctx)
	if err != nil {
		return
	}
	for _, s := range st {
		if err := rt.Remove(ctx, s.TaskID); err != nil {
			t.Logf("cleanup of container %s in %s: %v", s.TaskID, ns, err)
		}
	}
}

// teardownTaskNetworks removes the namespaces, addresses and NAT rules of
// the tasks an agent left, its bridge and its masquerade table (an agent
// that stops without leaving keeps it for its tasks).
func teardownTaskNetworks(t testing.TB, dataDir, nodeID string) {
	m, err := cni.New(cni.Config{NodeID: nodeID, Subnet: func() string { return "" }, BinDir: cni.DefaultBinDir,
		DataDir: filepath.Join(dataDir, "network")})
	if err != nil {
		t.Errorf("tear down task networks: %v", err)
		return
	}
	states, _ := filepath.Glob(filepath.Join(dataDir, "network", "tasks", "*.json"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, f := range states {
		if err := m.Teardown(ctx, strings.TrimSuffix(filepath.Base(f), ".json")); err != nil {
			t.Errorf("tear down task network: %v", err)
		}
	}
	exec.Command("ip", "link", "del", cni.BridgeName(nodeID)).Run()
	if err := cni.RemoveMasquerade(nodeID); err != nil {
		t.Errorf("tear down task networks: %v", err)
	}
}

// nodeID is the agent's node ID, from its own API.
func nodeID(t testing.TB, a *agentProc) string {
	t.Helper()
	var nodes []api.NodeInfo
	if err := a.get("/v1/nodes", &nodes); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Name == a.Name {
			return n.ID
		}
	}
	t.Fatalf("node %s not in its own node list", a.Name)
	return ""
}

// containersIn lists the containers the runtime still has in a namespace.
func containersIn(t testing.TB, ns string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt, err := containerd.New(ctx, containerd.Config{Address: ctrEnv.sock, Namespace: ns, Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	st, err := rt.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range st {
		ids = append(ids, s.TaskID)
	}
	return ids
}

func (p *agentProc) namespace() string {
	for i, a := range p.Args {
		if a == "--containerd-namespace" {
			return p.Args[i+1]
		}
	}
	return ""
}

// TestImageLoadedOnOneNodeRunsEverywhere: an image loaded on n1 runs on
// n2 and n3 with no registry involved; the containers serve, log, stop on
// service rm, and leave nothing behind.
func TestImageLoadedOnOneNodeRunsEverywhere(t *testing.T) {
	c := containerCluster(t, 3)
	n1 := c.agents[0]
	if out, err := n1.CLI("image", "load", ctrEnv.helloTar); err != nil || !strings.Contains(out, "shoal/hello:v1") {
		t.Fatalf("image load: %v\n%s", err, out)
	}
	if out, err := n1.CLI("service", "create", "hello", "--detach", "--image", "shoal/hello:v1", "--replicas", "3",
		"--max-per-node", "1", "--env", "PORT=0", "--memory", "64MiB"); err != nil {
		t.Fatalf("service create: %v\n%s", err, out)
	}
	waitRunning(t, n1, "hello", 3, 90*time.Second)
	harness.WaitFor(t, 20*time.Second, "every node to hold the image", func() (bool, string) {
		var imgs []api.ImageInfo
		if err := n1.get("/v1/images", &imgs); err != nil {
			return false, err.Error()
		}
		for _, img := range imgs {
			if strings.HasSuffix(img.Ref, "shoal/hello:v1") {
				return len(img.Nodes) == 3, fmt.Sprint(img.Nodes)
			}
		}
		return false, fmt.Sprint(imgs)
	})
	harness.WaitFor(t, 20*time.Second, "container logs", func() (bool, string) {
		out, _ := n1.CLI("service", "logs", "hello")
		return strings.Count(out, "hello.") >= 3, out
	})
	if out, err := n1.CLI("service", "rm", "hello"); err != nil {
		t.Fatalf("service rm: %v\n%s", err, out)
	}
	harness.WaitFor(t, 30*time.Second, "no containers left", func() (bool, string) {
		left := 0
		for _, a := range c.agents {
			left += len(containersIn(t, a.namespace()))
		}
		return left == 0, fmt.Sprintf("%d containers left", left)
	})
}

// TestRegistryPullAgentRestartAndKill: an image is pulled from the local
// registry; the container serves HTTP on a host port (network = "host":
// the test reaches it on the host's loopback); an agent restart keeps it running
// with the same PID; kill -9 of its process is reported failed with exit
// code 137 and the task is replaced.
func TestRegistryPullAgentRestartAndKill(t *testing.T) {
	c := containerCluster(t, 1)
	n1 := c.agents[0]
	port := harness.FreePort(t)
	if out, err := n1.CLI("service", "create", "web", "--detach", "--image", ctrEnv.pushed, "--env", fmt.Sprintf("PORT=%d", port),
		"--network", "host", "--restart-delay", "100ms"); err != nil {
		t.Fatalf("service create: %v\n%s", err, out)
	}
	ts := waitRunning(t, n1, "web", 1, 90*time.Second)
	harness.WaitFor(t, 20*time.Second, "the container to answer", func() (bool, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "hello from task "+ts[0].ID), string(b)
	})
	pid := ts[0].Status.PID
	n1.Kill()
	n1.Start()
	c.waitMembers(1)
	after := waitRunning(t, n1, "web", 1, 30*time.Second)
	if after[0].ID != ts[0].ID || after[0].Status.PID != pid {
		t.Fatalf("agent restart replaced the container: %s/%d → %s/%d", ts[0].ID, pid, after[0].ID, after[0].Status.PID)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 30*time.Second, "the killed container reported and replaced", func() (bool, string) {
		ts, err := tasks(n1, "web")
		if err != nil {
			return false, err.Error()
		}
		var old *api.TaskInfo
		replaced := false
		for i, x := range ts {
			if x.ID == after[0].ID {
				old = &ts[i]
			} else if x.State == api.TaskRunning {
				replaced = true
			}
		}
		if old == nil || old.State != api.TaskFailed || old.Status.ExitCode == nil || *old.Status.ExitCode != 137 {
			return false, fmt.Sprintf("old: %+v", old)
		}
		return replaced, "not replaced yet"
	})
}

// TestBadImagesGetClearErrors: a reference no node holds and no registry
// names stays pending with the reason; a corrupt tarball is refused.
func TestBadImagesGetClearErrors(t *testing.T) {
	c := containerCluster(t, 1)
	n1 := c.agents[0]
	if out, err := n1.CLI("service", "create", "ghost", "--detach", "--image", "nothing/here:v1"); err != nil {
		t.Fatalf("service create: %v\n%s", err, out)
	}
	harness.WaitFor(t, 20*time.Second, "a pending reason", func() (bool, string) {
		out, _ := n1.CLI("service", "ps", "ghost", "--no-trunc")
		return strings.Contains(out, "held by no node and names no registry"), out
	})
	bad := filepath.Join(t.TempDir(), "bad.tar")
	data, _ := os.ReadFile(ctrEnv.helloTar)
	os.WriteFile(bad, data[:len(data)/2], 0o600)
	out, err := n1.CLI("image", "load", bad)
	if err == nil || !strings.HasPrefix(out, "shoal: ") || strings.Count(strings.TrimSpace(out), "\n") > 0 {
		t.Fatalf("corrupt tarball: err=%v out=%q", err, out)
	}
	var imgs []api.ImageInfo
	if err := n1.get("/v1/images", &imgs); err != nil || len(imgs) != 0 {
		t.Fatalf("images after a refused load: %v %v", err, imgs)
	}
}
