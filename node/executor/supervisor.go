package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/runtime"
)

// retryDelay is how long a supervisor waits before retrying a Stop or
// Remove that failed.
const retryDelay = time.Second

// supervisor drives one task. It runs while there is something to do for
// the task and is the only goroutine that calls the runtime for it.
type supervisor struct {
	e  *Executor
	id string
	en *entry

	rt runtime.Runtime // where the workload lives, once known
	// exited delivers the workload's end; non-nil while a workload runs.
	exited     chan waitResult
	cancelWait context.CancelFunc
	// stopRequested: the executor asked the runtime to stop the workload,
	// so its end is reported as shutdown. stopped: Stop returned.
	stopRequested, stopped bool
	// stopOrderedAt is when this supervisor first saw its task told to
	// stop: its stop delay runs from there.
	stopOrderedAt time.Time
	// unhealthy is the last check's output of a workload stopped because
	// its health checks failed: its end is reported as a failure.
	unhealthy string
}

type waitResult struct {
	st  runtime.Status
	err error
}

// view is a supervisor's snapshot of its task.
type view struct {
	task      api.Task
	assigned  bool
	unhealthy string        // the health monitor's verdict, if unhealthy
	known     api.TaskState // the furthest of the leader's and the observed state
}

// shouldStop reports whether a running workload of the task must stop:
// it is no longer wanted, or the leader already considers it ended (for
// example orphaned while this node was unreachable), so its slot may run
// another task.
func (v view) shouldStop() bool {
	return !v.assigned || v.task.DesiredState > api.TaskRunning || v.task.Status.State.Terminal()
}

func (s *supervisor) run(ctx context.Context) {
	defer s.e.wg.Done()
	defer func() {
		if s.cancelWait != nil {
			s.cancelWait()
		}
	}()
	s.adopt(ctx)
	for {
		v := s.view()
		if ctx.Err() != nil {
			s.release(true)
			return
		}
		var done bool
		switch {
		case !v.assigned:
			done = s.teardown(ctx, v)
		case s.exited != nil:
			s.supervise(ctx, v)
		default:
			done = s.idle(ctx, v)
		}
		if done {
			return
		}
	}
}

// view takes the task's current state and clears pending kicks.
func (s *supervisor) view() view {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	select {
	case <-s.en.kick:
	default:
	}
	return view{task: s.en.task, assigned: s.en.assigned, unhealthy: s.en.unhealthy, known: s.e.knownStateLocked(s.id, s.en)}
}

// release ends supervision unless (when !force) the task changed since
// the last view. It reports whether it did.
func (s *supervisor) release(force bool) bool {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	if !force && len(s.en.kick) > 0 {
		return false
	}
	s.en.supervised = false
	return true
}

// pause waits for d, a change of the task, or the end of ctx.
func (s *supervisor) pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.en.kick:
	case <-ctx.Done():
	}
}

// adopt takes over the task's workload if a runtime already has it: one
// that Run listed, or (the first time the task is supervised) one found
// by asking the task's runtime. A task this node had started but whose
// workload is gone is reported failed.
func (s *supervisor) adopt(ctx context.Context) {
	s.e.mu.Lock()
	a, checked := s.en.attached, s.en.checked
	s.en.attached, s.en.checked = nil, true
	task, known := s.en.task, s.e.knownStateLocked(s.id, s.en)
	s.e.mu.Unlock()
	if a == nil {
		if checked || ctx.Err() != nil {
			return
		}
		rt, err := s.e.runtimeFor(task.Spec)
		if err != nil {
			return // the start path rejects it
		}
		st, err := rt.Status(ctx, s.id)
		switch {
		case errors.Is(err, runtime.ErrNotFound):
			if known >= api.TaskStarting && !known.Terminal() {
				s.e.setStatus(s.id, api.TaskStatus{State: api.TaskFailed,
					Err: fmt.Sprintf("the task's workload is gone: runtime %s no longer has it", rt.Name())})
			}
			return
		case err != nil:
			if ctx.Err() == nil {
				s.e.taskLog(task).Warn("executor: task status unknown", "err", err)
			}
			return
		}
		a = &attachment{rt: rt, st: st}
	}
	s.rt = a.rt
	switch a.st.State {
	case runtime.StateCreated:
		return // prepared but never started: the start path takes it
	case runtime.StateRunning:
		s.e.setStatus(s.id, api.TaskStatus{State: api.TaskRunning, PID: a.st.PID, IP: a.st.IP, Message: "re-attached"})
	}
	s.startWaiter(ctx)
}

