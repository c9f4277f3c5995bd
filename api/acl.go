package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// ACLRole is what an API token may do. Roles are ordered: each allows what
// the ones below it allow.
type ACLRole string

// The roles, from most to least powerful.
const (
	// ACLAdmin may do everything: tokens, keys, node removal, cluster
	// settings, snapshots. The local socket is admin.
	ACLAdmin ACLRole = "admin"
	// ACLOperator runs workloads: services, images and node
	// availability; no tokens, keys or cluster settings.
	ACLOperator ACLRole = "operator"
	// ACLReadOnly reads state, logs, events and metrics.
	ACLReadOnly ACLRole = "read-only"
)

// rank orders roles; an unknown role ranks below read-only.
func (r ACLRole) rank() int {
	switch r {
	case ACLAdmin:
		return 3
	case ACLOperator:
		return 2
	case ACLReadOnly:
		return 1
	}
	return 0
}

// Allows reports whether r may do what needs role need.
func (r ACLRole) Allows(need ACLRole) bool { return r.rank() > 0 && r.rank() >= need.rank() }

// ParseRole reads a role name.
func ParseACLRole(s string) (ACLRole, error) {
	r := ACLRole(strings.TrimSpace(s))
	if r.rank() == 0 {
		return "", fmt.Errorf("role %q is not one of admin, operator, read-only", s)
	}
	return r, nil
}

// ACLToken is an API token as the replicated store keeps it: the hash of
// its secret, never the secret.
type ACLToken struct {
	ID   string  `json:"id"`
	Name string  `json:"name"`
	Role ACLRole `json:"role"`
	// SecretHash is SecretHash(secret), hex.
	SecretHash string    `json:"secret_hash"`
	CreatedAt  time.Time `json:"created_at"`
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Expired reports whether t has expired at now.
func (t *ACLToken) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// Info is what the API shows of t.
func (t *ACLToken) Info() ACLTokenInfo {
	return ACLTokenInfo{ID: t.ID, Name: t.Name, Role: t.Role, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}
}

// ACLTokenInfo is a token as the API lists it.
type ACLTokenInfo struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      ACLRole   `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// CreateACLTokenRequest is the body of POST /v1/acl/tokens.
type CreateACLTokenRequest struct {
	Name string  `json:"name"`
	Role ACLRole `json:"role"`
	// TTL, if set, makes the token expire that long after its creation.
	TTL Duration `json:"ttl,omitempty"`
}

// CreateACLTokenResponse carries the new token's secret: the only time
// the cluster ever shows it.
type CreateACLTokenResponse struct {
	ACLTokenInfo
	Secret string `json:"secret"`
}

// CreateACLTokenPayload records a token. The node that took the request
// drew the secret and sends only its hash; the leader stamps TokenID.
type CreateACLTokenPayload struct {
	TokenID    string   `json:"token_id"`
	Name       string   `json:"name"`
	Role       ACLRole  `json:"role"`
	SecretHash string   `json:"secret_hash"`
	TTL        Duration `json:"ttl,omitempty"`
}

// RevokeACLTokenPayload deletes a token, named by name or ID.
type RevokeACLTokenPayload struct {
	Token string `json:"token"`
}

// API token secrets look like shoal_<43 base64url characters> (256 bits).
const (
	apiTokenPrefix = "shoal_"
	apiTokenBytes  = 32
	apiTokenChars  = 43
)

// NewAPIToken draws a fresh token secret.
func NewAPIToken() string {
	b := make([]byte, apiTokenBytes)
	rand.Read(b)
	return apiTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// ParseAPIToken checks a token's form and says what is wrong with a bad
// one, without repeating the token.
func ParseAPIToken(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, apiTokenPrefix) {
		if strings.HasPrefix(s, "SHOAL-") {
			return "", fmt.Errorf("api token: that is a join token (SHOAL-...); the API takes an API token (shoal_...)")
		}
		return "", fmt.Errorf("api token: not a Shoal API token (want shoal_ and %d characters)", apiTokenChars)
	}
	body := s[len(apiTokenPrefix):]
	if len(body) != apiTokenChars {
		return "", fmt.Errorf("api token: want %d characters after shoal_, got %d", apiTokenChars, len(body))
	}
	if _, err := base64.RawURLEncoding.DecodeString(body); err != nil {
		return "", fmt.Errorf("api token: characters after shoal_ must be base64url (A-Z a-z 0-9 - _)")
	}
	return s, nil
}

// SecretHash is the hash the store keeps of a token secret: SHA-256, hex.
// A secret of 256 random bits needs no slow hash.
func SecretHash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// ValidACLTokenName checks a token name: 1-63 characters of letters,
// digits, '-', '_' and '.'.
func ValidACLTokenName(name string) error {
	if name == "" || len(name) > 63 {
		return fmt.Errorf("token name %q must be 1-63 characters", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("token name %q: character %q is not allowed (letters, digits, - _ .)", name, r)
		}
	}
	return nil
}

// WhoAmI answers GET /v1/acl/whoami: whom a request acts as.
type WhoAmI struct {
	Name string  `json:"name"`
	Role ACLRole `json:"role"`
}

// ClusterCA answers GET /v1/cluster/ca: the CA that signs every node's
// HTTPS certificate.
type ClusterCA struct {
	// Certificate is PEM.
	Certificate string `json:"certificate"`
	// Fingerprint is "sha256:" and the hex SHA-256 of the certificate's
	// DER: what --ca-fingerprint pins.
	Fingerprint string `json:"fingerprint"`
}
