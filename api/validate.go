package api

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"
)

// Runtime names.
const (
	RuntimeProcess    = "process"
	RuntimeContainerd = "containerd"
)

// Defaults that Normalize fills in.
const (
	DefaultRestartDelay    = Duration(time.Second)
	DefaultStopGracePeriod = Duration(10 * time.Second)
	// MaxStopDelay bounds a spec's stop delay.
	MaxStopDelay = Duration(10 * time.Minute)
	// MaxReplicas bounds a replicated service's task count.
	MaxReplicas = 100000
)

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidName reports whether s may name a service or node: 1-63 lowercase
// letters, digits and '-', not starting or ending with '-'.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// Normalize fills in the defaults of a spec: mode replicated, restart
// condition any with a 1s delay, a 10s stop grace period, protocol tcp on
// ports, and the runtime ("process" when a command is given without an
// image, "containerd" otherwise). Replicas is left alone: 0 is a valid
// count. Normalize is idempotent.
func (s *ServiceSpec) Normalize() {
	if s.Mode == "" {
		s.Mode = ModeReplicated
	}
	if s.Runtime == "" {
		s.Runtime = s.defaultRuntime()
	}
	if s.Restart.Condition == "" {
		s.Restart.Condition = RestartAny
	}
	if s.Restart.Delay == 0 {
		s.Restart.Delay = DefaultRestartDelay
	}
	if s.StopGracePeriod == 0 {
		s.StopGracePeriod = DefaultStopGracePeriod
	}
	for i := range s.Ports {
		if s.Ports[i].Protocol == "" {
			s.Ports[i].Protocol = "tcp"
		}
	}
}

func (s *ServiceSpec) defaultRuntime() string {
	if len(s.Command) > 0 && s.Image == "" {
		return RuntimeProcess
	}
	return RuntimeContainerd
}

// runtime is the spec's runtime, or the one Normalize would choose.
func (s *ServiceSpec) runtime() string {
	if s.Runtime == "" {
		return s.defaultRuntime()
	}
	return s.Runtime
}

// Validate checks a spec and returns an *Error with CodeInvalid whose
// message names the offending field, such as
// "spec.replicas: must be 0 for mode global". Empty fields that Normalize
// would fill are accepted as their defaults.
func (s *ServiceSpec) Validate() error {
	if err := s.validate(); err != "" {
		return &Error{Code: CodeInvalid, Message: err}
	}
	return nil
}

