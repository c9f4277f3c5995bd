package node

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/runtime/cni"
)

// routesResync is how often routesLoop repairs routes and the NAT table
// with no change in the replica (someone flushed them by hand).
const routesResync = 30 * time.Second

// routesLoop connects this node's task subnet with the others' (host-gw)
// and keeps its NAT rule, following the local replica; it changes no
// replicated state. Once the node has a subnet it turns IP forwarding on
// and installs its masquerade table (tasks' traffic leaving the cluster
// CIDR), then keeps a route to every other node's subnet through that
// node's advertised address when the address is on a directly connected
// network; a peer on this host needs none, a peer elsewhere is logged
// once (it needs an overlay, not built yet). When the node's record loses
// its subnet (node rm), and when the agent stops with leave_on_terminate
// or after its removal, its routes and table go; a plain restart keeps
// them for the tasks that keep running.
func (a *Agent) routesLoop(ctx context.Context) {
	r := &routeSync{a: a, warned: map[string]bool{}}
	for ctx.Err() == nil {
		changed := a.store().View().NodesChanged()
		r.sync()
		select {
		case <-ctx.Done():
		case <-changed:
		case <-time.After(routesResync):
		}
	}
	if a.cfg.LeaveOnTerminate || a.removedSelf.Load() {
		r.clear(true)
	}
}

// routeSync is routesLoop's memory between passes.
type routeSync struct {
	a      *Agent
	masq   string          // "subnet cidr" the table was made for; "" none
	warned map[string]bool // peers logged as needing an overlay
}

// sync brings routes and the NAT table in line with the replica.
func (r *routeSync) sync() {
	a := r.a
	v := a.store().View()
	self, ok := a.store().Node(a.ID())
	c, _ := v.Cluster()
	if !ok || self.Subnet == "" || c == nil || c.CIDR == "" {
		// Not registered yet, or a cluster without a task network: the
		// routes other agents on this host keep are theirs to keep.
		if a.removedSelf.Load() {
			r.clear(true)
		}
		return
	}
	if key := self.Subnet + " " + c.CIDR; key != r.masq {
		subnet, err1 := netip.ParsePrefix(self.Subnet)
		cidr, err2 := netip.ParsePrefix(c.CIDR)
		err := cni.EnableForwarding()
		if err == nil && err1 == nil && err2 == nil {
			err = cni.EnsureMasquerade(a.ID(), subnet, cidr)
		}
		if err != nil {
			a.log.Warn("task network: NAT to the outside not set up; retrying", "err", err, "subnet", self.Subnet, "cidr", c.CIDR)
		} else {
			r.masq = key
			a.log.Info("task network: masquerading what leaves the cluster", "table", cni.MasqTable(a.ID()), "subnet", self.Subnet, "cidr", c.CIDR)
		}
	}
	var peers []cni.Peer
	for _, n := range v.Nodes() {
		if n.ID != a.ID() && n.Subnet != "" {
			peers = append(peers, cni.Peer{ID: n.ID, Name: n.Name, Subnet: n.Subnet, Addr: advertisedIP(n)})
		}
	}
	want, offLink := cni.PlanRoutes(peers)
	for _, id := range offLink {
		if !r.warned[id] {
			r.warned[id] = true
			a.log.Warn("task network: node not on a directly connected network; its tasks are unreachable from here (it needs an overlay: not built yet)", "peer", id)
		}
	}
	if err := cni.SyncRoutes(want); err != nil {
		a.log.Warn("task network: routes to other nodes", "err", err)
	}
}

// clear removes the routes marked as Shoal's, and the node's NAT table if
// this process made it or table is set (the node leaves: a table an
// earlier run made goes too).
func (r *routeSync) clear(table bool) {
	if err := cni.SyncRoutes(nil); err != nil {
		r.a.log.Warn("task network: removing routes", "err", err)
	}
	if r.masq != "" || table {
		if err := cni.RemoveMasquerade(r.a.ID()); err != nil {
			r.a.log.Warn("task network: removing the NAT table", "err", err)
			return
		}
		r.masq = ""
	}
}

// advertisedIP is the IP of a node's p2p address (invalid for a name).
func advertisedIP(n *api.Node) netip.Addr {
	host, _, err := net.SplitHostPort(n.P2PAddr)
	if err != nil {
		return netip.Addr{}
	}
	ip, _ := netip.ParseAddr(host)
	return ip.Unmap()
}
