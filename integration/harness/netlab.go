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
//
// A routed lab (NewRoutedNetLab) has a second bridge sl<id>br2 on the
// next free /24 (Subnet2, the root namespace holds its .1 too) and a
// router namespace shlab-<id>-r with a leg on each bridge (.254 of each
// subnet; veths sl<id>r1 and sl<id>r2) and IP forwarding on. The nodes
// of its second group are on the second bridge; every node's default
// route is the router, so nodes of different groups are not on-link with
// each other.
type NetLab struct {
	ID     string // 6 hex digits
	Subnet string // the first three octets, e.g. 198.18.0
	Bridge string
	// Subnet2, Bridge2 and Router are a routed lab's (else empty).
	Subnet2, Bridge2, Router string
	Nodes                    []LabNode
	lock                     *os.File
	closed                   bool
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
	netLabNS   = regexp.MustCompile(`^shlab-[0-9a-f]{6}-(n[0-9]+|r)$`)
	netLabLink = regexp.MustCompile(`^sl[0-9a-f]{6}(br2?|n[0-9]+|r[12])$`)
)

const netLabLock = "/run/lock/shoal-netlab.lock"

// NewNetLab takes the lab lock, sweeps what an earlier run left, and
// builds a namespace per name (n1, n2, ...); t's cleanup removes it all.
func NewNetLab(t testing.TB, names []string) *NetLab {
	t.Helper()
	return newNetLab(t, names, nil)
}

// NewRoutedNetLab is a lab whose nodes named in first are on one bridge
// and those in second on another, joined by a router namespace; node i
// (counting over both groups) is .(10+i) of its bridge's subnet.
func NewRoutedNetLab(t testing.TB, first, second []string) *NetLab {
	t.Helper()
	if len(second) == 0 {
		t.Fatal("a routed lab needs nodes on its second bridge")
	}
	return newNetLab(t, first, second)
}

func newNetLab(t testing.TB, names, second []string) *NetLab {
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
	if len(second) > 0 {
		if lab.Subnet2, err = freeLabSubnet(lab.Subnet); err != nil {
			t.Fatal(err)
		}
		lab.Bridge2, lab.Router = lab.Bridge+"2", "shlab-"+lab.ID+"-r"
		steps = append(steps,
			[]string{"link", "add", lab.Bridge2, "type", "bridge"},
			[]string{"addr", "add", lab.Subnet2 + ".1/24", "dev", lab.Bridge2},
			[]string{"link", "set", lab.Bridge2, "up"},
			[]string{"netns", "add", lab.Router},
			[]string{"-n", lab.Router, "link", "set", "lo", "up"})
		for i, side := range [][2]string{{lab.Bridge, lab.Subnet}, {lab.Bridge2, lab.Subnet2}} {
			veth, dev := fmt.Sprintf("sl%sr%d", lab.ID, i+1), fmt.Sprintf("eth%d", i)
			steps = append(steps,
				[]string{"link", "add", veth, "type", "veth", "peer", "name", dev, "netns", lab.Router},
				[]string{"link", "set", veth, "master", side[0], "up"},
				[]string{"-n", lab.Router, "addr", "add", side[1] + ".254/24", "dev", dev},
				[]string{"-n", lab.Router, "link", "set", dev, "up"})
		}
	}
	for i, name := range append(slices.Clone(names), second...) {
		bridge, subnet := lab.Bridge, lab.Subnet
		if i >= len(names) {
			bridge, subnet = lab.Bridge2, lab.Subnet2
		}
		n := LabNode{Name: name, NS: "shlab-" + lab.ID + "-" + name, Veth: "sl" + lab.ID + name, IP: fmt.Sprintf("%s.%d", subnet, 11+i)}
		if !netLabNS.MatchString(n.NS) || !netLabLink.MatchString(n.Veth) || name == "r" {
			t.Fatalf("node name %q does not fit the lab's names (n1, n2, ...)", name)
		}
		lab.Nodes = append(lab.Nodes, n)
		steps = append(steps,
			[]string{"netns", "add", n.NS},
			[]string{"link", "add", n.Veth, "type", "veth", "peer", "name", "eth0", "netns", n.NS},
			[]string{"link", "set", n.Veth, "master", bridge, "up"},
			[]string{"-n", n.NS, "addr", "add", n.IP + "/24", "dev", "eth0"},
			[]string{"-n", n.NS, "link", "set", "eth0", "up"},
			[]string{"-n", n.NS, "link", "set", "lo", "up"})
		if lab.Router != "" {
			steps = append(steps, []string{"-n", n.NS, "route", "add", "default", "via", subnet + ".254"})
		}
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	if lab.Router != "" {
		if out, err := exec.Command("ip", "netns", "exec", lab.Router, "sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
			t.Fatalf("router: ip forwarding: %v: %s", err, out)
		}
	}
	return lab
}

// freeLabSubnet is the first /24 of 198.18.0.0/15 with no address or
// route on this machine, other than those in skip.
func freeLabSubnet(skip ...string) (string, error) {
	for i := range 16 {
		s := fmt.Sprintf("198.18.%d", i)
		if slices.Contains(skip, s) {
			continue
		}
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
	links = append(links, lab.Bridge)
	if lab.Router != "" {
		ns = append(ns, lab.Router)
		links = append(links, lab.Bridge2, "sl"+lab.ID+"r1", "sl"+lab.ID+"r2")
	}
	err := removeNetLab(ns, links)
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
