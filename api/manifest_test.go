package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

const tomlManifest = `
# two services
[[service]]
name = "web"
command = ["/usr/bin/python3", "-m", "http.server"]
args = ["8080"]
replicas = 3
cpu = 0.5
memory = "64MiB"
env = { LOG = "debug", N = 3 }
ports = [8080, "53/udp", { port = 9090, protocol = "tcp" }]
constraints = ["node.labels.zone!=c"]
placement_prefs = ["spread=node.labels.zone"]
restart = { condition = "on-failure", max_attempts = 3, delay = "2s", window = "1m" }
stop_grace_period = "15s"
stop_signal = "SIGINT"
max_per_node = 2
labels = { team = "web" }

[[service]]
name = "agent"
mode = "global"
image = "docker.io/library/busybox:1"
env = ["A=1"]
reservations = { nano_cpus = 250000000, memory_bytes = "1GiB" }
preferences = [{ spread = "node.labels.rack" }]
`

func TestParseManifestTOML(t *testing.T) {
	specs, err := ParseManifest("stack.toml", []byte(tomlManifest))
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 {
		t.Fatalf("got %d specs", len(specs))
	}
	web := specs[0]
	want := ServiceSpec{
		Name: "web", Runtime: RuntimeProcess,
		Command: []string{"/usr/bin/python3", "-m", "http.server"}, Args: []string{"8080"},
		Env:  []string{"LOG=debug", "N=3"},
		Mode: ModeReplicated, Replicas: 3,
		Reservations: Resources{NanoCPUs: 5e8, MemoryBytes: 64 << 20},
		Constraints:  []Constraint{{"node.labels.zone", OpNe, "c"}},
		Preferences:  []PlacementPreference{{Spread: "node.labels.zone"}},
		Ports:        []PortSpec{{Port: 8080, Protocol: "tcp"}, {Port: 53, Protocol: "udp"}, {Port: 9090, Protocol: "tcp"}},
		MaxPerNode:   2,
		Restart: RestartPolicy{Condition: RestartOnFailure, MaxAttempts: 3,
			Delay: Duration(2 * time.Second), Window: Duration(time.Minute)},
		StopGracePeriod: Duration(15 * time.Second), StopSignal: "SIGINT",
		Labels: map[string]string{"team": "web"},
	}
	if !reflect.DeepEqual(web, want) {
		t.Fatalf("web =\n%+v\nwant\n%+v", web, want)
	}
	agent := specs[1]
	if agent.Mode != ModeGlobal || agent.Replicas != 0 || agent.Runtime != RuntimeContainerd ||
		agent.Reservations != (Resources{NanoCPUs: 25e7, MemoryBytes: 1 << 30}) ||
		agent.Restart.Condition != RestartAny || agent.StopGracePeriod != DefaultStopGracePeriod ||
		!reflect.DeepEqual(agent.Preferences, []PlacementPreference{{Spread: "node.labels.rack"}}) {
		t.Fatalf("agent = %+v", agent)
	}
}

