package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// UpdatePolicy says how a service's tasks are replaced when its spec
// changes (ServiceSpec.Update) or is rolled back (ServiceSpec.Rollback),
// as `docker service update --update-*` and `--rollback-*`. Zero fields
// take Swarm's defaults (see Effective).
type UpdatePolicy struct {
	// Parallelism is how many slots are replaced at once; 0 is 1. (Swarm's
	// 0, all at once, is any value of at least the replica count.)
	Parallelism uint64 `json:"parallelism,omitempty"`
	// Delay is the wait after a replaced task became ready before the next
	// slot is replaced.
	Delay Duration `json:"delay,omitempty"`
	// Order is UpdateStopFirst (the default: the old task stops, then the
	// new one starts) or UpdateStartFirst (the new task starts beside the
	// old one, which stops once the new one is ready).
	Order string `json:"order,omitempty"`
	// Monitor is how long after the last slot was replaced a new task's
	// failure still counts against the update; 0 is 5s.
	Monitor Duration `json:"monitor,omitempty"`
	// MaxFailureRatio is the fraction of new tasks that may fail before
	// FailureAction applies (0: the first failure does).
	MaxFailureRatio float64 `json:"max_failure_ratio,omitempty"`
	// FailureAction is FailurePause (the default), FailureContinue or,
	// for an update, FailureRollback.
	FailureAction string `json:"failure_action,omitempty"`
	// MinHealthy is how long a new task must have been running (and
	// healthy, when the spec has a health check) to count as updated.
	MinHealthy Duration `json:"min_healthy,omitempty"`
	// Canary is how many tasks of a new spec an update starts beside the
	// old ones (start-first, health-gated, replicas+Canary tasks run
	// meanwhile) before it holds in UpdateCanary until the service is
	// promoted (protocol 6). 0: no canary. Update policy only.
	Canary uint64 `json:"canary,omitempty"`
	// TrafficNew, when set, makes an update a blue-green deployment: all
	// replicas of the new spec start beside the old ones, then the update
	// holds in UpdateCanary with this percentage (0-100) of new
	// connections going to the new tasks and the rest to the old ones,
	// until the service is promoted (protocol 6). A write that changes
	// only this weight replaces no task. Update policy only.
	TrafficNew *uint64 `json:"traffic_new,omitempty"`
}

// Update orders and failure actions.
const (
	UpdateStopFirst  = "stop-first"
	UpdateStartFirst = "start-first"

	FailurePause    = "pause"
	FailureContinue = "continue"
	FailureRollback = "rollback"
)

// DefaultUpdateMonitor is the Monitor of a policy that sets none.
const DefaultUpdateMonitor = Duration(5 * time.Second)

// Effective returns the policy with its defaults filled in; p may be nil.
func (p *UpdatePolicy) Effective() UpdatePolicy {
	var e UpdatePolicy
	if p != nil {
		e = *p
	}
	if e.Parallelism == 0 {
		e.Parallelism = 1
	}
	if e.Order == "" {
		e.Order = UpdateStopFirst
	}
	if e.Monitor == 0 {
		e.Monitor = DefaultUpdateMonitor
	}
	if e.FailureAction == "" {
		e.FailureAction = FailurePause
	}
	return e
}

