package node

import (
	"context"
	"errors"
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
// once (it needs an overlay, not built yet). Every routesResync it
// repairs both. Once the node is removed (node rm: its peer ID denied),
// and when the agent stops with leave_on_terminate, its routes and table
// go; a plain restart keeps them for the tasks that keep running.
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
	if a.cfg.LeaveOnTerminate || a.denied(a.ID()) {
		r.clear(true)
	}
}

// routeSync is routesLoop's memory between passes.
type routeSync struct {
	a      *Agent
	masq   string          // "subnet cidr" the table was made for; "" none
	masqAt time.Time       // when it was last made
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
		if a.denied(a.ID()) {
			r.clear(true)
		}
		return
	}
	if key := self.Subnet + " " + c.CIDR; key != r.masq || time.Since(r.masqAt) >= routesResync {
		subnet, err1 := netip.ParsePrefix(self.Subnet)
		cidr, err2 := netip.ParsePrefix(c.CIDR)
		err := errors.Join(err1, err2)
		if err == nil {
			err = cni.EnableForwarding()
		}
		if err == nil {
			err = cni.EnsureMasquerade(a.ID(), subnet, cidr)
		}
		if err != nil {
			a.log.Warn("task network: NAT to the outside not set up; retrying", "err", err, "subnet", self.Subnet, "cidr", c.CIDR)
		} else {
			if key != r.masq {
				a.log.Info("task network: masquerading what leaves the cluster", "table", cni.MasqTable(a.ID()), "subnet", self.Subnet, "cidr", c.CIDR)
			}
			r.masq, r.masqAt = key, time.Now()
		}
	}
	var peers []cni.Peer
	for _, n := range v.Nodes() {
		if n.ID != a.ID() && n.Subnet != "" {
			peers = append(peers, cni.Peer{ID: n.ID, Name: n.Name, Subnet: n.Subnet, Addr: advertisedIP(n)})
		}
	}
	want, offLink := cni.PlanRoutes(peers)
	for _, p := range offLink {
		if !r.warned[p.ID] {
			r.warned[p.ID] = true
			a.log.Warn("task network: node not on a directly connected network; its tasks are unreachable from here (it needs an overlay: not built yet)",
				"peer", p.Name, "addr", p.Addr, "subnet", p.Subnet)
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
