package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

func validConfig(t *testing.T) Config {
	c := DefaultConfig()
	c.DataDir = t.TempDir()
	c.Name = "n1"
	c.Bootstrap = true
	return c
}

func TestConfigFileAndValidation(t *testing.T) {
	c := DefaultConfig()
	err := ParseConfig(`
data_dir = "/tmp/x"
name = "n7"
p2p_port = 9000
labels = { zone = "a" }
runtimes = ["process"]
log_level = "debug"
log_format = "json"
service_cidr = "10.50.0.0/20"
[raft]
heartbeat_timeout = "250ms"
[voters]
target = 5
large = 5
[network]
mode = "vxlan"
vxlan_port = 8472
`, &c)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "n7" || c.P2PPort != 9000 || c.Labels["zone"] != "a" || time.Duration(c.Raft.HeartbeatTimeout) != 250*time.Millisecond || c.Voters.Target != 5 {
		t.Fatalf("decoded %+v", c)
	}
	if c.Network.Mode != "vxlan" || c.Network.VXLANPort != 8472 || DefaultConfig().Network.Mode != "auto" {
		t.Fatalf("network %+v", c.Network)
	}
	if c.LogLevel != "debug" || c.LogFormat != "json" {
		t.Fatalf("log level %q, format %q", c.LogLevel, c.LogFormat)
	}
	if c.ServiceCIDR != "10.50.0.0/20" || DefaultConfig().ServiceCIDR != api.DefaultServiceCIDR {
		t.Fatalf("service CIDR %q", c.ServiceCIDR)
	}
	if c.GossipPort != 7946 {
		t.Fatalf("unset keys must keep defaults, gossip port = %d", c.GossipPort)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrorsNameTheProblem(t *testing.T) {
	cases := map[string]string{
		`replicas = 3`:                                 `unknown key "replicas"`,
		`[raft]` + "\n" + `heartbeat = "1s"`:           `unknown key "raft.heartbeat"`,
		`p2p_port = "x"`:                               "p2p_port",
		`[raft]` + "\n" + `heartbeat_timeout = "soon"`: `bad duration "soon"`,
		`name = `:       "config:",
		`log_level = 3`: "log_level",
	}
	for in, want := range cases {
		c := DefaultConfig()
		err := ParseConfig(in, &c)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseConfig(%q) = %v, want one line containing %q", in, err, want)
		}
	}
	bad := []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.P2PPort = 70000 }, "p2p port: 70000"},
		{func(c *Config) { c.GossipPort = -1 }, "gossip port: -1"},
		{func(c *Config) { c.Raft.ElectionTimeout = -api.Duration(time.Second) }, "raft.election_timeout: -1s must not be negative"},
		{func(c *Config) { c.Voters.DeadGrace = -1 }, "voters.dead_grace: -1ns must not be negative"},
		{func(c *Config) { c.Bind = "nope" }, `bind: "nope"`},
		{func(c *Config) { c.APIAddr = "7948" }, "api addr"},
		{func(c *Config) { c.Name = "a b" }, "name:"},
		{func(c *Config) { c.Join = "h:1" }, "exclude each other"},
		{func(c *Config) { c.Bootstrap = false; c.Join = "h:1" }, "--join needs a join token"},
		{func(c *Config) { c.Runtimes = []string{"docker"} }, `unknown runtime "docker"`},
		{func(c *Config) { c.Voters.Target = 2 }, "voters.target"},
		{func(c *Config) { c.GossipPort, c.P2PPort = 9000, 9000 }, "both 9000"},
		{func(c *Config) { c.LogLevel = "verbose" }, `log level: "verbose" is not debug, info, warn or error`},
		{func(c *Config) { c.LogLevel = "" }, `log level: ""`},
		{func(c *Config) { c.LogFormat = "xml" }, `log format: "xml" is not text or json`},
		{func(c *Config) { c.Network.Mode = "overlay" }, `network.mode: "overlay" is not a network mode (auto, host-gw, vxlan)`},
		{func(c *Config) { c.Network.VXLANPort = 70000 }, `network.vxlan_port: 70000`},
		{func(c *Config) { c.Bootstrap, c.Join, c.ServiceCIDR = true, "", "10.42.0.0/24" }, "service_cidr: service CIDR 10.42.0.0/24 overlaps the cluster CIDR 10.42.0.0/16"},
		{func(c *Config) { c.Bootstrap, c.Join, c.ServiceCIDR = true, "", "10.43.0.0/28" }, "service_cidr: service CIDR 10.43.0.0/28: prefix /28 is not within /8 to /24"},
		{func(c *Config) { c.Bootstrap, c.Join, c.ServiceCIDR = true, "", "vips" }, `service_cidr: service CIDR "vips": not an address/prefix`},
	}
	for _, b := range bad {
		c := validConfig(t)
		b.mut(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("Validate() = %v, want %q", err, b.want)
		}
	}
}

func TestCheckDataDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	if err := CheckDataDir(filepath.Join(file, "sub")); err == nil || !strings.Contains(err.Error(), "cannot create") {
		t.Fatalf("data dir under a file: %v", err)
	}
	if err := CheckDataDir(filepath.Join(dir, "ok")); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add(`name = "n1"` + "\n" + `[raft]` + "\n" + `heartbeat_timeout = "1s"`)
	f.Add(`labels = { a = "b" }`)
	f.Add(`[[x]]`)
	f.Add(`log_level = "warn"` + "\n" + `log_format = "json"`)
	f.Fuzz(func(t *testing.T, in string) {
		c := DefaultConfig()
		if err := ParseConfig(in, &c); err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		_ = c.Validate()
	})
}
