package node

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"math/big"
	"strings"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// Join tokens look like SHOAL-1-<digest>-<secret>:
//   - digest: SHA-256 of the cluster's Ed25519 public key, base36, 50 chars.
//     A joiner uses it to check it reached the real cluster.
//   - secret: 128 bits, base36, 25 chars. The joiner proves it holds it,
//     bound to both peer IDs, without sending it.
const (
	tokenPrefix    = "SHOAL"
	tokenVersion   = "1"
	digestChars    = 50
	secretChars    = 25
	joinSecretSize = 16
)

// JoinToken is a parsed join token.
type JoinToken struct {
	Digest [sha256.Size]byte
	Secret [joinSecretSize]byte
}

// ClusterDigest is the digest a token carries for a cluster public key.
func ClusterDigest(pub ed25519.PublicKey) [sha256.Size]byte { return sha256.Sum256(pub) }

// String formats the token.
func (t JoinToken) String() string {
	return strings.Join([]string{tokenPrefix, tokenVersion, base36(t.Digest[:], digestChars), base36(t.Secret[:], secretChars)}, "-")
}

// ParseJoinToken reads a token and says exactly what is wrong with a bad one.
func ParseJoinToken(s string) (JoinToken, error) {
	var t JoinToken
	s = strings.TrimSpace(s)
	parts := strings.Split(s, "-")
	if len(parts) != 4 || parts[0] != tokenPrefix {
		return t, fmt.Errorf("token: not a Shoal join token (want SHOAL-1-<digest>-<secret>)")
	}
	if parts[1] != tokenVersion {
		return t, fmt.Errorf("token: version %q is not supported (want %s)", parts[1], tokenVersion)
	}
	if len(parts[2]) != digestChars {
		return t, fmt.Errorf("token: digest must be %d characters, got %d", digestChars, len(parts[2]))
	}
	if len(parts[3]) != secretChars {
		return t, fmt.Errorf("token: secret must be %d characters, got %d", secretChars, len(parts[3]))
	}
	if err := unbase36(parts[2], t.Digest[:]); err != nil {
		return t, fmt.Errorf("token: digest: %v", err)
	}
	if err := unbase36(parts[3], t.Secret[:]); err != nil {
		return t, fmt.Errorf("token: secret: %v", err)
	}
	return t, nil
}

func base36(b []byte, width int) string {
	s := new(big.Int).SetBytes(b).Text(36)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}

func unbase36(s string, out []byte) error {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
			return fmt.Errorf("character %q is not base36 (0-9, a-z)", r)
		}
	}
	n, ok := new(big.Int).SetString(s, 36)
	if !ok {
		return fmt.Errorf("not base36")
	}
	if n.BitLen() > len(out)*8 {
		return fmt.Errorf("value does not fit in %d bytes", len(out))
	}
	n.FillBytes(out)
	return nil
}

// tokenFor is the current join token of a cluster record: the digest of its
// public key and the secret derived from its key and token nonce.
func tokenFor(c *api.Cluster) JoinToken {
	var t JoinToken
	if len(c.SigningKey) != ed25519.PrivateKeySize {
		return t
	}
	t.Digest = ClusterDigest(ed25519.PrivateKey(c.SigningKey).Public().(ed25519.PublicKey))
	copy(t.Secret[:], state.JoinSecret(c.SigningKey, c.TokenNonce))
	return t
}
