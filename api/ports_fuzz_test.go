package api

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzParsePort: never panics; a refusal is one line; what it accepts has
// a port or a target, a known protocol, and validates as a container
// service's port (or says why in one line).
func FuzzParsePort(f *testing.F) {
	for _, s := range []string{"8080", "53/udp", "8080:80", "5353:53/udp", "name=http,target=80", "name=x,published=1,target=2,protocol=udp", ":", "=", "0:0", "80", "mode=ingress,target=80,proxy_protocol=true", "published=8080,target=80,mode=host,name=http,protocol=udp", "mode=host,target=1"} {
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
		if p.Port == 0 && p.TargetPort == 0 || (p.Protocol != "tcp" && p.Protocol != "udp") ||
			(p.Mode != "" && p.Mode != PublishIngress && p.Mode != PublishHost) || p.Mode == PublishHost && p.Port == 0 {
			t.Fatalf("ParsePort(%q) accepted %+v", s, p)
		}
		// A published port names its mode; the short forms are ingress
		// ("N" on an automatic port).
		if p.Port != 0 && p.Mode == "" || !strings.Contains(s, "=") && p.Mode != PublishIngress {
			t.Fatalf("ParsePort(%q) = %+v: a published port without a mode, or a short form not ingress", s, p)
		}
		spec := ServiceSpec{Name: "web", Runtime: RuntimeContainerd, Image: "hello", Mode: ModeReplicated, Replicas: 1, Ports: []PortSpec{p}}
		if err := spec.Validate(); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("validation error is not one line: %q", err)
		}
	})
}

// FuzzParseServiceCIDR: never panics; a refusal is one line; an accepted
// prefix is IPv4, /8 to /24, masked, and clear of loopback; CheckNetworks
// never accepts it beside a cluster CIDR it overlaps.
func FuzzParseServiceCIDR(f *testing.F) {
	for _, s := range []string{"10.43.0.0/16", "10.42.0.0/16", "127.0.0.0/8", "10.0.0.1/16", "::/0", "10.0.0.0/25", "10.0.0.0/24", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseServiceCIDR(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if !p.Addr().Is4() || p.Bits() < 8 || p.Bits() > 24 || p.Masked() != p || p.Overlaps(netip.MustParsePrefix("127.0.0.0/8")) {
			t.Fatalf("ParseServiceCIDR(%q) accepted %s", s, p)
		}
		err = CheckNetworks(DefaultClusterCIDR, s)
		if overlaps := p.Overlaps(netip.MustParsePrefix(DefaultClusterCIDR)); overlaps != (err != nil) {
			t.Fatalf("CheckNetworks(%s, %s) = %v", DefaultClusterCIDR, s, err)
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
