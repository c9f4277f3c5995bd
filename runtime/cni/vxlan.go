package cni

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// VXLANVNI is the VXLAN network identifier of the task overlay.
const VXLANVNI = 4242

// DefaultVXLANPort is the overlay's UDP port (IANA's VXLAN port). Every
// node of a cluster must use the same one (network.vxlan_port).
const DefaultVXLANPort = 4789

// vxlanOverhead is what VXLAN encapsulation adds to a packet: outer IPv4
// (20), UDP (8), VXLAN (8) and inner Ethernet (14) headers.
const vxlanOverhead = 50

// VXLANName is the node's VXLAN device: "shoalvx" and 8 hex digits of the
// SHA-256 of its node ID (15 bytes, the kernel's limit).
func VXLANName(nodeID string) string {
	h := sha256.Sum256([]byte(nodeID))
	return "shoalvx" + hex.EncodeToString(h[:])[:8]
}

// VXLANMAC is the node's VXLAN device's MAC address, derived from its node
// ID so that every other node knows it without replicated state: 0x0e
// (locally administered, unicast) and 5 bytes of the SHA-256 of the ID.
func VXLANMAC(nodeID string) net.HardwareAddr {
	h := sha256.Sum256([]byte("vxlan-mac " + nodeID))
	return net.HardwareAddr{0x0e, h[0], h[1], h[2], h[3], h[4]}
}

// VTEPAddr is a node's address on its VXLAN device: its subnet's network
// address (.0), assigned /32, which neither the bridge (.1) nor a task
// (host-local hands out from .2) takes. Other nodes route the subnet
// through it "onlink".
func VTEPAddr(subnet netip.Prefix) netip.Addr { return subnet.Masked().Addr() }

// VXLANConfig is this node's side of the overlay.
type VXLANConfig struct {
	NodeID string
	// Local is the node's advertised IP: the outer source address.
	Local netip.Addr
	// Subnet is the node's /24 (its VTEP address is its .0).
	Subnet netip.Prefix
	// Port is the UDP port (DefaultVXLANPort when 0).
	Port int
}

// vxlanPeer is what the node's device needs to know of a peer.
type vxlanPeer struct {
	mac  net.HardwareAddr
	addr netip.Addr // outer destination
	vtep netip.Addr
	dst  netip.Prefix
}

func vxlanPeers(peers []Peer) []vxlanPeer {
	var out []vxlanPeer
	for _, p := range peers {
		dst, err := netip.ParsePrefix(p.Subnet)
		if err != nil || !p.Addr.Is4() {
			continue
		}
		out = append(out, vxlanPeer{mac: VXLANMAC(p.ID), addr: p.Addr, vtep: VTEPAddr(dst), dst: dst.Masked()})
	}
	return out
}

// VXLANRoutes are the routes to the peers' subnets over the node's device:
// "<subnet> via <peer's VTEP address> dev <device> onlink".
func VXLANRoutes(nodeID string, peers []Peer) []Route {
	var out []Route
	for _, p := range vxlanPeers(peers) {
		out = append(out, Route{Dst: p.dst, Via: p.vtep, Dev: VXLANName(nodeID)})
	}
	return out
}

// EnsureVXLAN makes the node's VXLAN device exist as c says (VNI
// VXLANVNI, local address c.Local, learning off, MAC VXLANMAC, MTU the
// uplink's minus 50, VTEP address /32, up; a device that differs is made
// again), and makes its forwarding database and its permanent neighbour
// entries exactly the peers': an FDB entry from each peer's MAC to the
// peer's address and a neighbour entry from its VTEP address to its MAC.
// Entries of peers no longer listed are deleted. The routes
// (VXLANRoutes) are SyncRoutes's.
func EnsureVXLAN(c VXLANConfig, peers []Peer) error {
	name := VXLANName(c.NodeID)
	link, err := ensureVXLANDevice(c)
	if err != nil {
		return fmt.Errorf("vxlan %s: %w", name, err)
	}
	idx := link.Attrs().Index
	want := vxlanPeers(peers)
	var errs []error

	fdb, err := netlink.NeighList(idx, unix.AF_BRIDGE)
	if err != nil {
		return fmt.Errorf("vxlan %s: list fdb: %w", name, err)
	}
	for _, p := range want {
		if slices.ContainsFunc(fdb, func(n netlink.Neigh) bool {
			return n.HardwareAddr.String() == p.mac.String() && n.IP.Equal(p.addr.AsSlice())
		}) {
			continue
		}
		err := netlink.NeighSet(&netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, State: netlink.NUD_PERMANENT,
			Flags: netlink.NTF_SELF, IP: p.addr.AsSlice(), HardwareAddr: p.mac})
		if err != nil {
			errs = append(errs, fmt.Errorf("vxlan %s: fdb %s dst %s: %w", name, p.mac, p.addr, err))
		}
	}
	for _, n := range fdb {
		if n.HardwareAddr == nil || slices.ContainsFunc(want, func(p vxlanPeer) bool {
			return n.HardwareAddr.String() == p.mac.String() && n.IP.Equal(p.addr.AsSlice())
		}) {
			continue
		}
		n.Family, n.Flags = unix.AF_BRIDGE, netlink.NTF_SELF
		if err := netlink.NeighDel(&n); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("vxlan %s: delete fdb %s dst %s: %w", name, n.HardwareAddr, n.IP, err))
		}
	}

	neigh, err := netlink.NeighList(idx, unix.AF_INET)
	if err != nil {
		return fmt.Errorf("vxlan %s: list neighbours: %w", name, err)
	}
	for _, p := range want {
		if slices.ContainsFunc(neigh, func(n netlink.Neigh) bool {
			return n.State == netlink.NUD_PERMANENT && n.IP.Equal(p.vtep.AsSlice()) && n.HardwareAddr.String() == p.mac.String()
		}) {
			continue
		}
		err := netlink.NeighSet(&netlink.Neigh{LinkIndex: idx, Family: unix.AF_INET, State: netlink.NUD_PERMANENT,
			Type: unix.RTN_UNICAST, IP: p.vtep.AsSlice(), HardwareAddr: p.mac})
		if err != nil {
			errs = append(errs, fmt.Errorf("vxlan %s: neighbour %s lladdr %s: %w", name, p.vtep, p.mac, err))
		}
	}
	for _, n := range neigh {
		if n.State&netlink.NUD_PERMANENT == 0 || slices.ContainsFunc(want, func(p vxlanPeer) bool {
			return n.IP.Equal(p.vtep.AsSlice()) && n.HardwareAddr.String() == p.mac.String()
		}) {
			continue
		}
		n.Family = unix.AF_INET
		if err := netlink.NeighDel(&n); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("vxlan %s: delete neighbour %s: %w", name, n.IP, err))
		}
	}
	return errors.Join(errs...)
}

