package state

import (
	"strconv"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// newVersion returns a copy of old whose spec is spec, as the next
// version made at the command's time by by: old's spec goes first into
// Previous, which keeps MaxPreviousSpecs.
func newVersion(old *api.Service, spec api.ServiceSpec, cmd *api.Command, by string) *api.Service {
	s := *old
	prev := make([]api.VersionedSpec, 0, min(len(old.Previous)+1, MaxPreviousSpecs))
	prev = append(prev, api.VersionedSpec{Version: old.Version, Spec: old.Spec, UpdatedAt: old.UpdatedAt, UpdatedBy: old.UpdatedBy})
	for _, v := range old.Previous {
		if len(prev) == MaxPreviousSpecs {
			break
		}
		prev = append(prev, v)
	}
	s.Previous = prev
	s.Spec = spec
	s.Version = old.Version + 1
	s.UpdatedAt = cmd.Time
	s.UpdatedBy = by
	return &s
}

// nextUpdateStatus is the update status a spec update to version leaves:
// a new update when the tasks must change; a paused update or rollback
// resumed (from now, towards the new version, failures counted afresh)
// when only the policies or replicas changed; else the status as it was.
func nextUpdateStatus(old *api.Service, spec api.ServiceSpec, version uint64, cmd *api.Command) *api.UpdateStatus {
	st := old.UpdateStatus
	switch {
	case !api.RunsSame(old.Spec, spec):
		return &api.UpdateStatus{State: api.UpdateUpdating, StartedAt: cmd.Time,
			Message: "update in progress", FromVersion: old.Version, ToVersion: version}
	case st != nil && st.State == api.UpdatePaused:
		return &api.UpdateStatus{State: api.UpdateUpdating, StartedAt: cmd.Time,
			Message: "update resumed", FromVersion: st.FromVersion, ToVersion: version}
	case st != nil && st.State == api.UpdateRollbackPaused:
		return &api.UpdateStatus{State: api.UpdateRollbackStarted, StartedAt: cmd.Time,
			Message: "rollback resumed", FromVersion: st.FromVersion, ToVersion: version}
	}
	return st
}

// specOf returns the spec of version v of svc, current or kept.
func specOf(svc *api.Service, v uint64) (api.ServiceSpec, bool) {
	if v == svc.Version {
		return svc.Spec, true
	}
	for _, p := range svc.Previous {
		if p.Version == v {
			return p.Spec, true
		}
	}
	return api.ServiceSpec{}, false
}

// rollBack returns svc with the spec of version to as a new version, and
// a started rollback from the current version. The update and rollback
// policies stay the current spec's: they say how to roll, not what runs.
func rollBack(txn *memdb.Txn, svc *api.Service, to uint64, cmd *api.Command, by, why string) (*api.Service, *api.Error) {
	spec, ok := specOf(svc, to)
	if !ok || to == svc.Version {
		return nil, api.Errorf(api.CodeInvalid, "service %q: no version %d to roll back to (kept: %s)", svc.Spec.Name, to, keptVersions(svc))
	}
	spec.Update, spec.Rollback = svc.Spec.Update, svc.Spec.Rollback
	if name := missingSecret(txn, &spec); name != "" {
		return nil, api.Errorf(api.CodeInvalid, "service %q: version %d needs secret %q, which does not exist", svc.Spec.Name, to, name)
	}
	ep, err := endpointFor(txn, &spec, svc)
	if err != nil {
		return nil, err
	}
	s := newVersion(svc, spec, cmd, by)
	s.Endpoint = ep
	s.UpdateStatus = &api.UpdateStatus{State: api.UpdateRollbackStarted, StartedAt: cmd.Time,
		Message: why, FromVersion: svc.Version, ToVersion: s.Version}
	return s, nil
}

// keptVersions lists the versions a service keeps, newest first.
func keptVersions(svc *api.Service) string {
	out := ""
	for _, p := range svc.Previous {
		if out != "" {
			out += ", "
		}
		out += strconv.FormatUint(p.Version, 10)
	}
	if out == "" {
		return "none"
	}
	return out
}

func (f *FSM) applyRollbackService(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.RollbackServicePayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	svc, ok := serviceByNameTxn(txn, p.Name)
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "service %q not found", p.Name)
	}
	to := p.ToVersion
	if to == 0 {
		if to = api.RollbackDefault(svc); to == 0 {
			return nil, api.Errorf(api.CodeInvalid, "service %q has no earlier version to roll back to", p.Name)
		}
	}
	s, err := rollBack(txn, svc, to, cmd, p.By, "manual rollback to version "+strconv.FormatUint(to, 10))
	if err != nil {
		return nil, err
	}
	if err := insert(txn, tableServices, s); err != nil {
		return nil, err
	}
	return s, nil
}

