package gossip

import (
	"fmt"
	"testing"
	"time"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

const (
	testLabel   = "shoal-test"
	testCluster = "cluster-1"
	waitLong    = 15 * time.Second
)

func testMeta(name string) Meta {
	return Meta{NodeID: "12D3Koo" + name, P2PPort: 4001, APIAddr: "127.0.0.1:8080", ClusterID: testCluster}
}

func testConfig(name string) Config {
	return Config{
		Name:      name,
		BindIP:    "127.0.0.1",
		SecretKey: testKey,
		Label:     testLabel,
		Meta:      testMeta(name),
		Timings:   LANTimings(),
	}
}

// start starts a member and shuts it down when the test ends.
func start(t testing.TB, cfg Config) *Gossip {
	t.Helper()
	g, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start(%s): %v", cfg.Name, err)
	}
	t.Cleanup(func() { _ = g.Shutdown() })
	return g
}

// cluster starts n members named n0..n{n-1}, joins them to n0 and waits
// until every member sees all n alive.
func cluster(t testing.TB, n int, opt func(*Config)) []*Gossip {
	t.Helper()
	gs := make([]*Gossip, n)
	for i := range gs {
		cfg := testConfig(fmt.Sprintf("n%d", i))
		if opt != nil {
			opt(&cfg)
		}
		gs[i] = start(t, cfg)
		if i > 0 {
			if _, err := gs[i].Join([]string{gs[0].Addr()}); err != nil {
				t.Fatalf("n%d join: %v", i, err)
			}
		}
	}
	for _, g := range gs {
		waitFor(t, waitLong, fmt.Sprintf("%s sees %d alive", g.name, n), func() bool { return countAlive(g) == n })
	}
	return gs
}

func countAlive(g *Gossip) int {
	k := 0
	for _, m := range g.Members() {
		if m.State == MemberAlive {
			k++
		}
	}
	return k
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// member returns g's view of the named member.
func member(g *Gossip, name string) (Member, bool) {
	for _, m := range g.Members() {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

func hasState(g *Gossip, name string, s MemberState) func() bool {
	return func() bool { m, ok := member(g, name); return ok && m.State == s }
}

// nextEvent returns the first event about name of one of the given types,
// skipping others, or fails the test after the timeout.
func nextEvent(t testing.TB, g *Gossip, name string, timeout time.Duration, types ...EventType) Event {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-g.Events():
			if !ok {
				t.Fatalf("%s: events closed while waiting for %v of %s", g.name, types, name)
			}
			if ev.Member.Name != name {
				continue
			}
			for _, ty := range types {
				if ev.Type == ty {
					return ev
				}
			}
		case <-deadline.C:
			t.Fatalf("%s: no %v event for %s within %v", g.name, types, name, timeout)
		}
	}
}

// crashDetection starts an n-member cluster, shuts the last member down
// without leaving, and returns how long until every other member lists
// it as dead.
func crashDetection(t testing.TB, n int) time.Duration {
	t.Helper()
	gs := cluster(t, n, nil)
	victim := gs[n-1]
	began := time.Now()
	if err := victim.Shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for _, g := range gs[:n-1] {
		waitFor(t, waitLong, g.name+" sees "+victim.name+" dead", hasState(g, victim.name, MemberDead))
	}
	took := time.Since(began)
	for _, g := range gs {
		_ = g.Shutdown()
	}
	return took
}
