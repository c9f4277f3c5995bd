package main

import (
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestServiceUpdateCanaryAndTrafficFlags(t *testing.T) {
	f := newFakeAPI(t)
	f.addService(api.ServiceSpec{Name: "web", Command: []string{"/bin/sleep", "100"}, Replicas: 3,
		Update: &api.UpdatePolicy{Parallelism: 2}})
	if _, stderr, code := f.cli("service", "update", "web", "--detach", "--canary", "1"); code != 0 {
		t.Fatalf("--canary: exit %d: %s", code, stderr)
	}
	if u := f.services["web"].Spec.Update; u == nil || u.Canary != 1 || u.Parallelism != 2 || u.TrafficNew != nil {
		t.Fatalf("after --canary 1: %+v", u)
	}
	if _, stderr, code := f.cli("service", "update", "web", "--detach", "--traffic", "new=20"); code != 0 {
		t.Fatalf("--traffic: exit %d: %s", code, stderr)
	}
	if u := f.services["web"].Spec.Update; u.TrafficNew == nil || *u.TrafficNew != 20 || u.Canary != 1 {
		t.Fatalf("after --traffic new=20: %+v", u)
	}
	if _, stderr, code := f.cli("service", "update", "web", "--detach", "--traffic", "none", "--canary", "0"); code != 0 {
		t.Fatalf("--traffic none: exit %d: %s", code, stderr)
	}
	if u := f.services["web"].Spec.Update; u.TrafficNew != nil || u.Canary != 0 {
		t.Fatalf("after --traffic none --canary 0: %+v", u)
	}
}

func TestServiceTrafficFlagErrors(t *testing.T) {
	f := newFakeAPI(t)
	f.addService(api.ServiceSpec{Name: "web", Command: []string{"/bin/sleep", "100"}, Replicas: 2})
	for _, v := range []string{"20", "new=101", "new=x", "old=20", "new=-1"} {
		_, stderr, code := f.cli("service", "update", "web", "--detach", "--traffic", v)
		want := `--traffic: want new=PERCENT (0-100), got "` + v + `"`
		if code == 0 || !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("--traffic %s: exit %d, stderr %q; want one line with %q", v, code, stderr, want)
		}
	}
}

func TestServiceLsShowsCanaryAndTraffic(t *testing.T) {
	f := newFakeAPI(t)
	p := uint64(20)
	f.addService(api.ServiceSpec{Name: "blue", Command: []string{"/bin/sleep", "100"}, Replicas: 3, Update: &api.UpdatePolicy{TrafficNew: &p}})
	f.addService(api.ServiceSpec{Name: "web", Command: []string{"/bin/sleep", "100"}, Replicas: 3, Update: &api.UpdatePolicy{Canary: 1}})
	f.services["blue"].UpdateStatus = &api.UpdateStatus{State: api.UpdateCanary, FromVersion: 1, ToVersion: 2}
	f.services["web"].UpdateStatus = &api.UpdateStatus{State: api.UpdateCanary, FromVersion: 1, ToVersion: 2}
	out, stderr, code := f.cli("service", "ls")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "traffic 20%") || !strings.Contains(out, "canary 1/1") {
		t.Fatalf("service ls:\n%s", out)
	}
}

func TestServicePromote(t *testing.T) {
	f := newFakeAPI(t)
	f.addService(api.ServiceSpec{Name: "web", Command: []string{"/bin/sleep", "100"}, Replicas: 3, Update: &api.UpdatePolicy{Canary: 1}})
	_, stderr, code := f.cli("service", "promote", "web", "--detach")
	if code == 0 || !strings.Contains(stderr, "no update held in canary") {
		t.Fatalf("promote without a hold: exit %d, %q", code, stderr)
	}
	f.services["web"].UpdateStatus = &api.UpdateStatus{State: api.UpdateCanary, FromVersion: 1, ToVersion: 2}
	out, stderr, code := f.cli("service", "promote", "web", "--detach")
	if code != 0 || !strings.Contains(out, "service web promoted: the update to version 2 continues") {
		t.Fatalf("promote: exit %d\n%s%s", code, out, stderr)
	}
	if st := f.services["web"].UpdateStatus; st.State != api.UpdateUpdating || !st.Promoted {
		t.Fatalf("status after promote %+v", st)
	}
}
