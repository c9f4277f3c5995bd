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

// Route is a route to another node's subnet through that node: host-gw
// (Via is the node's address, Dev empty: the kernel finds the link), or
// over the node's VXLAN device (Dev; Via is the peer's VTEP address,
// reached "onlink" through the permanent neighbour entry).
type Route struct {
	Dst netip.Prefix
	Via netip.Addr
	Dev string
}

func (r Route) String() string {
	if r.Dev != "" {
		return r.Dst.String() + " via " + r.Via.String() + " dev " + r.Dev + " onlink"
	}
	return r.Dst.String() + " via " + r.Via.String()
}

// Mode is how a node reaches other nodes' subnets.
type Mode string

const (
	// ModeAuto: host-gw to peers on a directly connected network, VXLAN
	// to the others.
	ModeAuto Mode = "auto"
	// ModeHostGW: host-gw only; peers that are not on-link are reported
	// (unreachable).
	ModeHostGW Mode = "host-gw"
	// ModeVXLAN: every peer (but those on this host) over VXLAN.
	ModeVXLAN Mode = "vxlan"
)

// ParseMode accepts "auto", "host-gw" and "vxlan" ("" is auto).
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return ModeAuto, nil
	case ModeAuto, ModeHostGW, ModeVXLAN:
		return m, nil
	}
	return "", fmt.Errorf("%q is not a network mode (auto, host-gw, vxlan)", s)
}

// Plan is what a node needs to reach its peers' subnets.
type Plan struct {
	// HostGW are the routes through on-link peers.
	HostGW []Route
	// VXLAN are the peers reached over the VXLAN device.
	VXLAN []Peer
	// OffLink are the peers host-gw mode cannot reach.
	OffLink []Peer
}

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

// PlanRoutes sorts the peers for this host by mode. Peers whose address
// is one of this host's own (several agents on one host: their bridges
// are local already) need nothing. Otherwise host-gw (mode auto or
// host-gw): a route to the peer's subnet through the peer when it is on a
// directly connected network; VXLAN for the rest in auto mode, for every
// peer in vxlan mode; in host-gw mode the rest are OffLink.
func PlanRoutes(mode Mode, peers []Peer) Plan {
	return planRoutes(netlinkHost{}, mode, peers)
}

func planRoutes(h hostNet, mode Mode, peers []Peer) Plan {
	var p Plan
	for _, peer := range peers {
		dst, err := netip.ParsePrefix(peer.Subnet)
		if err != nil || !peer.Addr.Is4() || !dst.Addr().Is4() {
			continue
		}
		switch {
		case h.local(peer.Addr):
		case mode == ModeVXLAN:
			p.VXLAN = append(p.VXLAN, peer)
		case h.onLink(peer.Addr):
			p.HostGW = append(p.HostGW, Route{Dst: dst.Masked(), Via: peer.Addr})
		case mode == ModeHostGW:
			p.OffLink = append(p.OffLink, peer)
		default:
			p.VXLAN = append(p.VXLAN, peer)
		}
	}
	return p
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
	// 127.0.0.0/8 is this host's whatever lo lists (agents sharing a
	// host on 127.0.0.1, .2, .3), as is any address the kernel routes
	// locally.
	if ip.IsLoopback() {
		return true
	}
	if rs, err := netlink.RouteGet(ip.AsSlice()); err == nil && len(rs) > 0 && rs[0].Type == unix.RTN_LOCAL {
		return true
	}
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
		if !ok1 || !ok2 {
			continue
		}
		route := Route{Dst: netip.PrefixFrom(dst.Unmap(), bits), Via: via.Unmap()}
		// A route over a VXLAN device names it (host-gw routes do not:
		// the kernel picks their link).
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil && l.Type() == "vxlan" {
			route.Dev = l.Attrs().Name
		}
		out = append(out, route)
	}
	return out, nil
}

func (netlinkTable) replace(r Route) error {
	kr, err := kernelRoute(r)
	if err != nil {
		return err
	}
	return netlink.RouteReplace(kr)
}

func (netlinkTable) del(r Route) error {
	kr, err := kernelRoute(r)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil // its device is gone, and the route with it
	}
	if err != nil {
		return err
	}
	err = netlink.RouteDel(kr)
	if errors.Is(err, unix.ESRCH) {
		return nil // gone already
	}
	return err
}

func kernelRoute(r Route) (*netlink.Route, error) {
	kr := &netlink.Route{
		Dst:      &net.IPNet{IP: r.Dst.Addr().AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), 32)},
		Gw:       r.Via.AsSlice(),
		Protocol: RouteProtocol,
		Table:    unix.RT_TABLE_MAIN,
	}
	if r.Dev != "" {
		l, err := netlink.LinkByName(r.Dev)
		if err != nil {
			return nil, err
		}
		kr.LinkIndex = l.Attrs().Index
		kr.Flags = int(netlink.FLAG_ONLINK)
	}
	return kr, nil
}
