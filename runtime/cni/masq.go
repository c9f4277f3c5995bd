package cni

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// MasqTable is the node's nftables table (family ip): "shoal-" and 10
// hex digits of the SHA-256 of its node ID, so that several agents on one
// host each have their own.
func MasqTable(nodeID string) string {
	h := sha256.Sum256([]byte(nodeID))
	return "shoal-" + hex.EncodeToString(h[:])[:10]
}

// EnsureMasquerade makes the node's table hold exactly one rule: traffic
// from its subnet to anywhere outside the cluster CIDR is masqueraded
// (tasks reach the outside world), traffic between tasks keeps its
// source. The table is replaced in one transaction, so calling it again
// (a restart, a changed subnet) is safe. It runs in the caller's network
// namespace.
func EnsureMasquerade(nodeID string, subnet, cidr netip.Prefix) error {
	if !subnet.Addr().Is4() || !cidr.Addr().Is4() {
		return fmt.Errorf("masquerade: %s and %s must be IPv4 prefixes", subnet, cidr)
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("masquerade: %w", err)
	}
	t := &nftables.Table{Name: MasqTable(nodeID), Family: nftables.TableFamilyIPv4}
	c.AddTable(t) // so that the delete below finds it the first time too
	c.DelTable(t)
	c.AddTable(t)
	ch := c.AddChain(&nftables.Chain{
		Name:     "postrouting",
		Table:    t,
		Type:     nftables.ChainTypeNAT,
		Hooknum:  nftables.ChainHookPostrouting,
		Priority: nftables.ChainPriorityNATSource,
	})
	const saddr, daddr = 12, 16 // offsets in the IPv4 header
	var rule []expr.Any
	rule = append(rule, matchPrefix(saddr, subnet, expr.CmpOpEq)...)
	rule = append(rule, matchPrefix(daddr, cidr, expr.CmpOpNeq)...)
	rule = append(rule, &expr.Masq{})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: rule})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("masquerade: table %s: %w", t.Name, err)
	}
	return nil
}

// matchPrefix compares the IPv4 address at offset in the network header,
// masked to p's length, with p's address.
func matchPrefix(offset uint32, p netip.Prefix, op expr.CmpOp) []expr.Any {
	p = p.Masked()
	a := p.Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: net.CIDRMask(p.Bits(), 32), Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: a[:]},
	}
}

// RemoveMasquerade deletes the node's table; a missing one is not an
// error.
func RemoveMasquerade(nodeID string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("masquerade: %w", err)
	}
	name := MasqTable(nodeID)
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return fmt.Errorf("masquerade: list tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == name {
			c.DelTable(t)
			if err := c.Flush(); err != nil {
				return fmt.Errorf("masquerade: delete table %s: %w", name, err)
			}
		}
	}
	return nil
}

// EnableForwarding turns IPv4 forwarding on in the caller's network
// namespace (net.ipv4.ip_forward is per namespace), which routing
// between nodes' subnets needs.
func EnableForwarding() error {
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("ip forwarding: %w", err)
	}
	return nil
}
