package api

import (
	"fmt"
	"time"
)

// MaxSecretSize is the largest secret value (Swarm's limit too).
const MaxSecretSize = 500 << 10

// Secret is a secret as the replicated store keeps it: its value sealed
// with AES-256-GCM under the cluster's data key. The plaintext is never in
// the log, a snapshot or an API answer.
type Secret struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// Size is the plaintext's length in bytes.
	Size int `json:"size"`
	// Sealed is nonce || ciphertext || tag, sealed under the data key with
	// the secret's ID as additional data.
	Sealed []byte `json:"sealed"`
}

// Info is what the API shows of s: metadata only.
func (s *Secret) Info() SecretInfo {
	return SecretInfo{ID: s.ID, Name: s.Name, CreatedAt: s.CreatedAt, Size: s.Size}
}

// SecretInfo is a secret as the API shows it.
type SecretInfo struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	Size      int       `json:"size"`
	// UsedBy lists the services that name it.
	UsedBy []string `json:"used_by,omitempty"`
}

// CreateSecretRequest is the body of POST /v1/secrets.
type CreateSecretRequest struct {
	Name string `json:"name"`
	// Data is the value (JSON base64).
	Data []byte `json:"data"`
}

// CreateSecretPayload records a secret. The node that took the request
// sends the plaintext to the leader over the encrypted node RPC, in Data;
// the leader seals it (stamp) and proposes only Sealed, with the secret ID
// and, for the cluster's first secret, a fresh data key.
type CreateSecretPayload struct {
	SecretID string `json:"secret_id"`
	Name     string `json:"name"`
	Size     int    `json:"size"`
	Sealed   []byte `json:"sealed,omitempty"`
	// DataKey is set only on the entry that creates the cluster's data key.
	DataKey []byte `json:"data_key,omitempty"`
	// Data is the plaintext on its way to the leader; the leader clears
	// it before proposing, and the FSM refuses an entry that carries it.
	Data []byte `json:"data,omitempty"`
}

// RemoveSecretPayload deletes a secret no service uses.
type RemoveSecretPayload struct {
	Name string `json:"name"`
}

// ValidSecretName checks a secret name: it becomes a file name in tasks,
// so 1-64 characters of letters, digits, '-', '_' and '.', not starting
// with '.'.
func ValidSecretName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("secret name %q must be 1-64 characters", name)
	}
	if name[0] == '.' {
		return fmt.Errorf("secret name %q must not start with '.'", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("secret name %q: character %q is not allowed (letters, digits, - _ .)", name, r)
		}
	}
	return nil
}
