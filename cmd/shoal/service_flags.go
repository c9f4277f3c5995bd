package main

import (
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/shoal-project/shoal/api"
)

// serviceFlags are the spec flags shared by `service create` and `service
// update`. Only flags given on the command line change a spec.
type serviceFlags struct {
	replicas, maxPerNode, restartMaxAttempts                uint64
	mode, runtime, image, workdir, cpu, memory              string
	restartCondition, stopSignal, user                      string
	rebalance                                               string
	env, constraints, prefs, publish, labels                []string
	restartDelay, restartWindow, stopGracePeriod, stopDelay time.Duration
	// Container-only settings (containerd runtime).
	entrypoint, limitCPU, limitMemory string
	pidsLimit                         int64
	securityOpts                      []string
	network                           string
	mounts                            []string
	// secrets name cluster secrets (both runtimes).
	secrets []string
	// Health check settings, as docker's.
	healthCmd, healthHTTP, healthTCP                 string
	healthInterval, healthTimeout, healthStartPeriod time.Duration
	healthRetries                                    uint64
	noHealthcheck                                    bool
	// update and rollback are the --update-* and --rollback-* policies.
	update, rollback policyFlags
}

func (f *serviceFlags) register(fs *pflag.FlagSet) {
	f.update.prefix, f.rollback.prefix = "update", "rollback"
	f.update.register(fs)
	f.rollback.register(fs)
	fs.Uint64Var(&f.replicas, "replicas", 1, "number of tasks (replicated mode)")
	fs.StringVar(&f.mode, "mode", "", "replicated or global (default replicated)")
	fs.StringVar(&f.runtime, "runtime", "", "process or containerd (default: containerd with --image, else process)")
	fs.StringVar(&f.image, "image", "", "container image (containerd runtime)")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "environment variable KEY=VALUE (repeatable)")
	fs.StringVarP(&f.workdir, "workdir", "w", "", "working directory of the tasks")
	fs.StringVar(&f.cpu, "cpu", "", "CPU to reserve per task, in cores (0.5) or millicores (500m)")
	fs.StringVar(&f.memory, "memory", "", "memory to reserve per task (64MiB, 1G)")
	fs.StringArrayVar(&f.constraints, "constraint", nil, "placement constraint, e.g. node.labels.zone==a (repeatable)")
	fs.StringArrayVar(&f.prefs, "placement-pref", nil, "placement preference, e.g. spread=node.labels.zone (repeatable)")
	fs.StringArrayVarP(&f.publish, "publish", "p", nil, "a port: TARGET[/udp] (the task's port, published on an automatic port 30000-32767 of every node), PUBLISHED:TARGET[/udp] (ingress: every node accepts on PUBLISHED), or published=N,target=N,protocol=tcp|udp,mode=ingress|host,name=NAME,proxy_protocol=true (mode=host: only on the nodes that run a task; name=NAME,target=N alone publishes nothing, a name gives DNS SRV records and $SHOAL_PORT_NAME) (repeatable)")
	fs.Uint64Var(&f.maxPerNode, "max-per-node", 0, "most tasks of this service on one node (0: no limit)")
	fs.StringVar(&f.rebalance, "rebalance", "", "auto: move tasks onto nodes that hold fewer of them (a node that joined or came back), one at a time, start-first (the default for replicated services); off: never")
	fs.StringVar(&f.restartCondition, "restart-condition", "", "when to restart a task: any, on-failure or none (default any)")
	fs.DurationVar(&f.restartDelay, "restart-delay", 0, "wait before restarting a task (default 1s)")
	fs.Uint64Var(&f.restartMaxAttempts, "restart-max-attempts", 0, "restarts allowed within the window (0: no limit)")
	fs.DurationVar(&f.restartWindow, "restart-window", 0, "window for --restart-max-attempts")
	fs.DurationVar(&f.stopGracePeriod, "stop-grace-period", 0, "time between the stop signal and a kill (default 10s)")
	fs.DurationVar(&f.stopDelay, "stop-delay", 0, "time a task told to stop keeps running, out of the service's endpoints, before its stop signal (default 1s for a service with ports, 0 otherwise)")
	fs.StringVar(&f.stopSignal, "stop-signal", "", "signal that stops a task (default SIGTERM)")
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "service label KEY=VALUE (repeatable)")
	fs.StringVarP(&f.user, "user", "u", "", `user the tasks run as: NAME[:GROUP] or UID[:GID], looked up on the node (process; default root) or in the image (containerd); "" clears`)
	fs.StringVar(&f.entrypoint, "entrypoint", "", `override the image's entrypoint, "CMD ARG..." split on spaces ("" clears)`)
	fs.StringVar(&f.limitCPU, "limit-cpu", "", "most CPU a task may use, in cores (0.5) or millicores (500m); 0 is no limit")
	fs.StringVar(&f.limitMemory, "limit-memory", "", "most memory a task may use (128MiB, 1G); 0 is no limit")
	fs.Int64Var(&f.pidsLimit, "pids-limit", 0, "most processes a task may run (0: no limit)")
	fs.StringArrayVar(&f.securityOpts, "security-opt", nil, "seccomp=unconfined turns the container's system-call filter off (seccomp=default restores it)")
	fs.StringVar(&f.network, "network", "", `a container's network: "host" for the node's own, "" for the task's own namespace and address (the default)`)
	fs.StringArrayVar(&f.secrets, "secret", nil, "give the tasks secret NAME: /run/secrets/NAME in containers, $SHOAL_SECRETS_DIR/NAME for processes (repeatable; on update the list replaces the old one, \"\" clears)")
	fs.StringVar(&f.healthCmd, "health-cmd", "", `command line that checks a task's health, run by /bin/sh -c in the task's container (or on the host as the process task's user); exit 0 passes`)
	fs.StringVar(&f.healthHTTP, "health-http", "", "check health with an HTTP GET of PATH[:PORT] (PORT a number or port name; default the first port): 2xx/3xx passes")
	fs.StringVar(&f.healthTCP, "health-tcp", "", "check health by connecting to PORT (a number or port name)")
	fs.DurationVar(&f.healthInterval, "health-interval", 0, "time between health checks (default 10s)")
	fs.DurationVar(&f.healthTimeout, "health-timeout", 0, "time a health check may take (default 5s)")
	fs.Uint64Var(&f.healthRetries, "health-retries", 0, "consecutive failures that make a task unhealthy (default 3)")
	fs.DurationVar(&f.healthStartPeriod, "health-start-period", 0, "time after a task starts in which failed checks do not count (default 0)")
	fs.BoolVar(&f.noHealthcheck, "no-healthcheck", false, "run no health check, not even the image's HEALTHCHECK")
	fs.StringArrayVar(&f.mounts, "mount", nil, "mount type=volume|bind,source=NAME|/PATH,target=/PATH[,readonly] (repeatable; \"\" clears)")
}

