package state

import (
	"bytes"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestSecretsAreSealedImmutableAndGuarded(t *testing.T) {
	h := bootstrapped(t)
	key := bytes.Repeat([]byte{9}, 32)
	sealed := []byte("nonce+ciphertext")
	// Plaintext in an entry is refused outright.
	h.fails(api.CmdCreateSecret, api.CodeInvalid, api.CreateSecretPayload{SecretID: "s0", Name: "pw", Size: 3, Sealed: sealed, DataKey: key, Data: []byte("pw!")})
	// The first secret must bring the data key, and then only the first.
	h.fails(api.CmdCreateSecret, api.CodeInvalid, api.CreateSecretPayload{SecretID: "s1", Name: "pw", Size: 3, Sealed: sealed})
	h.ok(api.CmdCreateSecret, api.CreateSecretPayload{SecretID: "s1", Name: "pw", Size: 3, Sealed: sealed, DataKey: key})
	if c, _ := h.fsm.Store().Cluster(); !bytes.Equal(c.DataKey, key) {
		t.Fatalf("data key not recorded")
	}
	h.fails(api.CmdCreateSecret, api.CodeConflict, api.CreateSecretPayload{SecretID: "s2", Name: "other", Size: 3, Sealed: sealed, DataKey: bytes.Repeat([]byte{8}, 32)})
	h.fails(api.CmdCreateSecret, api.CodeConflict, api.CreateSecretPayload{SecretID: "s3", Name: "pw", Size: 3, Sealed: sealed})
	h.fails(api.CmdCreateSecret, api.CodeInvalid, api.CreateSecretPayload{SecretID: "s4", Name: "../etc", Size: 3, Sealed: sealed})

	// A service may name only secrets that exist; a named secret cannot go.
	spec := testSpec("db")
	spec.Secrets = []string{"missing"}
	if err := h.fails(api.CmdCreateService, api.CodeInvalid, api.CreateServicePayload{ServiceID: "svc-db", Spec: spec}); !strings.Contains(err.Message, `secret "missing" does not exist`) {
		t.Fatalf("missing secret: %v", err)
	}
	spec.Secrets = []string{"pw"}
	h.ok(api.CmdCreateService, api.CreateServicePayload{ServiceID: "svc-db", Spec: spec})
	if err := h.fails(api.CmdRemoveSecret, api.CodeConflict, api.RemoveSecretPayload{Name: "pw"}); !strings.Contains(err.Message, "in use by service db") {
		t.Fatalf("remove in use: %v", err)
	}
	h.ok(api.CmdRemoveService, api.RemoveServicePayload{Name: "db"})
	h.ok(api.CmdRemoveSecret, api.RemoveSecretPayload{Name: "pw"})
	if _, ok := h.fsm.Store().View().Secret("pw"); ok {
		t.Fatal("secret still there")
	}
}

// A snapshot carries secrets sealed, and restores them.
func TestSecretsSurviveSnapshots(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdCreateSecret, api.CreateSecretPayload{SecretID: "s1", Name: "pw", Size: 3, Sealed: []byte("sealed"), DataKey: bytes.Repeat([]byte{9}, 32)})
	var buf bytes.Buffer
	if err := h.fsm.Snapshot().Write(&buf); err != nil {
		t.Fatal(err)
	}
	f := NewFSM(NewStore())
	if err := f.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if s, ok := f.Store().View().Secret("pw"); !ok || string(s.Sealed) != "sealed" || s.Size != 3 {
		t.Fatalf("restored secret: %+v %v", s, ok)
	}
}
