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
	want, off := planRoutes(fakeHost{}, peers)
	if len(want) != 1 || want[0].String() != "10.42.1.0/24 via 192.0.2.7" {
		t.Fatalf("routes %v", want)
	}
	if len(off) != 1 || off[0].ID != "far" {
		t.Fatalf("off-link %v", off)
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
		want, off := PlanRoutes(peers)
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
		want, _ = PlanRoutes(peers)
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
