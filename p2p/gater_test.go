package p2p

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/time/rate"
)

// fakeClock is a settable clock for the Gater.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newFakeGater(opts GaterOptions) (*Gater, *fakeClock) {
	g := NewGater(opts)
	c := &fakeClock{t: time.Unix(1_000_000, 0)}
	g.now = c.now
	return g, c
}

func inbound(g *Gater, p peer.ID) bool  { return g.InterceptSecured(network.DirInbound, p, nil) }
func outbound(g *Gater, p peer.ID) bool { return g.InterceptSecured(network.DirOutbound, p, nil) }

func TestGaterMembersAndOutbound(t *testing.T) {
	g, _ := newFakeGater(GaterOptions{})
	m, other, joinVia := newPeerID(t), newPeerID(t), newPeerID(t)
	g.SetMembers([]peer.ID{m})
	if !g.IsMember(m) || g.IsMember(other) {
		t.Fatal("IsMember wrong after SetMembers")
	}
	if !g.InterceptPeerDial(m) || !outbound(g, m) || !inbound(g, m) {
		t.Fatal("member refused")
	}
	if g.InterceptPeerDial(other) || outbound(g, other) {
		t.Fatal("dial to a non-member allowed without AllowOutbound")
	}
	g.AllowOutbound(joinVia)
	if !g.InterceptPeerDial(joinVia) || !outbound(g, joinVia) {
		t.Fatal("AllowOutbound peer refused")
	}
	g.DisallowOutbound(joinVia)
	if g.InterceptPeerDial(joinVia) {
		t.Fatal("DisallowOutbound did not revoke")
	}
	g.SetMembers([]peer.ID{other})
	if g.IsMember(m) || !g.IsMember(other) {
		t.Fatal("SetMembers did not replace the allow-list")
	}
	g.RemoveMember(other)
	if g.IsMember(other) {
		t.Fatal("RemoveMember did not remove")
	}
}

func TestGaterPendingLimitAndTTL(t *testing.T) {
	g, clock := newFakeGater(GaterOptions{MaxPending: 2, PendingTTL: 10 * time.Second, PendingRate: rate.Inf})
	a, b, c := newPeerID(t), newPeerID(t), newPeerID(t)
	if !inbound(g, a) || !inbound(g, b) {
		t.Fatal("unknown peers within MaxPending refused")
	}
	if inbound(g, c) {
		t.Fatal("third pending peer admitted with MaxPending 2")
	}
	if !inbound(g, a) {
		t.Fatal("a second connection of a pending peer was refused")
	}
	if g.shouldDrop(a) {
		t.Fatal("unexpired pending peer marked for dropping")
	}
	clock.advance(10 * time.Second)
	if !g.shouldDrop(a) || g.pendingCount() != 0 {
		t.Fatal("pending peers did not expire after PendingTTL")
	}
	if !inbound(g, c) {
		t.Fatal("slot not freed after expiry")
	}
	g.AddMember(c)
	if g.pendingCount() != 0 || g.shouldDrop(c) {
		t.Fatal("a peer that became a member is still pending or dropped")
	}
}

func TestGaterPendingRateLimit(t *testing.T) {
	g, clock := newFakeGater(GaterOptions{MaxPending: 100, PendingRate: 1, PendingBurst: 2})
	if !inbound(g, newPeerID(t)) || !inbound(g, newPeerID(t)) {
		t.Fatal("burst of 2 refused")
	}
	if inbound(g, newPeerID(t)) {
		t.Fatal("peer beyond the burst admitted")
	}
	clock.advance(time.Second)
	if !inbound(g, newPeerID(t)) {
		t.Fatal("peer refused after the rate refilled one token")
	}
	if inbound(g, newPeerID(t)) {
		t.Fatal("second peer admitted with one token")
	}
}

func TestGaterDefaults(t *testing.T) {
	g := NewGater(GaterOptions{})
	if g.maxPending != DefaultMaxPending || g.ttl != DefaultPendingTTL ||
		g.limiter.Limit() != DefaultPendingRate || g.limiter.Burst() != DefaultPendingBurst {
		t.Fatalf("defaults not applied: %+v", g)
	}
}

func TestGaterBlock(t *testing.T) {
	g, _ := newFakeGater(GaterOptions{})
	m, n := newPeerID(t), newPeerID(t)
	g.AddMember(m)
	g.AllowOutbound(n)
	g.Block(n)
	g.Block(m)
	if g.InterceptPeerDial(m) || g.InterceptAddrDial(m, nil) || inbound(g, m) || outbound(g, m) {
		t.Fatal("blocked member admitted")
	}
	if g.InterceptPeerDial(n) || inbound(g, n) {
		t.Fatal("blocked outbound-allowed peer admitted")
	}
	if !g.shouldDrop(m) || g.admitted(m) {
		t.Fatal("blocked member not dropped")
	}
	want := []peer.ID{m, n}
	slices.Sort(want)
	if got := g.BlockedPeers(); !slices.Equal(got, want) {
		t.Fatalf("BlockedPeers = %v, want %v", got, want)
	}
	g.Unblock(m)
	if !g.InterceptPeerDial(m) || !inbound(g, m) || !g.admitted(m) {
		t.Fatal("unblocked member still refused")
	}
	if got := g.BlockedPeers(); !slices.Equal(got, []peer.ID{n}) {
		t.Fatalf("BlockedPeers after Unblock = %v", got)
	}
}

// fromAddr is a connection's addresses as the Gater sees them.
type fromAddr struct{ remote ma.Multiaddr }

func (f fromAddr) LocalMultiaddr() ma.Multiaddr  { return ma.StringCast("/ip4/127.0.0.1/tcp/7947") }
func (f fromAddr) RemoteMultiaddr() ma.Multiaddr { return f.remote }

func inboundFrom(g *Gater, p peer.ID, ip string) bool {
	return g.InterceptSecured(network.DirInbound, p, fromAddr{ma.StringCast("/ip4/" + ip + "/tcp/40000")})
}

// TestGaterSourceFairness replays the report's flood: one host opening
// handshakes with fresh keys, 5 a second for 10 s. It holds at most
// PerSource pending slots and gets SourceRate a second at most, so a
// joiner from another address is admitted during the flood, every second.
func TestGaterSourceFairness(t *testing.T) {
	g, clock := newFakeGater(GaterOptions{})
	admittedFlood := 0
	for i := 0; i < 50; i++ {
		if inboundFrom(g, newPeerID(t), "203.0.113.66") {
			admittedFlood++
		}
		if i%5 == 4 {
			if !inboundFrom(g, newPeerID(t), fmt.Sprintf("10.0.0.%d", 1+i/5)) {
				t.Fatalf("a joiner from another address was refused during the flood (second %d)", i/5)
			}
			clock.advance(time.Second)
		}
		if n := g.sourcePending("203.0.113.66"); n > DefaultPerSource {
			t.Fatalf("the flooding source holds %d pending slots, want at most %d", n, DefaultPerSource)
		}
	}
	if admittedFlood > DefaultSourceBurst+int(DefaultSourceRate)*10 {
		t.Fatalf("the flood got %d of 50 handshakes admitted", admittedFlood)
	}
	// A peer already pending stays admitted; members are never limited.
	m := newPeerID(t)
	g.AddMember(m)
	for range 10 {
		if !inboundFrom(g, m, "203.0.113.66") {
			t.Fatal("a member from the flooding address was refused")
		}
	}
}