// apply writes the flags that were given into spec.
func (f *serviceFlags) apply(cmd *cobra.Command, spec *api.ServiceSpec) error {
	fs := cmd.Flags()
	set := fs.Changed
	if set("mode") {
		switch m := api.ServiceMode(f.mode); m {
		case api.ModeReplicated, api.ModeGlobal:
			spec.Mode = m
			if m == api.ModeGlobal && !set("replicas") {
				spec.Replicas = 0
			}
		default:
			return usageErrorf(cmd, "--mode %q must be replicated or global", f.mode)
		}
	}
	if set("replicas") {
		if spec.Mode == api.ModeGlobal {
			return usageErrorf(cmd, "--replicas cannot be used with mode global")
		}
		spec.Replicas = f.replicas
	}
	if set("runtime") {
		spec.Runtime = f.runtime
	}
	if err := f.update.apply(cmd, &spec.Update); err != nil {
		return err
	}
	if err := f.rollback.apply(cmd, &spec.Rollback); err != nil {
		return err
	}
	if set("secret") {
		spec.Secrets = nil
		for _, name := range f.secrets {
			if name == "" {
				continue
			}
			if err := api.ValidSecretName(name); err != nil {
				return usageErrorf(cmd, "--secret: %v", err)
			}
			spec.Secrets = append(spec.Secrets, name)
		}
	}
	if set("image") {
		spec.Image = f.image
	}
	if set("env") {
		spec.Env = f.env
	}
	if set("workdir") {
		spec.WorkDir = f.workdir
	}
	if set("cpu") {
		n, err := api.ParseCPU(f.cpu)
		if err != nil {
			return usageErrorf(cmd, "--cpu: %v", err)
		}
		spec.Reservations.NanoCPUs = n
	}
	if set("memory") {
		n, err := api.ParseBytes(f.memory)
		if err != nil {
			return usageErrorf(cmd, "--memory: %v", err)
		}
		spec.Reservations.MemoryBytes = n
	}
	if set("constraint") {
		cons, err := api.ParseConstraints(f.constraints)
		if err != nil {
			return usageErrorf(cmd, "--constraint: %v", err)
		}
		spec.Constraints = cons
	}
	if set("placement-pref") {
		spec.Preferences = nil
		for _, p := range f.prefs {
			pref, err := api.ParsePlacementPref(p)
			if err != nil {
				return usageErrorf(cmd, "--placement-pref: %v", err)
			}
			spec.Preferences = append(spec.Preferences, pref)
		}
	}
	if set("publish") {
		spec.Ports = nil
		for _, p := range f.publish {
			port, err := api.ParsePort(p)
			if err != nil {
				return usageErrorf(cmd, "--publish: %v", err)
			}
			spec.Ports = append(spec.Ports, port)
		}
	}
	if set("max-per-node") {
		spec.MaxPerNode = f.maxPerNode
	}
	if set("rebalance") {
		switch f.rebalance {
		case api.RebalanceAuto, api.RebalanceOff:
			if spec.Mode == api.ModeGlobal {
				return usageErrorf(cmd, "--rebalance cannot be used with mode global (its tasks never move)")
			}
			spec.Rebalance = f.rebalance
		default:
			return usageErrorf(cmd, "--rebalance %q must be auto or off", f.rebalance)
		}
	}
	if set("restart-condition") {
		spec.Restart.Condition = api.RestartCondition(f.restartCondition)
	}
	if set("restart-delay") {
		spec.Restart.Delay = api.Duration(f.restartDelay)
	}
	if set("restart-max-attempts") {
		spec.Restart.MaxAttempts = f.restartMaxAttempts
	}
	if set("restart-window") {
		spec.Restart.Window = api.Duration(f.restartWindow)
	}
	if set("stop-grace-period") {
		spec.StopGracePeriod = api.Duration(f.stopGracePeriod)
	}
	if set("stop-delay") {
		d := api.Duration(f.stopDelay)
		spec.StopDelay = &d
	}
	if set("stop-signal") {
		spec.StopSignal = f.stopSignal
	}
	if set("user") {
		spec.User = f.user
	}
	if set("label") {
		spec.Labels = map[string]string{}
		for _, kv := range f.labels {
			k, v, err := parseKV(cmd, "label", kv)
			if err != nil {
				return err
			}
			spec.Labels[k] = v
		}
	}
	if err := f.applyHealth(cmd, spec); err != nil {
		return err
	}
	return f.applyContainer(cmd, spec)
}

