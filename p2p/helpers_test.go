package p2p

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// newKey returns a fresh Ed25519 key.
func newKey(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newPeerID returns a fresh random peer ID.
func newPeerID(t testing.TB) peer.ID {
	t.Helper()
	id, err := peer.IDFromPrivateKey(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// newTestHost starts a Host on 127.0.0.1 with a free port.
func newTestHost(t *testing.T, opts GaterOptions) *Host {
	t.Helper()
	return newTestHostKey(t, newKey(t), 0, opts)
}

// newTestHostKey starts a Host with key on 127.0.0.1:port.
func newTestHostKey(t *testing.T, key crypto.PrivKey, port int, opts GaterOptions) *Host {
	t.Helper()
	h, err := NewHost(Config{Key: key, ListenIP: "127.0.0.1", Port: port, Gater: NewGater(opts)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// makeMembers makes every host a member of every other host and tells each
// where the others listen.
func makeMembers(t *testing.T, hosts ...*Host) {
	t.Helper()
	for _, a := range hosts {
		for _, b := range hosts {
			if a == b {
				continue
			}
			a.Gater().AddMember(b.ID())
			if err := a.SetPeerAddr(b.ID(), b.Addr()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
