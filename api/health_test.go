package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseHealthHTTP(t *testing.T) {
	for _, c := range []struct{ in, path, port, err string }{
		{"/healthz", "/healthz", "", ""},
		{"/healthz:8080", "/healthz", "8080", ""},
		{"/:http", "/", "http", ""},
		{"/a:b/c:9", "/a:b/c", "9", ""},
		{"healthz", "", "", "starting with /"},
		{"/x:", "", "", "empty port"},
		{"/x:0", "", "", "1-65535"},
		{"/x:70000", "", "", "1-65535"},
		{"/x:Bad_Name", "", "", "1-65535 or a port name"},
		{"/a b:80", "", "", "white space"},
	} {
		path, port, err := ParseHealthHTTP(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || path != c.path || port != c.port {
			t.Errorf("%q: %q %q %v, want %q %q", c.in, path, port, err, c.path, c.port)
		}
	}
	if _, err := ParseHealthTCP("0"); err == nil {
		t.Error("tcp port 0 accepted")
	}
	if p, err := ParseHealthTCP("5432"); err != nil || p != "5432" {
		t.Errorf("tcp 5432: %q %v", p, err)
	}
}

// FuzzParseHealthHTTP: never panics; refusals are one line; what it
// accepts has a path starting with / and a port that resolves or is
// refused in one line.
func FuzzParseHealthHTTP(f *testing.F) {
	for _, s := range []string{"/", "/healthz:8080", "/:http", "/a:b:c", "x", "/:", "/x:65536"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		path, port, err := ParseHealthHTTP(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\r\n") {
			t.Fatalf("ParseHealthHTTP(%q) accepted path %q", s, path)
		}
		spec := ServiceSpec{Name: "web", Runtime: RuntimeProcess, Command: []string{"x"}, Mode: ModeReplicated, Replicas: 1,
			Ports: []PortSpec{{Name: "http", Port: 8080, Protocol: "tcp"}}, Health: &HealthCheck{HTTP: s}}
		if err := spec.Validate(); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("validation error is not one line: %q", err)
		}
		if _, err := spec.HealthPort(port); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("port error is not one line: %q", err)
		}
	})
}

func TestValidateHealth(t *testing.T) {
	base := ServiceSpec{Name: "web", Runtime: RuntimeProcess, Command: []string{"x"}, Mode: ModeReplicated, Replicas: 1,
		Ports: []PortSpec{{Name: "http", Port: 8080, Protocol: "tcp"}}}
	for _, c := range []struct {
		h    HealthCheck
		want string
	}{
		{HealthCheck{HTTP: "/healthz"}, ""},
		{HealthCheck{HTTP: "/healthz:http"}, ""},
		{HealthCheck{TCP: "9000"}, ""},
		{HealthCheck{Cmd: []string{"test", "-f", "/tmp/x"}, Interval: Duration(time.Second), Retries: 2}, ""},
		{HealthCheck{}, "spec.health: give exactly one of"},
		{HealthCheck{HTTP: "/", TCP: "80"}, "spec.health: give exactly one of"},
		{HealthCheck{HTTP: "/:admin"}, "spec.health.http: port \"admin\" is not a port"},
		{HealthCheck{TCP: "x y"}, "spec.health.tcp:"},
		{HealthCheck{Cmd: []string{""}}, "spec.health.cmd:"},
		{HealthCheck{TCP: "80", Interval: Duration(time.Millisecond)}, "spec.health.interval:"},
		{HealthCheck{TCP: "80", Timeout: -1}, "spec.health.timeout:"},
		{HealthCheck{TCP: "80", StartPeriod: -1}, "spec.health.start_period:"},
		{HealthCheck{TCP: "80", Retries: 5000}, "spec.health.retries:"},
		{HealthCheck{Cmd: []string{"CMD-SHELL", "curl -f localhost"}}, ""},
		{HealthCheck{Cmd: []string{"CMD", "/hello", "-check", "http://127.0.0.1:8080/"}}, ""},
		{HealthCheck{Disable: true}, ""},
		{HealthCheck{Cmd: []string{"CMD-SHELL"}}, "spec.health.cmd: [\"CMD-SHELL\", LINE]"},
		{HealthCheck{Cmd: []string{"CMD-SHELL", "a", "b"}}, "spec.health.cmd: [\"CMD-SHELL\", LINE]"},
		{HealthCheck{Cmd: []string{"CMD"}}, "spec.health.cmd: [\"CMD\", PROG, ARG...]"},
		{HealthCheck{Cmd: []string{"NONE"}}, "spec.health.cmd: [\"NONE\"] is written disable: true"},
		{HealthCheck{Cmd: []string{"true", "a\x00b"}}, "spec.health.cmd: an argument contains a NUL byte"},
		{HealthCheck{Disable: true, TCP: "80"}, "spec.health.disable: give it alone"},
		{HealthCheck{Disable: true, Retries: 2}, "spec.health.disable: give it alone"},
	} {
		s := base
		h := c.h
		s.Health = &h
		err := s.Validate()
		if c.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", c.h, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: %v, want %q", c.h, err, c.want)
		}
	}
	noPorts := base
	noPorts.Ports = nil
	noPorts.Health = &HealthCheck{HTTP: "/"}
	if err := noPorts.Validate(); err == nil || !strings.Contains(err.Error(), "spec.health.http: no port given") {
		t.Errorf("http check without a port: %v", err)
	}
	ctr := ServiceSpec{Name: "web", Runtime: RuntimeContainerd, Image: "hello", Mode: ModeReplicated, Replicas: 1,
		Health: &HealthCheck{Cmd: []string{"true"}}}
	if err := ctr.Validate(); err != nil {
		t.Errorf("container cmd check: %v", err)
	}
	user := base
	user.User = "nobody"
	user.Health = &HealthCheck{Cmd: []string{"true"}}
	if err := user.Validate(); err != nil {
		t.Errorf("cmd check with a user: %v", err)
	}
	if d := (HealthCheck{}).WithDefaults(); d.Interval != DefaultHealthInterval || d.Timeout != DefaultHealthTimeout || d.Retries != 3 || d.StartPeriod != 0 {
		t.Errorf("defaults: %+v", d)
	}
}

