package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-project/shoal/integration/harness"
)

// A netLab is the network of the real-partition test (root only): each
// node has its own network namespace shoal-<id>-<node>, whose eth0 is one
// end of a veth pair; the other end (sh<id><node>) is a port of the
// bridge sh<id>br in the root namespace. Addresses come from the first
// documentation /24 (RFC 5737) that this machine does not use already:
// the bridge is .1 (so the test reaches every API), node i is .(10+i).
type netLab struct {
	id     string // 6 hex digits
	subnet string // the first three octets, e.g. 192.0.2
	bridge string
	nodes  []labNode
	lock   *os.File // held for the lab's life: one lab per machine
	once   sync.Once
}

// labNode is one node's namespace, root-side veth and address.
type labNode struct {
	name, ns, veth, ip string
}

// labLockFile serializes labs across processes: they share the names
// and address ranges.
const labLockFile = "/run/lock/shoal-chaos-netns.lock"

// labSubnets are the documentation ranges (TEST-NET-1, -2, -3), never
// routed on the internet; a lab takes the first one the machine does not
// use (a VM's own uplink may sit in TEST-NET-1).
var labSubnets = []string{"192.0.2", "198.51.100", "203.0.113"}

// Names a lab creates; the sweep removes whatever matches them.
var (
	labNSName   = regexp.MustCompile(`^shoal-[0-9a-f]{6}-n[0-9]+$`)
	labLinkName = regexp.MustCompile(`^sh[0-9a-f]{6}(br|n[0-9]+)$`)
)

// gateway is the root side's address on the bridge.
func (lab *netLab) gateway() string { return lab.subnet + ".1" }

// freeSubnet returns the first of labSubnets with no address or route on
// this machine.
func freeSubnet() (string, error) {
	for _, s := range labSubnets {
		addrs, err := ipOut("-o", "addr", "show", "to", s+".0/24")
		if err != nil {
			return "", err
		}
		routes, err := ipOut("route", "show", "root", s+".0/24")
		if err != nil {
			return "", err
		}
		if strings.TrimSpace(addrs+routes) == "" {
			return s, nil
		}
	}
	return "", fmt.Errorf("every documentation range (%s .0/24) is in use on this machine", strings.Join(labSubnets, ", "))
}

// requireNetAdmin fails the test with a clear message unless it runs as
// root with ip and nft installed.
func requireNetAdmin(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("real partitions need root (network namespaces, veth pairs, nftables); euid is %d: run as root (sudo -E go test ./integration/chaos/)", os.Geteuid())
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("real partitions need %s in PATH: run scripts/install-deps.sh (iproute2, nftables)", tool)
		}
	}
}

// newNetLab takes the machine-wide lab lock, sweeps what an earlier run
// left behind, and builds a namespace per name; t's cleanup tears it all
// down, even after a failure half-way.
func newNetLab(t testing.TB, names []string) *netLab {
	t.Helper()
	requireNetAdmin(t)
	lab := &netLab{id: fmt.Sprintf("%06x", os.Getpid()&0xffffff)}
	lab.bridge = "sh" + lab.id + "br"
	if err := lab.acquire(3 * time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.close(); err != nil {
			t.Errorf("netns lab cleanup: %v", err)
		}
	})
	if swept := sweepLabs(); len(swept) > 0 {
		t.Logf("removed what an earlier run left: %s", strings.Join(swept, ", "))
	}
	subnet, err := freeSubnet()
	if err != nil {
		t.Fatal(err)
	}
	lab.subnet = subnet
	if err := lab.build(names); err != nil {
		t.Fatalf("building the netns lab: %v", err)
	}
	return lab
}

// acquire takes the lab lock, waiting up to timeout for another run.
func (lab *netLab) acquire(timeout time.Duration) error {
	f, err := os.OpenFile(labLockFile, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("netns lab lock: %w", err)
	}
	_, err = harness.Poll(timeout, "the netns lab lock "+labLockFile, func() (bool, string) {
		return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil, "another real-partition run holds it"
	})
	if err != nil {
		f.Close()
		return err
	}
	lab.lock = f
	return nil
}

