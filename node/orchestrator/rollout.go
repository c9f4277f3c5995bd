package orchestrator

import (
	"fmt"
	"time"

	"github.com/shoal-project/shoal/api"
)

// roll replaces the outdated tasks among live (slots in order) as the
// service's update policy says, its rollback policy during a rollback,
// and advances the service's UpdateStatus. Everything it decides follows
// from the view and now, so a new leader carries an update on:
//
//   - a slot is in flight while its task replaced an outdated one in this
//     update and is not ready yet: running, healthy if its spec has a
//     health check, for at least MinHealthy. At most Parallelism slots
//     are in flight; the next one starts Delay after the last replaced
//     task became ready;
//   - stop-first stops the old task and creates the new one in the same
//     payload; start-first creates the new one beside the old, which is
//     stopped once the new one is ready (a new one that fails is retried
//     as the restart policy says, the old one still running);
//   - a failure is a task of the current spec, created since the update
//     started, that ended failed or is unhealthy. Once failures exceed
//     MaxFailureRatio of those tasks, FailureAction applies: pause stops
//     replacing (the status says why), rollback has the FSM make the
//     update's FromVersion spec a new version (rolled with the rollback
//     policy), continue goes on;
//   - the update completes when no task is outdated or in flight, every
//     live task is ready and Monitor has passed since the last replaced
//     task became ready (failures until then count);
//   - an update whose policy holds (canaries, a traffic split) has a
//     canary phase first (see canary) until it is promoted.
//
// Without an UpdateStatus (a service updated before rolling updates had
// one) outdated tasks are still replaced by the policy, and no status is
// written. A paused update replaces nothing until a spec update resumes
// it or the service is rolled back (state.FSM).
func (o *svcRun) roll(live []*slot) {
	st := o.svc.UpdateStatus
	pol := o.svc.Spec.Update.Effective()
	if st.Rollback() {
		pol = o.svc.Spec.Rollback.Effective()
	}
	if want := o.svc.Spec.Update.Canaries(o.svc.Spec.Replicas); want > 0 && api.CanaryPhase(o.svc) {
		o.canary(live, pol, int(want))
		return
	}
	inflight := o.inflight
	var outdated []*slot
	var lastReady time.Time // when the last replaced task became ready
	allReady := true
	for _, s := range live {
		switch {
		case o.chk.outdated(s.live):
			outdated = append(outdated, s)
			allReady = false
		case o.replaced(s) && !o.ready(s.live, pol):
			inflight++
			allReady = false
		default:
			if s.old != nil {
				o.stop(s.old)
			}
			if !o.ready(s.live, pol) {
				allReady = false
			} else if at := s.live.UpdatedAt.Add(pol.MinHealthy.Std()); o.replaced(s) && at.After(lastReady) {
				lastReady = at
			}
		}
	}
	if st.Active() && o.failing(st, pol) {
		return
	}
	if st != nil && (st.State == api.UpdatePaused || st.State == api.UpdateRollbackPaused) {
		return
	}
	if len(outdated) > 0 {
		budget := int(min(pol.Parallelism, api.MaxReplicas)) - inflight
		if budget <= 0 || (!lastReady.IsZero() && o.now.Before(lastReady.Add(pol.Delay.Std()))) {
			return
		}
		for _, s := range outdated {
			if budget == 0 {
				break
			}
			// A start-first replacement that failed beside its old task is
			// retried as the restart policy says.
			var notBefore time.Time
			if last := s.last(); last != s.live && !o.chk.outdated(last) && endedOnItsOwn(last) {
				ok, nb, _ := Restart(o.chk.generation(s.hist), o.svc.Spec.Restart, o.now)
				if !ok {
					continue
				}
				notBefore = nb
			}
			if pol.Order != api.UpdateStartFirst {
				o.stop(s.live)
			}
			o.create(s, notBefore)
			budget--
		}
		return
	}
	if st.Active() && inflight == 0 && allReady && o.created == 0 && !o.now.Before(later(st.StartedAt, lastReady).Add(pol.Monitor.Std())) {
		state, msg := api.UpdateCompleted, "update completed"
		if st.Rollback() {
			// Keep why it rolled back: the CLI's last word on the update.
			state, msg = api.UpdateRollbackCompleted, "rollback completed: "+st.Message
		}
		o.decide(state, msg)
	}
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// replaced reports whether a slot's live task replaced an outdated one
// in the current update (or, without an update status, ever).
func (o *svcRun) replaced(s *slot) bool {
	if s.old != nil {
		return true
	}
	if len(o.chk.generation(s.hist)) == len(s.hist) {
		return false
	}
	st := o.svc.UpdateStatus
	return st == nil || !s.live.CreatedAt.Before(st.StartedAt)
}

// ready reports whether a task counts as updated: running, healthy if its
// spec has a health check, and so for at least the policy's MinHealthy
// (from its last change, stamped by the leader).
func (o *svcRun) ready(t *api.Task, pol api.UpdatePolicy) bool { return ready(t, pol, o.now) }

// ready reports whether t is running, healthy if its spec has a health
// check, and has been so for at least pol's MinHealthy at now (from its
// last change, stamped by the leader).
func ready(t *api.Task, pol api.UpdatePolicy, now time.Time) bool {
	if t.Status.State != api.TaskRunning || (t.Spec.Health != nil && t.Status.Health != api.HealthHealthy) {
		return false
	}
	return !now.Before(t.UpdatedAt.Add(pol.MinHealthy.Std()))
}

// failing counts the update's failures and, when they exceed the policy's
// ratio, applies its failure action. It reports whether replacing stops.
func (o *svcRun) failing(st *api.UpdateStatus, pol api.UpdatePolicy) bool {
	started, failures := 0, 0
	var worst *api.Task
	for _, t := range o.tasks {
		if o.chk.outdated(t) || t.CreatedAt.Before(st.StartedAt) {
			continue
		}
		started++
		unhealthy := t.Active() && t.Status.Health == api.HealthUnhealthy
		if !unhealthy && !(finished(t) && endedOnItsOwn(t) && failed(t)) {
			continue
		}
		failures++
		if worst == nil || endTime(t, o.now).After(endTime(worst, o.now)) {
			worst = t
		}
	}
	if failures == 0 || float64(failures)/float64(started) <= pol.MaxFailureRatio || pol.FailureAction == api.FailureContinue {
		return false
	}
	why := worst.Status.Err
	if why == "" {
		why = worst.Status.State.String()
		if worst.Status.ExitCode != nil {
			why = fmt.Sprintf("exit code %d", *worst.Status.ExitCode)
		} else if worst.Status.Health == api.HealthUnhealthy {
			why = "unhealthy"
		}
	}
	reason := fmt.Sprintf("task %s failed: %s (%d of %d new tasks failed, max failure ratio %g)",
		api.ShortID(worst.ID), why, failures, started, pol.MaxFailureRatio)
	switch {
	case st.Rollback():
		o.decide(api.UpdateRollbackPaused, "rollback paused: "+reason)
	case pol.FailureAction == api.FailureRollback:
		o.decide(api.UpdateRollbackStarted, reason)
	default:
		o.decide(api.UpdatePaused, "update paused: "+reason)
	}
	return true
}

// decide advances the service's update status.
func (o *svcRun) decide(state, msg string) {
	o.out.Services = append(o.out.Services, api.ServiceUpdate{ServiceID: o.svc.ID, Version: o.svc.Version, State: state, Message: msg})
}
