package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// sentSpec decodes the spec of the last write the fake API received.
func sentSpec(t *testing.T, f *fakeAPI) api.ServiceSpec {
	t.Helper()
	_, bodies := f.log()
	if len(bodies) == 0 {
		t.Fatal("no request body was sent")
	}
	last := []byte(bodies[len(bodies)-1])
	var req api.ServiceUpdateRequest
	if err := json.Unmarshal(last, &req); err == nil && req.Spec != nil {
		return *req.Spec
	}
	var spec api.ServiceSpec
	if err := json.Unmarshal(last, &spec); err != nil {
		t.Fatalf("body %s: %v", last, err)
	}
	return spec
}

func TestServiceCreateContainerFlags(t *testing.T) {
	f := newFakeAPI(t)
	out, errOut, code := f.cli("service", "create", "db", "--image", "postgres:16", "-d",
		"--entrypoint", "  /bin/sh   -c ", "--user", "999:999", "--memory", "64MiB",
		"--limit-cpu", "500m", "--limit-memory", "128MiB", "--pids-limit", "200",
		"--mount", "type=volume,source=pgdata,target=/var/lib/postgresql/data",
		"--mount", "type=bind,src=/srv/conf,dst=/etc/pg,readonly",
		"--mount", "type=bind,source=/srv/certs,destination=/certs,ro",
		"--", "exec postgres")
	if code != 0 || out != "svcdb\n" {
		t.Fatalf("exit %d, %q %q", code, out, errOut)
	}
	spec := sentSpec(t, f)
	want := api.ServiceSpec{Entrypoint: []string{"/bin/sh", "-c"}, User: "999:999", Args: []string{"exec postgres"},
		Limits: api.Resources{NanoCPUs: 5e8, MemoryBytes: 128 << 20}, PidsLimit: 200,
		Mounts: []api.Mount{
			{Type: api.MountVolume, Source: "pgdata", Target: "/var/lib/postgresql/data"},
			{Type: api.MountBind, Source: "/srv/conf", Target: "/etc/pg", ReadOnly: true},
			{Type: api.MountBind, Source: "/srv/certs", Target: "/certs", ReadOnly: true},
		}}
	got := api.ServiceSpec{Entrypoint: spec.Entrypoint, User: spec.User, Args: spec.Args, Limits: spec.Limits,
		PidsLimit: spec.PidsLimit, Mounts: spec.Mounts}
	if !reflect.DeepEqual(got, want) || spec.Runtime != api.RuntimeContainerd || spec.Reservations.MemoryBytes != 64<<20 {
		t.Fatalf("sent spec\n%+v\nwant\n%+v", spec, want)
	}
}

