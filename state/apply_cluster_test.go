package state

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestJoinSecret(t *testing.T) {
	key, nonce := []byte("signing-key"), []byte("nonce")
	m := hmac.New(sha256.New, key)
	m.Write([]byte("shoal join secret v1nonce"))
	want := m.Sum(nil)[:16]
	got := JoinSecret(key, nonce)
	if !bytes.Equal(got, want) {
		t.Fatalf("JoinSecret = %x, want %x", got, want)
	}
	if bytes.Equal(JoinSecret(key, []byte("other")), got) {
		t.Fatal("a different nonce gave the same secret")
	}
	h := sha256.Sum256(want)
	if !bytes.Equal(JoinSecretHash(key, nonce), h[:]) {
		t.Fatal("JoinSecretHash is not SHA-256 of the secret")
	}
}

func TestBootstrap(t *testing.T) {
	h := newHarness(t)
	c := testCluster()
	c.JoinSecretHash = []byte("ignored")
	v := h.ok(api.CmdBootstrap, api.BootstrapPayload{Cluster: c, Node: testNode("n1", "node-1")})
	if r := v.(*api.Cluster); r.SigningKey != nil || r.ID != "cluster-1" {
		t.Fatalf("bootstrap result = %+v, want the redacted cluster", r)
	}
	got, ok := h.fsm.store.Cluster()
	if !ok {
		t.Fatal("no cluster after bootstrap")
	}
	if !bytes.Equal(got.JoinSecretHash, JoinSecretHash(c.SigningKey, c.TokenNonce)) {
		t.Fatal("join secret hash not derived from the key and nonce")
	}
	if !got.CreatedAt.Equal(h.now) || !got.TokenRotatedAt.Equal(h.now) {
		t.Fatalf("times = %v/%v, want command time %v", got.CreatedAt, got.TokenRotatedAt, h.now)
	}
	n, ok := h.fsm.store.Node("n1")
	if !ok || n.Status != api.NodeReady || n.Availability != api.AvailabilityActive || !n.JoinedAt.Equal(h.now) {
		t.Fatalf("first node = %+v", n)
	}
	h.fails(api.CmdBootstrap, api.CodeConflict, api.BootstrapPayload{Cluster: c, Node: testNode("n2", "node-2")})
	if _, ok := h.fsm.store.Node("n2"); ok {
		t.Fatal("refused bootstrap still wrote its node")
	}
}

func TestBootstrapInvalid(t *testing.T) {
	cases := map[string]func(*api.BootstrapPayload){
		"no cluster id":   func(p *api.BootstrapPayload) { p.Cluster.ID = "" },
		"short key":       func(p *api.BootstrapPayload) { p.Cluster.SigningKey = []byte("x") },
		"no nonce":        func(p *api.BootstrapPayload) { p.Cluster.TokenNonce = nil },
		"bad gossip key":  func(p *api.BootstrapPayload) { p.Cluster.GossipKey = []byte("abc") },
		"no node id":      func(p *api.BootstrapPayload) { p.Node.ID = "" },
		"no node name":    func(p *api.BootstrapPayload) { p.Node.Name = "" },
		"bad avail":       func(p *api.BootstrapPayload) { p.Node.Availability = "sometimes" },
		"negative memory": func(p *api.BootstrapPayload) { p.Node.Resources.MemoryBytes = -1 },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			p := api.BootstrapPayload{Cluster: testCluster(), Node: testNode("n1", "node-1")}
			mutate(&p)
			h.fails(api.CmdBootstrap, api.CodeInvalid, p)
			if _, ok := h.fsm.store.Cluster(); ok {
				t.Fatal("invalid bootstrap created a cluster")
			}
		})
	}
}

func TestRotateToken(t *testing.T) {
	h := newHarness(t)
	h.fails(api.CmdRotateToken, api.CodeNotFound, api.RotateTokenPayload{TokenNonce: []byte("n2")})
	h = bootstrapped(t)
	before, _ := h.fsm.store.Cluster()
	h.fails(api.CmdRotateToken, api.CodeInvalid, api.RotateTokenPayload{})
	h.ok(api.CmdRotateToken, api.RotateTokenPayload{TokenNonce: []byte("nonce-2")})
	after, _ := h.fsm.store.Cluster()
	if !bytes.Equal(after.TokenNonce, []byte("nonce-2")) || !after.TokenRotatedAt.Equal(h.now) {
		t.Fatalf("after rotation: nonce %q rotated %v", after.TokenNonce, after.TokenRotatedAt)
	}
	if !bytes.Equal(after.JoinSecretHash, JoinSecretHash(after.SigningKey, []byte("nonce-2"))) {
		t.Fatal("hash not recomputed")
	}
	if bytes.Equal(before.TokenNonce, after.TokenNonce) || !bytes.Equal(before.TokenNonce, []byte("nonce-1")) {
		t.Fatal("rotation changed the record an earlier reader holds")
	}
}
