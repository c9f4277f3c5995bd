package cni

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shoal-project/shoal/api"
)

func TestBridgeName(t *testing.T) {
	a, b := BridgeName("12D3KooWAAA"), BridgeName("12D3KooWBBB")
	if len(a) > 15 || !strings.HasPrefix(a, "shoal") || a == b || a != BridgeName("12D3KooWAAA") {
		t.Fatalf("bridge names %q %q", a, b)
	}
}

func TestConflist(t *testing.T) {
	raw, err := Conflist(ConflistParams{NodeID: "n1", Subnet: netip.MustParsePrefix("10.42.3.0/24"), IPAMDir: "/d/ipam", Ports: true})
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		CNIVersion string `json:"cniVersion"`
		Plugins    []struct {
			Type   string `json:"type"`
			Bridge string `json:"bridge"`
			IPAM   struct {
				Type    string                `json:"type"`
				DataDir string                `json:"dataDir"`
				Ranges  [][]map[string]string `json:"ranges"`
			} `json:"ipam"`
			Capabilities map[string]bool `json:"capabilities"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if c.CNIVersion != "1.0.0" || len(c.Plugins) != 2 || c.Plugins[0].Type != "bridge" || c.Plugins[1].Type != "portmap" {
		t.Fatalf("conflist: %s", raw)
	}
	b := c.Plugins[0]
	r := b.IPAM.Ranges[0][0]
	if b.Bridge != BridgeName("n1") || b.IPAM.Type != "host-local" || b.IPAM.DataDir != "/d/ipam" ||
		r["subnet"] != "10.42.3.0/24" || r["gateway"] != "10.42.3.1" || r["rangeStart"] != "10.42.3.2" {
		t.Fatalf("bridge: %+v", b)
	}
	if !c.Plugins[1].Capabilities["portMappings"] {
		t.Fatal("portmap without the portMappings capability")
	}
	raw, _ = Conflist(ConflistParams{NodeID: "n1", Subnet: netip.MustParsePrefix("10.42.3.0/24"), IPAMDir: "/d"})
	if strings.Contains(string(raw), "portmap") || strings.Contains(string(raw), "mtu") {
		t.Fatal("portmap without ports, or an MTU without one asked")
	}
	raw, _ = Conflist(ConflistParams{NodeID: "n1", Subnet: netip.MustParsePrefix("10.42.3.0/24"), IPAMDir: "/d", MTU: 1450})
	if !strings.Contains(string(raw), `"mtu": 1450`) {
		t.Fatalf("no MTU: %s", raw)
	}
	if _, err := Conflist(ConflistParams{NodeID: "n1", Subnet: netip.MustParsePrefix("fd00::/64"), IPAMDir: "/d"}); err == nil {
		t.Fatal("IPv6 subnet accepted")
	}
}

// needPlugins fails the test with what to do when it cannot run for real.
func needPlugins(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("network namespace tests need root")
	}
	dir := "/usr/lib/cni"
	if _, err := os.Stat(filepath.Join(dir, "bridge")); err != nil {
		t.Fatal("CNI plugins missing: apt install containernetworking-plugins (scripts/install-deps.sh)")
	}
	return dir
}

// TestSetupTeardown wires a namespace for real, checks its address from
// inside it, and checks that teardown leaves no namespace, lease or veth.
func TestSetupTeardown(t *testing.T) {
	bin := needPlugins(t)
	data := t.TempDir()
	// createNetns binds the namespace dir onto itself, as iproute2 does.
	t.Cleanup(func() { unix.Unmount(filepath.Join(data, "netns"), unix.MNT_DETACH) })
	m, err := New(Config{NodeID: "unit-" + t.Name(), Subnet: func() string { return "10.231.7.0/24" }, BinDir: bin,
		DataDir: data, NetnsDir: filepath.Join(data, "netns")})
	if err != nil {
		t.Fatal(err)
	}
	links := hostLinks(t)
	ctx := context.Background()
	start := time.Now()
	ns, ip, err := m.Setup(ctx, "task-a", []api.PortSpec{{Port: 18080}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("setup with a published port: %v", time.Since(start))
	if !strings.HasPrefix(ip, "10.231.7.") || m.IP("task-a") != ip {
		t.Fatalf("ip %q, IP() %q", ip, m.IP("task-a"))
	}
	out, err := exec.Command("nsenter", "--net="+ns, "ip", "-o", "-4", "addr", "show", "eth0").CombinedOutput()
	if err != nil || !strings.Contains(string(out), ip+"/24") {
		t.Fatalf("eth0 in the namespace: %v\n%s", err, out)
	}
	// A second Manager (an agent restart) tears down what the first set up.
	m2, err := New(Config{NodeID: "unit-" + t.Name(), Subnet: func() string { return "" }, BinDir: bin,
		DataDir: data, NetnsDir: filepath.Join(data, "netns")})
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := m2.Teardown(ctx, "task-a"); err != nil {
		t.Fatal(err)
	}
	t.Logf("teardown by another manager: %v", time.Since(start))
	if err := m2.Teardown(ctx, "task-a"); err != nil {
		t.Fatalf("second teardown: %v", err)
	}
	if _, err := os.Stat(ns); !os.IsNotExist(err) {
		t.Fatalf("namespace file left: %v", err)
	}
	leases, _ := filepath.Glob(filepath.Join(data, "ipam", "*", "10.*"))
	if len(leases) > 0 {
		t.Fatalf("leases left: %v", leases)
	}
	if after := hostLinks(t); len(after) > len(links)+1 { // the bridge stays
		t.Fatalf("links before %v, after %v", links, after)
	}
	exec.Command("ip", "link", "del", BridgeName("unit-"+t.Name())).Run()
}

func TestMissingPluginNamed(t *testing.T) {
	data := t.TempDir()
	m, err := New(Config{NodeID: "n", Subnet: func() string { return "10.231.8.0/24" }, BinDir: data, DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = m.Setup(context.Background(), "task-b", nil)
	if err == nil || !strings.Contains(err.Error(), `CNI plugin "loopback" not found`) || !strings.Contains(err.Error(), "apt install containernetworking-plugins") {
		t.Fatalf("err = %v", err)
	}
}

func hostLinks(t *testing.T) []string {
	out, err := exec.Command("ip", "-o", "link").Output()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			names = append(names, strings.TrimSuffix(f[1], ":"))
		}
	}
	return names
}

// TestTeardownAfterTheNamespaceWentPlain: a namespace unmounted without
// its file removed (a crash between the two, or a reboot where /run is
// on disk) leaves a plain file: teardown still releases the address and
// removes what is left, instead of failing on every later try.
func TestTeardownAfterTheNamespaceWentPlain(t *testing.T) {
	bin := needPlugins(t)
	data := t.TempDir()
	t.Cleanup(func() { unix.Unmount(filepath.Join(data, "netns"), unix.MNT_DETACH) })
	m, err := New(Config{NodeID: "unit-" + t.Name(), Subnet: func() string { return "10.231.8.0/24" }, BinDir: bin,
		DataDir: data, NetnsDir: filepath.Join(data, "netns")})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Command("ip", "link", "del", BridgeName("unit-"+t.Name())).Run()
	ctx := context.Background()
	ns, _, err := m.Setup(ctx, "task-b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Unmount(ns, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if isNetns(ns) {
		t.Fatal("an unmounted namespace file still reads as a namespace")
	}
	if err := m.Teardown(ctx, "task-b"); err != nil {
		t.Fatalf("teardown of a namespace gone plain: %v", err)
	}
	if _, err := os.Stat(ns); !os.IsNotExist(err) {
		t.Fatalf("namespace file left: %v", err)
	}
	if leases, _ := filepath.Glob(filepath.Join(data, "ipam", "*", "10.*")); len(leases) > 0 {
		t.Fatalf("leases left: %v", leases)
	}
}
