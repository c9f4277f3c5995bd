package executor

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/runtime"
)

func TestHealthMachine(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	m := newHealthMachine(api.HealthCheck{TCP: "80", Retries: 2, StartPeriod: api.Duration(30 * time.Second)}, t0)
	if m.state != api.HealthStarting {
		t.Fatalf("initial state %q", m.state)
	}
	// Failures within the start period do not count.
	for s := 10; s < 30; s += 10 {
		if m.observe(at(s), false) || m.state != api.HealthStarting || m.fails != 0 {
			t.Fatalf("failure at %ds in the start period: %q, %d fails", s, m.state, m.fails)
		}
	}
	// After it they do: retries failures in a row make it unhealthy.
	if m.observe(at(30), false) || m.state != api.HealthStarting || m.fails != 1 {
		t.Fatalf("first counted failure: %q, %d fails", m.state, m.fails)
	}
	// A pass resets the count and makes it healthy.
	if !m.observe(at(40), true) || m.state != api.HealthHealthy || m.fails != 0 {
		t.Fatalf("pass: %q, %d fails", m.state, m.fails)
	}
	if m.observe(at(50), false) || m.state != api.HealthHealthy {
		t.Fatalf("one failure of 2: %q", m.state)
	}
	if m.observe(at(60), true) || m.state != api.HealthHealthy || m.fails != 0 {
		t.Fatalf("recovery: %q, %d fails", m.state, m.fails)
	}
	m.observe(at(70), false)
	if !m.observe(at(80), false) || m.state != api.HealthUnhealthy {
		t.Fatalf("two failures in a row: %q", m.state)
	}

	// A pass within the start period ends it: later failures count.
	m = newHealthMachine(api.HealthCheck{TCP: "80", Retries: 1, StartPeriod: api.Duration(time.Hour)}, t0)
	m.observe(at(1), true)
	if !m.observe(at(2), false) || m.state != api.HealthUnhealthy {
		t.Fatalf("failure after a pass in the start period: %q", m.state)
	}
	// Defaults: 3 retries, no start period.
	m = newHealthMachine(api.HealthCheck{TCP: "80"}, t0)
	m.observe(at(1), false)
	m.observe(at(2), false)
	if m.state != api.HealthStarting || !m.observe(at(3), false) || m.state != api.HealthUnhealthy {
		t.Fatalf("default retries: %q", m.state)
	}
}

// fakeClock fires an After only when the test ticks it.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1000, 0), waits: make(chan chan time.Time, 16)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waits <- ch
	return ch
}

// tick waits for the monitor to wait, moves time by d and wakes it.
func (c *fakeClock) tick(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case ch := <-c.waits:
		c.mu.Lock()
		c.now = c.now.Add(d)
		now := c.now
		c.mu.Unlock()
		ch <- now
	case <-time.After(10 * time.Second):
		t.Fatal("the monitor never waited for its next check")
	}
}

// fakeChecker answers each check with the next result the test gives.
type fakeChecker struct{ results chan error }

