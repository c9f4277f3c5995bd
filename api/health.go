package api

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HealthCheck is how a task's node checks that the task works: exactly
// one of Cmd, HTTP and TCP, or Disable. A service without one gets its
// image's HEALTHCHECK (containers), unless Disable is set. A task is "starting" until its first passing
// check (failures within StartPeriod do not count), "healthy" after a
// pass, and "unhealthy" after Retries consecutive failures, when its node
// stops it and reports it failed, so its restart policy replaces it.
type HealthCheck struct {
	// Cmd is a command run in the task's context: inside the container
	// (its user, env and working directory), or for process tasks on the
	// host as the task's user with its env and workdir. Exit code 0
	// passes, anything else fails. It takes docker's forms:
	// ["CMD-SHELL", "LINE"] runs /bin/sh -c LINE, ["CMD", PROG, ARG...]
	// runs PROG; a list without either prefix is an argv as well.
	Cmd []string `json:"cmd,omitempty"`
	// HTTP is "PATH[:PORT]": a GET of PATH on the task's address (or
	// 127.0.0.1 on the host network) passes with a 2xx or 3xx status.
	// PORT is a number or the name of one of the service's ports;
	// without it, the first port's target.
	HTTP string `json:"http,omitempty"`
	// TCP is a PORT (number or port name): a connection that opens passes.
	TCP string `json:"tcp,omitempty"`

	Interval    Duration `json:"interval,omitempty"`     // default 10s
	Timeout     Duration `json:"timeout,omitempty"`      // default 5s
	Retries     uint64   `json:"retries,omitempty"`      // default 3
	StartPeriod Duration `json:"start_period,omitempty"` // default 0

	// Disable turns health checks off, the image's HEALTHCHECK too (as
	// docker's --no-healthcheck and compose's disable: true). It is
	// given alone.
	Disable bool `json:"disable,omitempty"`
}

// Docker's health check test forms (the first word of Cmd, or of an
// image's HEALTHCHECK test).
const (
	HealthFormCmd      = "CMD"
	HealthFormCmdShell = "CMD-SHELL"
	HealthFormNone     = "NONE"
)

// Argv is the command a Cmd check runs: CMD-SHELL's line under
// /bin/sh -c, CMD's words after the prefix, or Cmd itself.
func (h HealthCheck) Argv() []string {
	if len(h.Cmd) == 0 {
		return nil
	}
	switch h.Cmd[0] {
	case HealthFormCmdShell:
		return append([]string{"/bin/sh", "-c"}, h.Cmd[1:]...)
	case HealthFormCmd:
		return h.Cmd[1:]
	}
	return h.Cmd
}

// checkHealthCmd returns what is wrong with a cmd check, or "".
func checkHealthCmd(cmd []string) string {
	switch cmd[0] {
	case HealthFormNone:
		return `["NONE"] is written disable: true`
	case HealthFormCmdShell:
		if len(cmd) != 2 || strings.TrimSpace(cmd[1]) == "" {
			return `["CMD-SHELL", LINE] takes exactly one non-empty command line`
		}
		return ""
	case HealthFormCmd:
		if len(cmd) < 2 || cmd[1] == "" {
			return `["CMD", PROG, ARG...]: the program is empty`
		}
		return ""
	case "":
		return "the program is empty"
	}
	return ""
}

// Health check defaults.
const (
	DefaultHealthInterval = Duration(10 * time.Second)
	DefaultHealthTimeout  = Duration(5 * time.Second)
	DefaultHealthRetries  = 3
)

// Health states of a running task (TaskStatus.Health).
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// WithDefaults returns h with its unset timings filled in.
func (h HealthCheck) WithDefaults() HealthCheck {
	if h.Interval == 0 {
		h.Interval = DefaultHealthInterval
	}
	if h.Timeout == 0 {
		h.Timeout = DefaultHealthTimeout
	}
	if h.Retries == 0 {
		h.Retries = DefaultHealthRetries
	}
	return h
}

