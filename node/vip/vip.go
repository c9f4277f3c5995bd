// Package vip is a node's kernel datapath for service virtual IPs and
// for TCP ingress published ports: one nftables table per agent (family
// ip) whose NAT chains send a new connection to one of the port's
// backends, chosen at random: `dnat to numgen random mod N map
// @backendsK` where the map holds i → address . port (a map with a
// concatenation, as kube-proxy's nftables mode uses).
//
// VIPs: one rule per service port in chain services (`ip daddr VIP tcp
// dport PORT`). There is no SNAT, so a backend sees the client's own
// address — except a task that reaches itself through its VIP: its
// answer would go straight back to itself from its own address, so
// postrouting masquerades a packet whose source is its DNATed
// destination (`ip saddr . ip daddr @hairpin`). A port without
// backends, or one the service does not have, is refused (TCP reset,
// ICMP port unreachable) by the table's filter chains, which see only
// what NAT left addressed to a VIP.
//
// Ingress (endpoints.Port.KernelIngress: TCP, without PROXY protocol):
// one rule per published port in chain ingress, for connections
// addressed to this node — `ip daddr BIND`, or `fib daddr type local`
// when the agent is bound to 0.0.0.0 — on the published port; it sets
// the agent's own conntrack mark (ingressMark) and DNATs with the same
// map as the VIP rule. Postrouting masquerades a connection with that
// mark whose backend is not on this node (`ct mark & 0xffff0000 == MARK
// ip daddr != @local masquerade`), so that its answers come back through this node to be
// un-DNATed: such a backend sees this node's address, one on this node
// the client's own. A port without backends has no rule: nothing
// listens, the connection is refused.
//
// Traffic from containers and other hosts is caught in prerouting, the
// host's own in output. The whole table is replaced in one netlink
// transaction, so a packet meets either the old rules or the new ones.
package vip

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/shoal-project/shoal/node/endpoints"
)

// TableName is the agent's table: "shoalsvc-" and 10 hex digits of the
// SHA-256 of its node ID, so agents sharing a host each have their own
// (and none is the masquerade table, runtime/cni's "shoal-…").
func TableName(nodeID string) string {
	h := sha256.Sum256([]byte(nodeID))
	return "shoalsvc-" + hex.EncodeToString(h[:])[:10]
}

// Node is what the table needs to know of the agent it belongs to.
type Node struct {
	ID string // its backends (endpoints.Backend.NodeID) are local
	// Bind is the address the agent serves ingress ports on: a specific
	// one, or 0.0.0.0 for all of the host's. The table (family ip) has
	// ingress rules only for an IPv4 one: an agent bound to an IPv6
	// address leaves its ingress ports to the userspace proxy.
	Bind netip.Addr
}

// Sync makes table hold exactly the rules for svcs' VIPs (services
// without a VIP, and ports of other protocols than tcp and udp, are left
// out) and for their kernel ingress ports (endpoints.Port.KernelIngress)
// on node. It deletes and rebuilds the table in one transaction; it runs
// in the caller's network namespace.
func Sync(table string, node Node, svcs []endpoints.Service) error {
	c, err := nftables.New(nftables.WithSockOptions(bigBuffers))
	if err != nil {
		return fmt.Errorf("vip: %w", err)
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}
	c.AddTable(t) // so that the delete finds it the first time too
	c.DelTable(t)
	c.AddTable(t)
	b := &builder{c: c, t: t, node: node, mark: ingressMark(table), hairpin: map[[4]byte]bool{}, vips: map[[4]byte]bool{}, local: map[[4]byte]bool{}}
	b.base()
	for _, s := range svcs {
		if s.VIP.Is4() {
			b.vips[s.VIP.As4()] = true
		}
		for _, p := range s.Ports {
			if err := b.port(s, p); err != nil {
				return err
			}
		}
	}
	if err := b.finish(); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("vip: table %s: %w", table, err)
	}
	return nil
}

// batchBuffer is the netlink socket's send and receive buffer: a
// transaction goes out in one sendmsg (and the kernel answers each of
// its messages), and a table of 1,000 services of 10 backends is about
// 4 MB. The default (wmem_max, 208 KiB) fits some 50 such services.
const batchBuffer = 64 << 20