// validate returns a one-line error naming the field (field is
// "spec.update" or "spec.rollback"), or "".
func (p *UpdatePolicy) validate(field string) string {
	if p == nil {
		return ""
	}
	switch p.Order {
	case "", UpdateStopFirst, UpdateStartFirst:
	default:
		return fmt.Sprintf("%s.order: %q is not stop-first or start-first", field, p.Order)
	}
	switch p.FailureAction {
	case "", FailurePause, FailureContinue:
	case FailureRollback:
		if field == "spec.rollback" {
			return fmt.Sprintf("%s.failure_action: a rollback cannot roll back; want pause or continue", field)
		}
	default:
		return fmt.Sprintf("%s.failure_action: %q is not pause, continue or rollback", field, p.FailureAction)
	}
	switch {
	case p.Delay < 0:
		return fmt.Sprintf("%s.delay: %s is negative", field, p.Delay.Std())
	case p.Monitor < 0:
		return fmt.Sprintf("%s.monitor: %s is negative", field, p.Monitor.Std())
	case p.MinHealthy < 0:
		return fmt.Sprintf("%s.min_healthy: %s is negative", field, p.MinHealthy.Std())
	case p.MaxFailureRatio < 0 || p.MaxFailureRatio > 1 || p.MaxFailureRatio != p.MaxFailureRatio:
		return fmt.Sprintf("%s.max_failure_ratio: %v is not between 0 and 1", field, p.MaxFailureRatio)
	case p.TrafficNew != nil && *p.TrafficNew > 100:
		return fmt.Sprintf("%s.traffic_new: %d is not a percentage (0-100)", field, *p.TrafficNew)
	case field == "spec.rollback" && p.Canary != 0:
		return fmt.Sprintf("%s.canary: a rollback has no canary; set it on spec.update", field)
	case field == "spec.rollback" && p.TrafficNew != nil:
		return fmt.Sprintf("%s.traffic_new: a rollback has no traffic split; set it on spec.update", field)
	case p.Canary > MaxReplicas:
		return fmt.Sprintf("%s.canary: %d is more than %d", field, p.Canary, MaxReplicas)
	}
	return ""
}

// Held reports whether the policy makes an update hold before it
// replaces the old tasks: with canaries, or a traffic split.
func (p *UpdatePolicy) Held() bool {
	return p != nil && (p.Canary > 0 || p.TrafficNew != nil)
}

// Canaries is how many tasks of the new spec an update under the policy
// starts beside the old ones before it holds, for a service of replicas:
// all of them for a traffic split (blue-green), else Canary, at most
// replicas.
func (p *UpdatePolicy) Canaries(replicas uint64) uint64 {
	switch {
	case p == nil:
		return 0
	case p.TrafficNew != nil:
		return replicas
	}
	return min(p.Canary, replicas)
}

// validateOrder refuses start-first for a global service that publishes
// a host port: its new task would have to run beside the old one on the
// same node, on the same port.
func (s *ServiceSpec) validateOrder() string {
	if s.Mode != ModeGlobal {
		return ""
	}
	for _, f := range []struct {
		name string
		p    *UpdatePolicy
	}{{"spec.update", s.Update}, {"spec.rollback", s.Rollback}} {
		if f.p == nil || f.p.Order != UpdateStartFirst {
			continue
		}
		for _, port := range s.Ports {
			if port.Mode == PublishHost && port.Port != 0 {
				return fmt.Sprintf("%s.order: start-first would run two tasks of a global service on one node, and both publish host port %d; use stop-first", f.name, port.Port)
			}
		}
	}
	return ""
}

// Update states (UpdateStatus.State), as Swarm's.
const (
	UpdateUpdating          = "updating"
	UpdatePaused            = "paused"
	UpdateCompleted         = "completed"
	UpdateRollbackStarted   = "rollback_started"
	UpdateRollbackPaused    = "rollback_paused"
	UpdateRollbackCompleted = "rollback_completed"
	// UpdateCanary holds an update whose canaries (or, for a traffic
	// split, all new replicas) are ready beside the old tasks, until the
	// service is promoted or rolled back (protocol 6).
	UpdateCanary = "canary"
)

