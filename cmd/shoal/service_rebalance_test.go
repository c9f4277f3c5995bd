package main

import (
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestServiceRebalanceFlag(t *testing.T) {
	f := newFakeAPI(t)
	if _, stderr, code := f.cli("service", "create", "web", "--detach", "--replicas", "3", "--rebalance", "off", "--", "/bin/sleep", "100"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := f.services["web"].Spec.Rebalance; got != api.RebalanceOff {
		t.Fatalf("rebalance %q after create, want off", got)
	}
	if _, stderr, code := f.cli("service", "update", "web", "--detach", "--rebalance", "auto"); code != 0 {
		t.Fatalf("update: exit %d: %s", code, stderr)
	}
	if got := f.services["web"].Spec.Rebalance; got != api.RebalanceAuto {
		t.Fatalf("rebalance %q after update, want auto", got)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"service", "update", "web", "--detach", "--rebalance", "sometimes"}, `--rebalance "sometimes" must be auto or off`},
		{[]string{"service", "create", "agent", "--detach", "--mode", "global", "--rebalance", "off", "--", "true"}, "--rebalance cannot be used with mode global"},
	} {
		_, stderr, code := f.cli(c.args...)
		if code == 0 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want one line with %q", c.args, code, stderr, c.want)
		}
	}
}
