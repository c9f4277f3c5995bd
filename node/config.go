package node

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/textutil"
	"github.com/shoal-project/shoal/runtime/cni"
)

// Config is everything `shoal agent` is told, by flags or by a TOML file
// (flags win). Its TOML keys are the flag names with '_' for '-'.
type Config struct {
	DataDir    string `toml:"data_dir"`
	Name       string `toml:"name"`
	Bind       string `toml:"bind"`
	Advertise  string `toml:"advertise"`
	GossipPort int    `toml:"gossip_port"`
	P2PPort    int    `toml:"p2p_port"`
	// APISocket is the local API endpoint, a unix socket (mode 0660, group
	// "shoal" when that group exists): whoever can open it is an admin.
	APISocket string `toml:"api_socket"`
	// APIAddr, when set, serves the API over TCP: HTTPS with a certificate
	// from the cluster CA, every request with a bearer token.
	APIAddr   string            `toml:"api_addr"`
	Labels    map[string]string `toml:"labels"`
	Bootstrap bool              `toml:"bootstrap"`
	Join      string            `toml:"join"`
	Token     string            `toml:"token"`
	// TokenFile holds the join token (first line), so that it is not in
	// the agent's command line, which every local user can read.
	TokenFile string `toml:"token_file"`
	// ForceNewCluster restarts a data dir's node as the only voter of its
	// cluster (after a lost quorum). A one-time action: flag only.
	ForceNewCluster bool `toml:"-"`
	// Runtimes enabled on this node ("process", "containerd").
	Runtimes []string `toml:"runtimes"`
	// CPUs and Memory override the detected capacity ("4GiB").
	CPUs   float64 `toml:"cpus"`
	Memory string  `toml:"memory"`

	// ResolvConf is the file whose nameservers the node's DNS server asks
	// for names outside .shoal (kubelet's --resolv-conf); read again when
	// it changes. Default /etc/resolv.conf.
	ResolvConf string `toml:"resolv_conf"`

	// ContainerdSocket is where containerd listens. When Runtimes is empty,
	// the node runs containerd if this socket answers.
	ContainerdSocket string `toml:"containerd_socket"`
	// ContainerdNamespace keeps this agent's containers apart from others
	// on the same daemon (default "shoal").
	ContainerdNamespace string `toml:"containerd_namespace"`
	// Registries holds credentials and the plain-HTTP permission per
	// registry host ("127.0.0.1:5000").
	Registries map[string]RegistryConfig `toml:"registries"`
	// AllowBindMounts lists the host path prefixes tasks may bind-mount.
	AllowBindMounts []string `toml:"allow_bind_mounts"`
	// ClusterCIDR is the task network a --bootstrap creates the cluster
	// with (default api.DefaultClusterCIDR); every node gets a /24 of it.
	// Ignored when the node joins or restarts: the cluster record has it.
	ClusterCIDR string `toml:"cluster_cidr"`
	// ServiceCIDR is where a --bootstrap cluster's services get their
	// virtual IPs (default api.DefaultServiceCIDR, /8 to /24, clear of
	// the cluster CIDR). Ignored when the node joins or restarts.
	ServiceCIDR string `toml:"service_cidr"`
	// CNIBinDir holds the CNI plugins containers are wired with
	// (default /usr/lib/cni, where Debian's containernetworking-plugins
	// puts them).
	CNIBinDir string `toml:"cni_bin_dir"`

	// RestartGrace is how long the tasks of a node whose agent stopped on
	// SIGTERM keep their places while it restarts (default 60s).
	RestartGrace api.Duration `toml:"restart_grace"`
	// LeaveOnTerminate makes SIGTERM leave the cluster for good: the node
	// is marked down at once and its tasks are replaced elsewhere.
	LeaveOnTerminate bool `toml:"leave_on_terminate"`

	// LogLevel is the least level logged: debug, info (default), warn or
	// error. LogFormat is text (default) or json.
	LogLevel  string `toml:"log_level"`
	LogFormat string `toml:"log_format"`

	// FaultInjection enables POST /v1/debug/faults (chaos tests only).
	FaultInjection bool `toml:"fault_injection"`

	Raft    RaftConfig    `toml:"raft"`
	Gossip  GossipConfig  `toml:"gossip"`
	Voters  VotersConfig  `toml:"voters"`
	Limits  LimitsConfig  `toml:"limits"`
	Network NetworkConfig `toml:"network"`
}

