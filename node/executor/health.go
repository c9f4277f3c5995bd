package executor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/runtime"
)

// HealthChecker runs one health check of a running task. It returns nil
// when the check passes, and otherwise an error whose one-line message is
// the check's output (what "unhealthy: ..." reports). It must return when
// ctx ends (the check's timeout).
type HealthChecker interface {
	Check(ctx context.Context, t api.Task, st api.TaskStatus) error
}

// Clock is the time the health checks run by; tests substitute a fake.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// healthMachine is a task's health, as docker's: "starting" until the
// first pass (failures within the start period do not count), "healthy"
// after a pass, "unhealthy" after Retries consecutive counted failures.
type healthMachine struct {
	h       api.HealthCheck // with defaults
	started time.Time
	state   string
	fails   uint64
}

func newHealthMachine(h api.HealthCheck, started time.Time) *healthMachine {
	return &healthMachine{h: h.WithDefaults(), started: started, state: api.HealthStarting}
}

// observe takes one check's result at now and reports whether the state
// changed.
func (m *healthMachine) observe(now time.Time, passed bool) bool {
	old := m.state
	switch {
	case passed:
		m.fails = 0
		m.state = api.HealthHealthy
	case m.state == api.HealthStarting && now.Sub(m.started) < m.h.StartPeriod.Std():
		// still starting up: the failure does not count
	default:
		m.fails++
		if m.fails >= m.h.Retries {
			m.state = api.HealthUnhealthy
		}
	}
	return m.state != old
}

// healthMonitor runs one task's checks until ctx ends or the task turns
// unhealthy; it reports each change of state, and the unhealthy verdict,
// through its callbacks.
type healthMonitor struct {
	task    api.Task
	checker HealthChecker
	clock   Clock
	// status is the task's latest observed status (its IP, for checks).
	status func() api.TaskStatus
	// report records a change of health; unhealthy also asks for the
	// workload to be stopped, with the last check's output.
	report    func(health string)
	unhealthy func(output string)
}

func (m *healthMonitor) run(ctx context.Context) {
	h := m.task.Spec.Health.WithDefaults()
	sm := newHealthMachine(h, m.clock.Now())
	m.report(api.HealthStarting)
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.clock.After(h.Interval.Std()):
		}
		cctx, cancel := context.WithTimeout(ctx, h.Timeout.Std())
		err := m.checker.Check(cctx, m.task, m.status())
		timedOut := errors.Is(cctx.Err(), context.DeadlineExceeded)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil && timedOut {
			err = errors.New("") // a pass after the deadline is a failure
		}
		if err != nil && timedOut {
			err = fmt.Errorf("health check timed out after %s", h.Timeout.Std())
		}
		if !sm.observe(m.clock.Now(), err == nil) {
			continue
		}
		if sm.state == api.HealthUnhealthy {
			m.unhealthy(oneLine(err.Error()))
			return
		}
		m.report(sm.state)
	}
}

// oneLine makes a check's output fit a status: one line, at most 200
// bytes.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		s = "the check failed"
	}
	return s
}

// nodeChecker runs checks from the node: cmd checks through the task's
// runtime (runtime.Execer: inside the container, or on the host as the
// process task's user with its env and workdir), http and tcp checks
// against the task's IP, or 127.0.0.1 on the host network.
type nodeChecker struct {
	runtimes map[string]runtime.Runtime
}

