package api

import "time"

// ServiceMode says how many tasks a service runs.
type ServiceMode string

// Service modes.
const (
	// ModeReplicated runs Replicas tasks in slots 1..Replicas.
	ModeReplicated ServiceMode = "replicated"
	// ModeGlobal runs one task on every eligible node.
	ModeGlobal ServiceMode = "global"
)

// RestartCondition says when a task that stopped is replaced.
type RestartCondition string

// Restart conditions, as in `docker service create --restart-condition`.
const (
	RestartNone      RestartCondition = "none"
	RestartOnFailure RestartCondition = "on-failure"
	RestartAny       RestartCondition = "any"
)

// Duration is a time.Duration that reads and writes JSON as "1.5s".
type Duration time.Duration

// RestartPolicy controls the restart supervisor.
type RestartPolicy struct {
	Condition RestartCondition `json:"condition,omitempty"`
	// Delay between a task's end and its replacement's start; doubles on
	// every consecutive failure in the window, up to 10× Delay.
	Delay Duration `json:"delay,omitempty"`
	// MaxAttempts is how many restarts are allowed within Window; 0 is no limit.
	MaxAttempts uint64   `json:"max_attempts,omitempty"`
	Window      Duration `json:"window,omitempty"`
}

// PlacementPreference spreads tasks evenly over the values of a node label,
// written as "node.labels.zone".
type PlacementPreference struct {
	Spread string `json:"spread"`
}

// MountType is how a mount's source is found.
type MountType string

// Mount types.
const (
	// MountVolume is a named volume under the node's data dir; it outlives
	// its tasks and is shared by tasks of any service that name it.
	MountVolume MountType = "volume"
	// MountBind is a host path; a node allows only the prefixes its config
	// lists.
	MountBind MountType = "bind"
)

// Mount puts a volume or a host path into a container.
type Mount struct {
	Type     MountType `json:"type"`
	Source   string    `json:"source"` // volume name, or absolute host path
	Target   string    `json:"target"` // absolute path in the container
	ReadOnly bool      `json:"readonly,omitempty"`
}

// PortSpec is a port of a service's tasks, and how it is published (see
// Mode, and api/publish.go for the rules). Two tasks that publish the same
// host-mode port and protocol never share a node; an ingress port is
// unique in the cluster.
type PortSpec struct {
	// Name names the port for DNS SRV records (_NAME._tcp.SERVICE): a
	// DNS label of at most 15 characters, as Kubernetes' port names.
	Name string `json:"name,omitempty"`
	// Port is the published port; 0 publishes nothing, except in ingress
	// mode, where it asks for an automatic port (PublishedPortMin to
	// PublishedPortMax, allocated in Service.Endpoint).
	Port uint16 `json:"port"`
	// TargetPort is the port the task listens on, in its own network
	// namespace (0: the same as Port).
	TargetPort uint16 `json:"target_port,omitempty"`
	Protocol   string `json:"protocol,omitempty"` // "tcp" (default) or "udp"
	// Mode says where a published port (Port != 0) is accepted:
	// PublishIngress (every node accepts on it and forwards to a healthy
	// task anywhere; the published port is unique in the cluster) or
	// PublishHost (only a node that runs a task, mapped straight to it; the
	// scheduler keeps two tasks that publish one port off one node). Empty
	// is what a record written before service traffic means: host.
	// Admission fills it in for new specs (ingress unless said).
	Mode string `json:"mode,omitempty"`
	// ProxyProtocol has ingress connections to a TCP port start with a
	// PROXY protocol v2 header carrying the client's address.
	ProxyProtocol bool `json:"proxy_protocol,omitempty"`
}

// Publish modes of a PortSpec.
const (
	PublishIngress = "ingress"
	PublishHost    = "host"
)

// Published port range: a published port of 0 in an ingress spec is
// given the lowest free port of this range by the leader.
const (
	PublishedPortMin = 30000
	PublishedPortMax = 32767
)

// Target is the port the task listens on.
func (p PortSpec) Target() uint16 {
	if p.TargetPort != 0 {
		return p.TargetPort
	}
	return p.Port
}