// NetworkConfig is how the node reaches other nodes' task subnets.
type NetworkConfig struct {
	// Mode is "auto" (default: host-gw to nodes on a directly connected
	// network, VXLAN to the others), "host-gw" (only that; the others are
	// unreachable, and logged) or "vxlan" (every node over VXLAN). Flag
	// --network-mode.
	Mode string `toml:"mode"`
	// VXLANPort is the overlay's UDP port (default 4789); every node of
	// the cluster must use the same.
	VXLANPort int `toml:"vxlan_port"`
}

// LimitsConfig bounds what the cluster accepts, so that one request
// cannot take every node's memory. The leader enforces them when it admits
// a write; 0 means no limit.
type LimitsConfig struct {
	// MaxServices is the most services the cluster holds (default 1000).
	MaxServices int `toml:"max_services"`
	// MaxTasks is the most tasks all services may want at once: the sum of
	// replicated services' replicas, plus a task per node for each global
	// service (default 10000).
	MaxTasks int `toml:"max_tasks"`
}

// RegistryConfig is how to reach one registry.
type RegistryConfig struct {
	Username string `toml:"username"`
	Password string `toml:"password"`
	// Insecure allows plain HTTP to this registry.
	Insecure bool `toml:"insecure"`
}

// RaftConfig tunes consensus timing.
type RaftConfig struct {
	HeartbeatTimeout   api.Duration `toml:"heartbeat_timeout"`
	ElectionTimeout    api.Duration `toml:"election_timeout"`
	LeaderLeaseTimeout api.Duration `toml:"leader_lease_timeout"`
}

// GossipConfig tunes failure detection.
type GossipConfig struct {
	ProbeInterval api.Duration `toml:"probe_interval"`
	ProbeTimeout  api.Duration `toml:"probe_timeout"`
	SuspicionMult int          `toml:"suspicion_mult"`
}

// VotersConfig sets how many Raft voters the leader keeps, and where.
type VotersConfig struct {
	// Target voters for clusters of 3..LargeAt-1 nodes (default 3).
	Target int `toml:"target"`
	// Large is the voter count once the cluster has LargeAt nodes (default 5 at 7).
	Large   int `toml:"large"`
	LargeAt int `toml:"large_at"`
	// ZoneLabel is the node label voters are spread over (default "zone").
	ZoneLabel string `toml:"zone_label"`
	// StableFor is how long a non-voter must be alive and caught up before promotion.
	StableFor api.Duration `toml:"stable_for"`
	// DeadGrace is how long a voter may be dead before it is replaced.
	DeadGrace api.Duration `toml:"dead_grace"`
	// ReapAfter is how long a down node still counts towards the voter
	// target (default 24h); `node rm` stops counting it at once.
	ReapAfter api.Duration `toml:"reap_after"`
}

// DefaultConfig is the configuration before any file or flag.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		DataDir:             "/var/lib/shoal",
		Name:                host,
		Bind:                "0.0.0.0",
		GossipPort:          7946,
		P2PPort:             7947,
		APISocket:           api.DefaultSocket,
		ContainerdSocket:    "/run/containerd/containerd.sock",
		ResolvConf:          "/etc/resolv.conf",
		ContainerdNamespace: "shoal",
		ClusterCIDR:         api.DefaultClusterCIDR,
		ServiceCIDR:         api.DefaultServiceCIDR,
		CNIBinDir:           cni.DefaultBinDir,
		RestartGrace:        api.Duration(60 * time.Second),
		LogLevel:            "info",
		LogFormat:           LogFormatText,
		Voters: VotersConfig{Target: 3, Large: 5, LargeAt: 7, ZoneLabel: "zone",
			DeadGrace: api.Duration(3 * time.Second), ReapAfter: api.Duration(24 * time.Hour)},
		Limits:  LimitsConfig{MaxServices: 1000, MaxTasks: 10000},
		Network: NetworkConfig{Mode: string(cni.ModeAuto), VXLANPort: cni.DefaultVXLANPort},
	}
}

