package state

import (
	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// MaxPreviousSpecs bounds the history of specs kept on a service.
const MaxPreviousSpecs = 10

// validateSpec checks what the store relies on; the API layer validates
// specs in full before proposing.
func validateSpec(s *api.ServiceSpec) *api.Error {
	switch {
	case s.Name == "":
		return api.Errorf(api.CodeInvalid, "service name is empty")
	case s.Mode != api.ModeReplicated && s.Mode != api.ModeGlobal:
		return api.Errorf(api.CodeInvalid, "service %q: unknown mode %q (want replicated or global)", s.Name, s.Mode)
	case s.Runtime == "":
		return api.Errorf(api.CodeInvalid, "service %q: runtime is empty", s.Name)
	case s.Reservations.NanoCPUs < 0 || s.Reservations.MemoryBytes < 0:
		return api.Errorf(api.CodeInvalid, "service %q: negative reservations", s.Name)
	}
	return nil
}

func serviceByNameTxn(txn *memdb.Txn, name string) (*api.Service, bool) {
	return first[api.Service](txn, tableServices, indexName, name)
}

func (f *FSM) applyCreateService(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.CreateServicePayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if p.ServiceID == "" {
		return nil, api.Errorf(api.CodeInvalid, "create service: service id is empty")
	}
	if err := validateSpec(&p.Spec); err != nil {
		return nil, err
	}
	if name := missingSecret(txn, &p.Spec); name != "" {
		return nil, api.Errorf(api.CodeInvalid, "service %q: secret %q does not exist (shoal secret create)", p.Spec.Name, name)
	}
	if _, ok := serviceByNameTxn(txn, p.Spec.Name); ok {
		return nil, api.Errorf(api.CodeConflict, "service %q already exists", p.Spec.Name)
	}
	if _, ok := first[api.Service](txn, tableServices, indexID, p.ServiceID); ok {
		return nil, api.Errorf(api.CodeConflict, "service id %q already exists", p.ServiceID)
	}
	ep, err := endpointFor(txn, &p.Spec, nil)
	if err != nil {
		return nil, err
	}
	s := &api.Service{ID: p.ServiceID, Spec: p.Spec, Version: 1, CreatedAt: cmd.Time, UpdatedAt: cmd.Time, UpdatedBy: p.By, Endpoint: ep}
	if err := insert(txn, tableServices, s); err != nil {
		return nil, err
	}
	return s, nil
}

func (f *FSM) applyUpdateService(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.UpdateServicePayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if p.Spec.Name == "" {
		p.Spec.Name = p.Name
	}
	if p.Spec.Name != p.Name {
		return nil, api.Errorf(api.CodeInvalid, "update service %q: renaming to %q is not supported", p.Name, p.Spec.Name)
	}
	if err := validateSpec(&p.Spec); err != nil {
		return nil, err
	}
	if name := missingSecret(txn, &p.Spec); name != "" {
		return nil, api.Errorf(api.CodeInvalid, "service %q: secret %q does not exist (shoal secret create)", p.Spec.Name, name)
	}
	old, ok := serviceByNameTxn(txn, p.Name)
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "service %q not found", p.Name)
	}
	if p.ExpectVersion != 0 && p.ExpectVersion != old.Version {
		return nil, api.Errorf(api.CodeConflict, "service %q is at version %d, not %d", p.Name, old.Version, p.ExpectVersion)
	}
	ep, err := endpointFor(txn, &p.Spec, old)
	if err != nil {
		return nil, err
	}
	s := newVersion(old, p.Spec, cmd, p.By)
	s.Endpoint = ep
	s.UpdateStatus = nextUpdateStatus(old, p.Spec, s.Version, cmd)
	if err := insert(txn, tableServices, s); err != nil {
		return nil, err
	}
	return s, nil
}

func (f *FSM) applyRemoveService(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.RemoveServicePayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	s, ok := serviceByNameTxn(txn, p.Name)
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "service %q not found", p.Name)
	}
	if err := remove(txn, tableServices, s); err != nil {
		return nil, err
	}
	for _, t := range list[api.Task](txn, tableTasks, indexService, s.ID) {
		if !t.Active() {
			continue
		}
		c := *t
		c.DesiredState, c.UpdatedAt = api.TaskShutdown, cmd.Time
		if err := insert(txn, tableTasks, &c); err != nil {
			return nil, err
		}
	}
	return s, nil
}
