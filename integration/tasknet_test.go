package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
	"github.com/shoal-project/shoal/runtime/cni"
)

// netCluster is a one-node container cluster with the hello image loaded.
func netCluster(t *testing.T) (*cluster, *agentProc) {
	c := containerCluster(t, 1)
	n1 := c.agents[0]
	if out, err := n1.CLI("image", "load", ctrEnv.helloTar); err != nil {
		t.Fatalf("image load: %v\n%s", err, out)
	}
	return c, n1
}

// fetch GETs url with a short timeout.
func fetch(url string) (string, error) {
	cl := http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// runningTasks waits for n running tasks of svc that all have an IP.
func runningTasks(t *testing.T, a *agentProc, svc string, n int) []api.TaskInfo {
	t.Helper()
	var out []api.TaskInfo
	harness.WaitFor(t, 60*time.Second, fmt.Sprintf("%d running tasks of %s with addresses", n, svc), func() (bool, string) {
		ts, err := tasks(a, svc)
		if err != nil {
			return false, err.Error()
		}
		out = out[:0]
		for _, x := range ts {
			if x.State == api.TaskRunning && x.DesiredState == api.TaskRunning && x.IP != "" {
				out = append(out, x)
			}
		}
		return len(out) == n, fmt.Sprint(ts)
	})
	return out
}

// TestTaskNetworkOwnAddresses: two tasks of one service on one node both
// listen on :80, each in its own namespace with its own address on the
// node's subnet, and each answers on it from the host; the container has
// SHOAL_TASK_IP; ps and inspect show the addresses; the cluster status
// shows the CIDR. A container cannot reach a listener on the host's
// loopback.
func TestTaskNetworkOwnAddresses(t *testing.T) {
	_, n1 := netCluster(t)
	var self api.NodeInfo
	if err := n1.get("/v1/nodes/"+n1.Name, &self); err != nil || self.Subnet == "" {
		t.Fatalf("node subnet: %v %+v", err, self.Node)
	}
	_, snet, _ := net.ParseCIDR(self.Subnet)
	if out, _ := n1.CLI("cluster", "status"); !strings.Contains(out, "Task network:") {
		t.Fatalf("cluster status shows no task network:\n%s", out)
	}
	if out, err := n1.CLI("service", "create", "web", "--detach", "--image", "shoal/hello:v1", "--replicas", "2", "--env", "PORT=80"); err != nil {
		t.Fatalf("service create: %v\n%s", err, out)
	}
	ts := runningTasks(t, n1, "web", 2)
	if ts[0].IP == ts[1].IP {
		t.Fatalf("both tasks have %s", ts[0].IP)
	}
	for _, x := range ts {
		if !snet.Contains(net.ParseIP(x.IP)) {
			t.Fatalf("task %s has %s, outside the node's subnet %s", x.ID, x.IP, self.Subnet)
		}
		harness.WaitFor(t, 20*time.Second, "task "+x.ID+" to answer on "+x.IP+":80", func() (bool, string) {
			body, err := fetch("http://" + x.IP + ":80/")
			if err != nil {
				return false, err.Error()
			}
			return strings.Contains(body, "hello from task "+x.ID), body
		})
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", x.Status.PID))
		if !slices.Contains(strings.Split(string(env), "\x00"), "SHOAL_TASK_IP="+x.IP) {
			t.Errorf("task %s: no SHOAL_TASK_IP=%s in its environment", x.ID, x.IP)
		}
	}
	out, _ := n1.CLI("service", "ps", "web")
	for _, x := range ts {
		if !strings.Contains(out, x.IP) {
			t.Fatalf("service ps shows no %s:\n%s", x.IP, out)
		}
	}
	var info api.ServiceInfo
	if err := n1.get("/v1/services/web", &info); err != nil || len(info.Tasks) != 2 || info.Tasks[0].IP == "" {
		t.Fatalf("inspect tasks: %v %+v", err, info.Tasks)
	}

	// The host's loopback is out of reach from the task's namespace.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Read the request first: closing with it unread resets
			// the connection, and the client may lose the answer.
			http.ReadRequest(bufio.NewReader(c))
			c.Write([]byte("HTTP/1.0 200 OK\r\n\r\nhost loopback\n"))
			c.Close()
		}
	}()
	url := "http://" + ln.Addr().String() + "/"
	if body, err := fetch(url); err != nil || !strings.Contains(body, "host loopback") {
		t.Fatalf("the host listener does not answer the host: %v %q", err, body)
	}
	ns := "shoal-" + ts[0].ID
	if out, err := exec.Command("ip", "netns", "exec", ns, "curl", "-sS", "--max-time", "2", url).CombinedOutput(); err == nil {
		t.Fatalf("the task's namespace reached the host's loopback: %s", out)
	}
	if out, err := exec.Command("ip", "netns", "exec", ns, "curl", "-sS", "--max-time", "2", "http://"+ts[0].IP+":80/").CombinedOutput(); err != nil {
		t.Fatalf("the task's namespace cannot reach its own address: %v %s", err, out)
	}
}

