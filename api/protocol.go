package api

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ProtocolVersion is the newest command protocol this build applies. A
// build applies every command of its protocol and of the older ones.
//
// The rule that keeps replicas from diverging in a mixed-version cluster:
//   - every node records the protocol it speaks in its node record
//     (Node.Protocol, written when it registers);
//   - the leader proposes a command only when every node in the cluster
//     (down ones too: they may come back and replay the log) speaks the
//     protocol that command needs (ProtocolOf); otherwise the write is
//     refused with a one-line error naming the node to upgrade;
//   - a replica that still meets a command it does not know stops with a
//     clear message instead of skipping it (state.FSM's halt), so it can
//     never apply the log differently from the others.
//
// Add a command kind, or a new field or meaning of an existing one, by
// raising ProtocolVersion and listing it in commandProtocol or
// fieldProtocol. An older build decodes JSON without complaint about new
// fields, so a new field needs gating as much as a new command does.
//
// Protocols: 1 up to commit 8f4685b; 2 adds graceful restarts
// (node.restarting); 3 adds drain deadlines (node.update's drain_deadline,
// task.write's stop_deadline); 4 adds containers' seccomp and the token
// rotation of node.remove; 5 adds API tokens (acl.*), secrets (secret.*,
// services' secrets), key rotation (cluster.rotateKeys), the deny list
// (node.remove's deny), the operator's node labels and the user of a
// process service (older builds honour user for containers only, and
// would run the process as root), and task networking: the cluster's
// CIDR (cluster.bootstrap's cidr; the FSM allocates node subnets only in
// a cluster whose record has one, so older replicas, which could not
// allocate, never meet an allocating cluster), a service's network and a
// task's observed IP (task.report's ip), and health checks (services'
// health — with its disable, and cmd checks in containers and as the
// service's user —, task.report's health, which may change a running task's
// status without moving its state), and service traffic (the cluster's
// service CIDR, cluster.bootstrap's service_cidr; ports' publish mode and
// proxy_protocol; the FSM allocates services' endpoints only in a cluster
// whose record has a service CIDR), and rolling updates (services'
// update and rollback policies, service.rollback, task.write's
// service_updates, the by of service.create and service.update); 6 adds
// task.write's spawn (new tasks without a spec of their own), services'
// stop delay and force_update, canaries and traffic splits (update policies' canary and
// traffic_new, task.write's service_updates to the canary state,
// service.promote), and rebalancing (services' rebalance, task.write's
// replaces and preferred_node: start-first moves).
const ProtocolVersion = 6

// commandProtocol lists the command types newer than protocol 1.
var commandProtocol = map[CommandType]int{
	CmdNodeRestarting:  2,
	CmdCreateACLToken:  5,
	CmdRevokeACLToken:  5,
	CmdCreateSecret:    5,
	CmdRotateKeys:      5,
	CmdRemoveSecret:    5,
	CmdRollbackService: 5,
	CmdPromoteService:  6,

	CmdReportTaskStatusBatch: 5,
}

