package api

import (
	"fmt"
	"net/netip"
)

// Publishing a service's ports (issue 12, service traffic).
//
// A PortSpec is published when Port != 0, or when its Mode is
// PublishIngress (Port 0 there asks for an automatic port, the lowest
// free one of PublishedPortMin-PublishedPortMax, chosen by the FSM and
// kept in Service.Endpoint while the port stays in the spec). A PortSpec
// with Port 0 and no Mode is a named, unpublished port. Mode "" with a
// published port is host mode: what records written before service
// traffic meant. The API fills PublishIngress in for new published ports
// in a cluster with a service CIDR (see DefaultPublishModes).

// PublishMode is the mode p is published in: PublishIngress,
// PublishHost, or "" for a port that is not published.
func (p PortSpec) PublishMode() string {
	switch {
	case p.Mode == PublishIngress:
		return PublishIngress
	case p.Port != 0:
		return PublishHost
	}
	return ""
}

// HostPublished reports whether p is mapped on the node that runs a task
// (CNI portmap, the scheduler's one-task-per-node-and-port rule): host
// mode, or a record from before publish modes.
func (p PortSpec) HostPublished() bool { return p.PublishMode() == PublishHost }

// DefaultPublishModes sets PublishIngress on the published ports of spec
// that name no mode, except a port old (the spec being updated, or nil)
// already published the same way without a mode: a service written before
// service traffic keeps its host ports through updates. A port whose
// tasks listen on the node's own network (process tasks, network = host)
// on the published port itself gets PublishHost: ingress (the kernel's
// DNAT, or the proxy) would take that port on every node, the task's
// own included.
func DefaultPublishModes(spec *ServiceSpec, old *ServiceSpec) {
	for i := range spec.Ports {
		p := &spec.Ports[i]
		if p.Mode != "" || p.Port == 0 || old != nil && keepsLegacyHost(*p, old.Ports) {
			continue
		}
		if !spec.ownNetwork() && p.Target() == p.Port {
			p.Mode = PublishHost
			continue
		}
		p.Mode = PublishIngress
	}
}

// ownNetwork reports whether the spec's tasks get network namespaces of
// their own (containers not on the host network).
func (s *ServiceSpec) ownNetwork() bool {
	return s.Runtime == RuntimeContainerd && s.Network != NetworkHost
}

func keepsLegacyHost(p PortSpec, old []PortSpec) bool {
	for _, o := range old {
		if o.Mode == "" && o.Port == p.Port && o.protocol() == p.protocol() {
			return true
		}
	}
	return false
}

// protocol is p's protocol, tcp when empty.
func (p PortSpec) protocol() string {
	if p.Protocol == "" {
		return "tcp"
	}
	return p.Protocol
}

// ServiceCIDR bounds: a service CIDR is an IPv4 prefix from /8 to /24.
const (
	ServiceCIDRMinBits = 8
	ServiceCIDRMaxBits = 24
)

// ParseServiceCIDR checks a cluster's service network (where virtual IPs
// come from): an IPv4 prefix from /8 to /24, written as its network
// address, that does not overlap 127.0.0.0/8.
func ParseServiceCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("service CIDR %q: not an address/prefix such as %s", s, DefaultServiceCIDR)
	}
	switch {
	case !p.Addr().Is4():
		return netip.Prefix{}, fmt.Errorf("service CIDR %s: must be IPv4", s)
	case p.Bits() < ServiceCIDRMinBits || p.Bits() > ServiceCIDRMaxBits:
		return netip.Prefix{}, fmt.Errorf("service CIDR %s: prefix /%d is not within /%d to /%d", s, p.Bits(), ServiceCIDRMinBits, ServiceCIDRMaxBits)
	case p.Masked() != p:
		return netip.Prefix{}, fmt.Errorf("service CIDR %s: host bits are set (did you mean %s?)", s, p.Masked())
	case p.Overlaps(netip.MustParsePrefix("127.0.0.0/8")):
		return netip.Prefix{}, fmt.Errorf("service CIDR %s: overlaps the loopback network 127.0.0.0/8", s)
	}
	return p, nil
}

// CheckNetworks checks a cluster's task and service CIDRs together: each
// parses, and they do not overlap. An empty one is not checked.
func CheckNetworks(clusterCIDR, serviceCIDR string) error {
	var cp netip.Prefix
	if clusterCIDR != "" {
		var err error
		if cp, err = ParseClusterCIDR(clusterCIDR); err != nil {
			return err
		}
	}
	if serviceCIDR == "" {
		return nil
	}
	sp, err := ParseServiceCIDR(serviceCIDR)
	if err != nil {
		return err
	}
	if cp.IsValid() && cp.Overlaps(sp) {
		return fmt.Errorf("service CIDR %s overlaps the cluster CIDR %s: pick one outside it", serviceCIDR, clusterCIDR)
	}
	return nil
}