func TestHealthCheckArgv(t *testing.T) {
	for _, c := range []struct{ cmd, want []string }{
		{[]string{"CMD-SHELL", "curl -f localhost || exit 1"}, []string{"/bin/sh", "-c", "curl -f localhost || exit 1"}},
		{[]string{"CMD", "/hello", "-check", "x"}, []string{"/hello", "-check", "x"}},
		{[]string{"test", "-f", "/tmp/x"}, []string{"test", "-f", "/tmp/x"}},
		{nil, nil},
	} {
		if got := (HealthCheck{Cmd: c.cmd}).Argv(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Argv(%q) = %q, want %q", c.cmd, got, c.want)
		}
	}
}

func TestHealthNeedsProtocol5(t *testing.T) {
	spec := ServiceSpec{Name: "web", Runtime: RuntimeProcess, Command: []string{"x"}, Mode: ModeReplicated, Replicas: 1,
		Health: &HealthCheck{TCP: "80"}}
	if got := SpecProtocol(&spec); got != 5 {
		t.Errorf("a health check needs protocol %d, want 5", got)
	}
	spec.Health = &HealthCheck{Disable: true}
	if got := SpecProtocol(&spec); got != 5 {
		t.Errorf("a disabled health check needs protocol %d, want 5", got)
	}
	spec.Health = nil
	spec.Labels = map[string]string{"health": "a label"}
	if got := SpecProtocol(&spec); got != 1 {
		t.Errorf("no health check (a label named health) needs protocol %d, want 1", got)
	}
	raw, _ := json.Marshal(ReportTaskStatusPayload{NodeID: "n", Updates: []TaskStatusUpdate{{TaskID: "t", Status: TaskStatus{State: TaskRunning, Health: HealthHealthy}}}})
	if got := ProtocolOf(Command{Type: CmdReportTaskStatus, Payload: raw}); got != 5 {
		t.Errorf("a health report needs protocol %d, want 5", got)
	}
}

func TestManifestHealth(t *testing.T) {
	doc := `
[[service]]
name = "web"
command = ["x"]
ports = [{ name = "http", port = 8080 }]
health = { http = "/healthz:http", interval = "2s", timeout = "1s", retries = 2, start_period = "5s" }
`
	specs, err := ParseManifest("m.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	h := specs[0].Health
	if h == nil || h.HTTP != "/healthz:http" || h.Interval != Duration(2*time.Second) || h.Timeout != Duration(time.Second) || h.Retries != 2 || h.StartPeriod != Duration(5*time.Second) {
		t.Fatalf("health: %+v", h)
	}
	_, err = ParseManifest("m.toml", []byte(`
[[service]]
name = "web"
command = ["x"]
health = { cmd = ["true"], every = "2s" }
`))
	if err == nil || !strings.Contains(err.Error(), `"health.every"`) {
		t.Errorf("unknown health key: %v", err)
	}
	specs, err = ParseManifest("m.toml", []byte(`
[[service]]
name = "web"
image = "shoal/hello:v1"
health = { cmd = ["CMD", "/hello", "-check", "http://127.0.0.1:8080/"] }

[[service]]
name = "quiet"
image = "shoal/hello:v1"
health = { disable = true }
`))
	if err != nil {
		t.Fatal(err)
	}
	if h := specs[0].Health; h == nil || !reflect.DeepEqual(h.Argv(), []string{"/hello", "-check", "http://127.0.0.1:8080/"}) {
		t.Errorf("CMD form: %+v", h)
	}
	if h := specs[1].Health; h == nil || !h.Disable {
		t.Errorf("disable: %+v", h)
	}
}
