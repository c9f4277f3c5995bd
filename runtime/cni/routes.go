package cni

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteProtocol marks the routes to other nodes' subnets that Shoal
// installs (the rtnetlink protocol field, like "proto 0x5c" in ip
// route), so that SyncRoutes removes exactly its own and nothing else.
const RouteProtocol = 0x5c

// Route is a route to another node's subnet through that node.
type Route struct {
	Dst netip.Prefix
	Via netip.Addr
}

func (r Route) String() string { return r.Dst.String() + " via " + r.Via.String() }

// Peer is another node as the replica knows it.
type Peer struct {
	ID, Name string
	// Subnet is the node's /24 ("" while it has none).
	Subnet string
	// Addr is the IP the node advertises (its p2p address's host).
	Addr netip.Addr
}

// hostNet answers what PlanRoutes asks about this host's networks.
type hostNet interface {
	// local reports whether ip is one of this host's own addresses.
	local(ip netip.Addr) bool
	// onLink reports whether ip is on a network this host is directly
	// connected to (its route has no gateway).
	onLink(ip netip.Addr) bool
}

// PlanRoutes is the host-gw plan for this host: a route to every peer's
// subnet through the peer when the peer is on a directly connected
// network. Peers whose address is one of this host's own (several agents
// on one host: their bridges are local already) need none; peers that
// are neither (they need an overlay) are returned apart.
func PlanRoutes(peers []Peer) (want []Route, offLink []Peer) {
	return planRoutes(netlinkHost{}, peers)
}

func planRoutes(h hostNet, peers []Peer) (want []Route, offLink []Peer) {
	for _, p := range peers {
		dst, err := netip.ParsePrefix(p.Subnet)
		if err != nil || !p.Addr.Is4() {
			continue
		}
		switch {
		case h.local(p.Addr):
		case h.onLink(p.Addr):
			want = append(want, Route{Dst: dst.Masked(), Via: p.Addr})
		default:
			offLink = append(offLink, p)
		}
	}
	return want, offLink
}

// routeTable is the main routing table, as far as SyncRoutes uses it.
type routeTable interface {
	// owned lists the routes marked RouteProtocol.
	owned() ([]Route, error)
	replace(Route) error
	del(Route) error
}

// SyncRoutes makes the main table's routes marked RouteProtocol exactly
// want: it adds or replaces what is missing or points elsewhere, and
// deletes its own routes that want no longer has (a node removed, an
// address changed). Routes of any other protocol are never deleted.
func SyncRoutes(want []Route) error { return syncRoutes(netlinkTable{}, want) }

func syncRoutes(t routeTable, want []Route) error {
	have, err := t.owned()
	if err != nil {
		return fmt.Errorf("routes: list: %w", err)
	}
	var errs []error
	for _, r := range want {
		if !slices.Contains(have, r) {
			if err := t.replace(r); err != nil {
				errs = append(errs, fmt.Errorf("route %s: %w", r, err))
			}
		}
	}
	for _, r := range have {
		if !slices.ContainsFunc(want, func(w Route) bool { return w.Dst == r.Dst }) {
			if err := t.del(r); err != nil {
				errs = append(errs, fmt.Errorf("delete route %s: %w", r, err))
			}
		}
	}
	return errors.Join(errs...)
}

// netlinkHost answers hostNet from the kernel.
type netlinkHost struct{}

func (netlinkHost) local(ip netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if x, ok := netip.AddrFromSlice(n.IP); ok && x.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

func (netlinkHost) onLink(ip netip.Addr) bool {
	rs, err := netlink.RouteGet(ip.AsSlice())
	return err == nil && len(rs) > 0 && rs[0].Gw == nil && rs[0].Type != unix.RTN_LOCAL
}

// netlinkTable is the kernel's main table.
type netlinkTable struct{}

func (netlinkTable) owned() ([]Route, error) {
	rs, err := netlink.RouteListFiltered(netlink.FAMILY_V4,
		&netlink.Route{Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, err
	}
	var out []Route
	for _, r := range rs {
		if r.Dst == nil {
			continue
		}
		dst, ok1 := netip.AddrFromSlice(r.Dst.IP)
		via, ok2 := netip.AddrFromSlice(r.Gw)
		bits, _ := r.Dst.Mask.Size()
		if ok1 && ok2 {
			out = append(out, Route{Dst: netip.PrefixFrom(dst.Unmap(), bits), Via: via.Unmap()})
		}
	}
	return out, nil
}

func (netlinkTable) replace(r Route) error { return netlink.RouteReplace(kernelRoute(r)) }

func (netlinkTable) del(r Route) error {
	err := netlink.RouteDel(kernelRoute(r))
	if errors.Is(err, unix.ESRCH) {
		return nil // gone already
	}
	return err
}

func kernelRoute(r Route) *netlink.Route {
	return &netlink.Route{
		Dst:      &net.IPNet{IP: r.Dst.Addr().AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), 32)},
		Gw:       r.Via.AsSlice(),
		Protocol: RouteProtocol,
		Table:    unix.RT_TABLE_MAIN,
	}
}
