package gossip

import (
	"strings"
	"testing"
	"time"
)

func TestThreeMembersSeeEachOther(t *testing.T) {
	gs := cluster(t, 3, nil)
	for _, g := range gs {
		ms := g.Members()
		if len(ms) != 3 {
			t.Fatalf("%s lists %d members, want 3: %+v", g.name, len(ms), ms)
		}
		for i, m := range ms {
			want := gs[i].LocalMember()
			if m.Since.IsZero() || m.Since.After(time.Now()) {
				t.Errorf("%s sees %s since %v", g.name, m.Name, m.Since)
			}
			m.Since, want.Since = time.Time{}, time.Time{} // each observer's own clock
			if m != want {
				t.Errorf("%s sees %+v, want %+v", g.name, m, want)
			}
			if m.Meta != testMeta(m.Name) {
				t.Errorf("%s sees meta %+v for %s", g.name, m.Meta, m.Name)
			}
		}
		if g.NumAlive() != 3 {
			t.Errorf("%s NumAlive = %d, want 3", g.name, g.NumAlive())
		}
		if strings.HasSuffix(g.Addr(), ":0") || !strings.HasPrefix(g.Addr(), "127.0.0.1:") {
			t.Errorf("%s Addr = %q, want 127.0.0.1 with a real port", g.name, g.Addr())
		}
	}
	ev := nextEvent(t, gs[0], "n2", waitLong, EventJoin)
	if ev.Member.Meta != testMeta("n2") || ev.Member.State != MemberAlive {
		t.Errorf("join event = %+v", ev)
	}
}