// fieldProtocol lists payload fields newer than their command: a command
// whose payload sets one (the JSON key appears; these fields are omitted
// when empty) needs that protocol. A field that gained a meaning later
// names, in when, the payloads that use it (the key alone says too much).
var fieldProtocol = []struct {
	typ     CommandType
	key     string
	version int
	when    func(CommandType, []byte) bool
}{
	{CmdUpdateNode, `"drain_deadline"`, 3, nil},
	{CmdWriteTasks, `"spawn"`, 6, nil},
	{CmdCreateService, `"stop_delay"`, 6, nil},
	{CmdCreateService, `"force_update"`, 6, nil},
	{CmdUpdateService, `"force_update"`, 6, nil},
	{CmdWriteTasks, `"force_update"`, 6, nil},
	{CmdUpdateService, `"stop_delay"`, 6, nil},
	{CmdWriteTasks, `"stop_delay"`, 6, nil},
	{CmdWriteTasks, `"stop_deadline"`, 3, nil},
	{CmdCreateService, `"seccomp"`, 4, nil},
	{CmdUpdateService, `"seccomp"`, 4, nil},
	{CmdWriteTasks, `"seccomp"`, 4, nil},
	{CmdRemoveNode, `"token_nonce"`, 4, nil},
	{CmdCreateService, `"user"`, 5, setsProcessUser},
	{CmdUpdateService, `"user"`, 5, setsProcessUser},
	{CmdWriteTasks, `"user"`, 5, setsProcessUser},
	{CmdCreateService, `"target_port"`, 5, nil},
	{CmdUpdateService, `"target_port"`, 5, nil},
	{CmdWriteTasks, `"target_port"`, 5, nil},
	{CmdCreateService, `"ports"`, 5, namesPorts},
	{CmdUpdateService, `"ports"`, 5, namesPorts},
	{CmdWriteTasks, `"ports"`, 5, namesPorts},
	{CmdCreateService, `"secrets"`, 5, nil},
	{CmdUpdateService, `"secrets"`, 5, nil},
	{CmdWriteTasks, `"secrets"`, 5, nil},
	{CmdUpdateNode, `"operator_labels"`, 5, nil},
	{CmdRemoveNode, `"deny"`, 5, nil},
	{CmdBootstrap, `"cidr"`, 5, nil},
	{CmdCreateService, `"network"`, 5, nil},
	{CmdUpdateService, `"network"`, 5, nil},
	{CmdWriteTasks, `"network"`, 5, nil},
	{CmdReportTaskStatus, `"ip"`, 5, nil},
	{CmdCreateService, `"health"`, 5, setsHealth},
	{CmdUpdateService, `"health"`, 5, setsHealth},
	{CmdWriteTasks, `"health"`, 5, setsHealth},
	{CmdReportTaskStatus, `"health"`, 5, nil},
	{CmdBootstrap, `"service_cidr"`, 5, nil},
	{CmdCreateService, `"mode"`, 5, setsPublishMode},
	{CmdUpdateService, `"mode"`, 5, setsPublishMode},
	{CmdWriteTasks, `"mode"`, 5, setsPublishMode},
	{CmdCreateService, `"proxy_protocol"`, 5, setsPublishMode},
	{CmdUpdateService, `"proxy_protocol"`, 5, setsPublishMode},
	{CmdWriteTasks, `"proxy_protocol"`, 5, setsPublishMode},
	{CmdCreateService, `"update"`, 5, setsUpdatePolicy},
	{CmdUpdateService, `"update"`, 5, setsUpdatePolicy},
	{CmdWriteTasks, `"update"`, 5, setsUpdatePolicy},
	{CmdCreateService, `"rollback"`, 5, setsUpdatePolicy},
	{CmdUpdateService, `"rollback"`, 5, setsUpdatePolicy},
	{CmdWriteTasks, `"rollback"`, 5, setsUpdatePolicy},
	{CmdCreateService, `"by"`, 5, setsBy},
	{CmdUpdateService, `"by"`, 5, setsBy},
	{CmdWriteTasks, `"service_updates"`, 5, nil},
	{CmdCreateService, `"canary"`, 6, holdsUpdate},
	{CmdUpdateService, `"canary"`, 6, holdsUpdate},
	{CmdWriteTasks, `"canary"`, 6, holdsUpdate},
	{CmdCreateService, `"traffic_new"`, 6, holdsUpdate},
	{CmdUpdateService, `"traffic_new"`, 6, holdsUpdate},
	{CmdWriteTasks, `"traffic_new"`, 6, holdsUpdate},
	{CmdCreateService, `"rebalance"`, 6, setsRebalance},
	{CmdUpdateService, `"rebalance"`, 6, setsRebalance},
	{CmdWriteTasks, `"rebalance"`, 6, setsRebalance},
	{CmdWriteTasks, `"replaces"`, 6, nil},
	{CmdWriteTasks, `"preferred_node"`, 6, nil},
}

// holdsUpdate reports whether a service or task command carries a spec
// whose update policy has canaries or a traffic split, or (a task write)
// moves an update to the canary state: an older build would roll such an
// update straight through, or refuse the state.
func holdsUpdate(typ CommandType, payload []byte) bool {
	if typ == CmdWriteTasks {
		var p struct {
			Services []ServiceUpdate `json:"service_updates"`
		}
		if err := json.Unmarshal(payload, &p); err != nil {
			return true
		}
		for _, u := range p.Services {
			if u.State == UpdateCanary {
				return true
			}
		}
	}
	specs, err := payloadSpecs(typ, payload)
	if err != nil {
		return true
	}
	for _, s := range specs {
		if s.Update.Held() {
			return true
		}
	}
	return false
}

// setsRebalance reports whether a service or task command carries a spec
// with a rebalance mode (the key alone may be a label's).
func setsRebalance(typ CommandType, payload []byte) bool {
	specs, err := payloadSpecs(typ, payload)
	if err != nil {
		return true
	}
	for _, s := range specs {
		if s.Rebalance != "" {
			return true
		}
	}
	return false
}

