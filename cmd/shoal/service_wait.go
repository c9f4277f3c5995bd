package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/api"
)

// progress is a snapshot of a service's rollout.
type progress struct {
	desired, running int
	// lines are "1/3" or a node name, mapped to a status like "running".
	keys   []string
	status map[string]string
	// pending are the reasons tasks are not placed.
	pending   []string
	converged bool
}

// waitConverged polls a service until every desired task runs its current
// spec, printing progress lines as they change, and, for version (the
// version the caller's write made; 0 for none), until its rolling update
// or rollback ends (see updateVerdict). A timeout with tasks that cannot
// be placed exits 2; any other timeout exits 1.
func (e *cliEnv) waitConverged(cmd *cobra.Command, c *api.Client, name string, version uint64, timeout time.Duration) error {
	w := cmd.OutOrStdout()
	ctx := cmd.Context()
	deadline := time.Now().Add(timeout)
	shown := map[string]string{}
	lastRunning := -1
	lastStatus := ""
	var last progress
	tick := time.NewTicker(e.poll)
	defer tick.Stop()
	for {
		// Every poll runs to completion, so even a short timeout sees the
		// service at least once.
		info, err := c.Service(ctx, name)
		var tasks []api.TaskInfo
		if err == nil {
			tasks, err = c.ServiceTasks(ctx, name)
		}
		switch {
		case err == nil:
			last = measure(info, tasks)
			if last.running != lastRunning {
				// A start-first replacement runs beside the task it
				// replaces: never more than the replicas are shown.
				fmt.Fprintf(w, "overall progress: %d out of %d tasks\n", min(last.running, last.desired), last.desired)
				lastRunning = last.running
			}
			for _, k := range last.keys {
				if s := last.status[k]; shown[k] != s {
					fmt.Fprintf(w, "%s: %s\n", k, s)
					shown[k] = s
				}
			}
			if st := info.UpdateStatus; st != nil && version != 0 {
				if line := st.State + ": " + st.Message; line != lastStatus {
					fmt.Fprintf(w, "update status: %s\n", line)
					lastStatus = line
				}
			}
			ended, failure := updateVerdict(info, version)
			if failure != nil {
				return failure
			}
			if st := info.UpdateStatus; version != 0 && st.Held() && st.ToVersion <= version {
				// Held by the caller's write, or by an earlier one that a
				// weight-only write left held: nothing more happens
				// until a promote or a rollback.
				fmt.Fprintf(w, "verify: update held (%s); 'shoal service promote %s' continues it, 'shoal service rollback %s' ends it\n", updateColumn(info.Service), name, name)
				return nil
			}
			if ended && last.converged {
				fmt.Fprintln(w, "verify: Service converged")
				return nil
			}
		case ctx.Err() != nil:
			return err
		case api.CodeOf(err) != api.CodeUnavailable && api.CodeOf(err) != api.CodeNoLeader:
			return err // an outage (leader election) is waited out below
		}
		if !time.Now().Before(deadline) {
			return timeoutError(w, name, timeout, last, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// updateVerdict says whether the update (or rollback) that made version
// has ended well, or why it failed: it paused, or it was rolled back (once
// the rollback ended, so that the old spec runs again). A status of an
// older version (the write replaced no task), of a newer one someone else
// made, or none at all leaves the verdict to the tasks.
func updateVerdict(info api.ServiceInfo, version uint64) (ended bool, failure error) {
	st := info.UpdateStatus
	if version == 0 || st == nil {
		return true, nil
	}
	name := info.Spec.Name
	switch {
	case st.ToVersion == version:
		switch st.State {
		case api.UpdatePaused, api.UpdateRollbackPaused:
			return false, fmt.Errorf("service %s: %s", name, st.Message)
		case api.UpdateCompleted, api.UpdateRollbackCompleted:
			return true, nil
		}
		return false, nil
	case st.FromVersion == version && st.Rollback():
		if st.State == api.UpdateRollbackStarted {
			return false, nil
		}
		return false, fmt.Errorf("service %s: the update to version %d was rolled back (now version %d, %s): %s",
			name, version, st.ToVersion, strings.ReplaceAll(st.State, "_", " "), strings.TrimPrefix(st.Message, "rollback completed: "))
	}
	return true, nil
}

// timeoutError explains why a wait ended: unplaceable tasks exit 2.
func timeoutError(w io.Writer, name string, timeout time.Duration, last progress, pollErr error) error {
	if len(last.pending) > 0 {
		for _, p := range last.pending {
			fmt.Fprintf(w, "verify: %s\n", p)
		}
		return &exitError{code: 2, err: fmt.Errorf("service %s: %d of %d tasks could not be placed within %s: %s",
			name, last.desired-last.running, last.desired, timeout, strings.Join(last.pending, "; "))}
	}
	if pollErr != nil {
		return fmt.Errorf("service %s: gave up waiting after %s: %v", name, timeout, pollErr)
	}
	return fmt.Errorf("service %s did not converge within %s (%d of %d tasks running); see 'shoal service ps %s'",
		name, timeout, last.running, last.desired, name)
}

// measure works out a service's rollout progress from its tasks. A task is
// current if it was made for the service's version, or for a spec that
// differs only in Replicas and the update and rollback policies (a scale
// or a policy change does not replace tasks).
func measure(info api.ServiceInfo, tasks []api.TaskInfo) progress {
	p := progress{desired: int(info.Desired), status: map[string]string{}}
	global := info.Spec.Mode == api.ModeGlobal
	if !global {
		p.desired = int(info.Spec.Replicas) // authoritative, even before the leader reacts
	}
	current := func(t api.TaskInfo) bool {
		if t.SpecVersion == info.Version {
			return true
		}
		a, b := t.Spec, info.Spec
		a.Replicas, b.Replicas = 0, 0
		// A policy alone (a traffic split's weight) replaces no task.
		a.Update, a.Rollback, b.Update, b.Rollback = nil, nil, nil, nil
		return sameSpec(a, b)
	}
	latest := map[string]api.TaskInfo{}
	active, ready := 0, true
	seenPending := map[string]bool{}
	addPending := func(s string) {
		if s != "" && !seenPending[s] {
			seenPending[s] = true
			p.pending = append(p.pending, s)
		}
	}
	for _, r := range info.Pending {
		addPending(r)
	}
	for _, t := range tasks {
		if t.DesiredState <= api.TaskRunning && !t.State.Terminal() {
			active++
			if !current(t) || t.State != api.TaskRunning {
				ready = false
			} else {
				p.running++
			}
			if t.State == api.TaskPending && t.Error != "" && current(t) {
				addPending(t.Error)
			}
		}
		if !current(t) || t.DesiredState > api.TaskRunning {
			continue
		}
		key := fmt.Sprintf("%d/%d", t.Slot, p.desired)
		if global {
			key = t.NodeName
			if key == "" {
				key = api.ShortID(t.NodeID)
			}
		} else if int(t.Slot) > p.desired {
			continue
		}
		if old, ok := latest[key]; !ok || t.CreatedAt.After(old.CreatedAt) {
			latest[key] = t
		}
	}
	for k, t := range latest {
		s := t.State.String()
		if t.Error != "" {
			s += ": " + t.Error
		}
		p.status[k] = s
		p.keys = append(p.keys, k)
	}
	sort.Slice(p.keys, func(i, j int) bool {
		a, b := p.keys[i], p.keys[j]
		if len(a) != len(b) && !global {
			return len(a) < len(b)
		}
		return a < b
	})
	p.converged = ready && active == p.desired
	return p
}