// ParseHealthHTTP reads an http check "PATH[:PORT]": PATH starts with
// '/', PORT (after the last ':') is 1-65535 or a port name. port is ""
// when none is given.
func ParseHealthHTTP(s string) (path, port string, err error) {
	if !strings.HasPrefix(s, "/") {
		return "", "", fmt.Errorf("http check %q: want PATH[:PORT] with PATH starting with /", s)
	}
	path = s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		path, port = s[:i], s[i+1:]
		if err := checkHealthPort(port); err != nil {
			return "", "", fmt.Errorf("http check %q: %v", s, err)
		}
	}
	if strings.ContainsAny(path, " \t\r\n") {
		return "", "", fmt.Errorf("http check %q: the path may not contain white space", s)
	}
	return path, port, nil
}

// ParseHealthTCP reads a tcp check's PORT: 1-65535 or a port name.
func ParseHealthTCP(s string) (string, error) {
	if err := checkHealthPort(s); err != nil {
		return "", fmt.Errorf("tcp check %q: %v", s, err)
	}
	return s, nil
}

func checkHealthPort(p string) error {
	if p == "" {
		return fmt.Errorf("empty port")
	}
	if p[0] >= '0' && p[0] <= '9' {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("port %q must be 1-65535 or a port name", p)
		}
		return nil
	}
	if msg := portNameProblem(p); msg != "" {
		return fmt.Errorf("port %q must be 1-65535 or a port name", p)
	}
	return nil
}

// HealthPort resolves a check's port (a number, a port name, or "" for
// the first port) against the service's ports, to the port the task
// listens on.
func (s *ServiceSpec) HealthPort(port string) (uint16, error) {
	if port == "" {
		if len(s.Ports) == 0 {
			return 0, fmt.Errorf("no port given and the service has none")
		}
		return s.Ports[0].Target(), nil
	}
	if n, err := strconv.ParseUint(port, 10, 16); err == nil && n > 0 {
		return uint16(n), nil
	}
	for _, p := range s.Ports {
		if p.Name == port {
			return p.Target(), nil
		}
	}
	return 0, fmt.Errorf("port %q is not a port of the service", port)
}

// validateHealth returns a one-line error naming the field, or "".
func (s *ServiceSpec) validateHealth() string {
	h := s.Health
	if h == nil {
		return ""
	}
	n := 0
	if len(h.Cmd) > 0 {
		n++
	}
	if h.HTTP != "" {
		n++
	}
	if h.TCP != "" {
		n++
	}
	if h.Disable {
		if n != 0 || h.Interval != 0 || h.Timeout != 0 || h.Retries != 0 || h.StartPeriod != 0 {
			return "spec.health.disable: give it alone (no check, no timings)"
		}
		return ""
	}
	if n != 1 {
		return "spec.health: give exactly one of cmd, http and tcp (or disable)"
	}
	switch {
	case len(h.Cmd) > 0:
		if msg := checkHealthCmd(h.Cmd); msg != "" {
			return "spec.health.cmd: " + msg
		}
		for _, a := range h.Cmd {
			if strings.IndexByte(a, 0) >= 0 {
				return "spec.health.cmd: an argument contains a NUL byte"
			}
		}
	case h.HTTP != "":
		_, port, err := ParseHealthHTTP(h.HTTP)
		if err != nil {
			return "spec.health.http: " + err.Error()
		}
		if _, err := s.HealthPort(port); err != nil {
			return "spec.health.http: " + err.Error()
		}
	default:
		if _, err := ParseHealthTCP(h.TCP); err != nil {
			return "spec.health.tcp: " + err.Error()
		}
		if _, err := s.HealthPort(h.TCP); err != nil {
			return "spec.health.tcp: " + err.Error()
		}
	}
	switch {
	case h.Interval < 0 || (h.Interval != 0 && h.Interval < Duration(100*time.Millisecond)):
		return "spec.health.interval: must be at least 100ms (default 10s)"
	case h.Timeout < 0 || (h.Timeout != 0 && h.Timeout < Duration(10*time.Millisecond)):
		return "spec.health.timeout: must be at least 10ms (default 5s)"
	case h.StartPeriod < 0:
		return "spec.health.start_period: must not be negative"
	case h.Retries > 1000:
		return "spec.health.retries: must be at most 1000 (default 3)"
	}
	return ""
}
