package node

import (
	"encoding/json"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// admitServiceWrite refuses a service create or update whose spec is invalid,
// whose endpoint cannot be allocated (state.PlanEndpoint), or
// that would take the cluster past its limits (LimitsConfig), as an
// admission check on the leader: the FSM applies what was admitted. A write that lowers usage,
// or leaves it where it was, always passes, so a cluster over a lowered
// limit can still be scaled down.
func admitServiceWrite(lim LimitsConfig, v *state.View, cmd api.Command) error {
	var name string
	var spec api.ServiceSpec
	switch cmd.Type {
	case api.CmdCreateService:
		var p api.CreateServicePayload
		if json.Unmarshal(cmd.Payload, &p) != nil {
			return nil // the FSM refuses it with the decoding error
		}
		name, spec = p.Spec.Name, p.Spec
	case api.CmdUpdateService:
		var p api.UpdateServicePayload
		if json.Unmarshal(cmd.Payload, &p) != nil {
			return nil
		}
		name, spec = p.Name, p.Spec
	case api.CmdRollbackService:
		var p api.RollbackServicePayload
		if json.Unmarshal(cmd.Payload, &p) != nil {
			return nil
		}
		var ok bool
		if name, spec, ok = rollbackTarget(v, p); !ok {
			return nil // the FSM refuses it with the reason
		}
	default:
		return nil
	}
	// The API validated the spec, but a forwarded proposal may come from
	// any member: the leader checks it again before it enters the log.
	check := spec
	check.Normalize()
	if err := check.Validate(); err != nil {
		return api.Errorf(api.CodeInvalid, "%v", err)
	}
	// Published ports taken by another service, a full service CIDR or
	// port range: refused here with the FSM's own planner, so the caller
	// hears it before the write enters the log.
	var old *api.Service
	if cmd.Type == api.CmdUpdateService || cmd.Type == api.CmdRollbackService {
		old, _ = v.ServiceByName(name)
	}
	c, _ := v.Cluster()
	if _, err := state.PlanEndpoint(c, &check, old, v.Services()); err != nil {
		return err
	}
	nodes := len(v.Nodes())
	services, before, after := 0, 0, 0
	found := false
	for _, svc := range v.Services() {
		services++
		n := desiredTasks(svc.Spec, nodes)
		before += n
		if svc.Spec.Name == name {
			found = true
			n = desiredTasks(spec, nodes)
		}
		after += n
	}
	if !found {
		services++
		after += desiredTasks(spec, nodes)
	}
	if lim.MaxServices > 0 && !found && services > lim.MaxServices {
		return api.Errorf(api.CodeInvalid, "service %s: the cluster holds its limit of %d services (limits.max_services)", name, lim.MaxServices)
	}
	if lim.MaxTasks > 0 && after > lim.MaxTasks && after > before {
		return api.Errorf(api.CodeInvalid, "service %s: %d tasks in all would pass the cluster's limit of %d (limits.max_tasks); %d are wanted now",
			name, after, lim.MaxTasks, before)
	}
	return nil
}

// desiredTasks is how many tasks a spec wants: its replicas, or one per
// node for a global service.
func desiredTasks(spec api.ServiceSpec, nodes int) int {
	if spec.Mode == api.ModeGlobal {
		return nodes
	}
	return int(min(spec.Replicas, uint64(1)<<40))
}

// rollbackTarget is the spec a rollback makes current, as the FSM picks
// it; false when the FSM will refuse the rollback.
func rollbackTarget(v *state.View, p api.RollbackServicePayload) (string, api.ServiceSpec, bool) {
	svc, ok := v.ServiceByName(p.Name)
	if !ok {
		return "", api.ServiceSpec{}, false
	}
	to := p.ToVersion
	if to == 0 {
		to = api.RollbackDefault(svc)
	}
	for _, prev := range svc.Previous {
		if prev.Version == to {
			return svc.Spec.Name, prev.Spec, true
		}
	}
	return "", api.ServiceSpec{}, false
}
