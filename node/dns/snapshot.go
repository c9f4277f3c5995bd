package dns

import (
	"bytes"
	"net"
	"slices"
	"strings"
)

// Service is a service as the resolver sees it.
type Service struct {
	Name string
	// Addr is the service's stable address; empty until services have
	// one, and then SERVICE answers with its running tasks' addresses.
	Addr  string
	Ports []Port
}

// Port is a named port of a service: the port its tasks listen on at their
// own address.
type Port struct {
	Name     string
	Protocol string // "tcp" (when empty) or "udp"
	Port     uint16
}

// Task is a running task with an address. Tasks that do not run, or have
// no address yet, are left out of a Snapshot.
type Task struct {
	Service string // the service's name
	Label   string // its slot, or for a global service its task ID
	IP      string
}

// Snapshot is an immutable Records built from plain records. Its reads
// share its slices: callers must not modify what they return.
type Snapshot struct {
	services map[string]*serviceRecords
}

var _ Records = (*Snapshot)(nil)

type serviceRecords struct {
	addr    []net.IP
	tasks   []net.IP // sorted, no duplicates
	byLabel map[string][]net.IP
	ports   map[portKey]uint16
	targets []SRVTarget // Port unset; sorted by label, then IP
}

type portKey struct{ name, proto string }

// NewSnapshot indexes services and their running tasks. Names are folded
// to lower case; tasks of unknown services, addresses that do not parse
// and ports without a name are left out.
func NewSnapshot(services []Service, tasks []Task) *Snapshot {
	s := &Snapshot{services: make(map[string]*serviceRecords, len(services))}
	for _, svc := range services {
		r := &serviceRecords{byLabel: map[string][]net.IP{}, ports: map[portKey]uint16{}}
		if ip := net.ParseIP(svc.Addr); ip != nil {
			r.addr = []net.IP{ip}
		}
		for _, p := range svc.Ports {
			if p.Name == "" {
				continue
			}
			proto := lowerASCII(p.Protocol)
			if proto == "" {
				proto = "tcp"
			}
			r.ports[portKey{lowerASCII(p.Name), proto}] = p.Port
		}
		s.services[lowerASCII(svc.Name)] = r
	}
	for _, t := range tasks {
		r, ok := s.services[lowerASCII(t.Service)]
		ip := net.ParseIP(t.IP)
		if !ok || ip == nil {
			continue
		}
		label := lowerASCII(t.Label)
		r.tasks = append(r.tasks, ip)
		r.byLabel[label] = append(r.byLabel[label], ip)
		r.targets = append(r.targets, SRVTarget{Label: label, IP: ip})
	}
	for _, r := range s.services {
		r.tasks = sortIPs(r.tasks)
		for label, ips := range r.byLabel {
			r.byLabel[label] = sortIPs(ips)
		}
		slices.SortFunc(r.targets, func(a, b SRVTarget) int {
			if c := strings.Compare(a.Label, b.Label); c != 0 {
				return c
			}
			return bytes.Compare(a.IP.To16(), b.IP.To16())
		})
	}
	return s
}

// Service implements Records.
func (s *Snapshot) Service(service string) ([]net.IP, bool) {
	r, ok := s.services[service]
	if !ok {
		return nil, false
	}
	if r.addr != nil {
		return r.addr, true
	}
	return r.tasks, true
}

// Tasks implements Records.
func (s *Snapshot) Tasks(service string) ([]net.IP, bool) {
	r, ok := s.services[service]
	if !ok {
		return nil, false
	}
	return r.tasks, true
}

// Task implements Records.
func (s *Snapshot) Task(service, label string) ([]net.IP, bool) {
	r, ok := s.services[service]
	if !ok {
		return nil, false
	}
	ips, ok := r.byLabel[label]
	return ips, ok
}

// SRV implements Records.
func (s *Snapshot) SRV(service, port, proto string) ([]SRVTarget, bool) {
	r, ok := s.services[service]
	if !ok {
		return nil, false
	}
	p, ok := r.ports[portKey{port, proto}]
	if !ok {
		return nil, false
	}
	out := make([]SRVTarget, len(r.targets))
	for i, t := range r.targets {
		t.Port = p
		out[i] = t
	}
	return out, true
}

// sortIPs sorts ips and drops duplicates.
func sortIPs(ips []net.IP) []net.IP {
	slices.SortFunc(ips, func(a, b net.IP) int { return bytes.Compare(a.To16(), b.To16()) })
	return slices.CompactFunc(ips, func(a, b net.IP) bool { return a.Equal(b) })
}

// lowerASCII folds A-Z only: DNS names compare case-insensitively in ASCII,
// and Unicode folding would make names like "\u212A" (Kelvin) match "k".
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
