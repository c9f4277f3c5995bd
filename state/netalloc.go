package state

import (
	"net/netip"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// Node subnets. The rule that keeps replicas equal: a node gets a subnet
// only in a cluster whose record has a CIDR (set at bootstrap, protocol
// 5), the choice depends only on the stored node records (the lowest /24
// of the CIDR that no node holds), a node keeps its subnet when it
// registers again, and removing the node record frees it. A cluster
// without a CIDR allocates nothing, as builds before protocol 5 did.

// minNetworkProtocol is the protocol a node must speak to join a cluster
// with a CIDR: older builds would register without taking part in it.
const minNetworkProtocol = 5

// assignSubnet gives n a subnet if the cluster has a CIDR: the one its
// stored record holds (old, nil for a new node), or the lowest free one.
func assignSubnet(txn *memdb.Txn, n *api.Node, old *api.Node) *api.Error {
	c, ok := first[api.Cluster](txn, tableCluster, indexID, "cluster")
	if !ok || c.CIDR == "" {
		n.Subnet = ""
		return nil
	}
	if n.ProtocolOf() < minNetworkProtocol {
		return api.Errorf(api.CodeConflict, "node %s speaks protocol %d; this cluster's task network needs %d: upgrade it", n.Name, n.ProtocolOf(), minNetworkProtocol)
	}
	if old != nil && old.Subnet != "" {
		n.Subnet = old.Subnet
		return nil
	}
	cidr, err := api.ParseClusterCIDR(c.CIDR)
	if err != nil {
		return api.Errorf(api.CodeInvalid, "%v", err)
	}
	used := map[string]bool{}
	for _, o := range list[api.Node](txn, tableNodes, indexID) {
		if o.ID != n.ID && o.Subnet != "" {
			used[o.Subnet] = true
		}
	}
	s, ok := lowestFreeSubnet(cidr, used)
	if !ok {
		return api.Errorf(api.CodeConflict, "node %s: the cluster CIDR %s is full (every /%d of it belongs to a node; remove down nodes with node rm)", n.Name, c.CIDR, api.NodeSubnetBits)
	}
	n.Subnet = s
	return nil
}

// lowestFreeSubnet is the first /24 of cidr, in address order, not in used.
func lowestFreeSubnet(cidr netip.Prefix, used map[string]bool) (string, bool) {
	n := 1 << (api.NodeSubnetBits - cidr.Bits())
	a := cidr.Addr().As4()
	base := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	for i := range n {
		v := base + uint32(i)<<(32-api.NodeSubnetBits)
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), api.NodeSubnetBits).String()
		if !used[p] {
			return p, true
		}
	}
	return "", false
}