// idle handles a task with no running workload. It reports whether
// supervision ended.
func (s *supervisor) idle(ctx context.Context, v view) bool {
	switch {
	case v.known.Terminal() || v.task.DesiredState < api.TaskRunning:
		return s.release(false)
	case v.task.DesiredState > api.TaskRunning:
		if !s.e.setStatus(s.id, api.TaskStatus{State: api.TaskShutdown, Message: "shut down before it started"}) {
			return s.release(false)
		}
		return false
	}
	if d := time.Until(v.task.NotBefore); d > 0 {
		s.pause(ctx, d)
		return false
	}
	s.start(ctx, v.task)
	return false
}

// start prepares and starts the task's workload, reporting each step;
// the secrets its spec names are fetched just before it is prepared.
func (s *supervisor) start(ctx context.Context, t api.Task) {
	rt, err := s.e.runtimeFor(t.Spec)
	if err != nil {
		s.e.setStatus(s.id, api.TaskStatus{State: api.TaskRejected, Err: err.Error()})
		return
	}
	s.rt = rt
	s.e.setStatus(s.id, api.TaskStatus{State: api.TaskPreparing, Message: "preparing"})
	spec := runtime.TaskSpec{TaskID: t.ID, ServiceName: t.ServiceName, NodeName: s.e.cfg.NodeName, Slot: t.Slot, Spec: t.Spec}
	if spec.ServiceName == "" {
		spec.ServiceName = t.Spec.Name
	}
	if !s.addSecrets(ctx, t, &spec) {
		return
	}
	defer wipeSecrets(spec.Secrets)
	if err := rt.Prepare(ctx, spec); err != nil {
		if ctx.Err() == nil {
			s.e.setStatus(s.id, api.TaskStatus{State: api.TaskRejected, Err: "prepare: " + err.Error()})
		}
		return
	}
	if v := s.view(); v.shouldStop() {
		return // the loop shuts it down or removes it
	}
	s.e.setStatus(s.id, api.TaskStatus{State: api.TaskStarting, Message: "starting"})
	if err := rt.Start(ctx, s.id); err != nil {
		if ctx.Err() != nil {
			return
		}
		st := api.TaskStatus{State: api.TaskFailed, Err: "start: " + err.Error()}
		if rst, serr := rt.Status(ctx, s.id); serr == nil && rst.State == runtime.StateExited {
			code := rst.ExitCode
			st.ExitCode = &code
		}
		s.e.setStatus(s.id, st)
		return
	}
	rst, err := rt.Status(ctx, s.id)
	if err != nil && ctx.Err() == nil {
		s.e.taskLog(t).Warn("executor: task started but its status is unknown", "err", err)
	}
	s.e.setStatus(s.id, api.TaskStatus{State: api.TaskRunning, PID: rst.PID, IP: rst.IP, Message: "started"})
	if f := s.e.cfg.Started; f != nil {
		f(t.Attempt, time.Since(s.en.since))
	}
	s.startWaiter(ctx)
}

// startWaiter waits for the workload's end in the background.
func (s *supervisor) startWaiter(ctx context.Context) {
	wctx, cancel := context.WithCancel(ctx)
	ch := make(chan waitResult, 1)
	s.exited, s.cancelWait = ch, cancel
	rt, id := s.rt, s.id
	s.e.wg.Add(1)
	go func() {
		defer s.e.wg.Done()
		st, err := rt.Wait(wctx, id)
		ch <- waitResult{st, err}
	}()
	s.unhealthy = ""
	s.startHealth(wctx)
}