// setsBy reports whether a service command names who made it (the key
// alone may be a label's).
func setsBy(typ CommandType, payload []byte) bool {
	var p struct {
		By string `json:"by"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return true
	}
	return p.By != ""
}

// setsUpdatePolicy reports whether a service or task command carries a
// spec with an update or rollback policy (the keys alone may be a
// label's).
func setsUpdatePolicy(typ CommandType, payload []byte) bool {
	specs, err := payloadSpecs(typ, payload)
	if err != nil {
		return true
	}
	for _, s := range specs {
		if s.Update != nil || s.Rollback != nil {
			return true
		}
	}
	return false
}

// setsPublishMode reports whether a service or task command carries a
// port with a publish mode or the PROXY protocol flag (the "mode" key
// alone is also the service's replicated/global mode).
func setsPublishMode(typ CommandType, payload []byte) bool {
	// Every spec has a "mode" (replicated or global); only one with ports
	// can have a publish mode, and most task writes have none: they are
	// not decoded.
	if !bytes.Contains(payload, []byte(`"ports"`)) {
		return false
	}
	specs, err := payloadSpecs(typ, payload)
	if err != nil {
		return true
	}
	for _, s := range specs {
		for _, p := range s.Ports {
			if p.Mode != "" || p.ProxyProtocol {
				return true
			}
		}
	}
	return false
}

// ProtocolOf is the protocol a node must speak to apply cmd.
func ProtocolOf(cmd Command) int {
	need := 1
	if v, ok := commandProtocol[cmd.Type]; ok {
		need = v
	}
	for _, f := range fieldProtocol {
		if f.typ == cmd.Type && f.version > need && bytes.Contains(cmd.Payload, []byte(f.key)) &&
			(f.when == nil || f.when(cmd.Type, cmd.Payload)) {
			need = f.version
		}
	}
	return need
}

// setsProcessUser reports whether a service or task command carries a
// spec of the process runtime with a user. Before protocol 5 user was a
// container setting: a container's user needs no newer node, a process's
// does. A payload that does not decode counts as one (refusing errs on the
// safe side; the FSM would refuse it anyway).
func setsProcessUser(typ CommandType, payload []byte) bool {
	specs, err := payloadSpecs(typ, payload)
	if err != nil {
		return true
	}
	for _, s := range specs {
		if s.User != "" && s.runtime() == RuntimeProcess {
			return true
		}
	}
	return false
}

// setsHealth reports whether a service or task command carries a spec
// with a health check (the key alone may be a label's).
func setsHealth(typ CommandType, payload []byte) bool {
	specs, err := payloadSpecs(typ, payload)
	if err != nil {
		return true
	}
	for _, s := range specs {
		if s.Health != nil {
			return true
		}
	}
	return false
}

// payloadSpecs decodes the service specs a service or task command
// carries.
func payloadSpecs(typ CommandType, payload []byte) ([]ServiceSpec, error) {
	var specs []ServiceSpec
	var err error
	switch typ {
	case CmdCreateService:
		var p CreateServicePayload
		err = json.Unmarshal(payload, &p)
		specs = append(specs, p.Spec)
	case CmdUpdateService:
		var p UpdateServicePayload
		err = json.Unmarshal(payload, &p)
		specs = append(specs, p.Spec)
	case CmdWriteTasks:
		var p WriteTasksPayload
		err = json.Unmarshal(payload, &p)
		for _, t := range p.Create {
			specs = append(specs, t.Spec)
		}
	}
	return specs, err
}

// CheckProtocol returns an error naming the first node (by name) that
// cannot apply cmd, or nil when every node can.
func CheckProtocol(cmd Command, nodes []*Node) *Error {
	need := ProtocolOf(cmd)
	if need <= 1 {
		return nil
	}
	for _, n := range nodes {
		if n.ProtocolOf() < need {
			return Errorf(CodeConflict, "%s needs every node at protocol %d; node %s speaks %d: upgrade it first", cmd.Type, need, n.Name, n.ProtocolOf())
		}
	}
	return nil
}

// ErrUnknownCommand describes a command this build cannot apply.
func ErrUnknownCommand(t CommandType, version int) error {
	return fmt.Errorf("command %q (encoding %d) is unknown to this build (protocol %d, encoding %d)", t, version, ProtocolVersion, CommandVersion)
}

// SpecProtocol is the protocol a node must speak to run a task of spec as
// written: a node of an older build would ignore a setting it does not
// know (run a process user's task as root, a container without its
// seccomp profile, a task without its secrets). The scheduler places
// tasks only on nodes that speak it, which matters for a node of an older
// build that joins after the service was created.
func SpecProtocol(spec *ServiceSpec) int {
	run := *spec
	run.Update, run.Rollback = nil, nil // how to roll: no node reads them
	run.Rebalance = ""                  // where over time: the leader's alone
	raw, err := json.Marshal(CreateServicePayload{Spec: run})
	if err != nil {
		return ProtocolVersion
	}
	return ProtocolOf(Command{Type: CmdCreateService, Payload: raw})
}

// namesPorts reports whether a service or task command carries a spec
// with a named port, or one that publishes nothing (port 0): both came
// with protocol 5, and an older build would treat them differently.
func namesPorts(typ CommandType, payload []byte) bool {
	specs, err := payloadSpecs(typ, payload)
	if err != nil {
		return true
	}
	for _, s := range specs {
		for _, p := range s.Ports {
			if p.Name != "" || p.Port == 0 {
				return true
			}
		}
	}
	return false
}
