package state

import (
	"slices"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// maxSecrets bounds the secret table.
const maxSecrets = 1000

// applyCreateSecret records a sealed secret. The leader sealed it and
// cleared the plaintext; an entry that still carries plaintext is refused,
// so a bug upstream cannot write a secret into the log's state unnoticed.
// The cluster's first secret brings the data key with it.
func (f *FSM) applyCreateSecret(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.CreateSecretPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	switch {
	case len(p.Data) > 0:
		return nil, api.Errorf(api.CodeInvalid, "create secret: the entry carries plaintext; only the leader's sealed value is accepted")
	case p.SecretID == "":
		return nil, api.Errorf(api.CodeInvalid, "create secret: secret_id is empty (the leader stamps it)")
	case len(p.Sealed) == 0:
		return nil, api.Errorf(api.CodeInvalid, "create secret: no sealed value")
	case p.Size < 0 || p.Size > api.MaxSecretSize:
		return nil, api.Errorf(api.CodeInvalid, "create secret: size %d is out of range (at most %d bytes)", p.Size, api.MaxSecretSize)
	}
	if err := api.ValidSecretName(p.Name); err != nil {
		return nil, api.Errorf(api.CodeInvalid, "create secret: %v", err)
	}
	c, ok := first[api.Cluster](txn, tableCluster, indexID, "cluster")
	if !ok {
		return nil, api.Errorf(api.CodeInvalid, "create secret: the cluster is not bootstrapped")
	}
	switch {
	case len(p.DataKey) > 0 && len(c.DataKey) > 0:
		return nil, api.Errorf(api.CodeConflict, "create secret: the cluster's data key was created meanwhile; retry")
	case len(p.DataKey) == 0 && len(c.DataKey) == 0:
		return nil, api.Errorf(api.CodeInvalid, "create secret: the cluster has no data key and the entry brings none")
	case len(p.DataKey) > 0 && len(p.DataKey) != 32:
		return nil, api.Errorf(api.CodeInvalid, "create secret: data key is %d bytes, want 32", len(p.DataKey))
	}
	if _, taken := first[api.Secret](txn, tableSecrets, indexName, p.Name); taken {
		return nil, api.Errorf(api.CodeConflict, "secret %q exists; secrets are immutable: remove it and create it again, or create a new name", p.Name)
	}
	if n := len(list[api.Secret](txn, tableSecrets, indexID)); n >= maxSecrets {
		return nil, api.Errorf(api.CodeTooLarge, "the cluster holds %d secrets, the most it keeps", n)
	}
	if len(p.DataKey) > 0 {
		cc := *c
		cc.DataKey = p.DataKey
		if err := insert(txn, tableCluster, &cc); err != nil {
			return nil, err
		}
	}
	s := &api.Secret{ID: p.SecretID, Name: p.Name, CreatedAt: cmd.Time, Size: p.Size, Sealed: p.Sealed}
	if err := insert(txn, tableSecrets, s); err != nil {
		return nil, err
	}
	info := s.Info()
	return &info, nil
}

// applyRemoveSecret deletes a secret that no service names.
func (f *FSM) applyRemoveSecret(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.RemoveSecretPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	s, ok := first[api.Secret](txn, tableSecrets, indexName, p.Name)
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "no secret named %q", p.Name)
	}
	if users := secretUsers(txn, p.Name); len(users) > 0 {
		return nil, api.Errorf(api.CodeConflict, "secret %q is in use by service %s; remove it from the service first", p.Name, users[0])
	}
	if err := remove(txn, tableSecrets, s); err != nil {
		return nil, err
	}
	info := s.Info()
	return &info, nil
}

// secretUsers lists the services whose spec names secret name, sorted.
func secretUsers(txn *memdb.Txn, name string) []string {
	var out []string
	for _, svc := range list[api.Service](txn, tableServices, indexID) {
		if slices.Contains(svc.Spec.Secrets, name) {
			out = append(out, svc.Spec.Name)
		}
	}
	slices.Sort(out)
	return out
}

// missingSecret returns the first secret spec names that does not exist,
// or "".
func missingSecret(txn *memdb.Txn, spec *api.ServiceSpec) string {
	for _, name := range spec.Secrets {
		if _, ok := first[api.Secret](txn, tableSecrets, indexName, name); !ok {
			return name
		}
	}
	return ""
}

// SecretUsers lists the services whose spec names secret name.
func (v *View) SecretUsers(name string) []string { return secretUsers(v.txn, name) }