func (s *ServiceSpec) validate() string {
	if !ValidName(s.Name) {
		return fmt.Sprintf("spec.name: %q is not a valid name (lowercase letters, digits and '-', 1-63 chars, not starting or ending with '-')", s.Name)
	}
	mode := s.Mode
	if mode == "" {
		mode = ModeReplicated
	}
	switch mode {
	case ModeReplicated:
		if s.Replicas > MaxReplicas {
			return fmt.Sprintf("spec.replicas: %d is more than the limit of %d", s.Replicas, MaxReplicas)
		}
	case ModeGlobal:
		if s.Replicas != 0 {
			return "spec.replicas: must be 0 for mode global"
		}
	default:
		return fmt.Sprintf("spec.mode: %q is not a mode (want \"replicated\" or \"global\")", s.Mode)
	}
	switch s.Rebalance {
	case "", RebalanceAuto, RebalanceOff:
		if s.Rebalance != "" && mode == ModeGlobal {
			return "spec.rebalance: a global service runs one task per node and never moves (leave it unset)"
		}
	default:
		return fmt.Sprintf("spec.rebalance: %q is not a rebalance mode (want %q or %q)", s.Rebalance, RebalanceAuto, RebalanceOff)
	}
	if msg := s.validateRuntime(); msg != "" {
		return msg
	}
	if msg := s.validateContainer(); msg != "" {
		return msg
	}
	for i, e := range s.Env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" || strings.ContainsAny(k, "\x00 \t\n") {
			return fmt.Sprintf("spec.env[%d]: %q is not KEY=VALUE", i, e)
		}
	}
	if msg := s.Update.validate("spec.update"); msg != "" {
		return msg
	}
	if msg := s.Rollback.validate("spec.rollback"); msg != "" {
		return msg
	}
	if msg := s.validateOrder(); msg != "" {
		return msg
	}
	if msg := s.validateHeld(); msg != "" {
		return msg
	}
	if strings.ContainsRune(s.WorkDir, 0) {
		return "spec.workdir: contains a NUL byte"
	}
	if s.User != "" {
		if _, err := ParseUser(s.User); err != nil {
			return "spec.user: " + strings.TrimPrefix(err.Error(), "user ")
		}
	}
	if s.Reservations.NanoCPUs < 0 || s.Reservations.NanoCPUs > MaxNanoCPUs {
		return fmt.Sprintf("spec.reservations.nano_cpus: %d is out of range", s.Reservations.NanoCPUs)
	}
	if s.Reservations.MemoryBytes < 0 {
		return fmt.Sprintf("spec.reservations.memory_bytes: %d is negative", s.Reservations.MemoryBytes)
	}
	for i, c := range s.Constraints {
		// Decoding parsed them; this catches constraints built in Go.
		if p, err := ParseConstraint(c.String()); err != nil || p != c {
			return fmt.Sprintf("spec.constraints[%d]: %v", i, constraintProblem(c, err))
		}
	}
	for i, p := range s.Preferences {
		if label, ok := strings.CutPrefix(p.Spread, "node.labels."); !ok || label == "" || strings.ContainsAny(label, " =!") {
			return fmt.Sprintf("spec.preferences[%d].spread: %q must be node.labels.<key>", i, p.Spread)
		}
	}
	if msg := s.validatePorts(); msg != "" {
		return msg
	}
	if msg := s.validateRestart(); msg != "" {
		return msg
	}
	if msg := s.validateHealth(); msg != "" {
		return msg
	}
	if s.StopDelay != nil && (*s.StopDelay < 0 || *s.StopDelay > MaxStopDelay) {
		return fmt.Sprintf("spec.stop_delay: %s is outside 0s to %s", s.StopDelay.Std(), MaxStopDelay.Std())
	}
	if s.StopGracePeriod < 0 {
		return fmt.Sprintf("spec.stop_grace_period: %s is negative", s.StopGracePeriod.Std())
	}
	if _, err := ParseSignal(s.StopSignal); err != nil {
		return "spec.stop_signal: " + strings.TrimPrefix(err.Error(), "stop signal ")
	}
	for k := range s.Labels {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Sprintf("spec.labels: %q is not a valid label key", k)
		}
	}
	return ""
}

func (s *ServiceSpec) validateRuntime() string {
	rt := s.runtime()
	switch rt {
	case RuntimeProcess:
		if len(s.Command) == 0 {
			return "spec.command: runtime process needs a command"
		}
		if s.Image != "" {
			return "spec.image: runtime process does not use an image (set runtime \"containerd\")"
		}
	case RuntimeContainerd:
		if s.Image == "" {
			return "spec.image: runtime containerd needs an image"
		}
		if _, err := NormalizeImageRef(s.Image); err != nil {
			return "spec.image: " + err.Error()
		}
	default:
		return fmt.Sprintf("spec.runtime: %q is not a runtime (want \"process\" or \"containerd\")", s.Runtime)
	}
	if len(s.Command) > 0 && s.Command[0] == "" {
		return "spec.command[0]: is empty"
	}
	return ""
}

// MinMemoryLimit is the smallest memory limit a container can start with.
const MinMemoryLimit = 4 * MiB

// MaxVolumeNameLen bounds a volume's name.
const MaxVolumeNameLen = 128

var volumeNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// validateContainer checks the fields only the containerd runtime honours:
// entrypoint, limits, pids_limit, seccomp and mounts.
func (s *ServiceSpec) validateContainer() string {
	if s.Network != "" && s.Network != NetworkHost {
		return fmt.Sprintf("spec.network: %q is not a network Shoal knows (leave it unset for the task's own namespace, or %q)", s.Network, NetworkHost)
	}
	rt := s.runtime()
	if rt != RuntimeContainerd {
		for _, f := range []struct {
			set  bool
			name string
		}{
			{len(s.Entrypoint) > 0, "entrypoint"},
			{s.Limits != (Resources{}), "limits"},
			{s.PidsLimit != 0, "pids_limit"},
			{s.Seccomp != "", "seccomp"},
			{len(s.Mounts) > 0, "mounts"},
		} {
			if f.set {
				return fmt.Sprintf("spec.%s: only the containerd runtime supports %s (runtime is %q)", f.name, f.name, rt)
			}
		}
		return ""
	}
	for i, e := range s.Entrypoint {
		if i == 0 && e == "" {
			return "spec.entrypoint[0]: is empty"
		}
		if strings.ContainsRune(e, 0) {
			return fmt.Sprintf("spec.entrypoint[%d]: contains a NUL byte", i)
		}
	}
	if msg := s.validateLimits(); msg != "" {
		return msg
	}
	return s.validateMounts()
}