func TestUpdateMetaIsGossiped(t *testing.T) {
	gs := cluster(t, 2, nil)
	m := testMeta("n1")
	m.APIAddr = "127.0.0.1:9999"
	if err := gs[1].UpdateMeta(m); err != nil {
		t.Fatalf("UpdateMeta: %v", err)
	}
	ev := nextEvent(t, gs[0], "n1", waitLong, EventUpdate)
	if ev.Member.Meta != m {
		t.Errorf("update event meta = %+v, want %+v", ev.Member.Meta, m)
	}
	if got, _ := member(gs[0], "n1"); got.Meta != m {
		t.Errorf("n0 lists n1 meta %+v, want %+v", got.Meta, m)
	}
	if gs[1].LocalMember().Meta != m {
		t.Errorf("LocalMember meta = %+v", gs[1].LocalMember().Meta)
	}

	big := m
	big.APIAddr = strings.Repeat("x", 500)
	if err := gs[1].UpdateMeta(big); err == nil || !strings.Contains(err.Error(), "400-byte limit") {
		t.Errorf("UpdateMeta(oversized) = %v, want size error", err)
	}
	other := m
	other.ClusterID = "elsewhere"
	if err := gs[1].UpdateMeta(other); err == nil || !strings.Contains(err.Error(), "ClusterID") {
		t.Errorf("UpdateMeta(other cluster) = %v, want ClusterID error", err)
	}
	if gs[1].LocalMember().Meta != m {
		t.Error("a refused UpdateMeta changed the local meta")
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	cases := map[string]struct {
		edit func(*Config)
		want string
	}{
		"no name":      {func(c *Config) { c.Name = "" }, "Name is required"},
		"no key":       {func(c *Config) { c.SecretKey = nil }, "SecretKey is 0 bytes"},
		"short key":    {func(c *Config) { c.SecretKey = []byte("short") }, "SecretKey is 5 bytes"},
		"bad bind":     {func(c *Config) { c.BindIP = "localhost" }, `BindIP "localhost"`},
		"bad port":     {func(c *Config) { c.Port = 70000 }, "Port 70000"},
		"bad adv":      {func(c *Config) { c.AdvertiseIP = "x" }, `AdvertiseIP "x"`},
		"meta too big": {func(c *Config) { c.Meta.NodeID = strings.Repeat("p", 450) }, "400-byte limit"},
		"timeout":      {func(c *Config) { c.Timings.ProbeTimeout = c.Timings.ProbeInterval }, "ProbeTimeout"},
		"no reclaim":   {func(c *Config) { c.Timings.DeadNodeReclaimTime = 0 }, "DeadNodeReclaimTime"},
		"gossip nodes": {func(c *Config) { c.Timings.GossipNodes = -1 }, "GossipNodes"},
		"long label":   {func(c *Config) { c.Label = strings.Repeat("l", 300) }, "label"},
	}
	for name, c := range cases {
		cfg := testConfig("bad")
		c.edit(&cfg)
		g, err := Start(cfg)
		if err == nil {
			_ = g.Shutdown()
			t.Errorf("%s: Start succeeded", name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %q, want one line mentioning %q", name, err, c.want)
		}
	}
}

func TestFailedStartClosesTransport(t *testing.T) {
	nt, err := NewNetTransport("127.0.0.1", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	ft := NewFaultTransport(nt)
	cfg := testConfig("x")
	cfg.SecretKey = nil
	cfg.Transport = ft
	if _, err := Start(cfg); err == nil {
		t.Fatal("Start without a key succeeded")
	}
	select {
	case <-ft.done:
	default:
		t.Error("a failed Start left the transport open")
	}
}

func TestZeroTimingsMeanLAN(t *testing.T) {
	cfg := testConfig("z")
	cfg.Timings = Timings{}
	if err := cfg.validate(); err != nil || cfg.Timings != LANTimings() {
		t.Fatalf("validate: %v, timings %+v", err, cfg.Timings)
	}
}

func TestJoinErrorNamesAddresses(t *testing.T) {
	g := start(t, testConfig("lonely"))
	// A port we just freed: nothing listens there.
	dead := start(t, testConfig("gone"))
	deadAddr := dead.Addr()
	_ = dead.Shutdown()
	_, err := g.Join([]string{deadAddr, "nonsense"})
	if err == nil || !strings.Contains(err.Error(), deadAddr) || !strings.Contains(err.Error(), `"nonsense" is not ip:port`) {
		t.Fatalf("Join error = %v, want both addresses named", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("Join error spans lines: %q", err)
	}
	if _, err := g.Join(nil); err == nil {
		t.Error("Join(nil) succeeded")
	}
}

// TestForeignClustersStayApart checks that a member with another key,
// label or cluster ID cannot join, while a correct member can.
func TestForeignClustersStayApart(t *testing.T) {
	cases := map[string]struct {
		edit func(*Config)
		want string
	}{
		"wrong key":     {func(c *Config) { c.SecretKey = []byte("fedcba9876543210fedcba9876543210") }, "decrypt"},
		"wrong label":   {func(c *Config) { c.Label = "other-cluster" }, "Label"},
		"no label":      {func(c *Config) { c.Label = "" }, "Label"},
		"wrong cluster": {func(c *Config) { c.Meta.ClusterID = "cluster-2" }, `is in cluster "cluster-1", not "cluster-2"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			gs := cluster(t, 2, nil)
			cfg := testConfig("intruder")
			c.edit(&cfg)
			bad := start(t, cfg)
			_, err := bad.Join([]string{gs[0].Addr()})
			t.Logf("intruder join error: %v", err)
			if err == nil || !strings.Contains(err.Error(), gs[0].Addr()) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Join = %v, want an error naming %s and mentioning %q", err, gs[0].Addr(), c.want)
			}
			// A correct member joining through the intruder's target proves
			// gossip rounds ran; the intruder must still be unknown.
			good := start(t, testConfig("good"))
			if _, err := good.Join([]string{gs[0].Addr()}); err != nil {
				t.Fatalf("good join: %v", err)
			}
			for _, g := range append(gs, good) {
				waitFor(t, waitLong, g.name+" sees good", hasState(g, "good", MemberAlive))
			}
			waitFor(t, waitLong, "a push/pull round", func() bool { return countAlive(gs[1]) == 3 })
			for _, g := range append(gs, good) {
				if m, ok := member(g, "intruder"); ok {
					t.Errorf("%s lists the intruder: %+v", g.name, m)
				}
			}
			if n := countAlive(bad); n != 1 {
				t.Errorf("intruder sees %d alive members, want only itself: %+v", n, bad.Members())
			}
		})
	}
}

func TestCrashIsReportedDead(t *testing.T) {
	gs := cluster(t, 3, nil)
	if err := gs[2].Shutdown(); err != nil {
		t.Fatal(err)
	}
	for _, g := range gs[:2] {
		ev := nextEvent(t, g, "n2", waitLong, EventDead, EventLeave)
		if ev.Type != EventDead || ev.Member.State != MemberDead {
			t.Errorf("%s got %v (%v) for a crash, want dead", g.name, ev.Type, ev.Member.State)
		}
		if m, _ := member(g, "n2"); m.State != MemberDead {
			t.Errorf("%s lists n2 as %v", g.name, m.State)
		}
		if g.NumAlive() != 2 {
			t.Errorf("%s NumAlive = %d, want 2", g.name, g.NumAlive())
		}
	}
}

func TestGracefulLeaveIsReportedLeave(t *testing.T) {
	gs := cluster(t, 3, nil)
	if err := gs[2].Leave(2 * time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if err := gs[2].Shutdown(); err != nil {
		t.Fatal(err)
	}
	for _, g := range gs[:2] {
		ev := nextEvent(t, g, "n2", waitLong, EventLeave, EventDead)
		if ev.Type != EventLeave || ev.Member.State != MemberLeft {
			t.Errorf("%s: graceful leave reported as %v (%v)", g.name, ev.Type, ev.Member.State)
		}
		waitFor(t, waitLong, g.name+" lists n2 as left", hasState(g, "n2", MemberLeft))
	}
	if err := gs[2].Leave(time.Second); err == nil {
		t.Error("Leave after Shutdown succeeded")
	}
	if _, err := gs[2].Join([]string{gs[0].Addr()}); err == nil {
		t.Error("Join after Shutdown succeeded")
	}
	if err := gs[2].UpdateMeta(testMeta("n2")); err == nil {
		t.Error("UpdateMeta after Shutdown succeeded")
	}
	for range gs[2].Events() { // must end: Shutdown closes the channel
	}
	if err := gs[2].Shutdown(); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestRestartWithSameNameOnNewPort(t *testing.T) {
	gs := cluster(t, 3, nil)
	oldAddr := gs[2].Addr()
	_ = gs[2].Shutdown()
	for _, g := range gs[:2] {
		waitFor(t, waitLong, g.name+" sees n2 dead", hasState(g, "n2", MemberDead))
	}
	again := start(t, testConfig("n2"))
	if again.Addr() == oldAddr {
		t.Fatalf("restart reused %s; want a new port", oldAddr)
	}
	if _, err := again.Join([]string{gs[0].Addr()}); err != nil {
		t.Fatalf("rejoin: %v", err)
	}
	for _, g := range gs[:2] {
		waitFor(t, waitLong, g.name+" sees n2 alive at its new address", func() bool {
			m, ok := member(g, "n2")
			return ok && m.State == MemberAlive && m.Addr == again.Addr()
		})
		ev := nextEvent(t, g, "n2", waitLong, EventJoin)
		if ev.Member.Addr != again.Addr() {
			// The first join event may be n2's original one; look for the new.
			ev = nextEvent(t, g, "n2", waitLong, EventJoin)
		}
		if ev.Member.Addr != again.Addr() {
			t.Errorf("%s: join event addr %s, want %s", g.name, ev.Member.Addr, again.Addr())
		}
	}
	waitFor(t, waitLong, "restarted n2 sees 3 alive", func() bool { return countAlive(again) == 3 })
}
