package ingress

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/shoal-project/shoal/node/endpoints"
)

// TestWeightedPick: with a 20/80 split between one new and three old
// backends, a seeded draw sends 20% (±2 points over 10,000 picks) of new
// connections first to the new one; at 100% the old ones are not even
// tried; unweighted ports stay round robin.
func TestWeightedPick(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := New(Config{Addr: netip.MustParseAddr("127.0.0.1"), Rand: rng.IntN})
	be := func(addr string, isNew bool) endpoints.Backend {
		return endpoints.Backend{TaskID: addr, Addr: netip.MustParseAddrPort(addr), New: isNew}
	}
	port := endpoints.Port{Protocol: "tcp", Published: 1, Mode: "ingress", Weighted: true, Split: 20, Backends: []endpoints.Backend{
		be("127.0.0.1:80", false), be("127.0.0.2:80", true), be("127.0.0.3:80", false), be("127.0.0.4:80", false)}}
	f := &frontend{rand: p.cfg.Rand}
	set := func(port endpoints.Port) {
		p.mu.Lock()
		defer p.mu.Unlock()
		t := &target{service: "web"}
		for _, b := range port.Backends {
			t.backends = append(t.backends, b.Addr)
		}
		if port.Weighted {
			t.shares, t.total = port.Shares()
		}
		f.target.Store(t)
	}
	set(port)
	first := map[string]int{}
	const n = 10000
	for range n {
		_, order := f.pick()
		if len(order) != 4 {
			t.Fatalf("order %v: want every backend", order)
		}
		first[order[0].String()]++
	}
	if got := first["127.0.0.2:80"]; got < n*18/100 || got > n*22/100 {
		t.Fatalf("first picks %v: want about 20%% on the new backend", first)
	}
	port.Split = 100
	set(port)
	for range 100 {
		if _, order := f.pick(); len(order) != 1 || order[0].String() != "127.0.0.2:80" {
			t.Fatalf("at 100%%: order %v, want the new backend alone", order)
		}
	}
	port.Weighted = false
	set(port)
	_, a := f.pick()
	_, b := f.pick()
	if len(a) != 4 || a[0] == b[0] || a[1] != b[0] {
		t.Fatalf("unweighted: %v then %v, want round robin", a, b)
	}
}
