package containerd

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestExec runs commands inside a running container: exit codes and
// output come back, a missing program is 127, a command still running
// at the deadline is killed, and no exec'd process stays in the
// container.
func TestExec(t *testing.T) {
	r := newRuntime(t, nil)
	importHello(t, r)
	ctx := context.Background()
	spec, port := helloSpec(t, "ex")
	if err := r.Prepare(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, "ex"); err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, out, err := r.Exec(ctx, "ex", []string{"/hello", "-check", base + "/healthz"})
		if err == nil && code == 0 && strings.Contains(string(out), "200 OK") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("passing check = %d, %q, %v", code, out, err)
		}
		time.Sleep(50 * time.Millisecond) // the server is starting
	}
	if code, out, err := r.Exec(ctx, "ex", []string{"/hello", "-check", base + "/nope"}); err != nil || code != 1 || !strings.Contains(string(out), "404 Not Found") {
		t.Errorf("failing check = %d, %q, %v; want 1 and the 404", code, out, err)
	}
	if code, _, err := r.Exec(ctx, "ex", []string{"/bin/sh", "-c", "true"}); err == nil || code != 127 {
		t.Errorf("missing program = %d, %v; want 127 and an error", code, err)
	}

	// A server that accepts and never answers keeps the check waiting.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	code, _, err := r.Exec(tctx, "ex", []string{"/hello", "-check", "http://" + ln.Addr().String() + "/"})
	if !errors.Is(err, context.DeadlineExceeded) || code != 137 || time.Since(start) > 4*time.Second {
		t.Errorf("hanging check = %d, %v after %s; want 137, deadline exceeded, at once", code, err, time.Since(start))
	}

	c, err := r.load(ctx, "ex")
	if err != nil {
		t.Fatal(err)
	}
	task, err := task(r.withNS(ctx), c)
	if err != nil || task == nil {
		t.Fatalf("task: %v", err)
	}
	pids, err := task.Pids(r.withNS(ctx))
	if err != nil || len(pids) != 1 || int(pids[0].Pid) != int(task.Pid()) {
		t.Errorf("container processes after the execs = %+v, %v; want only hello (%d)", pids, err, task.Pid())
	}
	if _, _, err := r.Exec(ctx, "nope", []string{"/hello"}); err == nil {
		t.Error("exec in an unknown task succeeded")
	}
}
