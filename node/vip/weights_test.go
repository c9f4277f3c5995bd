package vip

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/node/endpoints"
)

func backends(isNew ...bool) []endpoints.Backend {
	var out []endpoints.Backend
	for i, n := range isNew {
		out = append(out, endpoints.Backend{TaskID: fmt.Sprint(i), Addr: netip.MustParseAddrPort(fmt.Sprintf("127.0.0.%d:80", i+1)), New: n})
	}
	return out
}

func TestSlots(t *testing.T) {
	for _, tc := range []struct {
		name string
		port endpoints.Port
		want []int
	}{
		{"unweighted: one per backend", endpoints.Port{Backends: backends(true, false, false)}, []int{0, 1, 2}},
		{"20% to 1 new of 2", endpoints.Port{Weighted: true, Split: 20, Backends: backends(true, false)}, []int{0, 1, 1, 1, 1}},
		{"20% to 1 new of 4: 15 slots", endpoints.Port{Weighted: true, Split: 20, Backends: backends(false, true, false, false)},
			[]int{0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}},
		{"100%: old ones take nothing", endpoints.Port{Weighted: true, Split: 100, Backends: backends(false, true, true)}, []int{1, 2}},
		{"no new backend: equal", endpoints.Port{Weighted: true, Split: 20, Backends: backends(false, false)}, []int{0, 1}},
	} {
		if got := Slots(tc.port); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// A large port is scaled down to about maxSlots, keeping the split.
	var many []bool
	for i := range 53 {
		many = append(many, i%2 == 0)
	}
	p := endpoints.Port{Weighted: true, Split: 13, Backends: backends(many...)}
	got := Slots(p)
	toNew := 0
	for _, k := range got {
		if p.Backends[k].New {
			toNew++
		}
	}
	if len(got) > maxSlots+len(many) || len(got) < maxSlots/2 {
		t.Fatalf("%d slots for 53 backends", len(got))
	}
	if share := float64(toNew) / float64(len(got)); share < 0.12 || share > 0.14 {
		t.Fatalf("new backends hold %.3f of the slots, want 0.13", share)
	}
}

// TestSyncWeighted: a port split 20/80 between a new and an old backend
// has a weighted map (mod 5) and sends about a fifth of 500 connections
// through the VIP to the new one.
func TestSyncWeighted(t *testing.T) {
	needRoot(t)
	table := TableName(fmt.Sprintf("vip-weight-test-%d", os.Getpid()))
	t.Cleanup(func() { Remove(table) })
	l1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(l1.Addr().(*net.TCPAddr).Port)
	l1.Close()
	listen(t, fmt.Sprintf("127.0.0.1:%d", port), "new")
	listen(t, fmt.Sprintf("127.0.0.2:%d", port), "old")
	vip := netip.MustParseAddr("10.43.250.9")
	svc := endpoints.Service{Name: "web", VIP: vip, Ports: []endpoints.Port{{Protocol: "tcp", Target: 80, Weighted: true, Split: 20,
		Backends: []endpoints.Backend{
			{TaskID: "a", Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), New: true},
			{TaskID: "b", Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), port)},
		}}}}
	if err := Sync(table, Node{}, []endpoints.Service{svc}); err != nil {
		t.Fatal(err)
	}
	rules, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput()
	if err != nil || !strings.Contains(string(rules), "numgen random mod 5 map @backends1") {
		t.Fatalf("nft list table: %v\n%s", err, rules)
	}
	seen := map[string]int{}
	const n = 500
	for range n {
		out, err := get("10.43.250.9:80")
		if err != nil {
			t.Fatalf("through the VIP: %v", err)
		}
		name, _, _ := strings.Cut(out, " ")
		seen[name]++
	}
	// 20% of 500 is 100, with a standard deviation near 9: 60-140 is
	// more than 4 of them either way.
	if seen["new"] < 60 || seen["new"] > 140 || seen["new"]+seen["old"] != n {
		t.Fatalf("answers %v, want about 100 of %d from the new backend", seen, n)
	}
	t.Logf("answers %v", seen)
}
