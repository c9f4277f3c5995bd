package harness

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NetLab is a network of namespaces for tests that need real links
// (root only): each node has its own network namespace shlab-<id>-<node>
// whose eth0 is one end of a veth pair; the other end (sl<id><node>) is a
// port of the bridge sl<id>br in the root namespace, which holds the
// lab's first address (.1). Addresses come from the first /24 of the
// benchmarking range 198.18.0.0/15 (RFC 2544) that this machine does not
// use; node i is .(10+i). One lab at a time per machine (a lock file);
// the chaos package's lab uses other names and ranges and may run beside.
type NetLab struct {
	ID     string // 6 hex digits
	Subnet string // the first three octets, e.g. 198.18.0
	Bridge string
	Nodes  []LabNode
	lock   *os.File
	closed bool
}

// LabNode is one node of a NetLab.
type LabNode struct {
	Name string
	NS   string // the namespace's name (ip netns)
	Veth string // the root side of its veth pair
	IP   string // eth0's address in the namespace
}

// Prefix runs a command in the node's network namespace but in the
// caller's mount namespace (Agent.Prefix): unlike `ip netns exec`, which
// makes a mount namespace of its own, what the command pins under
// /run/netns (a task's namespace) stays visible to containerd.
func (n LabNode) Prefix() []string { return []string{"nsenter", "--net=/run/netns/" + n.NS} }

// Names a NetLab creates: a sweep removes whatever matches them.
var (
	netLabNS   = regexp.MustCompile(`^shlab-[0-9a-f]{6}-n[0-9]+$`)
	netLabLink = regexp.MustCompile(`^sl[0-9a-f]{6}(br|n[0-9]+)$`)
)

const netLabLock = "/run/lock/shoal-netlab.lock"

// NewNetLab takes the lab lock, sweeps what an earlier run left, and
// builds a namespace per name (n1, n2, ...); t's cleanup removes it all.
func NewNetLab(t testing.TB, names []string) *NetLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("a network lab needs root (namespaces, veth pairs); euid is %d", os.Geteuid())
	}
	lab := &NetLab{ID: fmt.Sprintf("%06x", os.Getpid()&0xffffff)}
	lab.Bridge = "sl" + lab.ID + "br"
	f, err := os.OpenFile(netLabLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Poll(3*time.Minute, "the network lab lock "+netLabLock, func() (bool, string) {
		return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil, "another lab holds it"
	}); err != nil {
		f.Close()
		t.Fatal(err)
	}
	lab.lock = f
	t.Cleanup(func() {
		if err := lab.Close(); err != nil {
			t.Errorf("network lab: %v", err)
		}
	})
	if ns, links := NetLabLeftovers(); len(ns)+len(links) > 0 {
		t.Logf("removing what an earlier lab left: %v %v", ns, links)
		removeNetLab(ns, links)
	}
	if lab.Subnet, err = freeLabSubnet(); err != nil {
		t.Fatal(err)
	}
	steps := [][]string{
		{"link", "add", lab.Bridge, "type", "bridge"},
		{"addr", "add", lab.Subnet + ".1/24", "dev", lab.Bridge},
		{"link", "set", lab.Bridge, "up"},
	}
	for i, name := range names {
		n := LabNode{Name: name, NS: "shlab-" + lab.ID + "-" + name, Veth: "sl" + lab.ID + name, IP: fmt.Sprintf("%s.%d", lab.Subnet, 11+i)}
		if !netLabNS.MatchString(n.NS) || !netLabLink.MatchString(n.Veth) {
			t.Fatalf("node name %q does not fit the lab's names (n1, n2, ...)", name)
		}
		lab.Nodes = append(lab.Nodes, n)
		steps = append(steps,
			[]string{"netns", "add", n.NS},
			[]string{"link", "add", n.Veth, "type", "veth", "peer", "name", "eth0", "netns", n.NS},
			[]string{"link", "set", n.Veth, "master", lab.Bridge, "up"},
			[]string{"-n", n.NS, "addr", "add", n.IP + "/24", "dev", "eth0"},
			[]string{"-n", n.NS, "link", "set", "eth0", "up"},
			[]string{"-n", n.NS, "link", "set", "lo", "up"})
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return lab
}

// freeLabSubnet is the first /24 of 198.18.0.0/15 with no address or
// route on this machine.
func freeLabSubnet() (string, error) {
	for i := range 16 {
		s := fmt.Sprintf("198.18.%d", i)
		out, err := exec.Command("sh", "-c", "ip -o addr show to "+s+".0/24; ip route show root "+s+".0/24").Output()
		if err != nil {
			return "", err
		}
		if strings.TrimSpace(string(out)) == "" {
			return s, nil
		}
	}
	return "", fmt.Errorf("198.18.0-15.0/24 are all in use on this machine")
}

// Close kills what runs in the lab's namespaces, deletes them, the veths
// and the bridge, waits until they are gone and releases the lock; later
// calls do nothing.
func (lab *NetLab) Close() error {
	if lab.closed {
		return nil
	}
	lab.closed = true
	var ns, links []string
	for _, n := range lab.Nodes {
		ns, links = append(ns, n.NS), append(links, n.Veth)
	}
	err := removeNetLab(ns, append(links, lab.Bridge))
	lab.lock.Close()
	return err
}

// NetLabLeftovers lists the namespaces and root-namespace links named like
// a NetLab's.
func NetLabLeftovers() (namespaces, links []string) {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && netLabNS.MatchString(f[0]) {
			namespaces = append(namespaces, f[0])
		}
	}
	out, _ = exec.Command("ip", "-o", "link", "show").Output()
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			if netLabLink.MatchString(name) {
				links = append(links, name)
			}
		}
	}
	return namespaces, links
}

// removeNetLab kills the namespaces' processes, deletes the links and the
// namespaces, and waits up to 10s until none is listed.
func removeNetLab(namespaces, links []string) error {
	for _, ns := range namespaces {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		for _, p := range strings.Fields(string(out)) {
			var pid int
			if _, err := fmt.Sscan(p, &pid); err == nil && pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	for _, l := range links {
		exec.Command("ip", "link", "del", l).Run()
	}
	for _, ns := range namespaces {
		exec.Command("ip", "netns", "del", ns).Run()
	}
	_, err := Poll(10*time.Second, "the lab's namespaces and links to go", func() (bool, string) {
		ns, ls := NetLabLeftovers()
		var left []string
		for _, n := range append(ns, ls...) {
			if slices.Contains(namespaces, n) || slices.Contains(links, n) {
				left = append(left, n)
			}
		}
		return len(left) == 0, fmt.Sprintf("left: %v", left)
	})
	return err
}
