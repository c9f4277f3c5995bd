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
	}
	return ""
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
}

// Active reports whether the update is still replacing tasks.
func (s *UpdateStatus) Active() bool {
	return s != nil && (s.State == UpdateUpdating || s.State == UpdateRollbackStarted)
}

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
