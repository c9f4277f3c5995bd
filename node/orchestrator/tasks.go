package orchestrator

import (
	"bytes"
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shoal-project/shoal/api"
)

// sortHistory orders a slot's tasks oldest first: by attempt, then
// creation time, then ID.
func sortHistory(ts []*api.Task) {
	slices.SortFunc(ts, func(a, b *api.Task) int {
		if c := cmp.Compare(a.Attempt, b.Attempt); c != 0 {
			return c
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// endedOnItsOwn reports whether t stopped while it was still desired
// running, and not because its node was lost: an exit, a crash or a
// rejection, which the restart policy governs.
func endedOnItsOwn(t *api.Task) bool {
	return t.Status.State.Terminal() && t.Status.State != api.TaskOrphaned && t.DesiredState <= api.TaskRunning
}

// failed reports whether t ended in failure: state failed or rejected, or
// a non-zero exit code.
func failed(t *api.Task) bool {
	s := t.Status.State
	return s == api.TaskFailed || s == api.TaskRejected || (t.Status.ExitCode != nil && *t.Status.ExitCode != 0)
}

// finished reports whether t will never change again: its observed state
// is terminal, or it was stopped before it ever reached a node.
func finished(t *api.Task) bool {
	return t.Status.State.Terminal() || (t.Status.State <= api.TaskPending && t.DesiredState > api.TaskRunning)
}

// endTime is when t ended: the time of its terminal status, else its last
// update, else fallback.
func endTime(t *api.Task, fallback time.Time) time.Time {
	switch {
	case t.Status.State.Terminal() && !t.Status.Timestamp.IsZero():
		return t.Status.Timestamp
	case !t.UpdatedAt.IsZero():
		return t.UpdatedAt
	}
	return fallback
}

// specCheck tells outdated tasks of one service apart: a task is outdated
// when its spec version is older than the service's and its spec differs
// in anything but Replicas (a scale alone never replaces tasks).
type specCheck struct {
	svc       *api.Service
	key       []byte
	byVersion map[uint64]bool
}

func newSpecCheck(svc *api.Service) *specCheck {
	return &specCheck{svc: svc, key: specKey(svc.Spec), byVersion: map[uint64]bool{}}
}

// specKey is what a task of spec s runs (api.WorkloadKey).
func specKey(s api.ServiceSpec) []byte { return api.WorkloadKey(s) }

// outdated reports whether t runs an older spec than the service's. Tasks
// of one spec version share one spec, so the answer is cached per version.
func (c *specCheck) outdated(t *api.Task) bool {
	if t.SpecVersion >= c.svc.Version {
		return false
	}
	v, ok := c.byVersion[t.SpecVersion]
	if !ok {
		v = !bytes.Equal(specKey(t.Spec), c.key)
		c.byVersion[t.SpecVersion] = v
	}
	return v
}

// generation returns the trailing run of hist that is not outdated: the
// tasks of the current spec, whose restarts the policy counts. A new spec
// starts a new generation, which resets the attempts.
func (c *specCheck) generation(hist []*api.Task) []*api.Task {
	i := len(hist)
	for i > 0 && !c.outdated(hist[i-1]) {
		i--
	}
	return hist[i:]
}

// cloneSpec deep-copies a spec, so a payload shares nothing with the view.
func cloneSpec(s api.ServiceSpec) api.ServiceSpec {
	s.Command = slices.Clone(s.Command)
	s.Args = slices.Clone(s.Args)
	s.Env = slices.Clone(s.Env)
	s.Constraints = slices.Clone(s.Constraints)
	s.Preferences = slices.Clone(s.Preferences)
	s.Ports = slices.Clone(s.Ports)
	s.Labels = maps.Clone(s.Labels)
	return s
}