func (s *ServiceSpec) validateLimits() string {
	l, r := s.Limits, s.Reservations
	switch {
	case l.NanoCPUs < 0 || l.NanoCPUs > MaxNanoCPUs:
		return fmt.Sprintf("spec.limits.nano_cpus: %d is out of range", l.NanoCPUs)
	case l.NanoCPUs > 0 && l.NanoCPUs < r.NanoCPUs:
		return fmt.Sprintf("spec.limits.nano_cpus: a CPU limit of %s cores is below the reservation of %s", FormatCPU(l.NanoCPUs), FormatCPU(r.NanoCPUs))
	case l.MemoryBytes < 0:
		return fmt.Sprintf("spec.limits.memory_bytes: %d is negative", l.MemoryBytes)
	case l.MemoryBytes > 0 && l.MemoryBytes < MinMemoryLimit:
		return fmt.Sprintf("spec.limits.memory_bytes: %s is below the %s a container needs", FormatBytes(l.MemoryBytes), FormatBytes(MinMemoryLimit))
	case l.MemoryBytes > 0 && l.MemoryBytes < r.MemoryBytes:
		return fmt.Sprintf("spec.limits.memory_bytes: a memory limit of %s is below the reservation of %s", FormatBytes(l.MemoryBytes), FormatBytes(r.MemoryBytes))
	case s.PidsLimit < 0:
		return fmt.Sprintf("spec.pids_limit: %d is negative", s.PidsLimit)
	case s.Seccomp != "" && s.Seccomp != SeccompUnconfined:
		return fmt.Sprintf("spec.seccomp: %q is not a profile Shoal knows (leave it unset for the default, or %q)", s.Seccomp, SeccompUnconfined)
	}
	return s.validateSecrets()
}

func (s *ServiceSpec) validateSecrets() string {
	seen := map[string]bool{}
	for i, name := range s.Secrets {
		if err := ValidSecretName(name); err != nil {
			return fmt.Sprintf("spec.secrets[%d]: %v", i, err)
		}
		if seen[name] {
			return fmt.Sprintf("spec.secrets[%d]: secret %q is named twice", i, name)
		}
		seen[name] = true
	}
	return ""
}

func (s *ServiceSpec) validateMounts() string {
	seen := map[string]int{}
	for i, m := range s.Mounts {
		field := fmt.Sprintf("spec.mounts[%d]", i)
		switch m.Type {
		case MountVolume:
			if m.Source == "" {
				return field + ".source: a volume mount needs a volume name"
			}
			if len(m.Source) > MaxVolumeNameLen || !volumeNameRE.MatchString(m.Source) {
				return fmt.Sprintf("%s.source: %q is not a volume name (letters, digits and '_', '.', '-' not first; at most %d bytes)", field, m.Source, MaxVolumeNameLen)
			}
		case MountBind:
			if m.Source == "" {
				return field + ".source: a bind mount needs a host path"
			}
			if msg := checkPath(m.Source); msg != "" {
				return fmt.Sprintf("%s.source: %q %s", field, m.Source, msg)
			}
		case "":
			return field + `.type: is empty (want "volume" or "bind")`
		default:
			return fmt.Sprintf("%s.type: %q is not a mount type (want \"volume\" or \"bind\")", field, m.Type)
		}
		if m.Target == "" {
			return field + ".target: is empty"
		}
		if msg := checkPath(m.Target); msg != "" {
			return fmt.Sprintf("%s.target: %q %s", field, m.Target, msg)
		}
		if m.Target == "/" {
			return field + `.target: cannot mount over the container's root "/"`
		}
		if j, ok := seen[m.Target]; ok {
			return fmt.Sprintf("%s.target: %q is already the target of spec.mounts[%d]", field, m.Target, j)
		}
		seen[m.Target] = i
	}
	return ""
}

