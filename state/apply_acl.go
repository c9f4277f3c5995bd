package state

import (
	"encoding/hex"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// maxACLTokens bounds the token table.
const maxACLTokens = 1000

// applyCreateACLToken records an API token: its name, role and the hash of
// its secret (the secret itself never enters the log). The expiry is
// counted from the command's time, which the leader stamped.
func (f *FSM) applyCreateACLToken(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.CreateACLTokenPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if err := validateACLToken(p); err != nil {
		return nil, err
	}
	if _, taken := first[api.ACLToken](txn, tableACL, indexName, p.Name); taken {
		return nil, api.Errorf(api.CodeConflict, "a token named %q exists; revoke it first or pick another name", p.Name)
	}
	if _, taken := first[api.ACLToken](txn, tableACL, indexSecret, p.SecretHash); taken {
		return nil, api.Errorf(api.CodeConflict, "a token with that secret exists")
	}
	if n := len(list[api.ACLToken](txn, tableACL, indexID)); n >= maxACLTokens {
		return nil, api.Errorf(api.CodeTooLarge, "the cluster holds %d tokens, the most it keeps; revoke some first", n)
	}
	tok := &api.ACLToken{ID: p.TokenID, Name: p.Name, Role: p.Role, SecretHash: p.SecretHash, CreatedAt: cmd.Time}
	if p.TTL > 0 {
		tok.ExpiresAt = cmd.Time.Add(time.Duration(p.TTL))
	}
	if err := insert(txn, tableACL, tok); err != nil {
		return nil, err
	}
	return tok, nil
}

func validateACLToken(p api.CreateACLTokenPayload) *api.Error {
	if p.TokenID == "" {
		return api.Errorf(api.CodeInvalid, "create token: token_id is empty (the leader stamps it)")
	}
	if err := api.ValidACLTokenName(p.Name); err != nil {
		return api.Errorf(api.CodeInvalid, "create token: %v", err)
	}
	if _, err := api.ParseACLRole(string(p.Role)); err != nil {
		return api.Errorf(api.CodeInvalid, "create token: %v", err)
	}
	if b, err := hex.DecodeString(p.SecretHash); err != nil || len(b) != 32 {
		return api.Errorf(api.CodeInvalid, "create token: secret_hash must be 64 hex digits (SHA-256)")
	}
	if p.TTL < 0 {
		return api.Errorf(api.CodeInvalid, "create token: ttl %s is negative", time.Duration(p.TTL))
	}
	return nil
}

// applyRevokeACLToken deletes a token named by name or ID; requests that
// carry it fail from the moment a node applies this.
func (f *FSM) applyRevokeACLToken(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.RevokeACLTokenPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	tok, ok := first[api.ACLToken](txn, tableACL, indexName, p.Token)
	if !ok {
		tok, ok = first[api.ACLToken](txn, tableACL, indexID, p.Token)
	}
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "no token named %q", p.Token)
	}
	if err := remove(txn, tableACL, tok); err != nil {
		return nil, err
	}
	return tok, nil
}