// ServiceSpec is what a user declares. Every change makes a new version.
type ServiceSpec struct {
	Name    string   `json:"name"`
	Runtime string   `json:"runtime"` // "process" or "containerd"
	Image   string   `json:"image,omitempty"`
	Command []string `json:"command,omitempty"`
	Args    []string `json:"args,omitempty"`
	Env     []string `json:"env,omitempty"` // KEY=VALUE
	WorkDir string   `json:"workdir,omitempty"`
	// Entrypoint overrides the image's entrypoint (containerd runtime). For
	// containers, Command and Args override the image's default arguments;
	// for the process runtime, Command is the program and Args its arguments.
	Entrypoint []string `json:"entrypoint,omitempty"`
	// User is whom the tasks run as: NAME, NAME:GROUP, UID or UID:GID
	// (ParseUser). The process runtime looks names up in the user database
	// of the node that runs the task (protocol 5); containerd in the image.
	// Empty runs a process as root, a container as its image says.
	User string `json:"user,omitempty"`
	// Limits cap what a task may use (cgroup limits); Reservations are what
	// the scheduler sets aside.
	Limits    Resources `json:"limits,omitempty"`
	PidsLimit int64     `json:"pids_limit,omitempty"`
	Mounts    []Mount   `json:"mounts,omitempty"`
	// Seccomp is the container's system-call filter: "" is containerd's
	// default profile (Docker's), "unconfined" none, for the workloads
	// that need a call it blocks (containers only).
	Seccomp string `json:"seccomp,omitempty"`
	// Secrets names cluster secrets the task gets as files, read-only on
	// a tmpfs: /run/secrets/NAME in containers, $SHOAL_SECRETS_DIR/NAME
	// for process tasks.
	Secrets []string `json:"secrets,omitempty"`
	// Network is where a container's network comes from: "" its own
	// network namespace with an address on its node's subnet, "host" the
	// node's own network (protocol 5). Process tasks always use the host's.
	Network string `json:"network,omitempty"`

	Mode     ServiceMode `json:"mode"`
	Replicas uint64      `json:"replicas,omitempty"`

	// Reservations are what the scheduler subtracts from a node's capacity.
	Reservations Resources             `json:"reservations,omitempty"`
	Constraints  []Constraint          `json:"constraints,omitempty"` // "node.labels.zone==a"
	Preferences  []PlacementPreference `json:"preferences,omitempty"`
	Ports        []PortSpec            `json:"ports,omitempty"`
	// MaxPerNode caps the tasks of this service on one node; 0 is no cap.
	MaxPerNode uint64 `json:"max_per_node,omitempty"`
	// Rebalance says whether the leader moves a replicated service's tasks
	// onto nodes that hold fewer of them (a node that joined or came
	// back): RebalanceAuto (the default, also when empty) or RebalanceOff
	// (protocol 6). Global services never move. Like Update, it is how
	// tasks are placed over time, not what runs: changing it alone
	// replaces no task.
	Rebalance string `json:"rebalance,omitempty"`

	// Health is the task's health check (protocol 5); nil checks nothing.
	Health *HealthCheck `json:"health,omitempty"`

	Restart RestartPolicy `json:"restart"`
	// Update and Rollback say how tasks are replaced when the spec changes
	// and when it is rolled back (protocol 5); nil takes the defaults.
	// They are how to roll, not what runs: changing them alone replaces
	// no task, and a rollback keeps them.
	Update          *UpdatePolicy `json:"update,omitempty"`
	Rollback        *UpdatePolicy `json:"rollback,omitempty"`
	StopGracePeriod Duration      `json:"stop_grace_period,omitempty"`
	// StopDelay is how long a task told to stop keeps running, already
	// out of its service's endpoints, before it gets its stop signal: the
	// time every node's datapath takes to stop sending it new connections
	// (Nomad's shutdown_delay). Unset: DefaultStopDelay for a service with
	// ports, none for one without (protocol 6).
	StopDelay *Duration `json:"stop_delay,omitempty"`
	// ForceUpdate is a counter whose change replaces every task (service
	// update --force, Swarm's ForceUpdate): a redeploy of the same spec
	// (protocol 6).
	ForceUpdate uint64            `json:"force_update,omitempty"`
	StopSignal  string            `json:"stop_signal,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// DefaultStopDelay is the stop delay of a service with ports that sets
// none: several times what the state feed and a node's traffic loop take
// to drop a backend.
const DefaultStopDelay = Duration(time.Second)

// EffectiveStopDelay is the spec's StopDelay with its default filled in.
func (s *ServiceSpec) EffectiveStopDelay() time.Duration {
	switch {
	case s.StopDelay != nil:
		return s.StopDelay.Std()
	case len(s.Ports) > 0:
		return DefaultStopDelay.Std()
	}
	return 0
}

// Service is a ServiceSpec as stored: with its ID, version and history.
type Service struct {
	ID      string      `json:"id"`
	Spec    ServiceSpec `json:"spec"`
	Version uint64      `json:"version"`
	// Previous holds earlier versions, newest first, bounded.
	Previous  []VersionedSpec `json:"previous,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	// UpdatedBy names who made the current version (an API token's
	// name, "local" for the node's socket); empty when unknown.
	UpdatedBy string `json:"updated_by,omitempty"`
	// UpdateStatus is the progress of the latest rolling update or
	// rollback; nil before the first.
	UpdateStatus *UpdateStatus `json:"update_status,omitempty"`
	// Endpoint is how the service is reached: its virtual address and its
	// ports as allocated by the leader. Kept for the service's life.
	Endpoint Endpoint `json:"endpoint,omitzero"`
}

// Endpoint is a service's stable address and its ports.
type Endpoint struct {
	// VIP is the service's virtual IP from the cluster's service CIDR
	// ("" in clusters without one, and for services in host-network-only
	// clusters built before service traffic).
	VIP string `json:"vip,omitempty"`
	// Ports are the spec's ports with their published ports allocated.
	Ports []EndpointPort `json:"ports,omitempty"`
}

// EndpointPort is one port of a service as served.
type EndpointPort struct {
	Name          string `json:"name,omitempty"`
	Protocol      string `json:"protocol"`            // "tcp" or "udp"
	Target        uint16 `json:"target"`              // the port tasks listen on
	Published     uint16 `json:"published,omitempty"` // 0: not published
	Mode          string `json:"mode,omitempty"`      // PublishIngress or PublishHost when published
	ProxyProtocol bool   `json:"proxy_protocol,omitempty"`
}

// VersionedSpec is one past version of a service's spec.
type VersionedSpec struct {
	Version   uint64      `json:"version"`
	Spec      ServiceSpec `json:"spec"`
	UpdatedAt time.Time   `json:"updated_at"`
	UpdatedBy string      `json:"updated_by,omitempty"`
}

// NetworkHost puts a container on its node's own network.
const NetworkHost = "host"

// Values of ServiceSpec.Rebalance.
const (
	RebalanceAuto = "auto"
	RebalanceOff  = "off"
)

// Rebalances reports whether the leader may move the service's tasks to
// even out their spread: a replicated service whose Rebalance is not
// RebalanceOff.
func (s *ServiceSpec) Rebalances() bool {
	return s.Mode != ModeGlobal && s.Rebalance != RebalanceOff
}

// SeccompUnconfined turns a container's system-call filter off.
const SeccompUnconfined = "unconfined"
