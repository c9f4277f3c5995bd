package integration

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
	"github.com/shoal-project/shoal/runtime/cni"
)

// TestTaskRoutesVXLAN: three agents in a routed lab: n1 and n2 on one
// bridge, n3 on another, behind a router namespace, so n3 is not on-link
// with the others. In auto mode n1 and n2 route each other's subnets
// host-gw and n3's over their VXLAN devices, n3 routes both over its
// own: an FDB entry (the peer's MAC → its address) and a permanent
// neighbour entry (its VTEP address, the subnet's .0 → its MAC) per
// VXLAN peer, the route "<subnet> via <VTEP> dev <vxlan> onlink" marked
// proto 0x5c. A container on n1 fetches from a container on n3 by IP and
// by tasks.SERVICE, the server sees the client task's own IP, and tasks
// on nodes with VXLAN peers get the uplink's MTU minus 50. After `node
// rm n3`, n1 and n2 have no VXLAN peer left: their devices, FDB,
// neighbour entries and routes to n3 go, the host-gw routes stay.
// Afterwards the host has nothing of the test left.
//
// In vxlan mode the same holds with every peer over VXLAN, n1 and n2
// included; after node rm n3 their devices stay, without n3's entries.
//
// Each agent runs in its own network namespace, so each has its own
// VXLAN device and UDP port 4789 without colliding with the others.
func TestTaskRoutesVXLAN(t *testing.T) {
	needContainerd(t)
	for _, mode := range []cni.Mode{cni.ModeAuto, cni.ModeVXLAN} {
		t.Run(string(mode), func(t *testing.T) { testTaskRoutesVXLAN(t, mode) })
	}
}