// netResidue is what task networking leaves on the host for one agent:
// links (every `ip -o link` line, filtered to this agent's tasks when
// compared: other tests on the host make links too), the bridge's ports,
// pinned namespaces, IPAM leases and state files, and NAT rules.
type netResidue struct {
	links, bridgePorts, netns, leases, natRules []string
}

func residue(t *testing.T, a *agentProc, bridge string) netResidue {
	t.Helper()
	var r netResidue
	out, _ := exec.Command("ip", "-o", "link").Output()
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" {
			r.links = append(r.links, l)
		}
	}
	out, _ = exec.Command("ip", "-o", "link", "show", "master", bridge).Output()
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			r.bridgePorts = append(r.bridgePorts, l)
		}
	}
	ents, _ := os.ReadDir(cni.DefaultNetnsDir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "shoal-") {
			r.netns = append(r.netns, e.Name())
		}
	}
	leases, _ := filepath.Glob(filepath.Join(a.DataDir, "network", "ipam", "*", "*.*.*.*"))
	r.leases = leases
	st, _ := filepath.Glob(filepath.Join(a.DataDir, "network", "tasks", "*"))
	r.leases = append(r.leases, st...)
	out, _ = exec.Command("iptables-save", "-t", "nat").Output()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "CNI-") && !strings.HasPrefix(l, "#") {
			r.natRules = append(r.natRules, l)
		}
	}
	return r
}

// sameResidue compares two residues; links, namespaces and NAT rules of
// other tests on the host may come and go, so only what names one of this
// agent's tasks (ownTask) counts there.
func sameResidue(before, after netResidue, ownTask func(string) bool) string {
	var diff []string
	for _, l := range after.links {
		if i := strings.Index(l, "shoal-"); i >= 0 && ownTask(strings.Fields(l[i+len("shoal-"):])[0]) {
			diff = append(diff, "link "+l)
		}
	}
	for _, l := range after.natRules {
		if i := strings.Index(l, `id: \"`); i >= 0 && ownTask(strings.Trim(strings.Fields(l[i+4:])[0], `\"`)) {
			diff = append(diff, "NAT rule "+l)
		}
	}
	if len(after.bridgePorts) != len(before.bridgePorts) {
		diff = append(diff, fmt.Sprintf("bridge ports %v", after.bridgePorts))
	}
	for _, n := range after.netns {
		if ownTask(strings.TrimPrefix(n, "shoal-")) {
			diff = append(diff, "netns "+n)
		}
	}
	if len(after.leases) > 0 { // no task runs: no lease, no state file
		diff = append(diff, fmt.Sprintf("leases/state %v", after.leases))
	}
	return strings.Join(diff, "; ")
}