// supervise handles a task whose workload runs: it stops it when it must
// stop and reports its end.
func (s *supervisor) supervise(ctx context.Context, v view) {
	var retry <-chan time.Time
	if v.unhealthy != "" && s.unhealthy == "" {
		s.unhealthy = v.unhealthy
		s.e.taskLog(v.task).Info("task unhealthy; stopping it", "check", v.unhealthy, "grace", grace(v.task))
	}
	stop := v.shouldStop()
	if stop && s.unhealthy == "" && !s.stopped {
		// Out of its service's endpoints already (they list only tasks
		// meant to run): keep serving what the other nodes' datapaths
		// still send it until they have dropped it.
		if wait := s.stopDelayLeft(v); wait > 0 {
			select {
			case r := <-s.exited:
				s.finish(ctx, r)
			case <-s.en.kick:
			case <-time.After(wait):
			case <-ctx.Done():
			}
			return
		}
	}
	if (stop || s.unhealthy != "") && !s.stopped {
		if stop && !s.stopRequested {
			s.e.taskLog(v.task).Info("task stopping", "grace", grace(v.task))
		}
		s.stopRequested = s.stopRequested || stop
		if err := s.rt.Stop(ctx, s.id, grace(v.task)); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.e.taskLog(v.task).Warn("executor: stop task failed; retrying", "err", err)
			retry = time.After(retryDelay)
		} else {
			s.stopped = true
		}
	}
	select {
	case r := <-s.exited:
		s.finish(ctx, r)
	case <-s.en.kick:
	case <-retry:
	case <-ctx.Done():
	}
}

// stopDelayLeft is how much longer a task told to stop keeps running
// before its stop signal: its spec's stop delay from the moment this
// supervisor saw the order, cut to a drain's stop deadline. A task its
// node no longer holds (its service removed) has no delay.
func (s *supervisor) stopDelayLeft(v view) time.Duration {
	if !v.assigned || v.task.DesiredState <= api.TaskRunning {
		return 0
	}
	now := time.Now()
	if s.stopOrderedAt.IsZero() {
		s.stopOrderedAt = now
		if d := v.task.Spec.EffectiveStopDelay(); d > 0 {
			s.e.taskLog(v.task).Info("task leaving its service's endpoints", "stop_delay", d)
		}
	}
	end := s.stopOrderedAt.Add(v.task.Spec.EffectiveStopDelay())
	if dl := v.task.StopDeadline; !dl.IsZero() && dl.Before(end) {
		end = dl
	}
	return end.Sub(now)
}

// finish reports the workload's end.
func (s *supervisor) finish(ctx context.Context, r waitResult) {
	s.exited = nil
	s.cancelWait()
	s.cancelWait = nil
	if r.err != nil {
		if ctx.Err() == nil {
			s.e.setStatus(s.id, api.TaskStatus{State: api.TaskFailed, Err: "wait: " + r.err.Error()})
		}
		return
	}
	// A workload that ends while its task is meant to stop (stopped by an
	// earlier executor, say) has been shut down; one stopped because it
	// was unhealthy has failed.
	shutdown := s.stopRequested || s.view().shouldStop()
	st := exitStatus(r.st, shutdown)
	if s.unhealthy != "" && !shutdown {
		st.State, st.Message, st.Err = api.TaskFailed, "", "unhealthy: "+s.unhealthy
		st.Health = api.HealthUnhealthy
	}
	s.e.setStatus(s.id, st)
}

// teardown stops and removes the workload of a task that left the
// assignment set, then forgets the task. It reports whether supervision
// ended.
func (s *supervisor) teardown(ctx context.Context, v view) bool {
	if s.exited != nil {
		if !s.stopRequested {
			s.e.taskLog(v.task).Info("task stopping", "grace", grace(v.task))
		}
		s.stopRequested = true
		if err := s.rt.Stop(ctx, s.id, grace(v.task)); err != nil && ctx.Err() == nil {
			s.e.taskLog(v.task).Warn("executor: stop removed task", "err", err)
		}
		s.cancelWait()
		<-s.exited
		s.exited, s.cancelWait = nil, nil
	}
	if ctx.Err() != nil {
		return s.release(true)
	}
	rt := s.rt
	if rt == nil {
		rt, _ = s.e.runtimeFor(v.task.Spec)
	}
	if rt != nil {
		if err := rt.Remove(ctx, s.id); err != nil {
			if ctx.Err() != nil {
				return s.release(true)
			}
			s.e.taskLog(v.task).Warn("executor: remove task failed; retrying", "err", err)
			s.pause(ctx, retryDelay)
			return false
		}
	}
	s.e.mu.Lock()
	if s.en.assigned { // assigned again meanwhile: start over
		s.e.mu.Unlock()
		s.rt, s.stopRequested, s.stopped, s.stopOrderedAt = nil, false, false, time.Time{}
		return false
	}
	s.en.supervised = false
	seq, snap := s.e.forgetLocked(s.id)
	s.e.mu.Unlock()
	s.e.saveStatuses(seq, snap)
	s.e.taskLog(v.task).Info("task removed")
	return true
}