// LoadConfigFile reads a TOML file over c. Unknown keys are errors.
func LoadConfigFile(path string, c *Config) error {
	md, err := toml.DecodeFile(path, c)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return fmt.Errorf("config %s: line %d: %s", path, perr.Position.Line, textutil.OneLine(perr.Message))
		}
		return fmt.Errorf("config %s: %s", path, textutil.OneLine(err.Error()))
	}
	if und := md.Undecoded(); len(und) > 0 {
		return fmt.Errorf("config %s: unknown key %q", path, und[0].String())
	}
	return nil
}

// ParseConfig reads TOML text over c; used by tests and fuzzing.
func ParseConfig(data string, c *Config) error {
	md, err := toml.Decode(data, c)
	if err != nil {
		return fmt.Errorf("config: %s", textutil.OneLine(err.Error()))
	}
	if und := md.Undecoded(); len(und) > 0 {
		return fmt.Errorf("config: unknown key %q", und[0].String())
	}
	return nil
}

// Validate checks c and names the first problem it finds.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("data dir: must be set (--data-dir)")
	}
	if err := validName(c.Name); err != nil {
		return err
	}
	if net.ParseIP(c.Bind) == nil {
		return fmt.Errorf("bind: %q is not an IP address", c.Bind)
	}
	if c.Advertise != "" && net.ParseIP(c.Advertise) == nil {
		return fmt.Errorf("advertise: %q is not an IP address", c.Advertise)
	}
	for flag, p := range map[string]int{"gossip port": c.GossipPort, "p2p port": c.P2PPort} {
		if p < 0 || p > 65535 {
			return fmt.Errorf("%s: %d is not a port (0-65535)", flag, p)
		}
	}
	if c.GossipPort != 0 && c.GossipPort == c.P2PPort {
		return fmt.Errorf("gossip port and p2p port are both %d", c.P2PPort)
	}
	if c.APIAddr != "" {
		if _, port, err := net.SplitHostPort(c.APIAddr); err != nil {
			return fmt.Errorf("api addr: %q is not host:port", c.APIAddr)
		} else if err := validPortString(port); err != nil {
			return fmt.Errorf("api addr: %v", err)
		}
	}
	if err := validSocketPath(c.APISocket); err != nil {
		return err
	}
	if c.APISocket == "" && c.APIAddr == "" {
		return errors.New("api: neither api_socket nor api_addr is set; the agent would have no API")
	}
	for k := range c.Labels {
		if k == "" || strings.ContainsAny(k, "= ,") {
			return fmt.Errorf("label: %q is not a valid key", k)
		}
	}
	if c.Bootstrap && c.ClusterCIDR != "" {
		if _, err := api.ParseClusterCIDR(c.ClusterCIDR); err != nil {
			return fmt.Errorf("cluster_cidr: %v", err)
		}
	}
	if c.Bootstrap && c.ServiceCIDR != "" {
		if err := api.CheckNetworks(cmp.Or(c.ClusterCIDR, api.DefaultClusterCIDR), c.ServiceCIDR); err != nil {
			return fmt.Errorf("service_cidr: %v", err)
		}
	}
	if c.CNIBinDir != "" && !filepath.IsAbs(c.CNIBinDir) {
		return fmt.Errorf("cni_bin_dir: %q is not an absolute path", c.CNIBinDir)
	}
	if _, err := cni.ParseMode(c.Network.Mode); err != nil {
		return fmt.Errorf("network.mode: %v", err)
	}
	if c.Network.VXLANPort < 0 || c.Network.VXLANPort > 65535 {
		return fmt.Errorf("network.vxlan_port: %d is not a port (1-65535; 0: %d)", c.Network.VXLANPort, cni.DefaultVXLANPort)
	}
	if c.Bootstrap && c.Join != "" {
		return errors.New("--bootstrap and --join exclude each other")
	}
	if c.ForceNewCluster && (c.Bootstrap || c.Join != "") {
		return errors.New("--force-new-cluster restarts an existing data dir's cluster; it excludes --bootstrap and --join")
	}
	if c.Join != "" && c.Token == "" {
		return errors.New("--join needs a join token: --token-file FILE, $SHOAL_JOIN_TOKEN or --token")
	}
	if c.Join != "" {
		if _, _, err := net.SplitHostPort(c.Join); err != nil {
			return fmt.Errorf("join: %q is not HOST:PORT", c.Join)
		}
	}
	for _, r := range c.Runtimes {
		if r != "process" && r != "containerd" {
			return fmt.Errorf("runtime: unknown runtime %q (process, containerd)", r)
		}
	}
	if c.CPUs < 0 {
		return fmt.Errorf("cpus: %v must not be negative", c.CPUs)
	}
	if c.Limits.MaxServices < 0 || c.Limits.MaxTasks < 0 {
		return fmt.Errorf("limits: max_services and max_tasks must not be negative (0: no limit)")
	}
	if c.Voters.Target < 1 || c.Voters.Target%2 == 0 {
		return fmt.Errorf("voters.target: %d must be odd and at least 1", c.Voters.Target)
	}
	if c.Voters.Large < c.Voters.Target || c.Voters.Large%2 == 0 {
		return fmt.Errorf("voters.large: %d must be odd and at least voters.target", c.Voters.Large)
	}
	for _, f := range []struct {
		key string
		d   api.Duration
	}{
		{"raft.heartbeat_timeout", c.Raft.HeartbeatTimeout}, {"raft.election_timeout", c.Raft.ElectionTimeout},
		{"raft.leader_lease_timeout", c.Raft.LeaderLeaseTimeout}, {"gossip.probe_interval", c.Gossip.ProbeInterval},
		{"gossip.probe_timeout", c.Gossip.ProbeTimeout}, {"voters.stable_for", c.Voters.StableFor},
		{"voters.dead_grace", c.Voters.DeadGrace},
	} {
		if f.d < 0 {
			return fmt.Errorf("%s: %s must not be negative", f.key, f.d.Std())
		}
	}
	if c.RestartGrace <= 0 || time.Duration(c.RestartGrace) > 24*time.Hour {
		return fmt.Errorf("restart_grace: %s must be within (0, 24h]", time.Duration(c.RestartGrace))
	}
	if _, err := ParseLogLevel(c.LogLevel); err != nil {
		return err
	}
	if err := checkLogFormat(c.LogFormat); err != nil {
		return err
	}
	if c.Voters.ReapAfter <= 0 {
		return fmt.Errorf("voters.reap_after: %s must be positive", time.Duration(c.Voters.ReapAfter))
	}
	return nil
}

func validPortString(s string) error {
	var p int
	if _, err := fmt.Sscanf(s, "%d", &p); err != nil || fmt.Sprint(p) != s || p < 0 || p > 65535 {
		return fmt.Errorf("%q is not a port (0-65535)", s)
	}
	return nil
}

// validName accepts DNS-label-like node names.
func validName(n string) error {
	if n == "" || len(n) > 63 {
		return fmt.Errorf("name: %q must be 1-63 characters", n)
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return fmt.Errorf("name: %q may hold only letters, digits, '-', '_' and '.'", n)
		}
	}
	return nil
}

// CheckDataDir makes the data dir if needed and proves it is writable.
func CheckDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir %s: cannot create: %v", dir, unwrapPathErr(err))
	}
	probe := filepath.Join(dir, ".write-test")
	f, err := os.OpenFile(probe, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("data dir %s: not writable: %v", dir, unwrapPathErr(err))
	}
	f.Close()
	return os.Remove(probe)
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
