package integration

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
	"github.com/shoal-project/shoal/runtime/cni"
)

// netTraces lists what task networking could leave on this host's root
// namespace for the given nodes and tasks: routes Shoal marks (proto
// 0x5c), the nodes' nftables tables, bridges and VXLAN devices, task
// namespaces, and a NetLab's namespaces and links.
func netTraces(nodeIDs, taskIDs []string) []string {
	var out []string
	if r, _ := exec.Command("ip", "route", "show", "proto", fmt.Sprint(cni.RouteProtocol)).Output(); len(strings.TrimSpace(string(r))) > 0 {
		out = append(out, "routes: "+strings.TrimSpace(string(r)))
	}
	tables, _ := exec.Command("nft", "list", "tables").Output()
	links, _ := exec.Command("ip", "-o", "link", "show").Output()
	for _, id := range nodeIDs {
		if strings.Contains(string(tables), cni.MasqTable(id)) {
			out = append(out, "nft table "+cni.MasqTable(id))
		}
		if strings.Contains(string(links), cni.BridgeName(id)+":") {
			out = append(out, "bridge "+cni.BridgeName(id))
		}
		if strings.Contains(string(links), cni.VXLANName(id)+":") {
			out = append(out, "vxlan "+cni.VXLANName(id))
		}
	}
	for _, id := range taskIDs {
		if _, err := os.Stat(filepath.Join(cni.DefaultNetnsDir, "shoal-"+id)); err == nil {
			out = append(out, "netns shoal-"+id)
		}
	}
	ns, ls := harness.NetLabLeftovers()
	return append(append(out, ns...), ls...)
}