func testTaskRoutesVXLAN(t *testing.T, mode cni.Mode) {
	if r, _ := exec.Command("ip", "route", "show", "proto", fmt.Sprint(cni.RouteProtocol)).Output(); len(r) > 0 {
		t.Fatalf("routes marked proto %d on the host before the test:\n%s", cni.RouteProtocol, r)
	}
	var nodeIDs, taskIDs []string
	t.Cleanup(func() { // registered first: runs after the lab is gone
		if left := netTraces(nodeIDs, taskIDs); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
	lab := harness.NewRoutedNetLab(t, []string{"n1", "n2"}, []string{"n3"})
	c, subnets, ids, _ := startLabCluster(t, lab, "--network-mode", string(mode))
	nodeIDs = ids
	n1 := c.agents[0]
	vtep := func(i int) string {
		return cni.VTEPAddr(netip.MustParsePrefix(subnets[lab.Nodes[i].Name])).String()
	}
	hostGW := func(to int) string {
		return fmt.Sprintf("%s via %s dev eth0", subnets[lab.Nodes[to].Name], lab.Nodes[to].IP)
	}
	overVXLAN := func(from, to int) string {
		return fmt.Sprintf("%s via %s dev %s onlink", subnets[lab.Nodes[to].Name], vtep(to), cni.VXLANName(nodeIDs[from]))
	}
	ipIn := func(ns string, args ...string) string {
		out, _ := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
		return string(out)
	}

	// n1 ↔ n2: host-gw in auto mode, VXLAN in vxlan mode.
	n1n2, n2n1 := hostGW(1), hostGW(0)
	vxPeers := [][]int{{2}, {2}, {0, 1}}
	if mode == cni.ModeVXLAN {
		n1n2, n2n1 = overVXLAN(0, 1), overVXLAN(1, 0)
		vxPeers = [][]int{{1, 2}, {0, 2}, {0, 1}}
	}
	start := time.Now()
	waitRoutes(t, lab.Nodes[0], []string{n1n2, overVXLAN(0, 2)}, nil)
	waitRoutes(t, lab.Nodes[1], []string{n2n1, overVXLAN(1, 2)}, nil)
	waitRoutes(t, lab.Nodes[2], []string{overVXLAN(2, 0), overVXLAN(2, 1)}, nil)
	t.Logf("routes in place %s after the nodes were ready", time.Since(start).Round(time.Millisecond))
	for i, peers := range vxPeers {
		ln, dev := lab.Nodes[i], cni.VXLANName(nodeIDs[i])
		link := ipIn(ln.NS, "-d", "link", "show", "dev", dev)
		for _, w := range []string{"mtu 1450", fmt.Sprintf("vxlan id %d local %s", cni.VXLANVNI, ln.IP), "nolearning", "link/ether " + cni.VXLANMAC(nodeIDs[i]).String()} {
			if !strings.Contains(link, w) {
				t.Fatalf("%s's VXLAN device: no %q in\n%s", ln.Name, w, link)
			}
		}
		fdb, _ := exec.Command("bridge", "-n", ln.NS, "fdb", "show", "dev", dev).CombinedOutput()
		neigh := ipIn(ln.NS, "neigh", "show", "dev", dev)
		for _, p := range peers {
			mac := cni.VXLANMAC(nodeIDs[p]).String()
			if !strings.Contains(string(fdb), mac+" dst "+lab.Nodes[p].IP+" self permanent") ||
				!strings.Contains(neigh, vtep(p)+" lladdr "+mac+" PERMANENT") {
				t.Fatalf("%s: no FDB or neighbour entry for %s:\n%s\n%s", ln.Name, lab.Nodes[p].Name, fdb, neigh)
			}
		}
	}

	if out, err := n1.CLI("image", "load", ctrEnv.helloTar); err != nil {
		t.Fatalf("image load: %v %s", err, out)
	}
	if out, err := n1.CLI("service", "create", "web", "--detach", "--image", "shoal/hello:v1", "--env", "PORT=80",
		"--constraint", "node.name==n3"); err != nil {
		t.Fatalf("create web: %v %s", err, out)
	}
	web := waitRunning(t, n1, "web", 1, 90*time.Second)
	if web[0].NodeName != "n3" || web[0].Status.IP == "" {
		t.Fatalf("web task: %+v", web[0])
	}
	taskIDs = append(taskIDs, web[0].ID)
	time.Sleep(time.Second) // n1's DNS may take a second to answer for web
	start = time.Now()
	if out, err := n1.CLI("service", "create", "client", "--detach", "--image", "shoal/hello:v1", "--env", "PORT=0",
		"--constraint", "node.name==n1", "--env", fmt.Sprintf("HELLO_FETCH=http://%s/,http://tasks.web/", web[0].Status.IP)); err != nil {
		t.Fatalf("create client: %v %s", err, out)
	}
	client := waitRunning(t, n1, "client", 1, 90*time.Second)
	taskIDs = append(taskIDs, client[0].ID)
	harness.WaitFor(t, 30*time.Second, "the client on n1 to fetch from web on n3 over VXLAN by IP and by name", func() (bool, string) {
		logs, _ := n1.CLI("service", "logs", "client")
		return strings.Contains(logs, "fetch http://"+web[0].Status.IP+"/: 200 hello from task "+web[0].ID) &&
			strings.Contains(logs, "fetch http://tasks.web/: 200 hello from task "+web[0].ID), logs
	})
	t.Logf("client fetched across the router over VXLAN %s after it was created", time.Since(start).Round(time.Millisecond))
	harness.WaitFor(t, 10*time.Second, "web to see the client task's own IP", func() (bool, string) {
		logs, _ := n1.CLI("service", "logs", "web")
		return strings.Count(logs, "request GET / from "+client[0].Status.IP+":") == 2, logs
	})
	for _, id := range []string{client[0].ID, web[0].ID} {
		if link := ipIn("shoal-"+id, "link", "show", "dev", "eth0"); !strings.Contains(link, "mtu 1450") {
			t.Fatalf("task %s's eth0: want mtu 1450 (1500 - 50 for VXLAN):\n%s", id, link)
		}
	}

	removeServices(t, c, "client", "web")

	// n3 removed: in auto mode n1 and n2 have no VXLAN peer left; in
	// vxlan mode they keep each other.
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
	waitRoutes(t, lab.Nodes[0], []string{n1n2}, []string{subnets["n3"]})
	waitRoutes(t, lab.Nodes[1], []string{n2n1}, []string{subnets["n3"]})
	for i := range 2 {
		ln, dev := lab.Nodes[i], cni.VXLANName(nodeIDs[i])
		if mode == cni.ModeAuto {
			harness.WaitFor(t, 20*time.Second, ln.Name+"'s VXLAN device to go", func() (bool, string) {
				out := ipIn(ln.NS, "-o", "link", "show", "type", "vxlan")
				return strings.TrimSpace(out) == "", out
			})
			continue
		}
		harness.WaitFor(t, 20*time.Second, ln.Name+"'s FDB and neighbour entries for n3 to go", func() (bool, string) {
			fdb, _ := exec.Command("bridge", "-n", ln.NS, "fdb", "show", "dev", dev).CombinedOutput()
			neigh := ipIn(ln.NS, "neigh", "show", "dev", dev)
			all := string(fdb) + neigh
			other := cni.VXLANMAC(nodeIDs[1-i]).String()
			return !strings.Contains(all, cni.VXLANMAC(nodeIDs[2]).String()) && !strings.Contains(all, vtep(2)+" ") &&
				strings.Contains(string(fdb), other) && strings.Contains(neigh, other), all
		})
	}
	t.Logf("n3's routes, VXLAN entries (auto: devices) gone %s after node rm", time.Since(start).Round(time.Millisecond))
}