func (f fakeChecker) Check(ctx context.Context, _ api.Task, _ api.TaskStatus) error {
	select {
	case err := <-f.results:
		if err != nil && err.Error() == "hang" {
			<-ctx.Done()
			return ctx.Err()
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestHealthMonitor(t *testing.T) {
	clock := newFakeClock()
	checker := fakeChecker{results: make(chan error)}
	reports := make(chan string, 16)
	verdict := make(chan string, 1)
	task := api.Task{ID: "t1", Spec: api.ServiceSpec{Health: &api.HealthCheck{Cmd: []string{"x"},
		Interval: api.Duration(time.Second), Timeout: api.Duration(50 * time.Millisecond), Retries: 2, StartPeriod: api.Duration(2 * time.Second)}}}
	m := &healthMonitor{task: task, checker: checker, clock: clock,
		status:    func() api.TaskStatus { return api.TaskStatus{State: api.TaskRunning} },
		report:    func(h string) { reports <- h },
		unhealthy: func(out string) { verdict <- out },
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { m.run(ctx); close(done) }()
	want := func(h string) {
		t.Helper()
		select {
		case got := <-reports:
			if got != h {
				t.Fatalf("reported %q, want %q", got, h)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no report, want %q", h)
		}
	}
	check := func(err error) {
		t.Helper()
		clock.tick(t, time.Second)
		select {
		case checker.results <- err:
		case <-time.After(10 * time.Second):
			t.Fatal("the monitor ran no check")
		}
	}
	want(api.HealthStarting)
	check(errors.New("refused")) // 1s: in the start period
	check(errors.New("refused")) // 2s: counts (1 of 2)
	check(nil)                   // 3s: healthy
	want(api.HealthHealthy)
	check(errors.New("flaky")) // 1 of 2
	check(nil)                 // recovered: no report (still healthy)
	check(errors.New("down"))  // 1 of 2
	check(errors.New("hang"))  // times out: 2 of 2
	select {
	case out := <-verdict:
		if !strings.Contains(out, "timed out after 50ms") {
			t.Fatalf("unhealthy output %q", out)
		}
	case r := <-reports:
		t.Fatalf("reported %q, want the unhealthy verdict", r)
	case <-time.After(10 * time.Second):
		t.Fatal("never unhealthy")
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the monitor kept running after its verdict")
	}
	if len(reports) != 0 {
		t.Fatalf("unexpected report %q", <-reports)
	}
}

// TestNodeChecker: http and tcp checks from the node; cmd checks run
// through the task's runtime (runtime.Execer) in docker's forms, and fail
// with the exit code and output.
func TestNodeChecker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	rt := newExecRuntime(nil)
	task := shTask("t1", "")
	task.Spec.Runtime = fakeName
	if err := rt.Prepare(context.Background(), runtime.TaskSpec{TaskID: "t1", Spec: task.Spec}); err != nil {
		t.Fatal(err)
	}
	spec := task.Spec
	spec.Ports = []api.PortSpec{{Name: "http", Port: uint16(port), Protocol: "tcp"}}
	checker := nodeChecker{runtimes: map[string]runtime.Runtime{fakeName: rt, "plain": newFakeRuntime()}}
	run := func(h api.HealthCheck) error {
		s := spec
		s.Health = &h
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return checker.Check(ctx, api.Task{ID: "t1", Spec: s}, api.TaskStatus{State: api.TaskRunning})
	}
	for _, c := range []struct {
		h    api.HealthCheck
		pass bool
	}{
		{api.HealthCheck{HTTP: "/ok"}, true},
		{api.HealthCheck{HTTP: "/ok:http"}, true},
		{api.HealthCheck{HTTP: "/moved"}, true},
		{api.HealthCheck{HTTP: "/bad"}, false},
		{api.HealthCheck{TCP: "http"}, true},
		{api.HealthCheck{Cmd: []string{"true"}}, true},
	} {
		err := run(c.h)
		if (err == nil) != c.pass {
			t.Errorf("%+v: %v, want pass %v", c.h, err, c.pass)
		}
	}
	rt.setResult(3, "broken\n")
	if err := run(api.HealthCheck{Cmd: []string{"CMD-SHELL", "check || exit 3"}}); err == nil || err.Error() != "exit code 3: broken" {
		t.Errorf("failing cmd check: %v, want %q", err, "exit code 3: broken")
	}
	rt.setResult(1, "")
	if err := run(api.HealthCheck{Cmd: []string{"CMD", "/hello", "-check", "x"}}); err == nil || err.Error() != "exit code 1" {
		t.Errorf("failing cmd check without output: %v", err)
	}
	want := [][]string{{"true"}, {"/bin/sh", "-c", "check || exit 3"}, {"/hello", "-check", "x"}}
	if got := rt.execs(); !reflect.DeepEqual(got, want) {
		t.Errorf("execs = %q, want %q", got, want)
	}
	spec.Runtime = "plain"
	if err := run(api.HealthCheck{Cmd: []string{"true"}}); err == nil || !strings.Contains(err.Error(), "cannot run command checks") {
		t.Errorf("cmd check on a runtime without exec: %v", err)
	}
	spec.Runtime = fakeName
	if err := run(api.HealthCheck{HTTP: "/bad"}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("http status not in the error: %v", err)
	}
	ln.Close()
	if err := run(api.HealthCheck{TCP: "http"}); err == nil {
		t.Error("tcp check passed on a closed port")
	}
}

// TestUnhealthyTaskIsStoppedAndFailed: a running task's health is
// reported (starting, then healthy), and once its check fails retries
// times in a row its workload is stopped and the task reported failed with
// the check's output, so its restart policy replaces it.
func TestUnhealthyTaskIsStoppedAndFailed(t *testing.T) {
	env := newEnv(t)
	n := env.start(nil)
	flag := t.TempDir() + "/ok"
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	task := shTask("t1", "exec sleep 1000")
	task.Spec.Health = &api.HealthCheck{Cmd: []string{"test", "-f", flag},
		Interval: api.Duration(50 * time.Millisecond), Timeout: api.Duration(2 * time.Second), Retries: 2}
	n.e.SetAssignments([]api.Task{task})
	pid := n.waitReported("t1", api.TaskRunning).PID
	waitFor(t, 15*time.Second, "t1 reported healthy", func() bool { return n.rec.latest("t1").Health == api.HealthHealthy })
	if s := n.rec.statuses("t1"); s[len(s)-1].State != api.TaskRunning || s[len(s)-1].PID != pid {
		t.Fatalf("healthy status %+v lost the running status", s[len(s)-1])
	}
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	st := n.waitReported("t1", api.TaskFailed)
	if st.Err != "unhealthy: exit code 1" || st.Health != api.HealthUnhealthy {
		t.Fatalf("status = %+v, want failed with %q", st, "unhealthy: exit code 1")
	}
	waitFor(t, 10*time.Second, "the unhealthy workload to end", func() bool { return !alive(pid) })
}

// TestImageHealthCheck: a task whose spec has no health check is checked
// with its image's (runtime.ImageHealth), through the runtime's exec,
// turns healthy, then unhealthy and failed once the check fails; a spec
// that disables health checks runs none, the image's included.
func TestImageHealthCheck(t *testing.T) {
	rt := newExecRuntime(&api.HealthCheck{Cmd: []string{"CMD", "/hello", "-check", "http://127.0.0.1:8080/"},
		Interval: api.Duration(50 * time.Millisecond), Retries: 2})
	env := newEnv(t)
	n := env.start(func(c *Config) { c.Runtimes = map[string]runtime.Runtime{fakeName: rt} })
	task := shTask("t1", "")
	task.Spec.Runtime = fakeName
	off := shTask("t2", "")
	off.Spec.Runtime = fakeName
	off.Spec.Health = &api.HealthCheck{Disable: true}
	n.e.SetAssignments([]api.Task{task, off})
	n.waitReported("t1", api.TaskRunning)
	n.waitReported("t2", api.TaskRunning)
	waitFor(t, 15*time.Second, "t1 reported healthy", func() bool { return n.rec.latest("t1").Health == api.HealthHealthy })
	rt.setResult(1, "connection refused")
	st := n.waitReported("t1", api.TaskFailed)
	if st.Err != "unhealthy: exit code 1: connection refused" || st.Health != api.HealthUnhealthy {
		t.Fatalf("status = %+v, want failed with %q", st, "unhealthy: exit code 1: connection refused")
	}
	for _, argv := range rt.execs() {
		if !reflect.DeepEqual(argv, []string{"/hello", "-check", "http://127.0.0.1:8080/"}) {
			t.Fatalf("exec'd %q", argv)
		}
	}
	if h := n.rec.latest("t2").Health; h != "" {
		t.Errorf("t2, health checks disabled, reported health %q", h)
	}
}

// TestImageHealthCheckWaitsForProtocol: while Config.ImageHealth says no
// (a node of the cluster cannot apply health reports), a task without a
// health check of its own is not checked with its image's; a task with
// its own still is.
func TestImageHealthCheckWaitsForProtocol(t *testing.T) {
	rt := newExecRuntime(&api.HealthCheck{Cmd: []string{"CMD", "/image-check"}, Interval: api.Duration(50 * time.Millisecond)})
	var asked sync.Mutex
	calls := 0
	env := newEnv(t)
	n := env.start(func(c *Config) {
		c.Runtimes = map[string]runtime.Runtime{fakeName: rt}
		c.ImageHealth = func() bool { asked.Lock(); calls++; asked.Unlock(); return false }
	})
	image := shTask("t1", "")
	image.Spec.Runtime = fakeName
	own := shTask("t2", "")
	own.Spec.Runtime = fakeName
	own.Spec.Health = &api.HealthCheck{Cmd: []string{"CMD", "/own-check"}, Interval: api.Duration(50 * time.Millisecond)}
	n.e.SetAssignments([]api.Task{image, own})
	n.waitReported("t1", api.TaskRunning)
	waitFor(t, 15*time.Second, "t2 reported healthy", func() bool { return n.rec.latest("t2").Health == api.HealthHealthy })
	if h := n.rec.latest("t1").Health; h != "" {
		t.Errorf("t1 reported health %q with image checks not allowed", h)
	}
	for _, argv := range rt.execs() {
		if !reflect.DeepEqual(argv, []string{"/own-check"}) {
			t.Errorf("exec'd %q", argv)
		}
	}
	asked.Lock()
	defer asked.Unlock()
	if calls == 0 {
		t.Error("ImageHealth was never asked")
	}
}
