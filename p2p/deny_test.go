package p2p

import (
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// denySet is a settable deny list that records the refusals it hears of.
type denySet struct {
	mu      sync.Mutex
	ids     map[peer.ID]bool
	refused []network.Direction
}

func newDenySet() *denySet { return &denySet{ids: map[peer.ID]bool{}} }

func (d *denySet) add(id peer.ID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ids[id] = true
}

func (d *denySet) denied(id peer.ID) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ids[id]
}

func (d *denySet) refuse(_ peer.ID, dir network.Direction, _ string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refused = append(d.refused, dir)
}

func (d *denySet) refusals() []network.Direction {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]network.Direction(nil), d.refused...)
}

// TestGaterRefusesDeniedPeers checks a denied peer is refused in both
// directions although it is a member, allowed outbound and was pending,
// that each refusal is reported, and that other peers are untouched.
func TestGaterRefusesDeniedPeers(t *testing.T) {
	g, _ := newFakeGater(GaterOptions{})
	d := newDenySet()
	g.SetDenied(d.denied, d.refuse)
	bad, good, unknown := newPeerID(t), newPeerID(t), newPeerID(t)
	g.SetMembers([]peer.ID{bad, good})
	g.AllowOutbound(bad)
	if !inbound(g, bad) || !inbound(g, unknown) {
		t.Fatal("peers refused before any deny")
	}
	d.add(bad)
	d.add(unknown)
	if inbound(g, bad) || outbound(g, bad) || g.InterceptPeerDial(bad) || g.InterceptAddrDial(bad, nil) {
		t.Fatal("a denied member was admitted")
	}
	if inbound(g, unknown) {
		t.Fatal("a denied pending peer was admitted again")
	}
	if g.admitted(bad) || !g.shouldDrop(bad) || !g.shouldDrop(unknown) || !g.IsDenied(bad) {
		t.Fatal("a denied peer may still use members-only protocols, or is not dropped")
	}
	if !inbound(g, good) || !outbound(g, good) || !g.admitted(good) || g.shouldDrop(good) {
		t.Fatal("a member that is not denied was refused")
	}
	want := []network.Direction{network.DirInbound, network.DirOutbound, network.DirInbound}
	if got := d.refusals(); len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("refusals reported %v, want %v", got, want)
	}
}

// TestDeniedPeerIsCutOff checks the Host closes an open connection to a
// peer once it is denied, and that the peer can reach it again neither on
// a members-only protocol nor on an open one.
func TestDeniedPeerIsCutOff(t *testing.T) {
	a := newTestHost(t, GaterOptions{})
	b := newTestHost(t, GaterOptions{})
	makeMembers(t, a, b)
	pingRPC(t, a, memProto, true)
	serveEcho(t, a, openProto, false)
	if err := call(b, a, memProto); err != nil {
		t.Fatal(err)
	}
	d := newDenySet()
	a.Gater().SetDenied(d.denied, d.refuse)
	d.add(b.ID())
	if closed := a.CloseDenied(); len(closed) != 1 || closed[0] != b.ID() {
		t.Fatalf("CloseDenied closed %v, want b", closed)
	}
	waitFor(t, 5*time.Second, "b to see the connection closed", func() bool {
		return b.LibP2P().Network().Connectedness(a.ID()) != network.Connected
	})
	if err := call(b, a, memProto); err == nil {
		t.Fatal("denied b reached a members-only protocol")
	}
	if _, err := echo(b, a, openProto, "hi"); err == nil {
		t.Fatal("denied b reached an open protocol")
	}
	if err := call(a, b, memProto); err == nil {
		t.Fatal("a dialled denied b")
	}
	if len(d.refusals()) == 0 {
		t.Fatal("no refusal reported")
	}
	if a.LibP2P().Network().Connectedness(b.ID()) == network.Connected {
		t.Fatal("a is still connected to denied b")
	}
}
