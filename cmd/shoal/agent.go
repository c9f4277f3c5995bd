package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/node"
	"github.com/shoal-project/shoal/runtime/process"
)

func init() {
	extraCommands = append(extraCommands, newAgentCommand, newShimCommand)
}

// newAgentCommand is `shoal agent`: the daemon every host runs.
func newAgentCommand() *cobra.Command {
	var (
		configPath string
		labels     []string
		flags      = node.DefaultConfig()
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the Shoal agent on this host",
		Long: `Run the Shoal agent. Every host runs the same agent: it gossips membership,
takes part in Raft when the leader asks it to, serves the HTTP API and runs tasks.

Create a cluster with --bootstrap; join one with --join HOST:PORT and the
join token in --token-file or $SHOAL_JOIN_TOKEN; restart on the same
--data-dir to rejoin. After losing a majority of voters for good,
--force-new-cluster on a survivor's data dir makes it the only voter.
Settings can also come from a TOML file (--config); flags win over the file.
The API is served on a local socket (--api-socket) and, with --api-addr,
over HTTPS with API tokens.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := node.DefaultConfig()
			if configPath != "" {
				if err := node.LoadConfigFile(configPath, &cfg); err != nil {
					return err
				}
			}
			if err := overlayFlags(cmd, &cfg, &flags, labels); err != nil {
				return err
			}
			handler, err := node.NewLogHandler(os.Stderr, cfg.LogLevel, cfg.LogFormat)
			if err != nil {
				return err
			}
			logger := slog.New(handler)
			node.RouteLibraryLogs(handler, cfg.LogLevel)
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			agent, err := node.New(cfg, logger, os.Stdout)
			if err != nil {
				return err
			}
			logger.Info("shoal agent serving the API on "+agent.Endpoints(), "node", cfg.Name, "node_id", agent.ID())
			return agent.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "TOML config file")
	f.StringVar(&flags.DataDir, "data-dir", flags.DataDir, "where the node keeps its identity, Raft log and tasks")
	f.StringVar(&flags.Name, "name", flags.Name, "node name (default: the hostname)")
	f.StringVar(&flags.Bind, "bind", flags.Bind, "IP address to listen on for gossip and p2p")
	f.StringVar(&flags.Advertise, "advertise", "", "IP address other nodes reach this one at (default: --bind, or the first non-loopback address)")
	f.IntVar(&flags.GossipPort, "gossip-port", flags.GossipPort, "memberlist port (TCP and UDP)")
	f.IntVar(&flags.P2PPort, "p2p-port", flags.P2PPort, "libp2p port (TCP)")
	f.StringVar(&flags.APISocket, "api-socket", flags.APISocket, "local API socket; whoever can open it (root, group shoal) is an admin; \"\" turns it off")
	f.StringVar(&flags.APIAddr, "api-addr", "", "also serve the API over TCP at HOST:PORT: HTTPS with the cluster CA, bearer token required")
	f.StringArrayVar(&labels, "label", nil, "node label key=value (repeatable)")
	f.BoolVar(&flags.Bootstrap, "bootstrap", false, "create a new cluster")
	f.BoolVar(&flags.ForceNewCluster, "force-new-cluster", false, "after losing a majority of voters for good: restart this data dir's node as the only voter of its cluster, keeping its state")
	f.StringVar(&flags.Join, "join", "", "join the cluster through any member's p2p address HOST:PORT")
	f.StringVar(&flags.Token, "token", "", "join token (shoal token show prints it on a member); visible to every local user in the process list: prefer --token-file or $"+joinTokenEnv)
	f.StringVar(&flags.TokenFile, "token-file", "", "file holding the join token")
	f.StringArrayVar(&flags.Runtimes, "runtime", nil, "enable a task runtime: process, containerd (repeatable)")
	f.Float64Var(&flags.CPUs, "cpus", 0, "CPU capacity to offer (default: all cores)")
	f.StringVar(&flags.ContainerdSocket, "containerd-socket", flags.ContainerdSocket, "containerd's socket")
	f.StringVar(&flags.ResolvConf, "resolv-conf", flags.ResolvConf, "the file whose nameservers the node's DNS server asks for names outside .shoal")
	f.StringVar(&flags.ContainerdNamespace, "containerd-namespace", flags.ContainerdNamespace, "containerd namespace for this agent's containers")
	f.StringVar(&flags.ClusterCIDR, "cluster-cidr", flags.ClusterCIDR, "with --bootstrap: the task network every node gets a /24 of (IPv4, /8 to /22)")
	f.StringVar(&flags.ServiceCIDR, "service-cidr", flags.ServiceCIDR, "with --bootstrap: where services' virtual IPs come from (IPv4, /8 to /24, outside the cluster CIDR)")
	f.StringVar(&flags.CNIBinDir, "cni-bin-dir", flags.CNIBinDir, "directory of the CNI plugins containers are wired with")
	f.StringVar(&flags.Network.Mode, "network-mode", flags.Network.Mode, "how task subnets of other nodes are reached: auto (host-gw on-link, VXLAN otherwise), host-gw or vxlan")
	f.BoolVar(&flags.FaultInjection, "fault-injection", false, "enable the fault-injection API (chaos tests only)")
	f.BoolVar(&flags.LeaveOnTerminate, "leave-on-terminate", false, "on SIGTERM leave the cluster for good (tasks move elsewhere) instead of restarting in place")
	f.DurationVar((*time.Duration)(&flags.RestartGrace), "restart-grace", time.Duration(flags.RestartGrace), "how long this node's tasks keep their places while its agent restarts after SIGTERM")
	f.MarkHidden("fault-injection")
	f.StringVar(&flags.Memory, "memory", "", "memory capacity to offer, e.g. 4GiB (default: all memory)")
	f.StringVar(&flags.LogLevel, "log-level", flags.LogLevel, "least level logged: debug, info, warn or error")
	f.StringVar(&flags.LogFormat, "log-format", flags.LogFormat, "log format: text (key=value lines) or json (one object per line)")
	return cmd
}

// joinTokenEnv names the environment variable an agent reads its join
// token from (and removes, so that its tasks never inherit it).
const joinTokenEnv = "SHOAL_JOIN_TOKEN"

// resolveJoinToken settles where the join token comes from: --token, then
// --token-file (or token_file), then $SHOAL_JOIN_TOKEN, then the config
// file's token. The variable is removed from the environment either way.
func resolveJoinToken(cfg *node.Config, flagSet bool) error {
	env, hasEnv := os.LookupEnv(joinTokenEnv)
	os.Unsetenv(joinTokenEnv)
	switch {
	case flagSet:
	case cfg.TokenFile != "":
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return fmt.Errorf("token file: %v", unwrapPath(err))
		}
		tok, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		if tok = strings.TrimSpace(tok); tok == "" {
			return fmt.Errorf("token file %s is empty", cfg.TokenFile)
		}
		cfg.Token = tok
	case hasEnv && strings.TrimSpace(env) != "":
		cfg.Token = strings.TrimSpace(env)
	}
	return nil
}

// unwrapPath drops the *PathError wrapping that repeats the path.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

// overlayFlags copies the flags the user set onto cfg: flags win over the
// config file, and unset flags leave the file's values alone.
func overlayFlags(cmd *cobra.Command, cfg, flags *node.Config, labels []string) error {
	set := func(name string) bool { return cmd.Flags().Changed(name) }
	if set("data-dir") {
		cfg.DataDir = flags.DataDir
	}
	if set("name") {
		cfg.Name = flags.Name
	}
	if set("bind") {
		cfg.Bind = flags.Bind
	}
	if set("advertise") {
		cfg.Advertise = flags.Advertise
	}
	if set("gossip-port") {
		cfg.GossipPort = flags.GossipPort
	}
	if set("p2p-port") {
		cfg.P2PPort = flags.P2PPort
	}
	if set("api-socket") {
		cfg.APISocket = flags.APISocket
	}
	if set("api-addr") {
		cfg.APIAddr = flags.APIAddr
	}
	if set("bootstrap") {
		cfg.Bootstrap = flags.Bootstrap
	}
	if set("force-new-cluster") {
		cfg.ForceNewCluster = flags.ForceNewCluster
	}
	if set("join") {
		cfg.Join = flags.Join
	}
	if set("token") {
		cfg.Token = flags.Token
	}
	if set("token-file") {
		cfg.TokenFile = flags.TokenFile
	}
	if err := resolveJoinToken(cfg, set("token")); err != nil {
		return err
	}
	if set("runtime") {
		cfg.Runtimes = flags.Runtimes
	}
	if set("cpus") {
		cfg.CPUs = flags.CPUs
	}
	if set("containerd-socket") {
		cfg.ContainerdSocket = flags.ContainerdSocket
	}
	if set("resolv-conf") {
		cfg.ResolvConf = flags.ResolvConf
	}
	if set("containerd-namespace") {
		cfg.ContainerdNamespace = flags.ContainerdNamespace
	}
	if set("cluster-cidr") {
		cfg.ClusterCIDR = flags.ClusterCIDR
	}
	if set("service-cidr") {
		cfg.ServiceCIDR = flags.ServiceCIDR
	}
	if set("cni-bin-dir") {
		cfg.CNIBinDir = flags.CNIBinDir
	}
	if set("network-mode") {
		cfg.Network.Mode = flags.Network.Mode
	}
	if set("fault-injection") {
		cfg.FaultInjection = flags.FaultInjection
	}
	if set("leave-on-terminate") {
		cfg.LeaveOnTerminate = flags.LeaveOnTerminate
	}
	if set("restart-grace") {
		cfg.RestartGrace = flags.RestartGrace
	}
	if set("memory") {
		cfg.Memory = flags.Memory
	}
	if set("log-level") {
		cfg.LogLevel = flags.LogLevel
	}
	if set("log-format") {
		cfg.LogFormat = flags.LogFormat
	}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return fmt.Errorf("--label %q: want key=value", l)
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[k] = v
	}
	return nil
}

// newShimCommand is the hidden `shoal runtime-shim <root>`: the keeper the
// process runtime starts to own every workload of a node, so that
// workloads outlive the agent.
func newShimCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "runtime-shim",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			os.Exit(process.RunShim(args))
			return nil
		},
	}
}
