package vip

import (
	"fmt"
	"net/netip"
	"os"
	"testing"

	"github.com/shoal-project/shoal/node/endpoints"
)

// BenchmarkSync rebuilds a table of 1,000 services with 10 backends each
// (11,000 chains): the cost of one change at that size.
func BenchmarkSync(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root (nftables)")
	}
	table := TableName(fmt.Sprintf("vip-bench-%d", os.Getpid()))
	b.Cleanup(func() { Remove(table) })
	var svcs []endpoints.Service
	for i := 0; i < 1000; i++ {
		p := endpoints.Port{Protocol: "tcp", Target: 80}
		for j := 0; j < 10; j++ {
			p.Backends = append(p.Backends, endpoints.Backend{TaskID: fmt.Sprint(j),
				Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 42, byte(i / 250), byte(j + 1)}), 80)})
		}
		svcs = append(svcs, endpoints.Service{Name: fmt.Sprintf("s%d", i),
			VIP: netip.AddrFrom4([4]byte{10, 43, byte(i >> 8), byte(i)}), Ports: []endpoints.Port{p}})
	}
	for i := 0; i < b.N; i++ {
		if err := Sync(table, Node{}, svcs); err != nil {
			b.Fatal(err)
		}
	}
}