// UpdateStatus is the progress of a service's latest rolling update or
// rollback, kept in the replicated state: a spec change (or a rollback)
// starts it, and the leader's orchestrator advances it with the
// ServiceUpdate entries of its task writes. All times are command times.
type UpdateStatus struct {
	State       string    `json:"state"`
	StartedAt   time.Time `json:"started_at"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
	Message     string    `json:"message,omitempty"`
	// FromVersion is the version the update started from; ToVersion the
	// version it rolls out.
	FromVersion uint64 `json:"from_version"`
	ToVersion   uint64 `json:"to_version"`
	// Promoted says the update was promoted out of UpdateCanary: it
	// replaces the rest of the old tasks by its policy, with no canary
	// phase (protocol 6).
	Promoted bool `json:"promoted,omitempty"`
}

// Active reports whether the update is still in progress: replacing
// tasks, or held in UpdateCanary with old and new tasks side by side
// (its canaries' failures still count, the leader still watches it).
func (s *UpdateStatus) Active() bool {
	return s != nil && (s.State == UpdateUpdating || s.State == UpdateRollbackStarted || s.State == UpdateCanary)
}

// Held reports whether the update holds in UpdateCanary.
func (s *UpdateStatus) Held() bool { return s != nil && s.State == UpdateCanary }

// Rollback reports whether the status is that of a rollback.
func (s *UpdateStatus) Rollback() bool {
	return s != nil && (s.State == UpdateRollbackStarted || s.State == UpdateRollbackPaused || s.State == UpdateRollbackCompleted)
}

// ServiceUpdate is the leader's decision about a service's update, carried
// by a task write (protocol 5). It applies only while the service is at
// Version (a decision about an older version is stale).
type ServiceUpdate struct {
	ServiceID string `json:"service_id"`
	Version   uint64 `json:"version"`
	// State is the new UpdateStatus state: paused, completed,
	// rollback_paused or rollback_completed; or rollback_started, which
	// also rolls the spec back to the update's FromVersion as a new
	// version.
	State string `json:"state"`
	// Message is the status's message; for rollback_started, why (the
	// FSM says to which version it rolled back).
	Message string `json:"message,omitempty"`
}

// RollbackServicePayload rolls a service back (protocol 5): the spec of
// ToVersion (0: the version before the current one) becomes a new version.
type RollbackServicePayload struct {
	Name      string `json:"name"`
	ToVersion uint64 `json:"to_version,omitempty"`
	// By names who asked (the API caller), for the history.
	By string `json:"by,omitempty"`
}

// PromoteServicePayload continues a service's update held in
// UpdateCanary (protocol 6): the update goes on by its policy, the
// canaries counting as updated slots, and a traffic split sends every new
// connection to the new tasks.
type PromoteServicePayload struct {
	Name string `json:"name"`
}

// CanaryPhase reports whether svc's update is in its canary phase: its
// update policy holds (canaries or a traffic split), and the update is
// under way, held or paused, neither promoted nor a rollback.
func CanaryPhase(svc *Service) bool {
	st := svc.UpdateStatus
	if st == nil || st.Promoted || !svc.Spec.Update.Held() {
		return false
	}
	return st.State == UpdateUpdating || st.State == UpdateCanary || st.State == UpdatePaused
}

// RollbackDefault is the version a rollback without a version goes back
// to: during a canary phase the version the update started from (a
// weight-only write in between made versions that run the same tasks),
// else the version before the current one; 0 when there is none.
func RollbackDefault(svc *Service) uint64 {
	if CanaryPhase(svc) {
		return svc.UpdateStatus.FromVersion
	}
	if len(svc.Previous) == 0 {
		return 0
	}
	return svc.Previous[0].Version
}

// validateHeld refuses canaries and traffic splits for a global service:
// they are counted in replica slots.
func (s *ServiceSpec) validateHeld() string {
	if s.Mode == ModeGlobal && s.Update.Held() {
		return "spec.update: canary and traffic_new need a replicated service; a global one runs one task per node"
	}
	return ""
}

// RunsSame reports whether two specs run the same tasks: they differ at
// most in Replicas, the update and rollback policies and the rebalance
// mode, so a change from one to the other replaces no task.
func RunsSame(a, b ServiceSpec) bool {
	a.Replicas, b.Replicas = 0, 0
	a.Update, a.Rollback, b.Update, b.Rollback = nil, nil, nil, nil
	a.Rebalance, b.Rebalance = "", ""
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
