package main

import (
	"encoding/json"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// TestServiceUserFlag: --user sets a process service's user on create and
// update, "" clears it, inspect shows it, and a malformed one is refused
// in one line before anything is sent.
func TestServiceUserFlag(t *testing.T) {
	f := newFakeAPI(t)
	if _, errOut, code := f.cli("service", "create", "web", "-d", "--user", "nobody:nogroup", "--", "/bin/sleep", "100"); code != 0 {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	if spec := sentSpec(t, f); spec.User != "nobody:nogroup" || spec.Runtime != api.RuntimeProcess {
		t.Fatalf("create sent runtime %q, user %q", spec.Runtime, spec.User)
	}
	out, _, code := f.cli("service", "inspect", "web")
	var svc api.ServiceInfo
	if err := json.Unmarshal([]byte(out), &svc); code != 0 || err != nil || svc.Spec.User != "nobody:nogroup" {
		t.Fatalf("inspect = %d %v, user %q:\n%s", code, err, svc.Spec.User, out)
	}

	if _, errOut, code := f.cli("service", "update", "web", "-d", "--user", "65534"); code != 0 {
		t.Fatalf("update: exit %d: %s", code, errOut)
	}
	if spec := sentSpec(t, f); spec.User != "65534" {
		t.Fatalf("update sent user %q", spec.User)
	}
	if _, errOut, code := f.cli("service", "update", "web", "-d", "--user", ""); code != 0 {
		t.Fatalf("clearing update: exit %d: %s", code, errOut)
	}
	if spec := sentSpec(t, f); spec.User != "" {
		t.Fatalf("clearing update sent user %q", spec.User)
	}

	_, writesBefore := f.log()
	out, errOut, code := f.cli("service", "update", "web", "-d", "--user", "a:b:c")
	want := "shoal: spec.user: \"a:b:c\" is not NAME, NAME:GROUP, UID or UID:GID\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("bad user: exit %d, stdout %q, stderr %q; want exit 1, %q", code, out, errOut, want)
	}
	if _, writes := f.log(); len(writes) != len(writesBefore) {
		t.Errorf("a bad user reached the API: %v", writes[len(writesBefore):])
	}
}