// applyHealth writes the health flags that were given into spec. A check
// kind (--health-cmd, --health-http, --health-tcp) replaces the old one;
// the timings change the check there is.
func (f *serviceFlags) applyHealth(cmd *cobra.Command, spec *api.ServiceSpec) error {
	set := cmd.Flags().Changed
	kinds := 0
	for _, n := range []string{"health-cmd", "health-http", "health-tcp"} {
		if set(n) {
			kinds++
		}
	}
	timings := set("health-interval") || set("health-timeout") || set("health-retries") || set("health-start-period")
	if set("no-healthcheck") && f.noHealthcheck {
		if kinds > 0 || timings {
			return usageErrorf(cmd, "--no-healthcheck cannot be used with other --health flags")
		}
		spec.Health = &api.HealthCheck{Disable: true} // the image's too, as docker's
		return nil
	}
	if kinds > 1 {
		return usageErrorf(cmd, "give one of --health-cmd, --health-http and --health-tcp")
	}
	if kinds == 0 && !timings {
		return nil
	}
	h := api.HealthCheck{}
	if spec.Health != nil {
		h = *spec.Health
	}
	switch {
	case set("health-cmd"):
		// docker's --health-cmd is a shell command line (CMD-SHELL)
		h = api.HealthCheck{Cmd: []string{api.HealthFormCmdShell, f.healthCmd}, Interval: h.Interval, Timeout: h.Timeout, Retries: h.Retries, StartPeriod: h.StartPeriod}
		if strings.TrimSpace(f.healthCmd) == "" {
			return usageErrorf(cmd, "--health-cmd is empty (use --no-healthcheck to remove the check)")
		}
	case set("health-http"):
		if _, _, err := api.ParseHealthHTTP(f.healthHTTP); err != nil {
			return usageErrorf(cmd, "--health-http: %v", err)
		}
		h = api.HealthCheck{HTTP: f.healthHTTP, Interval: h.Interval, Timeout: h.Timeout, Retries: h.Retries, StartPeriod: h.StartPeriod}
	case set("health-tcp"):
		if _, err := api.ParseHealthTCP(f.healthTCP); err != nil {
			return usageErrorf(cmd, "--health-tcp: %v", err)
		}
		h = api.HealthCheck{TCP: f.healthTCP, Interval: h.Interval, Timeout: h.Timeout, Retries: h.Retries, StartPeriod: h.StartPeriod}
	case spec.Health == nil || spec.Health.Disable:
		return usageErrorf(cmd, "--health-interval, --health-timeout, --health-retries and --health-start-period need a check: --health-cmd, --health-http or --health-tcp")
	}
	if set("health-interval") {
		h.Interval = api.Duration(f.healthInterval)
	}
	if set("health-timeout") {
		h.Timeout = api.Duration(f.healthTimeout)
	}
	if set("health-retries") {
		h.Retries = f.healthRetries
	}
	if set("health-start-period") {
		h.StartPeriod = api.Duration(f.healthStartPeriod)
	}
	spec.Health = &h
	return nil
}