// applyPromoteService continues an update held in its canary state: the
// update goes on by its policy (state updating, Promoted), and its
// traffic split, if any, sends every new connection to the new tasks.
// The service keeps its version: promoting changes no spec.
func (f *FSM) applyPromoteService(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.PromoteServicePayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	svc, ok := serviceByNameTxn(txn, p.Name)
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "service %q not found", p.Name)
	}
	st := svc.UpdateStatus
	if !st.Held() {
		state := "no update"
		if st != nil {
			state = "its update is " + st.State
		}
		return nil, api.Errorf(api.CodeConflict, "service %q has no update held in canary to promote (%s)", p.Name, state)
	}
	s := *svc
	next := *st
	next.State, next.Promoted, next.Message = api.UpdateUpdating, true, "promoted: update in progress"
	s.UpdateStatus = &next
	if err := insert(txn, tableServices, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// advanceUpdate applies the leader's decision about a service's update.
// A decision about another version than the service's, or about a service
// whose update is not in progress, is stale and skipped. A rollback that
// cannot be made (its version is no longer kept, a secret it names is
// gone) pauses the update instead, with both reasons.
func advanceUpdate(txn *memdb.Txn, cmd *api.Command, u api.ServiceUpdate, res *WriteTasksResult) *api.Error {
	svc, ok := first[api.Service](txn, tableServices, indexID, u.ServiceID)
	skip := func(why string) *api.Error {
		res.Skipped = append(res.Skipped, TaskSkip{TaskID: u.ServiceID, Reason: why})
		return nil
	}
	switch {
	case !ok:
		return skip("service not found")
	case svc.Version != u.Version:
		return skip("service is at another version")
	case !svc.UpdateStatus.Active():
		return skip("no update in progress")
	}
	st := *svc.UpdateStatus
	var next *api.Service
	switch u.State {
	case api.UpdateCanary, api.UpdateCompleted:
		if st.State != api.UpdateUpdating {
			return skip("not an update")
		}
	case api.UpdatePaused:
		if st.State != api.UpdateUpdating && st.State != api.UpdateCanary {
			return skip("not an update")
		}
	case api.UpdateRollbackPaused, api.UpdateRollbackCompleted:
		if st.State != api.UpdateRollbackStarted {
			return skip("not a rollback")
		}
	case api.UpdateRollbackStarted:
		if st.State != api.UpdateUpdating && st.State != api.UpdateCanary {
			return skip("not an update")
		}
		why := "rolled back to version " + strconv.FormatUint(st.FromVersion, 10) + ": " + u.Message
		s, err := rollBack(txn, svc, st.FromVersion, cmd, "", why)
		if err != nil {
			// Pause instead, so the leader does not ask again and again.
			u.State, u.Message = api.UpdatePaused, "update paused: "+u.Message+"; cannot roll back: "+err.Message
			break
		}
		next = s
	default:
		return api.Errorf(api.CodeInvalid, "write tasks: service %s: unknown update state %q", u.ServiceID, u.State)
	}
	if next == nil {
		c := *svc
		st.State, st.Message = u.State, u.Message
		if u.State == api.UpdateCompleted || u.State == api.UpdateRollbackCompleted {
			st.CompletedAt = cmd.Time
		}
		c.UpdateStatus = &st
		next = &c
	}
	res.Updates++
	return insert(txn, tableServices, next)
}
