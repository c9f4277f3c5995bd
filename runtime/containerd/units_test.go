package containerd

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
	rtapi "github.com/shoal-project/shoal/runtime"
)

func TestContainerArgs(t *testing.T) {
	img, cmd := []string{"/hello"}, []string{"-v"}
	cases := []struct {
		ep, command, args, want []string
	}{
		{nil, nil, nil, []string{"/hello", "-v"}},
		{nil, []string{"-x"}, []string{"y"}, []string{"/hello", "-x", "y"}},
		{[]string{"/sh"}, nil, nil, []string{"/sh"}},
		{[]string{"/sh"}, []string{"-c"}, []string{"true"}, []string{"/sh", "-c", "true"}},
	}
	for _, c := range cases {
		got, err := containerArgs(img, cmd, c.ep, c.command, c.args)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("containerArgs(%v,%v,%v) = %v, %v; want %v", c.ep, c.command, c.args, got, err, c.want)
		}
	}
	if _, err := containerArgs(nil, nil, nil, nil, nil); err == nil {
		t.Error("no command at all was accepted")
	}
}

func TestTaskEnv(t *testing.T) {
	ts := rtapi.TaskSpec{TaskID: "t1", ServiceName: "web", Slot: 3, Spec: api.ServiceSpec{Env: []string{"A=1", "SHOAL_NODE=fake"}}}
	got, err := taskEnv(ts, "node-b")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A=1", "SHOAL_NODE=fake", "SHOAL_SERVICE=web", "SHOAL_SLOT=3", "SHOAL_TASK_ID=t1", "SHOAL_NODE=node-b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("taskEnv = %v, want %v (SHOAL_* last, so they win)", got, want)
	}
	ts.Spec.Ports = []api.PortSpec{{Port: 8080, TargetPort: 80, Mode: api.PublishIngress}, {Name: "metrics", TargetPort: 9100}}
	got, _ = taskEnv(ts, "node-b")
	want = []string{"A=1", "SHOAL_NODE=fake", "PORT=80", "SHOAL_PORT_METRICS=9100", "SHOAL_SERVICE=web", "SHOAL_SLOT=3", "SHOAL_TASK_ID=t1", "SHOAL_NODE=node-b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("taskEnv with ports = %v, want %v", got, want)
	}
	ts.Spec.Env = []string{"PORT=1"}
	if got, _ = taskEnv(ts, "node-b"); slices.Contains(got, "PORT=80") {
		t.Errorf("taskEnv = %v: the spec's PORT should win", got)
	}
	ts.Spec.Env = []string{"=x"}
	if _, err := taskEnv(ts, ""); err == nil {
		t.Error("an entry without a key was accepted")
	}
}

func TestValidTaskID(t *testing.T) {
	for _, ok := range []string{"a", "t1", "abc-def.1_2", strings.Repeat("x", 76)} {
		if err := validTaskID(ok); err != nil {
			t.Errorf("validTaskID(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", "a-", "a--b", "a/b", "..", "a b", strings.Repeat("x", 77)} {
		if err := validTaskID(bad); err == nil {
			t.Errorf("validTaskID(%q) accepted", bad)
		}
	}
}

func TestAllowedBind(t *testing.T) {
	base := t.TempDir()
	allowed := filepath.Join(base, "allowed")
	other := filepath.Join(base, "allowed-not")
	for _, d := range []string{filepath.Join(allowed, "sub"), other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	escape := filepath.Join(allowed, "escape")
	if err := os.Symlink(other, escape); err != nil {
		t.Fatal(err)
	}
	r := &Runtime{cfg: Config{AllowBindPrefixes: []string{allowed}}}
	for _, ok := range []string{allowed, filepath.Join(allowed, "sub")} {
		if _, err := r.allowedBind(ok); err != nil {
			t.Errorf("allowedBind(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{other, escape, filepath.Join(allowed, "missing"), "rel/path"} {
		if _, err := r.allowedBind(bad); err == nil {
			t.Errorf("allowedBind(%q) accepted", bad)
		}
	}
	if _, err := (&Runtime{}).allowedBind(allowed); err == nil || !strings.Contains(err.Error(), "not allowed on this node") {
		t.Errorf("with no prefixes: %v", err)
	}
}

func TestReadCounter(t *testing.T) {
	p := filepath.Join(t.TempDir(), "memory.oom_control")
	os.WriteFile(p, []byte("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"), 0o600)
	if n, ok := readCounter(p, "oom_kill"); !ok || n != 2 {
		t.Errorf("readCounter = %d, %v; want 2", n, ok)
	}
	if _, ok := readCounter(p, "nope"); ok {
		t.Error("found a missing key")
	}
}