// TestTaskRoutesHostGW: three agents, each in its own network namespace on
// a shared bridge (a NetLab), each with its bridge and /24 of the
// cluster's CIDR. Each installs a route to every other's subnet through
// it (proto 0x5c) and its masquerade table; a container on n1 fetches
// from a container on n2 by IP and by tasks.SERVICE, and the server sees
// the client task's own IP (no NAT between tasks), while outside the
// cluster sees n1's address (masqueraded). After `node rm n3` the others'
// routes to its subnet go and theirs stay. Afterwards the host
// has no route, table, bridge, veth or namespace of the test left.
func TestTaskRoutesHostGW(t *testing.T) {
	needContainerd(t)
	if r, _ := exec.Command("ip", "route", "show", "proto", fmt.Sprint(cni.RouteProtocol)).Output(); len(r) > 0 {
		t.Fatalf("routes marked proto %d on the host before the test:\n%s", cni.RouteProtocol, r)
	}
	var taskIDs []string
	var nodeIDs []string
	t.Cleanup(func() { // registered first: runs after the lab is gone
		if left := netTraces(nodeIDs, taskIDs); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
	lab := harness.NewNetLab(t, []string{"n1", "n2", "n3"})
	c, subnets, ids, cidr := startLabCluster(t, lab)
	nodeIDs = ids
	n1 := c.agents[0]

	// Each node routes the other's subnet through it, and masquerades
	// only what leaves the cluster.
	start := time.Now()
	for i, ln := range lab.Nodes {
		var want []string
		for _, peer := range lab.Nodes {
			if peer != ln {
				want = append(want, fmt.Sprintf("%s via %s dev eth0", subnets[peer.Name], peer.IP))
			}
		}
		waitRoutes(t, ln, want, nil)
		out, err := exec.Command("ip", "netns", "exec", ln.NS, "nft", "list", "table", "ip", cni.MasqTable(nodeIDs[i])).CombinedOutput()
		if err != nil || !strings.Contains(string(out), fmt.Sprintf("ip saddr %s ip daddr != %s masquerade", subnets[ln.Name], cidr)) {
			t.Fatalf("%s's masquerade table: %v\n%s", ln.Name, err, out)
		}
		fwd, _ := exec.Command("ip", "netns", "exec", ln.NS, "sysctl", "-n", "net.ipv4.ip_forward").Output()
		if strings.TrimSpace(string(fwd)) != "1" {
			t.Fatalf("%s: ip_forward = %q", ln.Name, fwd)
		}
	}
	t.Logf("routes and tables in place %s after the nodes were ready", time.Since(start).Round(time.Millisecond))

	if out, err := n1.CLI("image", "load", ctrEnv.helloTar); err != nil {
		t.Fatalf("image load: %v %s", err, out)
	}
	if out, err := n1.CLI("service", "create", "web", "--detach", "--image", "shoal/hello:v1", "--env", "PORT=80",
		"--constraint", "node.name==n2"); err != nil {
		t.Fatalf("create web: %v %s", err, out)
	}
	web := waitRunning(t, n1, "web", 1, 90*time.Second)
	if web[0].NodeName != "n2" || web[0].Status.IP == "" {
		t.Fatalf("web task: %+v", web[0])
	}
	// The client fetches once, at start: give n1's DNS the second it may
	// take to answer for a task seen running.
	time.Sleep(time.Second)
	// Outside the cluster (the lab's root side) sees n1's address.
	l, err := net.Listen("tcp", lab.Subnet+".1:0")
	if err != nil {
		t.Fatal(err)
	}
	outside := make(chan string, 1)
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case outside <- r.RemoteAddr:
		default:
		}
		fmt.Fprintln(w, "outside")
	}))
	defer l.Close()
	start = time.Now()
	if out, err := n1.CLI("service", "create", "client", "--detach", "--image", "shoal/hello:v1", "--env", "PORT=0",
		"--constraint", "node.name==n1", "--env", fmt.Sprintf("HELLO_FETCH=http://%s/,http://tasks.web/,http://%s/", web[0].Status.IP, l.Addr())); err != nil {
		t.Fatalf("create client: %v %s", err, out)
	}
	client := waitRunning(t, n1, "client", 1, 90*time.Second)
	taskIDs = append(taskIDs, web[0].ID, client[0].ID)
	harness.WaitFor(t, 30*time.Second, "the client on n1 to fetch from web on n2 by IP and by name", func() (bool, string) {
		logs, _ := n1.CLI("service", "logs", "client")
		return strings.Contains(logs, "fetch http://"+web[0].Status.IP+"/: 200 hello from task "+web[0].ID) &&
			strings.Contains(logs, "fetch http://tasks.web/: 200 hello from task "+web[0].ID), logs
	})
	select {
	case from := <-outside:
		if host, _, _ := net.SplitHostPort(from); host != lab.Nodes[0].IP {
			t.Fatalf("outside the cluster the client's request came from %s, want n1's address %s (masqueraded)", from, lab.Nodes[0].IP)
		}
	case <-time.After(10 * time.Second):
		logs, _ := n1.CLI("service", "logs", "client")
		t.Fatalf("the client did not reach outside the cluster:\n%s", logs)
	}
	t.Logf("client fetched across nodes %s after it was created", time.Since(start).Round(time.Millisecond))
	harness.WaitFor(t, 10*time.Second, "web to see the client task's own IP", func() (bool, string) {
		logs, _ := n1.CLI("service", "logs", "web")
		return strings.Count(logs, "request GET / from "+client[0].Status.IP+":") == 2, logs
	})

	// A removed node's routes go from the others; theirs stay.
	c.agents[2].Kill()
	harness.WaitFor(t, 30*time.Second, "n3 down", func() (bool, string) {
		var n api.NodeInfo
		n1.get("/v1/nodes/n3", &n)
		return n.Status == api.NodeDown, string(n.Status)
	})
	if out, err := n1.CLI("node", "rm", "n3"); err != nil {
		t.Fatalf("node rm n3: %v %s", err, out)
	}
	start = time.Now()
	via := func(from, to int) string {
		return fmt.Sprintf("%s via %s dev eth0", subnets[lab.Nodes[to].Name], lab.Nodes[to].IP)
	}
	waitRoutes(t, lab.Nodes[0], []string{via(0, 1)}, []string{via(0, 2)})
	waitRoutes(t, lab.Nodes[1], []string{via(1, 0)}, []string{via(1, 2)})
	t.Logf("n3's routes gone %s after node rm", time.Since(start).Round(time.Millisecond))

	removeServices(t, c, "client", "web")
}