// bigBuffers raises the socket's buffers past the sysctl limits, as nft
// does (SO_SNDBUFFORCE needs CAP_NET_ADMIN, which nftables needs anyway).
func bigBuffers(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		serr = errors.Join(
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, batchBuffer),
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, batchBuffer))
	})
	return errors.Join(err, serr)
}

// Remove deletes table; a missing one is not an error.
func Remove(table string) error {
	c, t, err := find(table)
	if err != nil || t == nil {
		return err
	}
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("vip: delete table %s: %w", table, err)
	}
	return nil
}

// Exists reports whether table is there (false when it cannot tell).
func Exists(table string) bool {
	_, t, err := find(table)
	return err == nil && t != nil
}

func find(table string) (*nftables.Conn, *nftables.Table, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, nil, fmt.Errorf("vip: %w", err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, nil, fmt.Errorf("vip: list tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == table {
			return c, t, nil
		}
	}
	return c, nil, nil
}

// builder adds one table's chains and rules to a transaction.
type builder struct {
	c        *nftables.Conn
	t        *nftables.Table
	node     Node
	mark     uint32           // this table's ingress conntrack mark
	services *nftables.Chain  // jumped to from both NAT hooks
	ingress  *nftables.Chain  // jumped to from both NAT hooks, after services
	reject   *nftables.Chain  // jumped to from both filter hooks: what NAT left for a VIP
	post     *nftables.Chain  // NAT postrouting: hairpin and ingress masquerade
	n        int              // maps made so far, for names
	hairpin  map[[4]byte]bool // every backend address
	vips     map[[4]byte]bool // every VIP
	local    map[[4]byte]bool // kernel ingress backends on this node
}

func (b *builder) base() {
	b.services = b.c.AddChain(&nftables.Chain{Name: "services", Table: b.t})
	b.ingress = b.c.AddChain(&nftables.Chain{Name: "ingress", Table: b.t})
	b.reject = b.c.AddChain(&nftables.Chain{Name: "refuse", Table: b.t})
	b.post = b.c.AddChain(&nftables.Chain{Name: "postrouting", Table: b.t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	for _, h := range []struct {
		name string
		typ  nftables.ChainType
		hook *nftables.ChainHook
		prio *nftables.ChainPriority
		to   *nftables.Chain
	}{
		{"prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest, b.services},
		{"output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest, b.services},
		{"forward-filter", nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter, b.reject},
		{"output-filter", nftables.ChainTypeFilter, nftables.ChainHookOutput, nftables.ChainPriorityFilter, b.reject},
	} {
		ch := b.c.AddChain(&nftables.Chain{Name: h.name, Table: b.t, Type: h.typ, Hooknum: h.hook, Priority: h.prio})
		b.c.AddRule(&nftables.Rule{Table: b.t, Chain: ch, Exprs: []expr.Any{
			&expr.Verdict{Kind: expr.VerdictJump, Chain: h.to.Name},
		}})
		if h.to == b.services {
			b.c.AddRule(&nftables.Rule{Table: b.t, Chain: ch, Exprs: []expr.Any{
				&expr.Verdict{Kind: expr.VerdictJump, Chain: b.ingress.Name},
			}})
		}
	}
}

// port adds the rules of one service port.
func (b *builder) port(s endpoints.Service, p endpoints.Port) error {
	var proto byte
	switch p.Protocol {
	case "tcp":
		proto = unix.IPPROTO_TCP
	case "udp":
		proto = unix.IPPROTO_UDP
	default:
		return nil
	}
	vip, ingress := s.VIP.Is4(), p.KernelIngressAt(b.node.Bind)
	if len(p.Backends) == 0 || !vip && !ingress {
		return nil // a VIP's port is refused (see finish); ingress: nothing listens
	}
	b.n++
	// backends<n>: i → addr . port, looked up with a random i < N and
	// DNATed to in one rule (reg 1: the address, reg32 01 — 9 — the port).
	m := &nftables.Set{Table: b.t, Name: fmt.Sprintf("backends%d", b.n), IsMap: true,
		KeyType: nftables.TypeInteger, KeyByteOrder: binaryutil.NativeEndian,
		DataType: nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)}
	var elems []nftables.SetElement
	for _, be := range p.Backends {
		b.hairpin[be.Addr.Addr().As4()] = true
	}
	slots := Slots(p) // one per backend, or weighted (a traffic split)
	for i, k := range slots {
		be := p.Backends[k]
		a := be.Addr.Addr().As4()
		val := make([]byte, 8) // address, port, 2 bytes of padding
		copy(val, a[:])
		binary.BigEndian.PutUint16(val[4:], be.Addr.Port())
		elems = append(elems, nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(i)), Val: val})
	}
	if err := b.c.AddSet(m, elems); err != nil {
		return fmt.Errorf("vip: %s %s/%d: %w", s.Name, p.Protocol, p.Target, err)
	}
	if vip {
		match := append(matchAddr(s.VIP.As4()), matchPort(proto, p.Target)...)
		b.c.AddRule(&nftables.Rule{Table: b.t, Chain: b.services, Exprs: append(match, dnat(m, len(slots))...)})
	}
	if ingress {
		b.ingressRule(proto, p, m, len(slots))
	}
	return nil
}

// dnat sends the packet to a random element of the map m of n backends.
func dnat(m *nftables.Set, n int) []expr.Any {
	return []expr.Any{
		&expr.Numgen{Register: 1, Modulus: uint32(n), Type: unix.NFT_NG_RANDOM},
		&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: m.Name, SetID: m.ID},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 9, Specified: true},
	}
}