// ensureVXLANDevice finds or (re)creates the device, and sets its address
// and state.
func ensureVXLANDevice(c VXLANConfig) (netlink.Link, error) {
	if !c.Local.Is4() || !c.Subnet.Addr().Is4() {
		return nil, fmt.Errorf("local address %s and subnet %s must be IPv4", c.Local, c.Subnet)
	}
	port := c.Port
	if port == 0 {
		port = DefaultVXLANPort
	}
	name, mac := VXLANName(c.NodeID), VXLANMAC(c.NodeID)
	uplink, err := linkWithAddr(c.Local)
	if err != nil {
		return nil, err
	}
	want := &netlink.Vxlan{
		LinkAttrs:    netlink.LinkAttrs{Name: name, HardwareAddr: mac, MTU: uplink.Attrs().MTU - vxlanOverhead},
		VxlanId:      VXLANVNI,
		VtepDevIndex: uplink.Attrs().Index,
		SrcAddr:      c.Local.AsSlice(),
		Port:         port,
		Learning:     false,
	}
	link, err := netlink.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
		link = nil
	case err != nil:
		return nil, err
	default:
		have, ok := link.(*netlink.Vxlan)
		if !ok || have.VxlanId != want.VxlanId || have.Port != want.Port || !have.SrcAddr.Equal(want.SrcAddr) ||
			have.Learning || have.VtepDevIndex != want.VtepDevIndex || have.HardwareAddr.String() != mac.String() ||
			have.MTU != want.MTU {
			if err := netlink.LinkDel(link); err != nil {
				return nil, fmt.Errorf("delete to remake: %w", err)
			}
			link = nil
		}
	}
	if link == nil {
		if err := netlink.LinkAdd(want); err != nil {
			return nil, fmt.Errorf("create (VNI %d, UDP port %d, local %s): %w", VXLANVNI, port, c.Local, err)
		}
		if link, err = netlink.LinkByName(name); err != nil {
			return nil, err
		}
	}
	vtep := VTEPAddr(c.Subnet)
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: vtep.AsSlice(), Mask: net.CIDRMask(32, 32)}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return nil, fmt.Errorf("address %s/32: %w", vtep, err)
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return nil, fmt.Errorf("up: %w", err)
		}
	}
	return link, nil
}

// RemoveVXLAN deletes the node's VXLAN device (and with it its FDB,
// neighbour entries and routes); a missing one is not an error.
func RemoveVXLAN(nodeID string) error {
	link, err := netlink.LinkByName(VXLANName(nodeID))
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil
	}
	if err == nil {
		err = netlink.LinkDel(link)
	}
	if err != nil {
		return fmt.Errorf("vxlan %s: delete: %w", VXLANName(nodeID), err)
	}
	return nil
}

// UplinkMTU is the MTU tasks' interfaces need for their packets to fit in
// VXLAN over the link that holds local: its MTU minus 50.
func UplinkMTU(local netip.Addr) (int, error) {
	l, err := linkWithAddr(local)
	if err != nil {
		return 0, err
	}
	return l.Attrs().MTU - vxlanOverhead, nil
}

// linkWithAddr is the link that holds ip (the node's advertised address).
func linkWithAddr(ip netip.Addr) (netlink.Link, error) {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if x, ok := netip.AddrFromSlice(a.IP); ok && x.Unmap() == ip {
			return netlink.LinkByIndex(a.LinkIndex)
		}
	}
	return nil, fmt.Errorf("no link holds the advertised address %s", ip)
}