// startLabCluster starts an agent in each of the lab's nodes (n1
// bootstraps, the others join) with containerd and a fresh cluster CIDR,
// plus extra flags, and waits until all are members. It returns the
// nodes' subnets by name, their IDs in lab order, and the CIDR; the
// containers the agents leave and their task networks are removed after
// the agents stop.
func startLabCluster(t testing.TB, lab *harness.NetLab, extra ...string) (*cluster, map[string]string, []string, string) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "agent.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("containerd_socket = %q\n", ctrEnv.sock)), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixNano()
	cidr := fmt.Sprintf("10.%d.0.0/16", 128+(now/1000+int64(os.Getpid()))%127)
	nsOf := func(name string) string { return fmt.Sprintf("rt-%d-%s", now, name) }
	dirs := map[string]string{} // data dir → node ID
	t.Cleanup(func() {          // after the agents stopped, before the lab goes
		for _, n := range lab.Nodes {
			removeContainers(t, nsOf(n.Name), filepath.Join(t.TempDir(), "rt"))
		}
		for dir, id := range dirs {
			teardownTaskNetworks(t, dir, id)
		}
	})
	c := &cluster{t: t}
	for i, n := range lab.Nodes {
		a := newAgent(t, n.Name, append([]string{"--config", cfg, "--containerd-namespace", nsOf(n.Name), "--cluster-cidr", cidr}, extra...)...)
		a.Host, a.Prefix = n.IP, n.Prefix()
		a.Args[slices.Index(a.Args, "--bind")+1] = n.IP
		if i == 0 {
			a.Start("--bootstrap")
			harness.WaitFor(t, 20*time.Second, "bootstrap leader", func() (bool, string) {
				st, err := a.status()
				return err == nil && st.Leader == n.Name, fmt.Sprint(err, a.Output())
			})
			var tok api.TokenResponse
			if err := a.get("/v1/token", &tok); err != nil {
				t.Fatal(err)
			}
			c.token = tok.Token
		} else {
			a.Env = append(a.Env, "SHOAL_JOIN_TOKEN="+c.token)
			a.Start("--join", c.agents[0].P2PAddr())
		}
		c.agents = append(c.agents, a)
	}
	c.waitMembers(len(lab.Nodes))
	subnets := map[string]string{}
	var nodeIDs []string
	for _, a := range c.agents {
		var n api.NodeInfo
		if err := c.agents[0].get("/v1/nodes/"+a.Name, &n); err != nil || n.Subnet == "" {
			t.Fatalf("node %s: %v subnet %q", a.Name, err, n.Subnet)
		}
		subnets[a.Name] = n.Subnet
		nodeIDs = append(nodeIDs, n.ID)
		dirs[a.DataDir] = n.ID
	}
	return c, subnets, nodeIDs, cidr
}

// waitRoutes waits until the lab node's routes marked as Shoal's include
// every line of want and none of gone.
func waitRoutes(t *testing.T, n harness.LabNode, want, gone []string) {
	t.Helper()
	harness.WaitFor(t, 20*time.Second, n.Name+"'s routes", func() (bool, string) {
		out, _ := exec.Command("ip", "-n", n.NS, "route", "show", "proto", fmt.Sprint(cni.RouteProtocol)).Output()
		for _, w := range want {
			if !strings.Contains(string(out), w) {
				return false, fmt.Sprintf("no %q in\n%s", w, out)
			}
		}
		for _, g := range gone {
			if strings.Contains(string(out), g) {
				return false, fmt.Sprintf("still %q in\n%s", g, out)
			}
		}
		return true, ""
	})
}

// removeServices removes the named services through the first agent and
// waits until no agent's containerd namespace holds a container.
func removeServices(t testing.TB, c *cluster, names ...string) {
	t.Helper()
	for _, s := range names {
		if out, err := c.agents[0].CLI("service", "rm", s); err != nil {
			t.Fatalf("service rm %s: %v %s", s, err, out)
		}
	}
	harness.WaitFor(t, 30*time.Second, "no containers left", func() (bool, string) {
		left := 0
		for _, a := range c.agents {
			left += len(containersIn(t, a.namespace()))
		}
		return left == 0, fmt.Sprintf("%d containers left", left)
	})
}
