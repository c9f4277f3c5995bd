package cni

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeHost is a host with one address on 192.0.2.0/24.
type fakeHost struct{}

func (fakeHost) local(ip netip.Addr) bool { return ip == netip.MustParseAddr("192.0.2.1") }
func (fakeHost) onLink(ip netip.Addr) bool {
	return netip.MustParsePrefix("192.0.2.0/24").Contains(ip)
}

func TestPlanRoutes(t *testing.T) {
	a := netip.MustParseAddr
	peers := []Peer{
		{ID: "on-link", Subnet: "10.42.1.0/24", Addr: a("192.0.2.7")},
		{ID: "same-host", Subnet: "10.42.2.0/24", Addr: a("192.0.2.1")},
		{ID: "far", Subnet: "10.42.3.0/24", Addr: a("198.51.100.9")},
		{ID: "no-subnet", Addr: a("192.0.2.8")},
		{ID: "no-addr", Subnet: "10.42.4.0/24"},
	}
	ids := func(ps []Peer) (out []string) {
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	for _, c := range []struct {
		mode           Mode
		hostGW         []string
		vxlan, offLink []string
	}{
		// auto: on-link peers host-gw, the others VXLAN.
		{ModeAuto, []string{"10.42.1.0/24 via 192.0.2.7"}, []string{"far"}, nil},
		// host-gw: as before, the far peer unreachable.
		{ModeHostGW, []string{"10.42.1.0/24 via 192.0.2.7"}, nil, []string{"far"}},
		// vxlan: every peer not on this host.
		{ModeVXLAN, nil, []string{"on-link", "far"}, nil},
	} {
		p := planRoutes(fakeHost{}, c.mode, peers)
		var routes []string
		for _, r := range p.HostGW {
			routes = append(routes, r.String())
		}
		if !slices.Equal(routes, c.hostGW) || !slices.Equal(ids(p.VXLAN), c.vxlan) || !slices.Equal(ids(p.OffLink), c.offLink) {
			t.Errorf("%s: host-gw %q vxlan %q off-link %q; want %q %q %q", c.mode, routes, ids(p.VXLAN), ids(p.OffLink), c.hostGW, c.vxlan, c.offLink)
		}
	}
	r := VXLANRoutes("me", []Peer{peers[2], peers[3]})
	if len(r) != 1 || r[0].String() != "10.42.3.0/24 via 10.42.3.0 dev "+VXLANName("me")+" onlink" {
		t.Fatalf("vxlan routes %v", r)
	}
	for _, s := range []string{"", "auto", "host-gw", "vxlan"} {
		if _, err := ParseMode(s); err != nil {
			t.Errorf("mode %q: %v", s, err)
		}
	}
	if _, err := ParseMode("hostgw"); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("mode hostgw: %v", err)
	}
}

func TestVXLANNames(t *testing.T) {
	a, b := VXLANName("12D3KooWAAA"), VXLANName("12D3KooWBBB")
	if len(a) > 15 || !strings.HasPrefix(a, "shoalvx") || a == b || a == BridgeName("12D3KooWAAA") {
		t.Fatalf("vxlan names %q %q", a, b)
	}
	m := VXLANMAC("12D3KooWAAA")
	if m[0]&1 != 0 || m[0]&2 == 0 || m.String() == VXLANMAC("12D3KooWBBB").String() || m.String() != VXLANMAC("12D3KooWAAA").String() {
		t.Fatalf("vxlan MAC %s: want unicast, locally administered, per node", m)
	}
	if v := VTEPAddr(netip.MustParsePrefix("10.42.3.0/24")); v.String() != "10.42.3.0" {
		t.Fatalf("VTEP %s", v)
	}
}

// fakeTable records SyncRoutes's calls over a set of owned routes.
type fakeTable struct {
	have []Route
	ops  []string
}

func (f *fakeTable) owned() ([]Route, error) { return slices.Clone(f.have), nil }
func (f *fakeTable) replace(r Route) error {
	f.ops = append(f.ops, "replace "+r.String())
	f.have = slices.DeleteFunc(f.have, func(h Route) bool { return h.Dst == r.Dst })
	f.have = append(f.have, r)
	return nil
}
func (f *fakeTable) del(r Route) error {
	f.ops = append(f.ops, "del "+r.String())
	f.have = slices.DeleteFunc(f.have, func(h Route) bool { return h == r })
	return nil
}