func TestServiceUpdateContainerFlags(t *testing.T) {
	f := newFakeAPI(t)
	f.addService(api.ServiceSpec{Name: "db", Image: "redis:7", Replicas: 1, Entrypoint: []string{"redis-server"},
		User: "redis", Limits: api.Resources{NanoCPUs: 1e9, MemoryBytes: 1 << 30}, PidsLimit: 50,
		Mounts: []api.Mount{{Type: api.MountVolume, Source: "data", Target: "/data"}}})

	// An unrelated flag keeps every container field.
	if _, errOut, code := f.cli("service", "update", "db", "-d", "--env", "A=1"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	spec := sentSpec(t, f)
	if !reflect.DeepEqual(spec.Entrypoint, []string{"redis-server"}) || spec.User != "redis" || spec.PidsLimit != 50 ||
		spec.Limits != (api.Resources{NanoCPUs: 1e9, MemoryBytes: 1 << 30}) || len(spec.Mounts) != 1 {
		t.Fatalf("--env update changed container fields: %+v", spec)
	}

	// Each flag changes only its field; --mount replaces the list.
	if _, errOut, code := f.cli("service", "update", "db", "-d", "--limit-memory", "256MiB", "--mount", "source=cache,target=/cache,ro"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	spec = sentSpec(t, f)
	if spec.Limits != (api.Resources{NanoCPUs: 1e9, MemoryBytes: 256 << 20}) || spec.User != "redis" ||
		!reflect.DeepEqual(spec.Mounts, []api.Mount{{Type: api.MountVolume, Source: "cache", Target: "/cache", ReadOnly: true}}) {
		t.Fatalf("sent spec %+v", spec)
	}

	// Empty values clear.
	out, errOut, code := f.cli("service", "update", "db", "-d", "--entrypoint", "", "--user", "", "--limit-cpu", "0",
		"--limit-memory", "0", "--pids-limit", "0", "--mount", "")
	if code != 0 || out != "service db updated (version 4)\n" {
		t.Fatalf("exit %d, %q %q", code, out, errOut)
	}
	spec = sentSpec(t, f)
	if spec.Entrypoint != nil || spec.User != "" || spec.Limits != (api.Resources{}) || spec.PidsLimit != 0 || spec.Mounts != nil {
		t.Fatalf("clearing update sent %+v", spec)
	}
	out, _, code = f.cli("service", "update", "db", "--entrypoint", "", "--mount", "")
	if code != 0 || out != "service db unchanged\n" {
		t.Fatalf("no-op update = %d %q", code, out)
	}
}

func TestContainerFlagErrors(t *testing.T) {
	f := newFakeAPI(t)
	create := []string{"service", "create", "db", "--image", "redis", "-d"}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--limit-cpu", "lots"}, 2, `shoal: --limit-cpu: invalid CPU amount "lots": want a number of cores like 0.5 or 2, or millicores like 500m (see 'shoal service create --help')`},
		{[]string{"--limit-memory", "1XB"}, 2, `shoal: --limit-memory: invalid size "1XB": unknown unit "XB"`},
		{[]string{"--pids-limit", "-1"}, 2, `shoal: --pids-limit -1 must be 0 (no limit) or more`},
		{[]string{"--pids-limit", "many"}, 2, `shoal: invalid argument "many" for "--pids-limit" flag`},
		{[]string{"--mount", "type=nfs,source=d,target=/d"}, 2, `shoal: --mount: mount "type=nfs,source=d,target=/d": type "nfs" is not volume or bind`},
		{[]string{"--mount", "source=d,target=/d,bind-propagation=rshared"}, 2, `shoal: --mount: mount "source=d,target=/d,bind-propagation=rshared": unknown key "bind-propagation"`},
		{[]string{"--mount", "source=d"}, 2, `shoal: --mount: mount "source=d": needs target=/PATH in the container`},
		{[]string{"--mount", "source=d,target=data"}, 1, `shoal: spec.mounts[0].target: "data" must be an absolute path`},
		{[]string{"--mount", "type=bind,source=srv,target=/d"}, 1, `shoal: spec.mounts[0].source: "srv" must be an absolute path`},
		{[]string{"--mount", "source=d,target=/d", "--mount", "source=e,target=/d"}, 1, `shoal: spec.mounts[1].target: "/d" is already the target of spec.mounts[0]`},
		{[]string{"--memory", "1G", "--limit-memory", "512M"}, 1, `shoal: spec.limits.memory_bytes: a memory limit of 512MiB is below the reservation of 1GiB`},
		{[]string{"--user", "a:b:c"}, 1, `shoal: spec.user: "a:b:c" is not NAME, NAME:GROUP, UID or UID:GID`},
	}
	for _, c := range cases {
		args := append(append([]string{}, create...), c.args...)
		out, errOut, code := f.cli(args...)
		if code != c.code || !strings.HasPrefix(errOut, c.want) || strings.Count(errOut, "\n") != 1 || out != "" {
			t.Errorf("shoal %v:\n exit %d, stdout %q, stderr %q\n want exit %d, one line starting %q", args, code, out, errOut, c.code, c.want)
		}
	}
	// The process runtime cannot honour container settings.
	for _, flag := range [][]string{{"--entrypoint", "sh"}, {"--limit-cpu", "1"}, {"--pids-limit", "5"}, {"--mount", "source=d,target=/d"}} {
		args := append([]string{"service", "create", "web", "-d"}, flag...)
		args = append(args, "--", "/bin/sleep", "1")
		_, errOut, code := f.cli(args...)
		if code != 1 || !strings.Contains(errOut, "only the containerd runtime supports") {
			t.Errorf("shoal %v = %d %q; want the containerd-only error", args, code, errOut)
		}
	}
	if reqs, _ := f.log(); len(reqs) != 0 {
		t.Errorf("invalid specs reached the API: %v", reqs)
	}
}

// TestSecurityOptSeccomp checks --security-opt as Docker writes it: the
// filter turned off and back on, and anything else refused in one line.
func TestSecurityOptSeccomp(t *testing.T) {
	f := newFakeAPI(t)
	if _, errOut, code := f.cli("service", "create", "tracer", "--image", "strace:1", "-d", "--security-opt", "seccomp=unconfined"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if spec := sentSpec(t, f); spec.Seccomp != api.SeccompUnconfined {
		t.Fatalf("seccomp = %q, want unconfined", spec.Seccomp)
	}
	if _, errOut, code := f.cli("service", "update", "tracer", "-d", "--security-opt", "seccomp=default"); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if spec := sentSpec(t, f); spec.Seccomp != "" {
		t.Fatalf("seccomp = %q after seccomp=default, want the default", spec.Seccomp)
	}
	_, errOut, code := f.cli("service", "create", "x", "--image", "a:1", "--security-opt", "apparmor=unconfined")
	if code == 0 || !strings.Contains(errOut, `--security-opt "apparmor=unconfined"`) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
		t.Fatalf("exit %d, %q", code, errOut)
	}
}
