package state

import (
	"bytes"
	"crypto/ed25519"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// applyRotateKeys applies one step of a key rotation: install (the new
// gossip key becomes GossipKeyNext), switch (it encrypts; the old one
// becomes GossipKeyPrev; the signing key and join token are replaced) and
// drop (GossipKeyPrev goes). Each step checks the one before it happened,
// so a replayed or out-of-order step is refused rather than half-applied.
func (f *FSM) applyRotateKeys(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.RotateKeysPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	old, ok := first[api.Cluster](txn, tableCluster, indexID, "cluster")
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "rotate keys: cluster is not bootstrapped")
	}
	c := *old
	switch p.Step {
	case api.RotateInstall:
		switch {
		case len(p.GossipKey) == 0 || !validGossipKey(p.GossipKey):
			return nil, api.Errorf(api.CodeInvalid, "rotate keys: gossip key is %d bytes, want 16, 24 or 32", len(p.GossipKey))
		case len(c.GossipKeyNext) > 0 || len(c.GossipKeyPrev) > 0:
			return nil, api.Errorf(api.CodeConflict, "rotate keys: a rotation is under way (run rotate-keys again to finish it)")
		case bytes.Equal(p.GossipKey, c.GossipKey):
			return nil, api.Errorf(api.CodeConflict, "rotate keys: that gossip key is the current one")
		}
		c.GossipKeyNext = append([]byte(nil), p.GossipKey...)
	case api.RotateSwitch:
		switch {
		case len(c.GossipKeyNext) == 0 || !bytes.Equal(p.GossipKey, c.GossipKeyNext):
			return nil, api.Errorf(api.CodeConflict, "rotate keys: switch to a gossip key that is not installed")
		case len(p.SigningKey) != ed25519.PrivateKeySize || len(p.TokenNonce) == 0:
			return nil, api.Errorf(api.CodeInvalid, "rotate keys: switch needs a %d-byte signing key and a token nonce", ed25519.PrivateKeySize)
		}
		c.GossipKeyPrev, c.GossipKey, c.GossipKeyNext = c.GossipKey, c.GossipKeyNext, nil
		c.SigningKey = append([]byte(nil), p.SigningKey...)
		c.TokenNonce = append([]byte(nil), p.TokenNonce...)
		c.JoinSecretHash = JoinSecretHash(c.SigningKey, c.TokenNonce)
		c.TokenRotatedAt, c.KeysRotatedAt = cmd.Time, cmd.Time
	case api.RotateDrop:
		if len(c.GossipKeyPrev) == 0 {
			return nil, api.Errorf(api.CodeConflict, "rotate keys: no old gossip key to drop")
		}
		c.GossipKeyPrev = nil
	default:
		return nil, api.Errorf(api.CodeInvalid, "rotate keys: unknown step %q (want install, switch or drop)", p.Step)
	}
	if err := insert(txn, tableCluster, &c); err != nil {
		return nil, err
	}
	r := c.Redacted()
	return &r, nil
}
