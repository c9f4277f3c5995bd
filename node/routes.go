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

// routesLoop connects this node's task subnet with the others' and keeps
// its NAT rule, following the local replica; it changes no replicated
// state. Once the node has a subnet it turns IP forwarding on and
// installs its masquerade table (tasks' traffic leaving the cluster
// CIDR), then keeps a route to every other node's subnet as
// network.mode says (cni.PlanRoutes): host-gw through the node's
// advertised address when it is on a directly connected network, over
// the node's VXLAN device otherwise (auto) or always (vxlan); in host-gw
// mode a peer elsewhere is logged once. A peer on this host needs none.
// The VXLAN device exists while the node has VXLAN peers; its FDB and
// neighbour entries follow them (cni.EnsureVXLAN). Every routesResync it
// repairs all of it. Once the node is removed (node rm: its peer ID
// denied), and when the agent stops with leave_on_terminate, its routes,
// VXLAN device and table go; a plain restart keeps them for the tasks
// that keep running.
func (a *Agent) routesLoop(ctx context.Context) {
	// An earlier run may have left a VXLAN device: the first full pass
	// removes it if no peer needs it.
	r := &routeSync{a: a, warned: map[string]bool{}, vxlan: true}
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
	vxlan  bool            // the VXLAN device may exist
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
	mode, _ := cni.ParseMode(a.cfg.Network.Mode) // validated
	plan := cni.PlanRoutes(mode, peers)
	for _, p := range plan.OffLink {
		if !r.warned[p.ID] {
			r.warned[p.ID] = true
			a.log.Warn("task network: node not on a directly connected network; its tasks are unreachable from here (network.mode is host-gw: auto or vxlan would reach it over VXLAN)",
				"peer", p.Name, "addr", p.Addr, "subnet", p.Subnet)
		}
	}
	want := plan.HostGW
	local := advertisedIP(self)
	subnet, _ := netip.ParsePrefix(self.Subnet)
	if len(plan.VXLAN) > 0 {
		err := cni.EnsureVXLAN(cni.VXLANConfig{NodeID: a.ID(), Local: local, Subnet: subnet, Port: a.cfg.Network.VXLANPort}, plan.VXLAN)
		if err != nil {
			a.log.Warn("task network: VXLAN to other nodes", "err", err)
		}
		if !r.vxlan {
			a.log.Info("task network: VXLAN device up", "dev", cni.VXLANName(a.ID()), "local", local,
				"vtep", cni.VTEPAddr(subnet), "port", a.cfg.Network.VXLANPort, "peers", len(plan.VXLAN))
		}
		r.vxlan = true
		want = append(want, cni.VXLANRoutes(a.ID(), plan.VXLAN)...)
	}
	// New tasks fit in VXLAN while the node has VXLAN peers, and always in
	// vxlan mode (peers may come later).
	mtu := 0
	if len(plan.VXLAN) > 0 || mode == cni.ModeVXLAN {
		m, err := cni.UplinkMTU(local)
		if err != nil {
			a.log.Warn("task network: tasks' MTU for VXLAN", "err", err)
		} else {
			mtu = m
		}
	}
	if old := a.taskMTU.Swap(int64(mtu)); old != int64(mtu) {
		a.log.Info("task network: new tasks' MTU", "mtu", mtu)
	}
	if err := cni.SyncRoutes(want); err != nil {
		a.log.Warn("task network: routes to other nodes", "err", err)
	}
	if len(plan.VXLAN) == 0 && r.vxlan {
		if err := cni.RemoveVXLAN(a.ID()); err != nil {
			a.log.Warn("task network: removing the VXLAN device", "err", err)
		} else {
			r.vxlan = false
		}
	}
}

// clear removes the routes marked as Shoal's, and the node's NAT table if
// this process made it or table is set (the node leaves: a table an
// earlier run made goes too).
func (r *routeSync) clear(table bool) {
	if err := cni.SyncRoutes(nil); err != nil {
		r.a.log.Warn("task network: removing routes", "err", err)
	}
	if err := cni.RemoveVXLAN(r.a.ID()); err != nil {
		r.a.log.Warn("task network: removing the VXLAN device", "err", err)
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
