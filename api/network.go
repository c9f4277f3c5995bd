package api

import (
	"fmt"
	"net/netip"
)

// DefaultClusterCIDR is the task network of a cluster bootstrapped without
// one given.
const DefaultClusterCIDR = "10.42.0.0/16"

// DefaultServiceCIDR is where services' virtual IPs come from in a cluster
// bootstrapped without --service-cidr.
const DefaultServiceCIDR = "10.43.0.0/16"

// NodeSubnetBits is the prefix length of each node's subnet (a /24: 253
// task addresses after the network, gateway and broadcast).
const NodeSubnetBits = 24

// ParseClusterCIDR checks a cluster's task network: an IPv4 prefix from /8
// to /22 (room for at least 4 node subnets), written as its network
// address, that does not overlap 127.0.0.0/8.
func ParseClusterCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("cluster CIDR %q: not an address/prefix such as %s", s, DefaultClusterCIDR)
	}
	switch {
	case !p.Addr().Is4():
		return netip.Prefix{}, fmt.Errorf("cluster CIDR %s: must be IPv4", s)
	case p.Bits() < 8 || p.Bits() > NodeSubnetBits-2:
		return netip.Prefix{}, fmt.Errorf("cluster CIDR %s: prefix /%d is not within /8 to /%d", s, p.Bits(), NodeSubnetBits-2)
	case p.Masked() != p:
		return netip.Prefix{}, fmt.Errorf("cluster CIDR %s: host bits are set (did you mean %s?)", s, p.Masked())
	case p.Overlaps(netip.MustParsePrefix("127.0.0.0/8")):
		return netip.Prefix{}, fmt.Errorf("cluster CIDR %s: overlaps the loopback network 127.0.0.0/8", s)
	}
	return p, nil
}
