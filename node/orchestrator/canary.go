package orchestrator

import (
	"fmt"
	"time"

	"github.com/shoal-project/shoal/api"
)

// canary is roll during an update's canary phase (api.CanaryPhase): the
// update starts want tasks of the new spec beside the old ones, then
// holds until the service is promoted or rolled back. As everything the
// orchestrator decides, it follows from the view and now alone:
//
//   - a canary slot is one whose history has tasks of the current spec
//     (its canary, running, starting or failed); the first outdated
//     slots without one get a start-first replacement, all at once (not
//     Parallelism at a time), until want slots are canaries. Old tasks
//     are never stopped in this phase, so replicas+want tasks run;
//   - a canary that failed beside its old task is retried as the
//     restart policy says (one lost with its node at once); failures
//     count as in any update (failing), and the failure action applies,
//     held or not. An old task that ends is replaced as any task is,
//     by the current spec: its slot then counts as a canary;
//   - once every canary slot runs its canary ready (running, healthy
//     when checked, MinHealthy) and nothing is in flight, the update
//     moves to api.UpdateCanary and waits. Promote (state.FSM) marks
//     the status Promoted: roll then stops the old tasks beside ready
//     canaries — the canaries count as updated slots — and replaces the
//     rest by the policy.
func (o *svcRun) canary(live []*slot, pol api.UpdatePolicy, want int) {
	st := o.svc.UpdateStatus
	canaries, ready, inflight := 0, 0, o.inflight
	var outdated []*slot
	for _, s := range live {
		isCanary := len(o.chk.generation(s.hist)) > 0
		if isCanary {
			canaries++
		}
		switch {
		case o.chk.outdated(s.live):
			outdated = append(outdated, s)
		case !o.ready(s.live, pol):
			inflight++
		case isCanary:
			ready++
		}
	}
	if st.State == api.UpdatePaused || o.failing(st, pol) {
		return
	}
	budget := want - canaries
	for _, s := range outdated {
		var notBefore time.Time
		if len(o.chk.generation(s.hist)) > 0 {
			// Its canary ended beside the old task: on its own, the
			// restart policy says whether and when it is retried; lost
			// with its node, it is replaced at once (as roll does).
			if endedOnItsOwn(s.last()) {
				ok, nb, _ := Restart(o.chk.generation(s.hist), o.svc.Spec.Restart, o.now)
				if !ok {
					continue
				}
				notBefore = nb
			}
		} else {
			if budget <= 0 {
				continue
			}
			budget--
		}
		o.create(s, notBefore)
		inflight++
	}
	if st.State != api.UpdateUpdating || inflight > 0 || o.created > 0 || ready < canaries || canaries < min(want, len(live)) {
		return
	}
	msg := fmt.Sprintf("%d of %d replicas run version %d beside the old tasks; promote or roll back", canaries, o.svc.Spec.Replicas, st.ToVersion)
	if o.svc.Spec.Update.TrafficNew != nil {
		// The split itself is the policy's, which a write may change.
		msg = fmt.Sprintf("%d new replicas of version %d ready beside the old, new connections split by traffic_new; promote or roll back", canaries, st.ToVersion)
	}
	o.decide(api.UpdateCanary, msg)
}
