package state

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// The three rotation steps run only in order and leave the cluster with
// the new gossip key alone, a new signing key and a new join secret.
func TestRotateKeysSteps(t *testing.T) {
	h := bootstrapped(t)
	before, _ := h.fsm.Store().Cluster()
	k2 := bytes.Repeat([]byte{2}, 32)
	sk := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
	h.fails(api.CmdRotateKeys, api.CodeConflict, api.RotateKeysPayload{Step: api.RotateSwitch, GossipKey: k2, SigningKey: sk, TokenNonce: []byte("n2")})
	h.fails(api.CmdRotateKeys, api.CodeConflict, api.RotateKeysPayload{Step: api.RotateDrop})
	h.fails(api.CmdRotateKeys, api.CodeInvalid, api.RotateKeysPayload{Step: api.RotateInstall, GossipKey: []byte("short")})
	h.ok(api.CmdRotateKeys, api.RotateKeysPayload{Step: api.RotateInstall, GossipKey: k2})
	h.fails(api.CmdRotateKeys, api.CodeConflict, api.RotateKeysPayload{Step: api.RotateInstall, GossipKey: bytes.Repeat([]byte{4}, 32)})
	c, _ := h.fsm.Store().Cluster()
	if !bytes.Equal(c.GossipKey, before.GossipKey) || !bytes.Equal(c.GossipKeyNext, k2) {
		t.Fatalf("after install: primary %x next %x", c.GossipKey, c.GossipKeyNext)
	}
	h.ok(api.CmdRotateKeys, api.RotateKeysPayload{Step: api.RotateSwitch, GossipKey: k2, SigningKey: sk, TokenNonce: []byte("n2")})
	c, _ = h.fsm.Store().Cluster()
	if !bytes.Equal(c.GossipKey, k2) || !bytes.Equal(c.GossipKeyPrev, before.GossipKey) || !bytes.Equal(c.SigningKey, sk) ||
		bytes.Equal(c.JoinSecretHash, before.JoinSecretHash) || c.KeysRotatedAt.IsZero() {
		t.Fatalf("after switch: %+v", c)
	}
	h.ok(api.CmdRotateKeys, api.RotateKeysPayload{Step: api.RotateDrop})
	c, _ = h.fsm.Store().Cluster()
	if len(c.GossipKeyPrev) != 0 || len(c.GossipKeyNext) != 0 {
		t.Fatalf("after drop: %+v", c)
	}
	if r := c.Redacted(); r.GossipKey != nil || r.SigningKey != nil || r.GossipKeyPrev != nil {
		t.Fatal("redacted cluster shows keys")
	}
}