// finish adds the hairpin set (every backend address, as addr . addr)
// and the postrouting rule that masquerades a packet whose source is
// its (DNATed) destination; and the set of VIPs with the filter rules
// that refuse what is still addressed to one after NAT — a port without
// backends, a port the service does not have, anything but TCP and UDP —
// rather than let it wander off the default route.
func (b *builder) finish() error {
	vips := &nftables.Set{Table: b.t, Name: "vips", KeyType: nftables.TypeIPAddr}
	var ve []nftables.SetElement
	for a := range b.vips {
		ve = append(ve, nftables.SetElement{Key: append([]byte(nil), a[:]...)})
	}
	if err := b.c.AddSet(vips, ve); err != nil {
		return fmt.Errorf("vip: VIP set: %w", err)
	}
	toVIP := func() []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Lookup{SourceRegister: 1, SetName: vips.Name, SetID: vips.ID},
		}
	}
	b.c.AddRule(&nftables.Rule{Table: b.t, Chain: b.reject, Exprs: append(toVIP(),
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Reject{Type: unix.NFT_REJECT_TCP_RST})})
	b.c.AddRule(&nftables.Rule{Table: b.t, Chain: b.reject, Exprs: append(toVIP(),
		&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3})}) // port unreachable

	set := &nftables.Set{Table: b.t, Name: "hairpin", Concatenation: true,
		KeyType: nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeIPAddr)}
	var elems []nftables.SetElement
	for a := range b.hairpin {
		elems = append(elems, nftables.SetElement{Key: append(a[:], a[:]...)})
	}
	if err := b.c.AddSet(set, elems); err != nil {
		return fmt.Errorf("vip: hairpin set: %w", err)
	}
	b.c.AddRule(&nftables.Rule{Table: b.t, Chain: b.post, Exprs: []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID},
		&expr.Masq{},
	}})
	return b.finishIngress()
}

// matchAddr matches IPv4 packets to addr.
func matchAddr(addr [4]byte) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr[:]},
	}
}

// matchPort matches packets of protocol proto to port.
func matchPort(proto byte, port uint16) []expr.Any {
	p := make([]byte, 2)
	binary.BigEndian.PutUint16(p, port)
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p},
	}
}

// EnableBridgeNetfilter has bridged IPv4 traffic pass netfilter's ip
// hooks (br_netfilter, net.bridge.bridge-nf-call-iptables), so that a
// task's answer to another task on the same bridge, which the bridge
// forwards without routing, meets conntrack and has the VIP's DNAT
// undone. The setting is the host's (or network namespace's).
func EnableBridgeNetfilter() error {
	const knob = "/proc/sys/net/bridge/bridge-nf-call-iptables"
	b, err := os.ReadFile(knob)
	if err != nil {
		return fmt.Errorf("br_netfilter is not loaded (modprobe br_netfilter): %w", err)
	}
	if strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	return os.WriteFile(knob, []byte("1\n"), 0o644)
}
