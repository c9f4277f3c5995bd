package vip

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/node/endpoints"
)

// TestHelperProcess is the test binary run inside a network namespace
// (ip netns exec) by TestIngressPrerouting: "serve ADDR NAME" answers
// every connection with NAME and the client's address; "ask ADDR N"
// connects N times and prints each answer on a line.
func TestHelperProcess(t *testing.T) {
	args := strings.Fields(os.Getenv("VIP_TEST_HELPER"))
	if len(args) != 3 {
		t.Skip("a helper process of TestIngressPrerouting")
	}
	switch args[0] {
	case "serve":
		l, err := net.Listen("tcp", args[1])
		if err != nil {
			fmt.Println("listen:", err)
			os.Exit(1)
		}
		fmt.Println("listening")
		for {
			c, err := l.Accept()
			if err != nil {
				os.Exit(1)
			}
			fmt.Fprintf(c, "%s %s", args[2], c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	case "ask":
		n, _ := strconv.Atoi(args[2])
		for i := 0; i < n; i++ {
			out, err := get(args[1])
			if err != nil {
				fmt.Println("error", err)
				continue
			}
			fmt.Println(out)
		}
		os.Exit(0)
	}
}

// sh runs a command line, failing the test on an error.
func sh(t *testing.T, line string) {
	t.Helper()
	if out, err := exec.Command("sh", "-c", line).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
}

// TestIngressPrerouting: a client in another network namespace (another
// host, routed through this one) reaches the node's ingress port
// (prerouting DNAT): the backend on this node sees the client's own
// address; the backend on another node — a namespace behind this host,
// reached by forwarding — sees this node's address (masqueraded), and
// its answer comes back through this node.
func TestIngressPrerouting(t *testing.T) {
	needRoot(t)
	if b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(string(b)) != "1" {
		t.Skip("ip_forward is off")
	}
	id := os.Getpid() % 100000
	nsC, nsB := fmt.Sprintf("vipc%d", id), fmt.Sprintf("vipb%d", id)
	hc, hb := fmt.Sprintf("vhc%d", id), fmt.Sprintf("vhb%d", id)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", nsC).Run()
		exec.Command("ip", "netns", "del", nsB).Run()
		exec.Command("ip", "link", "del", hc).Run()
		exec.Command("ip", "link", "del", hb).Run()
	})
	// 10.251.X.0/24: the client's link (the node is .1); 10.252.X.0/24:
	// the other node's (it is .2); X from the PID, so that two runs on
	// one host do not share addresses.
	x := id % 250
	node, client, other, gw := fmt.Sprintf("10.251.%d.1", x), fmt.Sprintf("10.251.%d.2", x), fmt.Sprintf("10.252.%d.2", x), fmt.Sprintf("10.252.%d.1", x)
	for _, l := range []string{
		"ip netns add " + nsC, "ip netns add " + nsB,
		"ip link add " + hc + " type veth peer name eth0 netns " + nsC,
		"ip link add " + hb + " type veth peer name eth0 netns " + nsB,
		"ip addr add " + node + "/24 dev " + hc, "ip link set " + hc + " up",
		"ip addr add " + gw + "/24 dev " + hb, "ip link set " + hb + " up",
		"ip -n " + nsC + " addr add " + client + "/24 dev eth0", "ip -n " + nsC + " link set eth0 up", "ip -n " + nsC + " link set lo up",
		"ip -n " + nsC + " route add default via " + node,
		"ip -n " + nsB + " addr add " + other + "/24 dev eth0", "ip -n " + nsB + " link set eth0 up", "ip -n " + nsB + " link set lo up",
		"ip -n " + nsB + " route add default via " + gw,
	} {
		sh(t, l)
	}
	l, err := net.Listen("tcp", node+":0")
	if err != nil {
		t.Fatal(err)
	}
	target := uint16(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	listen(t, fmt.Sprintf("%s:%d", node, target), "here")
	there := exec.Command("ip", "netns", "exec", nsB, os.Args[0], "-test.run=^TestHelperProcess$")
	there.Env = append(os.Environ(), fmt.Sprintf("VIP_TEST_HELPER=serve %s:%d there", other, target))
	out, err := there.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := there.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { there.Process.Kill(); there.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); !strings.Contains(line, "listening") {
		t.Fatalf("the other node's backend: %q", line)
	}

	table := TableName(fmt.Sprintf("vip-prerouting-test-%d", os.Getpid()))
	t.Cleanup(func() { Remove(table) })
	published := freePort(t)
	svc := endpoints.Service{Name: "web", Ports: []endpoints.Port{{Protocol: "tcp", Target: target, Published: published, Mode: "ingress",
		Backends: []endpoints.Backend{
			{TaskID: "a", Addr: netip.AddrPortFrom(netip.MustParseAddr(node), target), NodeID: "n1"},
			{TaskID: "b", Addr: netip.AddrPortFrom(netip.MustParseAddr(other), target), NodeID: "n2"},
		}}}}
	if err := Sync(table, Node{ID: "n1", Bind: netip.MustParseAddr(node)}, []endpoints.Service{svc}); err != nil {
		t.Fatal(err)
	}
	ask := exec.Command("ip", "netns", "exec", nsC, os.Args[0], "-test.run=^TestHelperProcess$")
	ask.Env = append(os.Environ(), fmt.Sprintf("VIP_TEST_HELPER=ask %s:%d 40", node, published))
	ask.WaitDelay = 10 * time.Second
	answers, err := ask.Output()
	if err != nil {
		t.Fatalf("the client: %v\n%s", err, answers)
	}
	seen := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(answers)), "\n") {
		name, client, _ := strings.Cut(line, " ")
		if name == "error" {
			t.Errorf("a request failed: %s", line)
			continue
		}
		seen[name] = client
	}
	t.Logf("clients seen: %v", seen)
	if seen["here"] != client {
		t.Errorf("this node's backend saw %q, want the client's %s", seen["here"], client)
	}
	if seen["there"] != gw {
		t.Errorf("the other node's backend saw %q, want this node's %s (masqueraded)", seen["there"], gw)
	}
}
