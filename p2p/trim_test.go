package p2p

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// A host past its connection manager's high-water mark trims unknown
// peers, never members: a leader with more members than the mark keeps
// every member's connection (their state feeds).
func TestTrimKeepsMembers(t *testing.T) {
	a, err := NewHost(Config{Key: newKey(t), ListenIP: "127.0.0.1", Gater: NewGater(GaterOptions{}),
		connLow: 1, connHigh: 2, connGrace: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	pingRPC(t, a, openProto, false)
	members := []*Host{newTestHost(t, GaterOptions{}), newTestHost(t, GaterOptions{}), newTestHost(t, GaterOptions{})}
	makeMembers(t, append([]*Host{a}, members...)...)
	for _, m := range members {
		if !a.IsProtected(m.ID(), memberTag) {
			t.Fatalf("member %s not protected", m.ID())
		}
		if err := call(m, a, openProto); err != nil {
			t.Fatal(err)
		}
	}
	strangers := []*Host{joiner(t, a), joiner(t, a), joiner(t, a)}
	for _, s := range strangers {
		if err := call(s, a, openProto); err != nil {
			t.Fatal(err)
		}
	}
	a.cm.TrimOpenConns(context.Background())
	// The manager trims unprotected connections down to the low mark (1).
	waitFor(t, 5*time.Second, "the unknown peers trimmed to one", func() bool {
		connected := 0
		for _, s := range strangers {
			if a.LibP2P().Network().Connectedness(s.ID()) == network.Connected {
				connected++
			}
		}
		return connected <= 1
	})
	for _, m := range members {
		if a.LibP2P().Network().Connectedness(m.ID()) != network.Connected {
			t.Fatalf("member %s trimmed", m.ID())
		}
	}
	// A member removed from the allow-list loses the protection.
	a.Gater().RemoveMember(members[0].ID())
	if a.IsProtected(members[0].ID(), memberTag) {
		t.Fatal("removed member still protected")
	}
	a.Gater().SetMembers(nil)
	if a.IsProtected(members[1].ID(), memberTag) {
		t.Fatal("member dropped by SetMembers still protected")
	}
}