func (c nodeChecker) Check(ctx context.Context, t api.Task, st api.TaskStatus) error {
	h := t.Spec.Health
	switch {
	case h == nil || h.Disable:
		return nil
	case len(h.Cmd) > 0:
		ex, ok := c.runtimes[t.Spec.Runtime].(runtime.Execer)
		if !ok {
			return fmt.Errorf("runtime %q cannot run command checks", t.Spec.Runtime)
		}
		return execCheck(ctx, ex, t.ID, h.Argv())
	case h.HTTP != "":
		path, port, err := api.ParseHealthHTTP(h.HTTP)
		if err != nil {
			return err
		}
		addr, err := checkAddr(t, st, port)
		if err != nil {
			return err
		}
		url := "http://" + addr + path
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		client := http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 399 {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	default:
		addr, err := checkAddr(t, st, h.TCP)
		if err != nil {
			return err
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// execCheck runs a cmd check through ex: exit code 0 passes; otherwise
// the error carries the exit code and the command's output.
func execCheck(ctx context.Context, ex runtime.Execer, taskID string, argv []string) error {
	code, out, err := ex.Exec(ctx, taskID, argv)
	o := strings.TrimSpace(string(out))
	switch {
	case err != nil && o != "":
		return fmt.Errorf("%v: %s", err, o)
	case err != nil:
		return err
	case code == 0:
		return nil
	case o != "":
		return fmt.Errorf("exit code %d: %s", code, o)
	}
	return fmt.Errorf("exit code %d", code)
}

// checkAddr is host:port of a task's port for a check.
func checkAddr(t api.Task, st api.TaskStatus, port string) (string, error) {
	p, err := t.Spec.HealthPort(port)
	if err != nil {
		return "", err
	}
	ip := st.IP
	if ip == "" {
		ip = "127.0.0.1"
	}
	return net.JoinHostPort(ip, strconv.Itoa(int(p))), nil
}

// startHealth runs the task's health checks while its workload runs
// (until ctx, the workload's wait, ends): the spec's, or without one
// the image's (runtime.ImageHealth), unless the spec disables them.
func (s *supervisor) startHealth(ctx context.Context) {
	e, id := s.e, s.id
	e.mu.Lock()
	t := s.en.task
	s.en.unhealthy = "" // a new workload has no verdict yet
	e.mu.Unlock()
	h := t.Spec.Health
	if h != nil && h.Disable {
		return
	}
	img, _ := s.rt.(runtime.ImageHealth)
	if h == nil && (img == nil || e.cfg.ImageHealth != nil && !e.cfg.ImageHealth()) {
		return
	}
	m := &healthMonitor{
		checker: e.cfg.HealthChecker, clock: e.cfg.Clock,
		status: func() api.TaskStatus {
			e.mu.Lock()
			defer e.mu.Unlock()
			if st, ok := e.observed[id]; ok {
				return st
			}
			if en, ok := e.tasks[id]; ok {
				return en.task.Status
			}
			return api.TaskStatus{}
		},
		report: func(health string) { e.setHealth(id, health) },
		unhealthy: func(out string) {
			e.setHealth(id, api.HealthUnhealthy)
			e.mu.Lock()
			if en, ok := e.tasks[id]; ok {
				en.unhealthy = out
				e.kick(en)
			}
			e.mu.Unlock()
		},
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if h == nil {
			var err error
			if h, err = img.ImageHealthCheck(ctx, id); err != nil {
				if ctx.Err() == nil {
					e.taskLog(t).Warn("task health: reading the image's health check", "err", err)
				}
				return
			}
			if h == nil {
				return
			}
		}
		t.Spec.Health = h
		m.task = t
		m.run(ctx)
	}()
}

// setHealth records a running task's health and queues it for the
// leader; it does nothing once the task is no longer running.
func (e *Executor) setHealth(id, health string) {
	e.mu.Lock()
	en, ok := e.tasks[id]
	if !ok || e.knownStateLocked(id, en) != api.TaskRunning {
		e.mu.Unlock()
		return
	}
	st, ok := e.observed[id]
	if !ok {
		st = en.task.Status
	}
	if st.State != api.TaskRunning || st.Health == health {
		e.mu.Unlock()
		return
	}
	st.Health = health
	st.Timestamp = time.Now()
	e.observed[id] = st
	seq, snap := e.statusesSnapshotLocked()
	task := en.task
	e.mu.Unlock()
	e.taskLog(task).Info("task health", "health", health)
	e.saveStatuses(seq, snap)
	e.reports.put(id, st)
}