func TestSyncRoutes(t *testing.T) {
	r := func(dst, via string) Route {
		return Route{Dst: netip.MustParsePrefix(dst), Via: netip.MustParseAddr(via)}
	}
	f := &fakeTable{have: []Route{r("10.42.1.0/24", "192.0.2.7"), r("10.42.5.0/24", "192.0.2.9"), r("10.42.6.0/24", "192.0.2.3")}}
	want := []Route{r("10.42.1.0/24", "192.0.2.7"), r("10.42.5.0/24", "192.0.2.10"), r("10.42.2.0/24", "192.0.2.8")}
	if err := syncRoutes(f, want); err != nil {
		t.Fatal(err)
	}
	// Unchanged kept, moved replaced, new added, gone deleted.
	wantOps := []string{"replace 10.42.5.0/24 via 192.0.2.10", "replace 10.42.2.0/24 via 192.0.2.8", "del 10.42.6.0/24 via 192.0.2.3"}
	if !slices.Equal(f.ops, wantOps) {
		t.Fatalf("ops %q, want %q", f.ops, wantOps)
	}
	f.ops = nil
	if err := syncRoutes(f, want); err != nil || len(f.ops) != 0 {
		t.Fatalf("second sync: %v %q", err, f.ops)
	}
	if err := syncRoutes(f, nil); err != nil || len(f.have) != 0 {
		t.Fatalf("sync to nothing: %v, left %v", err, f.have)
	}
}

