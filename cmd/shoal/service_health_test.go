package main

import (
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// TestServiceHealthFlags: the --health flags set a check on create, the
// timings change it on update, --no-healthcheck disables checks (the
// image's too), and bad ones
// are refused in one line before anything is sent.
func TestServiceHealthFlags(t *testing.T) {
	f := newFakeAPI(t)
	if _, errOut, code := f.cli("service", "create", "web", "-d", "-p", "8080", "--health-http", "/healthz:8080",
		"--health-interval", "2s", "--health-retries", "2", "--health-start-period", "1s", "--", "/bin/sleep", "100"); code != 0 {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	h := sentSpec(t, f).Health
	if h == nil || h.HTTP != "/healthz:8080" || h.Interval != api.Duration(2*time.Second) || h.Retries != 2 || h.StartPeriod != api.Duration(time.Second) {
		t.Fatalf("create sent health %+v", h)
	}
	f.cli("service", "ps", "web") // the fake's tasks run from the second look
	if out, _, code := f.cli("service", "ps", "web"); code != 0 || !strings.Contains(out, "Running (healthy) 5 seconds ago") {
		t.Errorf("service ps: exit %d\n%s", code, out)
	}
	if out, _, _ := f.cli("service", "ps", "web", "-o", "json"); !strings.Contains(out, `"health": "healthy"`) {
		t.Errorf("service ps -o json has no health:\n%s", out)
	}
	if _, errOut, code := f.cli("service", "update", "web", "-d", "--health-timeout", "3s"); code != 0 {
		t.Fatalf("update: exit %d: %s", code, errOut)
	}
	if h := sentSpec(t, f).Health; h == nil || h.HTTP != "/healthz:8080" || h.Timeout != api.Duration(3*time.Second) || h.Retries != 2 {
		t.Fatalf("update sent health %+v", h)
	}
	if _, errOut, code := f.cli("service", "update", "web", "-d", "--health-cmd", "test -f /tmp/x"); code != 0 {
		t.Fatalf("update cmd: exit %d: %s", code, errOut)
	}
	if h := sentSpec(t, f).Health; h == nil || h.HTTP != "" || strings.Join(h.Cmd, "|") != "CMD-SHELL|test -f /tmp/x" || h.Interval != api.Duration(2*time.Second) {
		t.Fatalf("update cmd sent health %+v", h)
	}
	if _, errOut, code := f.cli("service", "update", "web", "-d", "--no-healthcheck"); code != 0 {
		t.Fatalf("no-healthcheck: exit %d: %s", code, errOut)
	}
	if h := sentSpec(t, f).Health; h == nil || !h.Disable || len(h.Cmd) != 0 {
		t.Fatalf("--no-healthcheck sent health %+v, want disable", h)
	}
	_, writesBefore := f.log()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--health-http", "healthz"}, "--health-http"},
		{[]string{"--health-tcp", "0"}, "--health-tcp"},
		{[]string{"--health-tcp", "80", "--health-http", "/"}, "give one of"},
		{[]string{"--health-retries", "2"}, "need a check"},
		{[]string{"--no-healthcheck", "--health-tcp", "80"}, "--no-healthcheck"},
	} {
		out, errOut, code := f.cli(append([]string{"service", "update", "web", "-d"}, c.args...)...)
		if code == 0 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", c.args, code, out, errOut, c.want)
		}
	}
	if _, writes := f.log(); len(writes) != len(writesBefore) {
		t.Errorf("a bad health flag reached the API: %v", writes[len(writesBefore):])
	}
}