func TestParseManifestJSON(t *testing.T) {
	doc := `{"service": [{"name": "web", "command": "/bin/sleep", "args": ["60"], "cpu": "250m", "memory": 1024,
	  "restart": {"condition": "none"}, "ports": [{"port": 80}]}]}`
	specs, err := ParseManifest("x.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	s := specs[0]
	if s.Name != "web" || !reflect.DeepEqual(s.Command, []string{"/bin/sleep"}) || s.Replicas != 1 ||
		s.Reservations.NanoCPUs != 25e7 || s.Reservations.MemoryBytes != 1024 || s.Restart.Condition != RestartNone ||
		s.Ports[0] != (PortSpec{Port: 80, Protocol: "tcp"}) {
		t.Fatalf("spec = %+v", s)
	}
	// A bare array and a single object, format sniffed without an extension.
	for _, doc := range []string{`[{"name":"a","command":["x"]},{"name":"b","command":["y"]}]`, `{"name":"a","command":["x"]}`} {
		specs, err := ParseManifest("-", []byte(doc))
		if err != nil || specs[0].Name != "a" {
			t.Fatalf("ParseManifest(%s) = %+v, %v", doc, specs, err)
		}
	}
	// TOML sniffed without an extension.
	specs, err = ParseManifest("stdin", []byte("[[service]]\nname = \"a\"\ncommand = [\"x\"]\n"))
	if err != nil || len(specs) != 1 {
		t.Fatalf("sniffed TOML: %+v, %v", specs, err)
	}
}

func TestParseManifestErrors(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"web.toml", "[[service]]\nname = \"web\"\ncommand = [\"x\"]\nreplica = 3\n", `manifest web.toml: service "web": unknown key "replica"`},
		{"web.toml", "[[service]]\ncommand = [\"x\"]\nfoo = 1\n", `manifest web.toml: service #1: unknown key "foo"`},
		{"web.toml", "[[service]]\nname = \"web\"\ncommand = [\"x\"]\nrestart = { conditon = \"any\" }\n", `unknown key "restart.conditon"`},
		{"web.toml", "[[service]]\nname = \"web\"\ncommand = [\"x\"]\nports = [{ port = 80, proto = \"udp\" }]\n", `unknown key "ports[0].proto"`},
		{"d.toml", "[[service]]\nname = \"web\"\ncommand = [\"x\"]\n[[service]]\nname = \"web\"\ncommand = [\"y\"]\n", `manifest d.toml: service "web" is defined twice`},
		{"g.toml", "[[service]]\nname = \"web\"\nmode = \"global\"\nreplicas = 2\nimage = \"x\"\n", `service "web": spec.replicas: must be 0 for mode global`},
		{"n.toml", "[[service]]\nname = \"Web App\"\ncommand = [\"x\"]\n", `service "Web App": spec.name: "Web App" is not a valid name`},
		{"m.toml", "[[service]]\nname = \"web\"\ncommand = [\"x\"]\nmemory = \"64XB\"\n", `key "memory": invalid size "64XB"`},
		{"r.toml", "[[service]]\nname = \"web\"\ncommand = [\"x\"]\nreplicas = -1\n", `key "replicas": must be a whole number ≥ 0, not -1`},
		{"r.toml", "[[service]]\nname = \"web\"\ncommand = [\"x\"]\nreplicas = \"3\"\n", `key "replicas": must be a whole number`},
		{"d.toml", "[[service]]\nname = \"web\"\ncommand = [\"x\"]\nstop_grace_period = 10\n", `key "stop_grace_period": must be a duration string like "5s", not 10`},
		{"d.toml", "[[service]]\nname = \"web\"\ncommand = [\"x\"]\nstop_delay = true\n", `key "stop_delay": must be a duration string like "5s", not a boolean`},
		{"c.toml", "[[service]]\nname = \"web\"\ncommand = [\"x\"]\ncpu = 1\nreservations = { nano_cpus = 5 }\n", `CPU is already set`},
		{"p.toml", "[[service]]\nname = \"web\"\ncommand = [\"x\"]\nplacement_prefs = [\"node.labels.zone\"]\n", `must look like spread=node.labels.<key>`},
		{"t.toml", "[service\nname = 1", `manifest t.toml: invalid TOML: line 2: expected`},
		{"t.toml", "servce = 1\n", `unknown top-level key "servce"`},
		{"e.toml", "", `defines no services`},
		{"j.json", `{"service": [{"name": "a", "command": ["x"]}]} {}`, `unexpected data after the document`},
		{"j.json", `{"service": [1]}`, `service #1: must be a table of keys, not a number`},
		{"j.json", `{"service": 1}`, `"service" must be a list of tables`},
		{"j.json", `"x"`, `document must be a table of services`},
		{"j.json", `{"service": [{"name": "a", "command": ["x"], "env": ["A"]}]}`, `spec.env[0]: "A" is not KEY=VALUE`},
		// Keys are matched exactly, in TOML and JSON alike.
		{"k.toml", "[[service]]\nname = \"web\"\ncommand = [\"x\"]\nReplicas = 3\n", `service "web": unknown key "Replicas"`},
		{"k.toml", "[[service]]\nname = \"web\"\ncommand = [\"x\"]\nrestart = { Delay = \"1s\" }\n", `service "web": unknown key "restart.Delay"`},
		{"k.json", `{"name": "web", "command": ["x"], "Replicas": 3}`, `service "web": unknown key "Replicas"`},
		{"c.toml", "[[service]]\nname = \"web\"\ncommand = [\"x\"]\nconstraints = [\"node.labels.zone==a\", \"zone\"]\n", `service "web": key constraints[1]: invalid constraint "zone"`},
		{"d.json", `{"name": "web", "command": ["x"], "restart": {"delay": "soon"}}`, `service "web": key "restart.delay": bad duration "soon"`},
		{"p.json", `{"name": "web", "command": ["x"], "ports": [{"port": 70000}]}`, `service "web": key "ports[0].port": must be 1-65535, not 70000`},
		{"u.json", `{"name": "web", "command": ["x"], "user": null}`, `service "web": key "user": must be a string, not null`},
	}
	for _, c := range cases {
		_, err := ParseManifest(c.name, []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) || CodeOf(err) != CodeInvalid {
			t.Errorf("ParseManifest(%s, %q) error = %v; want invalid containing %q", c.name, c.doc, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("error has several lines: %q", err)
		}
	}
	big := make([]byte, MaxManifestSize+1)
	if _, err := ParseManifest("big.toml", big); err == nil || !strings.Contains(err.Error(), "more than the limit") {
		t.Errorf("oversized manifest error = %v", err)
	}
}

