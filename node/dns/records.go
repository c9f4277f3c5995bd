package dns

import "net"

// Records is what the server answers from: the services and their running
// tasks. Names are lower case; implementations must be safe for concurrent
// use and cheap to read (every query reads them). In every method, ok is
// false when the name does not exist (the server answers NXDOMAIN) and true
// with no addresses when it exists without any (NODATA).
type Records interface {
	// Service returns the addresses SERVICE answers with: the service's
	// stable address if it has one, otherwise its running tasks'. ok
	// reports whether a service has that name.
	Service(service string) (ips []net.IP, ok bool)
	// Tasks returns the addresses of the service's running tasks.
	Tasks(service string) (ips []net.IP, ok bool)
	// Task returns the addresses of the service's running tasks labelled
	// label (a slot; two tasks share one briefly during an update).
	Task(service, label string) (ips []net.IP, ok bool)
	// SRV returns the running tasks behind the service's port named port
	// with protocol proto ("tcp" or "udp"). ok reports whether the service
	// has such a port.
	SRV(service, port, proto string) (targets []SRVTarget, ok bool)
}

// SRVTarget is one task behind a named port.
type SRVTarget struct {
	// Label names the task under its service: the SRV target is
	// LABEL.SERVICE.shoal.
	Label string
	IP    net.IP
	Port  uint16
}
