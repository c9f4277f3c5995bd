package api

import (
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
		Constraints:  []string{"node.labels.zone!=c"},
		Preferences:  []PlacementPreference{{Spread: "node.labels.zone"}},
		Ports:        []PortSpec{{8080, "tcp"}, {53, "udp"}, {9090, "tcp"}},
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
		s.Ports[0] != (PortSpec{80, "tcp"}) {
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

func FuzzParseManifest(f *testing.F) {
	f.Add("m.toml", tomlManifest)
	f.Add("m.json", `{"service": [{"name": "web", "command": ["x"], "cpu": 0.5, "ports": [80, "53/udp"]}]}`)
	f.Add("m", `[{"name":"a","image":"x","mode":"global"}]`)
	f.Add("m.toml", "[[service]]\nname = \"a\"\nrestart = { delay = 5 }\n")
	f.Add("\n", "0")
	f.Add("m.json", `{"name": "a", "reservations": {"memory": "1G", "cpu": "2"}, "command": ["a"]}`)
	f.Fuzz(func(t *testing.T, name, doc string) {
		specs, err := ParseManifest(name, []byte(doc))
		if err != nil {
			if CodeOf(err) != CodeInvalid || strings.ContainsAny(err.Error(), "\n") {
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
		}
	})
}