// inNewNetns runs f on a thread in a new, empty network namespace (root
// only), passing a path to it for tools; the thread ends with f.
func inNewNetns(t *testing.T, f func(ns string) error) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread goes with the namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- f(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// tool runs a command in namespace ns and returns its output.
func tool(ns string, args ...string) (string, error) {
	out, err := exec.Command("nsenter", append([]string{"--net=" + ns}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// TestRoutesAndMasqueradeInANamespace: against the kernel, in a fresh
// namespace: PlanRoutes tells on-link, local and off-link peers apart;
// SyncRoutes installs, moves and removes its own routes (proto 0x5c) and
// leaves a static route alone; the masquerade table is created, replaced
// and removed, idempotently.
func TestRoutesAndMasqueradeInANamespace(t *testing.T) {
	inNewNetns(t, func(ns string) error {
		for _, c := range [][]string{
			{"ip", "link", "set", "lo", "up"},
			{"ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1"},
			{"ip", "addr", "add", "192.0.2.1/24", "dev", "d0"},
			{"ip", "link", "set", "d1", "up"},
			{"ip", "link", "set", "d0", "up"},
			{"ip", "route", "add", "default", "via", "192.0.2.254"},
			{"ip", "route", "add", "10.99.9.0/24", "via", "192.0.2.99", "proto", "static"},
		} {
			if _, err := tool(ns, c...); err != nil {
				return err
			}
		}
		a := netip.MustParseAddr
		peers := []Peer{
			{ID: "p1", Subnet: "10.99.1.0/24", Addr: a("192.0.2.7")},
			{ID: "self-host", Subnet: "10.99.2.0/24", Addr: a("192.0.2.1")},
			{ID: "far", Subnet: "10.99.3.0/24", Addr: a("198.51.100.9")},
		}
		plan := PlanRoutes(ModeHostGW, peers)
		want, off := plan.HostGW, plan.OffLink
		if len(want) != 1 || want[0].String() != "10.99.1.0/24 via 192.0.2.7" || len(off) != 1 || off[0].ID != "far" {
			return fmt.Errorf("plan: %v, off-link %v", want, off)
		}
		routes := func() string { s, _ := tool(ns, "ip", "route", "show"); return s }
		if err := SyncRoutes(want); err != nil {
			return err
		}
		if err := SyncRoutes(want); err != nil {
			return fmt.Errorf("second sync: %w", err)
		}
		if r := routes(); !strings.Contains(r, "10.99.1.0/24 via 192.0.2.7 dev d0 proto 92") {
			return fmt.Errorf("route not installed:\n%s", r)
		}
		peers[0].Addr = a("192.0.2.8")
		want = PlanRoutes(ModeHostGW, peers).HostGW
		if err := SyncRoutes(want); err != nil {
			return err
		}
		if r := routes(); !strings.Contains(r, "10.99.1.0/24 via 192.0.2.8 dev d0 proto 92") || strings.Contains(r, "192.0.2.7") {
			return fmt.Errorf("route not moved:\n%s", r)
		}
		if err := SyncRoutes(nil); err != nil {
			return err
		}
		if r := routes(); strings.Contains(r, "proto 92") || !strings.Contains(r, "10.99.9.0/24 via 192.0.2.99") {
			return fmt.Errorf("after removing ours:\n%s", r)
		}

		table := MasqTable("node-a")
		for range 2 {
			if err := EnsureMasquerade("node-a", netip.MustParsePrefix("10.99.1.0/24"), netip.MustParsePrefix("10.99.0.0/16")); err != nil {
				return err
			}
		}
		out, err := tool(ns, "nft", "list", "table", "ip", table)
		if err != nil {
			return err
		}
		if strings.Count(out, "masquerade") != 1 || !strings.Contains(out, "ip saddr 10.99.1.0/24 ip daddr != 10.99.0.0/16 masquerade") {
			return fmt.Errorf("table %s:\n%s", table, out)
		}
		if MasqTable("node-b") == table {
			return errors.New("two nodes, one table name")
		}
		for range 2 {
			if err := RemoveMasquerade("node-a"); err != nil {
				return err
			}
		}
		if out, _ := tool(ns, "nft", "list", "ruleset"); strings.Contains(out, table) {
			return fmt.Errorf("table left:\n%s", out)
		}
		return nil
	})
}

// TestVXLANInANamespace: against the kernel, in a fresh namespace: in
// auto mode the off-link peer goes over VXLAN; EnsureVXLAN makes the
// device (VNI, local address, no learning, derived MAC, MTU 1450 over a
// 1500 link, VTEP address), an FDB and a permanent neighbour entry per
// peer, idempotently; SyncRoutes installs the onlink route through the
// device; a peer that goes takes its entries and route with it;
// RemoveVXLAN deletes the device.
func TestVXLANInANamespace(t *testing.T) {
	inNewNetns(t, func(ns string) error {
		for _, c := range [][]string{
			{"ip", "link", "set", "lo", "up"},
			{"ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1"},
			{"ip", "addr", "add", "192.0.2.1/24", "dev", "d0"},
			{"ip", "link", "set", "d1", "up"},
			{"ip", "link", "set", "d0", "up"},
			{"ip", "route", "add", "default", "via", "192.0.2.254"},
		} {
			if _, err := tool(ns, c...); err != nil {
				return err
			}
		}
		a := netip.MustParseAddr
		peers := []Peer{
			{ID: "p1", Subnet: "10.99.1.0/24", Addr: a("192.0.2.7")},
			{ID: "far", Subnet: "10.99.3.0/24", Addr: a("198.51.100.9")},
			{ID: "far2", Subnet: "10.99.4.0/24", Addr: a("203.0.113.4")},
		}
		plan := PlanRoutes(ModeAuto, peers)
		if len(plan.HostGW) != 1 || len(plan.VXLAN) != 2 || plan.VXLAN[0].ID != "far" {
			return fmt.Errorf("plan %+v", plan)
		}
		c := VXLANConfig{NodeID: "me", Local: a("192.0.2.1"), Subnet: netip.MustParsePrefix("10.99.2.0/24")}
		dev := VXLANName("me")
		sync := func(ps []Peer) error {
			if err := EnsureVXLAN(c, ps); err != nil {
				return err
			}
			return SyncRoutes(append(slices.Clone(plan.HostGW), VXLANRoutes("me", ps)...))
		}
		if err := sync(plan.VXLAN); err != nil {
			return err
		}
		first, _ := tool(ns, "ip", "-o", "link", "show", "dev", dev)
		if err := sync(plan.VXLAN); err != nil {
			return err
		}
		// A second pass keeps the device (same index): it is not made again.
		if again, _ := tool(ns, "ip", "-o", "link", "show", "dev", dev); strings.Fields(again)[0] != strings.Fields(first)[0] {
			return fmt.Errorf("device made again:\n%s%s", first, again)
		}
		link, _ := tool(ns, "ip", "-d", "addr", "show", "dev", dev)
		for _, w := range []string{"mtu 1450", "link/ether " + VXLANMAC("me").String(), "vxlan id 4242 local 192.0.2.1 dev d0", "dstport 4789", "nolearning", "inet 10.99.2.0/32"} {
			if !strings.Contains(link, w) {
				return fmt.Errorf("device: no %q in\n%s", w, link)
			}
		}
		if m, err := UplinkMTU(a("192.0.2.1")); err != nil || m != 1450 {
			return fmt.Errorf("uplink MTU %d %v", m, err)
		}
		fdb, _ := tool(ns, "bridge", "fdb", "show", "dev", dev)
		neigh, _ := tool(ns, "ip", "neigh", "show", "dev", dev)
		routes, _ := tool(ns, "ip", "route", "show", "proto", "92")
		for _, p := range plan.VXLAN {
			sub := netip.MustParsePrefix(p.Subnet)
			if !strings.Contains(fdb, VXLANMAC(p.ID).String()+" dst "+p.Addr.String()+" self permanent") ||
				!strings.Contains(neigh, VTEPAddr(sub).String()+" lladdr "+VXLANMAC(p.ID).String()+" PERMANENT") ||
				!strings.Contains(routes, p.Subnet+" via "+VTEPAddr(sub).String()+" dev "+dev+" onlink") {
				return fmt.Errorf("peer %s: fdb\n%s\nneighbours\n%s\nroutes\n%s", p.ID, fdb, neigh, routes)
			}
		}
		if !strings.Contains(routes, "10.99.1.0/24 via 192.0.2.7 dev d0") {
			return fmt.Errorf("host-gw route missing:\n%s", routes)
		}
		// far2 goes: its entries and route go, far's stay.
		if err := sync(plan.VXLAN[:1]); err != nil {
			return err
		}
		fdb, _ = tool(ns, "bridge", "fdb", "show", "dev", dev)
		neigh, _ = tool(ns, "ip", "neigh", "show", "dev", dev)
		routes, _ = tool(ns, "ip", "route", "show", "proto", "92")
		if strings.Contains(fdb+neigh+routes, "203.0.113.4") || strings.Contains(neigh+routes, "10.99.4.") || strings.Contains(fdb, VXLANMAC("far2").String()) ||
			!strings.Contains(fdb, VXLANMAC("far").String()) || !strings.Contains(routes, "10.99.3.0/24 via 10.99.3.0") {
			return fmt.Errorf("after far2 went: fdb\n%s\nneighbours\n%s\nroutes\n%s", fdb, neigh, routes)
		}
		if err := SyncRoutes(nil); err != nil {
			return err
		}
		for range 2 {
			if err := RemoveVXLAN("me"); err != nil {
				return err
			}
		}
		if out, _ := tool(ns, "ip", "-o", "link", "show", "type", "vxlan"); strings.TrimSpace(out) != "" {
			return fmt.Errorf("vxlan device left:\n%s", out)
		}
		return nil
	})
}

// TestNetlinkHostLocal: every loopback address is this host's (agents on
// 127.0.0.1, .2 and .3 share one host and need no route to each other),
// as is an address of one of its interfaces; an address routed elsewhere
// is not.
func TestNetlinkHostLocal(t *testing.T) {
	for _, c := range []struct {
		ip    string
		local bool
	}{
		{"127.0.0.1", true},
		{"127.0.0.2", true},
		{"127.3.4.5", true},
		{"198.51.100.77", false}, // TEST-NET-2: never this host's
	} {
		if got := (netlinkHost{}).local(netip.MustParseAddr(c.ip)); got != c.local {
			t.Errorf("local(%s) = %v, want %v", c.ip, got, c.local)
		}
	}
}
