package api

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The examples of ParseManifest's doc comment, verbatim: docServiceExample
// is its first block, docContainerExample its second (the keys containers
// also take) under a service header.
const (
	docServiceExample = `[[service]]
name = "web"
command = ["/usr/bin/python3", "-m", "http.server", "8080"]
replicas = 3                      # default 1 for replicated services
cpu = 0.5                         # or "500m"; sets reservations.nano_cpus
memory = "64MiB"                  # sets reservations.memory_bytes
env = { LOG_LEVEL = "debug" }     # or ["LOG_LEVEL=debug"]
ports = [8080, "53/udp", { port = 9090, protocol = "tcp" }]
constraints = ["node.labels.zone!=c"]
placement_prefs = ["spread=node.labels.zone"]
restart = { condition = "on-failure", max_attempts = 3, delay = "2s" }
stop_grace_period = "10s"
`
	docContainerExample = `entrypoint = ["/bin/sh", "-c"]    # a string is one word
user = "1000:1000"                # NAME[:GROUP] or UID[:GID], in the image
limits = { cpu = 0.5, memory = "128MiB" }  # or limit_cpu, limit_memory
pids_limit = 100
mounts = [{ type = "volume", source = "data", target = "/data" },
          "type=bind,source=/srv/x,target=/x,readonly"]
`
	containerHeader = "[[service]]\nname = \"db\"\nimage = \"postgres:16\"\n"
)

// webSpec and dbSpec are what the decoder of Shoal 0.x (which walked
// map[string]any key by key) returned for the doc examples, normalized.
func webSpec() ServiceSpec {
	return ServiceSpec{
		Name:         "web",
		Runtime:      RuntimeProcess,
		Command:      []string{"/usr/bin/python3", "-m", "http.server", "8080"},
		Env:          []string{"LOG_LEVEL=debug"},
		Mode:         ModeReplicated,
		Replicas:     3,
		Reservations: Resources{NanoCPUs: 500000000, MemoryBytes: 67108864},
		Constraints:  []Constraint{{Key: "node.labels.zone", Op: OpNe, Value: "c"}},
		Preferences:  []PlacementPreference{{Spread: "node.labels.zone"}},
		Ports:        []PortSpec{{Port: 8080, Protocol: "tcp"}, {Port: 53, Protocol: "udp"}, {Port: 9090, Protocol: "tcp"}},
		Restart: RestartPolicy{
			Condition:   RestartOnFailure,
			Delay:       Duration(2 * time.Second),
			MaxAttempts: 3,
		},
		StopGracePeriod: Duration(10 * time.Second),
	}
}

func dbSpec() ServiceSpec {
	return ServiceSpec{
		Name:       "db",
		Runtime:    RuntimeContainerd,
		Image:      "postgres:16",
		Entrypoint: []string{"/bin/sh", "-c"},
		User:       "1000:1000",
		Limits:     Resources{NanoCPUs: 500000000, MemoryBytes: 134217728},
		PidsLimit:  100,
		Mounts: []Mount{
			{Type: MountVolume, Source: "data", Target: "/data"},
			{Type: MountBind, Source: "/srv/x", Target: "/x", ReadOnly: true},
		},
		Mode:            ModeReplicated,
		Replicas:        1,
		Restart:         RestartPolicy{Condition: RestartAny, Delay: Duration(time.Second)},
		StopGracePeriod: Duration(10 * time.Second),
	}
}