// applyContainer writes the container-only flags that were given into spec.
func (f *serviceFlags) applyContainer(cmd *cobra.Command, spec *api.ServiceSpec) error {
	set := cmd.Flags().Changed
	if set("entrypoint") {
		spec.Entrypoint = strings.Fields(f.entrypoint)
	}
	if set("limit-cpu") {
		n, err := api.ParseCPU(f.limitCPU)
		if err != nil {
			return usageErrorf(cmd, "--limit-cpu: %v", err)
		}
		spec.Limits.NanoCPUs = n
	}
	if set("limit-memory") {
		n, err := api.ParseBytes(f.limitMemory)
		if err != nil {
			return usageErrorf(cmd, "--limit-memory: %v", err)
		}
		spec.Limits.MemoryBytes = n
	}
	if set("pids-limit") {
		if f.pidsLimit < 0 {
			return usageErrorf(cmd, "--pids-limit %d must be 0 (no limit) or more", f.pidsLimit)
		}
		spec.PidsLimit = f.pidsLimit
	}
	if set("security-opt") {
		for _, o := range f.securityOpts {
			switch o {
			case "seccomp=unconfined":
				spec.Seccomp = api.SeccompUnconfined
			case "seccomp=default":
				spec.Seccomp = ""
			default:
				return usageErrorf(cmd, "--security-opt %q: Shoal knows seccomp=unconfined and seccomp=default", o)
			}
		}
	}
	if set("network") {
		if f.network != "" && f.network != api.NetworkHost {
			return usageErrorf(cmd, "--network %q: Shoal knows \"host\" and \"\" (the task's own namespace)", f.network)
		}
		spec.Network = f.network
	}
	if set("mount") {
		spec.Mounts = nil
		for _, m := range f.mounts {
			if m == "" {
				continue
			}
			mount, err := api.ParseMount(m)
			if err != nil {
				return usageErrorf(cmd, "--mount: %v", err)
			}
			spec.Mounts = append(spec.Mounts, mount)
		}
	}
	return nil
}

// waitFlags control how a changing command waits for convergence.
type waitFlags struct {
	detach  bool
	timeout time.Duration
}

func (w *waitFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&w.detach, "detach", "d", false, "return at once instead of waiting for the tasks to run")
	cmd.Flags().DurationVar(&w.timeout, "timeout", 60*time.Second, "how long to wait for the tasks to run")
}
