package vip

import (
	"crypto/sha256"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/shoal-project/shoal/node/endpoints"
)

// ingressMarkMask is the part of a connection's conntrack mark the
// ingress rules own: they set it to the agent's ingressMark on a
// connection they DNAT, and postrouting masquerades a connection with
// that mark whose backend is on another node. The value is the agent's
// own, so that where several agents share a host (tests, the demo) one
// agent's postrouting does not masquerade another's local ingress
// connections (every table sees every packet); two agents on one host
// collide with a chance of 1 in 32,768.
const ingressMarkMask = 0xffff0000

// ingressMark is table's value under ingressMarkMask: a top bit, so it is
// never zero, and 15 bits of the SHA-256 of the table's name.
func ingressMark(table string) uint32 {
	h := sha256.Sum256([]byte(table))
	return (0x8000 | uint32(h[0]&0x7f)<<8 | uint32(h[1])) << 16
}

// ingressRule adds, to the ingress chain, the DNAT of a new connection
// addressed to this node on p's published port to one of p's backends
// (the map m, the one the VIP rule uses), marking the connection:
//
//	ip daddr BIND tcp dport PUB ct mark set ct mark & 0xffff | MARK dnat ip to numgen random mod N map @backendsK
//
// with `fib daddr type local` instead of `ip daddr BIND` when the agent
// is bound to 0.0.0.0 (Sync adds ingress rules only for an IPv4 Bind). The port's backends on this node
// join the set of local ones, which are not masqueraded.
func (b *builder) ingressRule(proto byte, p endpoints.Port, m *nftables.Set, slots int) {
	var match []expr.Any
	if !b.node.Bind.IsUnspecified() {
		match = matchAddr(b.node.Bind.As4())
	} else {
		match = []expr.Any{
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		}
	}
	match = append(match, matchPort(proto, p.Published)...)
	match = append(match,
		&expr.Ct{Register: 1, Key: expr.CtKeyMARK},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^uint32(ingressMarkMask)),
			Xor:  binaryutil.NativeEndian.PutUint32(b.mark)},
		&expr.Ct{Register: 1, Key: expr.CtKeyMARK, SourceRegister: true},
	)
	b.c.AddRule(&nftables.Rule{Table: b.t, Chain: b.ingress, Exprs: append(match, dnat(m, slots)...)})
	for _, be := range p.Backends {
		if be.NodeID == b.node.ID {
			b.local[be.Addr.Addr().As4()] = true
		}
	}
}

// finishIngress adds the set of local ingress backends and the
// postrouting rule that masquerades an ingress connection to any other
// backend, so that its answers come back through this node to be
// un-DNATed (kube-proxy's externalTrafficPolicy=Cluster):
//
//	ct mark & 0xffff0000 == MARK ip daddr != @local masquerade
func (b *builder) finishIngress() error {
	set := &nftables.Set{Table: b.t, Name: "local", KeyType: nftables.TypeIPAddr}
	var elems []nftables.SetElement
	for a := range b.local {
		elems = append(elems, nftables.SetElement{Key: append([]byte(nil), a[:]...)})
	}
	if err := b.c.AddSet(set, elems); err != nil {
		return err
	}
	b.c.AddRule(&nftables.Rule{Table: b.t, Chain: b.post, Exprs: []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeyMARK},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ingressMarkMask),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(b.mark)},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID, Invert: true},
		&expr.Masq{},
	}})
	return nil
}