// TestManifestDocExamples decodes every example and alternative form the
// doc comment of ParseManifest shows, in TOML and in JSON, and compares the
// spec with the one the old decoder produced.
func TestManifestDocExamples(t *testing.T) {
	src, err := os.ReadFile("manifest.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, example := range []string{docServiceExample, docContainerExample} {
		for _, line := range strings.Split(strings.TrimSuffix(example, "\n"), "\n") {
			if !strings.Contains(string(src), "//\t"+line+"\n") {
				t.Errorf("doc comment of ParseManifest lost the example line %q", line)
			}
		}
	}

	web := webSpec()
	web1 := webSpec()
	web1.Replicas = 1
	db := dbSpec()
	dbWord := dbSpec()
	dbWord.Entrypoint = []string{"/bin/sh"}
	alt := strings.NewReplacer(
		"replicas = 3 ", "",
		"cpu = 0.5 ", `cpu = "500m"`,
		`env = { LOG_LEVEL = "debug" }`, `env = ["LOG_LEVEL=debug"]`,
	).Replace(docServiceExample)
	containerAlt := strings.NewReplacer(
		`entrypoint = ["/bin/sh", "-c"]`, `entrypoint = "/bin/sh"`,
		`limits = { cpu = 0.5, memory = "128MiB" }`, "limit_cpu = 0.5\nlimit_memory = \"128MiB\"",
	).Replace(docContainerExample)
	webJSON := `{"name": "web", "command": ["/usr/bin/python3", "-m", "http.server", "8080"], "replicas": 3,
	  "cpu": 0.5, "memory": "64MiB", "env": {"LOG_LEVEL": "debug"},
	  "ports": [8080, "53/udp", {"port": 9090, "protocol": "tcp"}],
	  "constraints": ["node.labels.zone!=c"], "placement_prefs": ["spread=node.labels.zone"],
	  "restart": {"condition": "on-failure", "max_attempts": 3, "delay": "2s"}, "stop_grace_period": "10s"}`
	webJSONAlt := `{"name": "web", "command": ["/usr/bin/python3", "-m", "http.server", "8080"],
	  "cpu": "500m", "reservations": {"memory_bytes": 67108864}, "env": ["LOG_LEVEL=debug"],
	  "ports": [{"port": 8080}, {"port": 53, "protocol": "udp"}, "9090/tcp"],
	  "constraints": ["node.labels.zone!=c"], "preferences": [{"spread": "node.labels.zone"}],
	  "restart": {"condition": "on-failure", "max_attempts": 3, "delay": "2s"}, "stop_grace_period": "10s"}`
	dbJSON := `{"name": "db", "image": "postgres:16", "entrypoint": ["/bin/sh", "-c"], "user": "1000:1000",
	  "limits": {"cpu": 0.5, "memory": "128MiB"}, "pids_limit": 100,
	  "mounts": [{"type": "volume", "source": "data", "target": "/data"}, "type=bind,source=/srv/x,target=/x,readonly"]}`
	dbJSONAlt := `{"name": "db", "image": "postgres:16", "entrypoint": "/bin/sh", "user": "1000:1000",
	  "limit_cpu": "500m", "limit_memory": 134217728, "pids_limit": 100,
	  "mounts": [{"source": "data", "target": "/data"}, {"type": "bind", "src": "/srv/x", "dst": "/x", "ro": true}]}`

	cases := []struct {
		name, doc string
		want      []ServiceSpec
	}{
		{"doc.toml", docServiceExample, []ServiceSpec{web}},
		{"alt.toml", alt, []ServiceSpec{web1}},
		{"db.toml", containerHeader + docContainerExample, []ServiceSpec{db}},
		{"db-alt.toml", containerHeader + containerAlt, []ServiceSpec{dbWord}},
		{"both.toml", docServiceExample + containerHeader + docContainerExample, []ServiceSpec{web, db}},
		{"single.toml", strings.TrimPrefix(docServiceExample, "[[service]]\n"), []ServiceSpec{web}},
		{"table.toml", "[service]\n" + strings.TrimPrefix(docServiceExample, "[[service]]\n"), []ServiceSpec{web}},
		{"doc.json", `{"service": [` + webJSON + `, ` + dbJSON + `]}`, []ServiceSpec{web, db}},
		{"array.json", `[` + webJSON + `]`, []ServiceSpec{web}},
		{"object.json", webJSON, []ServiceSpec{web}},
		{"one.json", `{"service": ` + dbJSON + `}`, []ServiceSpec{db}},
		{"sniffed", `[` + webJSONAlt + `, ` + dbJSONAlt + `]`, []ServiceSpec{web1, dbWord}},
	}
	for _, c := range cases {
		got, err := ParseManifest(c.name, []byte(c.doc))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}