const containerManifest = `
[[service]]
name = "db"
image = "docker.io/library/postgres:16"
entrypoint = ["/usr/local/bin/docker-entrypoint.sh"]
user = "999:999"
memory = "64MiB"
limits = { cpu = 0.5, memory = "128MiB" }
pids_limit = 200
mounts = [
  { type = "volume", source = "pgdata", target = "/var/lib/postgresql/data" },
  { type = "bind", src = "/srv/conf", dst = "/etc/pg", readonly = true },
  "type=bind,source=/srv/certs,destination=/certs,ro",
]

[[service]]
name = "cache"
image = "redis"
entrypoint = "redis-server"
limit_cpu = "250m"
limit_memory = 1073741824
mounts = [{ source = "cache", target = "/data", ro = false }]
`

func TestParseManifestContainerFields(t *testing.T) {
	specs, err := ParseManifest("c.toml", []byte(containerManifest))
	if err != nil {
		t.Fatal(err)
	}
	db, cache := specs[0], specs[1]
	if !reflect.DeepEqual(db.Entrypoint, []string{"/usr/local/bin/docker-entrypoint.sh"}) || db.User != "999:999" ||
		db.Limits != (Resources{NanoCPUs: 5e8, MemoryBytes: 128 * MiB}) || db.Reservations.MemoryBytes != 64*MiB || db.PidsLimit != 200 {
		t.Errorf("db = %+v", db)
	}
	wantMounts := []Mount{
		{Type: MountVolume, Source: "pgdata", Target: "/var/lib/postgresql/data"},
		{Type: MountBind, Source: "/srv/conf", Target: "/etc/pg", ReadOnly: true},
		{Type: MountBind, Source: "/srv/certs", Target: "/certs", ReadOnly: true},
	}
	if !reflect.DeepEqual(db.Mounts, wantMounts) {
		t.Errorf("db.mounts = %+v\nwant %+v", db.Mounts, wantMounts)
	}
	if !reflect.DeepEqual(cache.Entrypoint, []string{"redis-server"}) || cache.Limits != (Resources{NanoCPUs: 25e7, MemoryBytes: GiB}) ||
		!reflect.DeepEqual(cache.Mounts, []Mount{{Type: MountVolume, Source: "cache", Target: "/data"}}) {
		t.Errorf("cache = %+v", cache)
	}

	doc := `{"name": "db", "image": "redis", "entrypoint": ["sh", "-c"], "user": "redis",
	  "limits": {"nano_cpus": 1000000000, "memory_bytes": "1G"}, "pids_limit": 50,
	  "mounts": [{"type": "volume", "source": "d", "target": "/d", "readonly": true}]}`
	specs, err = ParseManifest("c.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	s := specs[0]
	if !reflect.DeepEqual(s.Entrypoint, []string{"sh", "-c"}) || s.User != "redis" || s.Limits != (Resources{NanoCPUs: 1e9, MemoryBytes: GiB}) ||
		s.PidsLimit != 50 || !reflect.DeepEqual(s.Mounts, []Mount{{Type: MountVolume, Source: "d", Target: "/d", ReadOnly: true}}) {
		t.Errorf("json spec = %+v", s)
	}
}

// TestParseManifestProcessUser: a process service takes user, in TOML and
// JSON, and a malformed one is refused naming the service and the field.
func TestParseManifestProcessUser(t *testing.T) {
	for name, doc := range map[string]string{
		"p.toml": "[[service]]\nname = \"web\"\ncommand = [\"sleep\", \"1\"]\nuser = \"nobody:nogroup\"\n",
		"p.json": `{"name": "web", "command": ["sleep", "1"], "user": "nobody:nogroup"}`,
	} {
		specs, err := ParseManifest(name, []byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s := specs[0]; s.Runtime != RuntimeProcess || s.User != "nobody:nogroup" {
			t.Errorf("%s: runtime %q, user %q; want process as nobody:nogroup", name, s.Runtime, s.User)
		}
	}
	_, err := ParseManifest("p.toml", []byte("[[service]]\nname = \"web\"\ncommand = \"sleep\"\nuser = \"a:b:c\"\n"))
	want := `manifest p.toml: service "web": spec.user: "a:b:c" is not NAME, NAME:GROUP, UID or UID:GID`
	if err == nil || err.Error() != want {
		t.Errorf("bad user: %v; want %q", err, want)
	}
}

func TestParseManifestContainerErrors(t *testing.T) {
	const head = "[[service]]\nname = \"db\"\nimage = \"redis\"\n"
	cases := []struct{ doc, want string }{
		{head + "limits = { cpus = 1 }\n", `service "db": unknown key "limits.cpus"`},
		{head + "limits = 1\n", `key "limits": must be a table like { cpu = 0.5, memory = "64MiB" }, not a number`},
		{head + "limit_cpu = 1\nlimits = { cpu = 2 }\n", `key "limits.cpu": CPU is already set by "limit_cpu"`},
		{head + "limit_memory = \"1G\"\nlimits = { memory_bytes = 5 }\n", `key "limits.memory_bytes": memory is already set by "limit_memory"`},
		{head + "limits = { cpu = 1, nano_cpus = 5 }\n", `key "limits.nano_cpus": CPU is already set by "limits.cpu"`},
		{head + "limits = { memory = \"lots\" }\n", `key "limits.memory": invalid size "lots"`},
		{head + "limit_cpu = \"x\"\n", `key "limit_cpu": invalid CPU amount "x"`},
		{head + "memory = \"1G\"\nlimits = { memory = \"512MiB\" }\n", `spec.limits.memory_bytes: a memory limit of 512MiB is below the reservation of 1GiB`},
		{head + "pids_limit = -1\n", `key "pids_limit": must be a whole number ≥ 0, not -1`},
		{head + "user = 1000\n", `key "user": must be a string, not a number`},
		{head + "entrypoint = [1]\n", `key entrypoint[0]: must be a string, not a number`},
		{head + "mounts = { source = \"d\" }\n", `key "mounts": must be a list, not a table`},
		{head + "mounts = [1]\n", `key mounts[0]: must be a table like { type = "volume", source = "data", target = "/data" }, not a number`},
		{head + "mounts = [{ source = \"d\", target = \"/d\", mode = \"ro\" }]\n", `service "db": unknown key "mounts[0].mode"`},
		{head + "mounts = [{ source = \"d\", src = \"e\", target = \"/d\" }]\n", `key "mounts[0].src": repeats "mounts[0].source"`},
		{head + "mounts = [{ source = \"d\", target = \"/d\", readonly = \"yes\" }]\n", `key "mounts[0].readonly": must be true or false, not "yes"`},
		{head + "mounts = [{ source = \"d\", target = \"data\" }]\n", `service "db": spec.mounts[0].target: "data" must be an absolute path`},
		{head + "mounts = [\"type=nfs,source=d,target=/d\"]\n", `key mounts[0]: mount "type=nfs,source=d,target=/d": type "nfs" is not volume or bind`},
		{"[[service]]\nname = \"p\"\ncommand = [\"x\"]\nmounts = [{ source = \"d\", target = \"/d\" }]\n", `service "p": spec.mounts: only the containerd runtime supports mounts`},
	}
	for _, c := range cases {
		_, err := ParseManifest("c.toml", []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) || CodeOf(err) != CodeInvalid || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseManifest(%q) error = %v; want one-line invalid containing %q", c.doc, err, c.want)
		}
	}
}

func TestParseMount(t *testing.T) {
	good := []struct {
		in   string
		want Mount
	}{
		{"type=volume,source=data,target=/data", Mount{Type: MountVolume, Source: "data", Target: "/data"}},
		{"source=data,target=/data", Mount{Type: MountVolume, Source: "data", Target: "/data"}},
		{"type=bind,src=/srv/x,dst=/x,readonly", Mount{Type: MountBind, Source: "/srv/x", Target: "/x", ReadOnly: true}},
		{"type=bind,source=/srv/x,destination=/x,ro=true", Mount{Type: MountBind, Source: "/srv/x", Target: "/x", ReadOnly: true}},
		{"TYPE=bind, Source=/a, Target=/b, readonly=false", Mount{Type: MountBind, Source: "/a", Target: "/b"}},
	}
	for _, c := range good {
		if got, err := ParseMount(c.in); err != nil || got != c.want {
			t.Errorf("ParseMount(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	bad := []struct{ in, want string }{
		{"", `mount "": empty field ""`},
		{"source=d,,target=/d", `empty field ""`},
		{"type=tmpfs,target=/t", `type "tmpfs" is not volume or bind`},
		{"source=d,target=/d,bogus=1", `unknown key "bogus" (want type, source, target, readonly)`},
		{"source=d,target=/d,propagation", `"propagation" needs a value`},
		{"source=d,src=e,target=/d", `"src" repeats "source"`},
		{"source=d,target=/d,readonly=maybe", `readonly="maybe" is not true or false`},
		{"type=volume,target=/d", `needs source=NAME (volume) or source=/HOST/PATH (bind)`},
		{"type=volume,source=d", `needs target=/PATH in the container`},
		{"source", `"source" needs a value (source=...)`},
	}
	for _, c := range bad {
		if _, err := ParseMount(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseMount(%q) error = %v; want %q", c.in, err, c.want)
		}
	}
}

// FuzzParseManifest checks that no document makes ParseManifest panic,
// that every error is one line of CodeInvalid naming the manifest, that
// decoding is deterministic (keys are read in sorted order, not map order),
// and that every spec it returns is normalized and valid.
func FuzzParseManifest(f *testing.F) {
	f.Add("m.toml", tomlManifest)
	f.Add("m.json", `{"service": [{"name": "web", "command": ["x"], "cpu": 0.5, "ports": [80, "53/udp"]}]}`)
	f.Add("m", `[{"name":"a","image":"x","mode":"global"}]`)
	f.Add("m.toml", "[[service]]\nname = \"a\"\nrestart = { delay = 5 }\n")
	f.Add("\n", "0")
	f.Add("m.json", `{"name": "a", "reservations": {"memory": "1G", "cpu": "2"}, "command": ["a"]}`)
	f.Add("c.toml", containerManifest)
	f.Add("c.json", `{"name": "a", "image": "x", "limits": {"cpu": "1", "memory_bytes": 9999999}, "mounts": ["src=a,dst=/a", {"type": "bind"}]}`)
	f.Add("doc.toml", docServiceExample+containerHeader+docContainerExample)
	f.Add("m.toml", containerHeader+"limit_cpu = 1\nlimits = { nano_cpus = 5, memory = \"1G\", memory_bytes = 2 }\nmemory = 3\n")
	f.Add("m.json", `{"name": "a", "command": "x", "env": {"B": 1.50, "A": true}, "labels": {"x": 2}, "preferences": [{"spread": "node.labels.z"}], "placement_prefs": ["spread=node.labels.y"]}`)
	f.Fuzz(func(t *testing.T, name, doc string) {
		specs, err := ParseManifest(name, []byte(doc))
		specs2, err2 := ParseManifest(name, []byte(doc))
		if fmt.Sprint(err) != fmt.Sprint(err2) || !reflect.DeepEqual(specs, specs2) {
			t.Fatalf("two decodings differ: %v / %v", err, err2)
		}
		if err != nil {
			if CodeOf(err) != CodeInvalid || strings.ContainsAny(err.Error(), "\r\n") || !strings.HasPrefix(err.Error(), "manifest ") {
				t.Fatalf("bad error %q", err)
			}
			return
		}
		if len(specs) == 0 {
			t.Fatal("no specs and no error")
		}
		for _, s := range specs {
			if err := s.Validate(); err != nil {
				t.Fatalf("returned an invalid spec: %v", err)
			}
			n := s
			n.Normalize()
			if !reflect.DeepEqual(n, s) {
				t.Fatalf("returned a spec that is not normalized: %+v", s)
			}
		}
	})
}

// TestManifestSchema checks the schema structs: every field is a
// manifestField with a key, and every JSON name of ServiceSpec,
// RestartPolicy and Resources is a key of the manifest, as ParseManifest
// promises.
func TestManifestSchema(t *testing.T) {
	fieldType := reflect.TypeFor[manifestField]()
	for _, c := range []struct{ schema, spec reflect.Type }{
		{reflect.TypeFor[manifestService](), reflect.TypeFor[ServiceSpec]()},
		{reflect.TypeFor[manifestRestart](), reflect.TypeFor[RestartPolicy]()},
		{reflect.TypeFor[manifestResources](), reflect.TypeFor[Resources]()},
		{reflect.TypeFor[manifestUpdate](), reflect.TypeFor[UpdatePolicy]()},
	} {
		keys := map[string]bool{}
		for f := range c.schema.Fields() {
			key := f.Tag.Get("manifest")
			if key == "" || keys[key] || !reflect.PointerTo(f.Type).Implements(fieldType) {
				t.Errorf("%s.%s: want a manifestField with a key of its own, have %s with key %q", c.schema.Name(), f.Name, f.Type, key)
			}
			keys[key] = true
		}
		for f := range c.spec.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !keys[name] {
				t.Errorf("%s has no key %q for %s.%s", c.schema.Name(), name, c.spec.Name(), f.Name)
			}
		}
	}
}

func TestParsePortForms(t *testing.T) {
	ok := map[string]PortSpec{
		"80":                  {TargetPort: 80, Protocol: "tcp", Mode: PublishIngress},
		"53/udp":              {TargetPort: 53, Protocol: "udp", Mode: PublishIngress},
		"8080:80":             {Port: 8080, TargetPort: 80, Protocol: "tcp", Mode: PublishIngress},
		"5353:53/udp":         {Port: 5353, TargetPort: 53, Protocol: "udp", Mode: PublishIngress},
		"name=http,target=80": {Name: "http", TargetPort: 80, Protocol: "tcp"},
		"name=dns,published=5353,target=53,protocol=udp":            {Name: "dns", Port: 5353, TargetPort: 53, Protocol: "udp", Mode: PublishIngress},
		"published=8080,target=80,protocol=udp,mode=host,name=http": {Name: "http", Port: 8080, TargetPort: 80, Protocol: "udp", Mode: PublishHost},
		"published=443,target=8443,proxy_protocol=true":             {Port: 443, TargetPort: 8443, Protocol: "tcp", Mode: PublishIngress, ProxyProtocol: true},
		"mode=ingress,target=80,proxy_protocol=true":                {TargetPort: 80, Protocol: "tcp", Mode: PublishIngress, ProxyProtocol: true},
		"mode=host,published=8080":                                  {Port: 8080, Protocol: "tcp", Mode: PublishHost},
	}
	for in, want := range ok {
		if got, err := ParsePort(in); err != nil || got != want {
			t.Errorf("ParsePort(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"0":                            "must be TARGET or PUBLISHED:TARGET",
		"80:x":                         "must be TARGET or PUBLISHED:TARGET",
		"70000:80":                     "must be TARGET or PUBLISHED:TARGET",
		"mode=nodeport,target=80":      `mode "nodeport" is not ingress or host`,
		"mode=host,target=80":          "mode=host needs published",
		"target=80,proxy_protocol=yes": `proxy_protocol "yes" is not true or false`,
		"name=http,target=80,proxy_protocol=true": "proxy_protocol needs a published port",
		"80/sctp":           "protocol must be tcp or udp",
		"name=http":         "needs published or target",
		"name=http,port=80": `unknown key "port"`,
		"target=70000":      `target "70000" is not a port`,
	}
	for in, want := range bad {
		if _, err := ParsePort(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePort(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestNamedPortsValidateAndNeedProtocol5(t *testing.T) {
	spec := ServiceSpec{Name: "web", Runtime: RuntimeContainerd, Image: "hello", Mode: ModeReplicated, Replicas: 1,
		Ports: []PortSpec{{Name: "http", TargetPort: 80}, {Name: "admin", Port: 9000, TargetPort: 90}}}
	spec.Normalize()
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ports []PortSpec
		want  string
	}{
		{[]PortSpec{{Name: "HTTP", TargetPort: 80}}, "may hold only a-z"},
		{[]PortSpec{{Name: "http", TargetPort: 80}, {Name: "http", TargetPort: 81}}, "is used twice"},
		{[]PortSpec{{Name: "averyveryverylongname", TargetPort: 80}}, "longer than 15"},
	} {
		s := spec
		s.Ports = c.ports
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.ports, err, c.want)
		}
	}
	proc := ServiceSpec{Name: "p", Runtime: RuntimeProcess, Command: []string{"x"}, Mode: ModeReplicated, Replicas: 1,
		Ports: []PortSpec{{Port: 8080, TargetPort: 80}}}
	if err := proc.Validate(); err == nil || !strings.Contains(err.Error(), "leave target_port out") {
		t.Errorf("process task with a target port: %v", err)
	}
	raw, _ := json.Marshal(CreateServicePayload{Spec: spec})
	if got := ProtocolOf(Command{Type: CmdCreateService, Payload: raw}); got != 5 {
		t.Errorf("named ports need protocol %d, want 5", got)
	}
	plain := spec
	plain.Ports = []PortSpec{{Port: 8080, Protocol: "tcp"}}
	raw, _ = json.Marshal(CreateServicePayload{Spec: plain})
	if got := ProtocolOf(Command{Type: CmdCreateService, Payload: raw}); got != 1 {
		t.Errorf("a plain published port needs protocol %d, want 1", got)
	}
}

// TestManifestStopDelay: stop_delay absent is unset (the default
// applies), "0s" is an explicit none.
func TestManifestStopDelay(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want *Duration
	}{
		{"[[service]]\nname = \"web\"\ncommand = [\"x\"]\n", nil},
		{"[[service]]\nname = \"web\"\ncommand = [\"x\"]\nstop_delay = \"0s\"\n", new(Duration)},
		{"[[service]]\nname = \"web\"\ncommand = [\"x\"]\nstop_delay = \"3s\"\n", func() *Duration { d := Duration(3 * time.Second); return &d }()},
	} {
		specs, err := ParseManifest("m.toml", []byte(tc.doc))
		if err != nil {
			t.Fatalf("%q: %v", tc.doc, err)
		}
		got := specs[0].StopDelay
		if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Fatalf("%q: stop delay %v, want %v", tc.doc, got, tc.want)
		}
	}
}