// build creates the bridge, then each node's namespace and veth pair.
func (lab *netLab) build(names []string) error {
	steps := [][]string{
		{"link", "add", lab.bridge, "type", "bridge"},
		{"addr", "add", lab.gateway() + "/24", "dev", lab.bridge},
		{"link", "set", lab.bridge, "up"},
	}
	for i, name := range names {
		n := labNode{name: name, ns: "shoal-" + lab.id + "-" + name, veth: "sh" + lab.id + name, ip: fmt.Sprintf("%s.%d", lab.subnet, 11+i)}
		if !labNSName.MatchString(n.ns) || !labLinkName.MatchString(n.veth) {
			return fmt.Errorf("node name %q does not fit the lab's names (n1, n2, ...)", name)
		}
		lab.nodes = append(lab.nodes, n)
		steps = append(steps,
			[]string{"netns", "add", n.ns},
			[]string{"link", "add", n.veth, "type", "veth", "peer", "name", "eth0", "netns", n.ns},
			[]string{"link", "set", n.veth, "master", lab.bridge, "up"},
			[]string{"-n", n.ns, "addr", "add", n.ip + "/24", "dev", "eth0"},
			[]string{"-n", n.ns, "link", "set", "eth0", "up"},
			[]string{"-n", n.ns, "link", "set", "lo", "up"})
	}
	for _, s := range steps {
		if _, err := ipOut(s...); err != nil {
			return err
		}
	}
	return nil
}

// node returns the lab node of a name.
func (lab *netLab) node(name string) (labNode, bool) {
	for _, n := range lab.nodes {
		if n.name == name {
			return n, true
		}
	}
	return labNode{}, false
}

// close kills what runs in the namespaces and deletes them, the veths and
// the bridge, waits until the kernel has let go of them, and releases the
// lock. It runs once; later calls return nil.
func (lab *netLab) close() error {
	var err error
	lab.once.Do(func() {
		var ns, links []string
		for _, n := range lab.nodes {
			ns, links = append(ns, n.ns), append(links, n.veth)
		}
		err = removeLab(ns, append(links, lab.bridge))
		if lab.lock != nil {
			lab.lock.Close() // releases the flock
		}
	})
	return err
}

// sweepLabs removes every namespace and link named like a lab's (left by
// a run that could not clean up) and lists them. The caller holds the
// lock, so no live lab is touched.
func sweepLabs() []string {
	var ns []string
	for _, n := range netnsNames() {
		if labNSName.MatchString(n) {
			ns = append(ns, n)
		}
	}
	links := labLinks()
	if len(ns)+len(links) == 0 {
		return nil
	}
	if err := removeLab(ns, links); err != nil {
		fmt.Printf("sweeping stale lab resources: %v\n", err)
	}
	return append(ns, links...)
}

// netnsNames lists the named network namespaces (ip netns list).
func netnsNames() []string {
	var out []string
	text, _ := ipOut("netns", "list")
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out
}

// labLinks lists the root namespace's links named like a lab's.
func labLinks() []string {
	var out []string
	text, _ := ipOut("-o", "link", "show")
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if labLinkName.MatchString(name) {
			out = append(out, name)
		}
	}
	return out
}

// removeLab kills every process in the namespaces, deletes the links
// (a veth's peer goes with it) and the namespaces, and waits up to 10s
// until none of them is left. Missing ones are fine.
func removeLab(namespaces, links []string) error {
	for _, ns := range namespaces {
		killNetns(ns)
	}
	var errs []string
	for _, l := range links {
		if _, err := ipOut("link", "del", l); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
			errs = append(errs, err.Error())
		}
	}
	for _, ns := range namespaces {
		if _, err := ipOut("netns", "del", ns); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err.Error())
		}
	}
	_, err := harness.Poll(10*time.Second, "the lab's namespaces and links to go", func() (bool, string) {
		var left []string
		for _, n := range append(netnsNames(), labLinks()...) {
			if slices.Contains(namespaces, n) || slices.Contains(links, n) {
				left = append(left, n)
			}
		}
		return len(left) == 0, fmt.Sprintf("left: %v", left)
	})
	if err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// killNetns sends SIGKILL to every process in namespace ns and waits up
// to 5s for them to be gone.
func killNetns(ns string) {
	harness.Poll(5*time.Second, "the processes of "+ns+" to exit", func() (bool, string) {
		out, err := ipOut("netns", "pids", ns)
		pids := strings.Fields(out)
		if err != nil || len(pids) == 0 {
			return true, ""
		}
		for _, p := range pids {
			var pid int
			if _, err := fmt.Sscan(p, &pid); err == nil && pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		return false, fmt.Sprintf("pids %v", pids)
	})
}

// ipOut runs ip with args and returns its output; the error names the
// command and carries what it printed.
func ipOut(args ...string) (string, error) {
	return runTool("", "ip", args...)
}

// runTool runs name with args and stdin, returning its combined output.
func runTool(stdin, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}