// checkPath wants an absolute, clean path.
func checkPath(p string) string {
	switch {
	case strings.ContainsRune(p, 0):
		return "contains a NUL byte"
	case !path.IsAbs(p):
		return "must be an absolute path"
	case path.Clean(p) != p:
		return fmt.Sprintf("must be a clean path (write %q)", path.Clean(p))
	}
	return ""
}

func (s *ServiceSpec) validatePorts() string {
	seen := map[PortSpec]bool{}
	names := map[string]bool{}
	ownNetwork := s.ownNetwork()
	for i, p := range s.Ports {
		field := fmt.Sprintf("spec.ports[%d]", i)
		if p.Port == 0 && p.TargetPort == 0 {
			return field + ": needs a port (published on the node) or a target_port (the task's), 1-65535"
		}
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" {
			return fmt.Sprintf("%s.protocol: %q is not \"tcp\" or \"udp\"", field, p.Protocol)
		}
		switch p.Mode {
		case "", PublishIngress:
		case PublishHost:
			if p.Port == 0 {
				return field + ": mode host needs a published port"
			}
		default:
			return fmt.Sprintf("%s.mode: %q is not \"ingress\" or \"host\"", field, p.Mode)
		}
		if p.Mode == PublishIngress && !ownNetwork && p.Port != 0 && p.Target() == p.Port {
			return fmt.Sprintf("%s: ingress port %d is also the port the tasks listen on, on the node's own network (process tasks, network = host), and every node's ingress takes it: publish another port (target=%d alone gets an automatic one) or use mode=host", field, p.Port, p.Port)
		}
		if p.ProxyProtocol && (p.Mode != PublishIngress || proto != "tcp") {
			return field + ": proxy_protocol needs an ingress tcp port"
		}
		if p.TargetPort != 0 && p.Port != 0 && p.TargetPort != p.Port && !ownNetwork && p.HostPublished() {
			return fmt.Sprintf("%s: target_port %d differs from port %d, but the tasks listen on the node's network (process tasks, network = host): leave target_port out", field, p.TargetPort, p.Port)
		}
		if p.Name != "" {
			if msg := portNameProblem(p.Name); msg != "" {
				return fmt.Sprintf("%s.name: %q %s", field, p.Name, msg)
			}
			if names[p.Name] {
				return fmt.Sprintf("%s.name: %q is used twice", field, p.Name)
			}
			names[p.Name] = true
		}
		if p.Port == 0 {
			continue
		}
		key := PortSpec{Port: p.Port, Protocol: proto}
		if seen[key] {
			return fmt.Sprintf("%s: %d/%s is listed twice", field, p.Port, proto)
		}
		seen[key] = true
	}
	return ""
}

// portNameProblem says what is wrong with a port name, or "": a DNS label
// of 1-15 lower-case letters, digits and '-', with a letter, not starting
// or ending with '-' (Kubernetes' port names).
func portNameProblem(n string) string {
	switch {
	case len(n) > 15:
		return "is longer than 15 characters"
	case strings.HasPrefix(n, "-") || strings.HasSuffix(n, "-"):
		return "must not start or end with '-'"
	case strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789-") != "":
		return "may hold only a-z, 0-9 and '-'"
	case strings.Trim(n, "0123456789-") == "":
		return "needs a letter"
	}
	return ""
}

func (s *ServiceSpec) validateRestart() string {
	switch s.Restart.Condition {
	case "", RestartNone, RestartOnFailure, RestartAny:
	default:
		return fmt.Sprintf("spec.restart.condition: %q is not one of none, on-failure, any", s.Restart.Condition)
	}
	if s.Restart.Delay < 0 {
		return fmt.Sprintf("spec.restart.delay: %s is negative", s.Restart.Delay.Std())
	}
	if s.Restart.Window < 0 {
		return fmt.Sprintf("spec.restart.window: %s is negative", s.Restart.Window.Std())
	}
	return ""
}

// constraintProblem explains why c, built in Go, is not what parsing its
// text gives (err, or a key or value with surrounding space).
func constraintProblem(c Constraint, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("invalid constraint %q: key and value must not have surrounding space", c.String())
}
