package api

import (
	"strings"
	"testing"
)

// FuzzParsePort: never panics; a refusal is one line; what it accepts has
// a port or a target, a known protocol, and validates as a container
// service's port (or says why in one line).
func FuzzParsePort(f *testing.F) {
	for _, s := range []string{"8080", "53/udp", "8080:80", "5353:53/udp", "name=http,target=80", "name=x,published=1,target=2,protocol=udp", ":", "=", "0:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePort(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if p.Port == 0 && p.TargetPort == 0 || (p.Protocol != "tcp" && p.Protocol != "udp") {
			t.Fatalf("ParsePort(%q) accepted %+v", s, p)
		}
		spec := ServiceSpec{Name: "web", Runtime: RuntimeContainerd, Image: "hello", Mode: ModeReplicated, Replicas: 1, Ports: []PortSpec{p}}
		if err := spec.Validate(); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("validation error is not one line: %q", err)
		}
	})
}

// FuzzParseClusterCIDR: never panics; a refusal is one line; an accepted
// prefix is IPv4, /8 to /22, masked, and clear of loopback.
func FuzzParseClusterCIDR(f *testing.F) {
	for _, s := range []string{"10.42.0.0/16", "127.0.0.0/8", "10.0.0.1/16", "::/0", "10.0.0.0/23", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseClusterCIDR(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if !p.Addr().Is4() || p.Bits() < 8 || p.Bits() > 22 || p.Masked() != p || p.Contains(p.Addr()) && p.Addr().IsLoopback() {
			t.Fatalf("ParseClusterCIDR(%q) accepted %s", s, p)
		}
	})
}