// TestTaskNetworkNoLeaks: 20 create/remove cycles, then a kill -9 of the
// agent with a task running (it stays reachable), a restart and the
// service's removal leave no veth, bridge port, namespace, lease or
// state file behind.
func TestTaskNetworkNoLeaks(t *testing.T) {
	_, n1 := netCluster(t)
	bridge := cni.BridgeName(nodeID(t, n1))
	seen := map[string]bool{}
	own := func(id string) bool { return seen[id] }
	cycle := func(name string, replicas int) []api.TaskInfo {
		if out, err := n1.CLI("service", "create", name, "--detach", "--image", "shoal/hello:v1", "--replicas", fmt.Sprint(replicas), "--env", "PORT=80"); err != nil {
			t.Fatalf("service create: %v\n%s", err, out)
		}
		ts := runningTasks(t, n1, name, replicas)
		for _, x := range ts {
			seen[x.ID] = true
		}
		return ts
	}
	remove := func(name string) {
		if out, err := n1.CLI("service", "rm", name); err != nil {
			t.Fatalf("service rm: %v\n%s", err, out)
		}
		harness.WaitFor(t, 30*time.Second, "no containers left", func() (bool, string) {
			left := containersIn(t, n1.namespace())
			return len(left) == 0, fmt.Sprint(left)
		})
	}
	// The first task creates the node's bridge, which stays.
	cycle("warm", 1)
	remove("warm")
	var before netResidue
	harness.WaitFor(t, 10*time.Second, "the first task's network torn down", func() (bool, string) {
		before = residue(t, n1, bridge)
		return len(before.leases) == 0 && len(before.bridgePorts) == 0, fmt.Sprint(before.leases, before.bridgePorts)
	})
	for i := range 20 {
		cycle(fmt.Sprintf("c%d", i), 1)
		remove(fmt.Sprintf("c%d", i))
	}
	harness.WaitFor(t, 10*time.Second, "no residue after 20 cycles", func() (bool, string) {
		d := sameResidue(before, residue(t, n1, bridge), own)
		return d == "", d
	})

	ts := cycle("survivor", 1)
	url := "http://" + ts[0].IP + ":80/"
	n1.Kill()
	if body, err := fetch(url); err != nil || !strings.Contains(body, ts[0].ID) {
		t.Fatalf("task unreachable while its agent is dead: %v %q", err, body)
	}
	n1.Start()
	after := runningTasks(t, n1, "survivor", 1)
	if after[0].ID != ts[0].ID || after[0].IP != ts[0].IP {
		t.Fatalf("restart replaced the task: %+v → %+v", ts[0], after[0])
	}
	if body, err := fetch(url); err != nil || !strings.Contains(body, ts[0].ID) {
		t.Fatalf("task unreachable after the restart: %v %q", err, body)
	}
	remove("survivor")
	harness.WaitFor(t, 10*time.Second, "no residue after kill -9, restart and removal", func() (bool, string) {
		d := sameResidue(before, residue(t, n1, bridge), own)
		return d == "", d
	})
}

// TestTaskNetworkHostOptOutAndStartTime: --network host keeps a container
// on the host network (no IP), and the node's time from a task's
// assignment to its container running (the executor's start-latency
// histogram) with and without a namespace is logged, median of 5.
func TestTaskNetworkHostOptOutAndStartTime(t *testing.T) {
	_, n1 := netCluster(t)
	latencySum := func() float64 {
		for _, l := range strings.Split(fetchMetrics(t, n1), "\n") {
			if v, ok := strings.CutPrefix(l, "shoal_executor_task_start_latency_seconds_sum "); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return f
			}
		}
		return 0
	}
	measure := func(name string, extra ...string) time.Duration {
		before := latencySum()
		args := append([]string{"service", "create", name, "--detach", "--image", "shoal/hello:v1", "--env", "PORT=0"}, extra...)
		if out, err := n1.CLI(args...); err != nil {
			t.Fatalf("service create: %v\n%s", err, out)
		}
		ts := waitRunning(t, n1, name, 1, time.Minute)
		if host := len(extra) > 0; host != (ts[0].IP == "") {
			t.Fatalf("%s (host network %v) has IP %q", name, host, ts[0].IP)
		}
		return time.Duration((latencySum() - before) * float64(time.Second))
	}
	var own, host []time.Duration
	for i := range 5 {
		own = append(own, measure(fmt.Sprintf("own%d", i)))
		host = append(host, measure(fmt.Sprintf("host%d", i), "--network", "host"))
	}
	slices.Sort(own)
	slices.Sort(host)
	t.Logf("assignment → running, median of 5: own namespace %v, host network %v (all: %v / %v)",
		own[2].Round(time.Millisecond), host[2].Round(time.Millisecond), own, host)
}
