package state

import (
	"time"

	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// joinSecretLabel domain-separates the join secret derivation.
const joinSecretLabel = "shoal join secret v1"

// JoinSecret derives the join secret of a token generation: the first 16
// bytes of HMAC-SHA256(signingKey, "shoal join secret v1" || nonce). The
// store keeps only JoinSecretHash = SHA-256(JoinSecret(...)).
func JoinSecret(signingKey, nonce []byte) []byte {
	m := hmac.New(sha256.New, signingKey)
	m.Write([]byte(joinSecretLabel))
	m.Write(nonce)
	return m.Sum(nil)[:16]
}

// JoinSecretHash is SHA-256 of the join secret of (signingKey, nonce).
func JoinSecretHash(signingKey, nonce []byte) []byte {
	h := sha256.Sum256(JoinSecret(signingKey, nonce))
	return h[:]
}

func (f *FSM) applyBootstrap(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.BootstrapPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if _, ok := first[api.Cluster](txn, tableCluster, indexID, "cluster"); ok {
		return nil, api.Errorf(api.CodeConflict, "cluster is already bootstrapped")
	}
	c := p.Cluster
	switch {
	case c.ID == "":
		return nil, api.Errorf(api.CodeInvalid, "bootstrap: cluster id is empty")
	case len(c.SigningKey) != ed25519.PrivateKeySize:
		return nil, api.Errorf(api.CodeInvalid, "bootstrap: signing key is %d bytes, want %d", len(c.SigningKey), ed25519.PrivateKeySize)
	case len(c.TokenNonce) == 0:
		return nil, api.Errorf(api.CodeInvalid, "bootstrap: token nonce is empty")
	case !validGossipKey(c.GossipKey):
		return nil, api.Errorf(api.CodeInvalid, "bootstrap: gossip key is %d bytes, want 0, 16, 24 or 32", len(c.GossipKey))
	}
	if err := api.CheckNetworks(c.CIDR, c.ServiceCIDR); err != nil {
		return nil, api.Errorf(api.CodeInvalid, "bootstrap: %v", err)
	}
	c.JoinSecretHash = JoinSecretHash(c.SigningKey, c.TokenNonce)
	c.CreatedAt, c.TokenRotatedAt = cmd.Time, cmd.Time
	n := p.Node
	if err := validateNewNode(&n); err != nil {
		return nil, err
	}
	n.Status, n.JoinedAt, n.UpdatedAt = api.NodeReady, cmd.Time, cmd.Time
	if err := insert(txn, tableCluster, &c); err != nil {
		return nil, err
	}
	if err := assignSubnet(txn, &n, nil); err != nil {
		return nil, err
	}
	if err := insert(txn, tableNodes, &n); err != nil {
		return nil, err
	}
	r := c.Redacted()
	return &r, nil
}

func validGossipKey(k []byte) bool {
	switch len(k) {
	case 0, 16, 24, 32:
		return true
	}
	return false
}

func (f *FSM) applyRotateToken(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.RotateTokenPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if len(p.TokenNonce) == 0 {
		return nil, api.Errorf(api.CodeInvalid, "rotate token: nonce is empty")
	}
	if err := rotateToken(txn, p.TokenNonce, cmd.Time); err != nil {
		return nil, err
	}
	c, _ := first[api.Cluster](txn, tableCluster, indexID, "cluster")
	r := c.Redacted()
	return &r, nil
}

// rotateToken gives the cluster a new join token (from nonce): the old one
// admits nobody any more.
func rotateToken(txn *memdb.Txn, nonce []byte, at time.Time) *api.Error {
	old, ok := first[api.Cluster](txn, tableCluster, indexID, "cluster")
	if !ok {
		return api.Errorf(api.CodeNotFound, "rotate token: cluster is not bootstrapped")
	}
	c := *old
	c.TokenNonce = append([]byte(nil), nonce...)
	c.JoinSecretHash = JoinSecretHash(c.SigningKey, c.TokenNonce)
	c.TokenRotatedAt = at
	return insert(txn, tableCluster, &c)
}
