// Package endpoints computes, from the replicated state, where each
// service's traffic may go: its virtual IP, its ports and, per port, the
// backends (address and port) of its tasks that may take new
// connections. It is pure: no I/O, no clock. The node's VIP datapath
// (node/vip) and ingress proxy (node/ingress) are built from its result.
package endpoints

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/shoal-project/shoal/api"
)

// Service is one service as its traffic sees it.
type Service struct {
	ID   string
	Name string
	// VIP is the service's virtual IP; invalid when it has none.
	VIP   netip.Addr
	Ports []Port
	// Live are the IDs of the service's tasks that take new connections,
	// in backend order (each port has one backend per live task). A
	// service without ports takes none: the agent passes Compute no tasks
	// of it, and its Live is empty.
	Live []string
}

// Port is one of a service's ports with the backends that serve it.
type Port struct {
	Name          string
	Protocol      string // "tcp" or "udp"
	Target        uint16 // the port tasks listen on
	Published     uint16 // 0: not published
	Mode          string // api.PublishIngress or api.PublishHost when published
	ProxyProtocol bool
	// Backends are the live tasks' addresses with Target, sorted by
	// address then task ID.
	Backends []Backend
	// Split, when Weighted, is the percentage (0-100) of new connections
	// that go to the backends marked New, the rest going to the others
	// (a blue-green update held with a traffic split, or promoted: 100).
	// Unweighted, every backend takes an equal share.
	Weighted bool
	Split    int
}

// Ingress reports whether every node accepts the port on its own
// address (a published port in ingress mode).
func (p Port) Ingress() bool { return p.Published != 0 && p.Mode == api.PublishIngress }

// KernelIngress reports whether the port's ingress is the kernel's
// (node/vip's DNAT): a TCP ingress port without PROXY protocol. The
// others — PROXY protocol, UDP — are the userspace proxy's (node/ingress).
func (p Port) KernelIngress() bool { return p.Ingress() && p.Protocol == "tcp" && !p.ProxyProtocol }

// KernelIngressAt reports whether the kernel serves the port's ingress on
// a node bound to bind: a KernelIngress port, on an IPv4 bind address
// (the table is IPv4), and — when bind is a loopback address (agents
// sharing a host) — only while every backend is on loopback too: a host
// client's connection to 127.x DNATed to a task's own address would
// leave with a loopback source, which the kernel does not route
// (route_localnet, left off as kube-proxy's nftables mode leaves it).
// The userspace proxy serves every other ingress port.
func (p Port) KernelIngressAt(bind netip.Addr) bool {
	if !p.KernelIngress() || !bind.Is4() {
		return false
	}
	if bind.IsLoopback() {
		for _, b := range p.Backends {
			if !b.Addr.Addr().IsLoopback() {
				return false
			}
		}
	}
	return true
}

// Backend is one task that may take new connections.
type Backend struct {
	TaskID string
	Addr   netip.AddrPort
	NodeID string // the task's node
	// New marks a task of the version a weighted update rolls out.
	New bool
}

// Shares returns each backend's share of new connections, out of a
// total that Shares also returns: equal shares when the port is not
// weighted; weighted, Split% of the total spread evenly over the New
// backends and the rest over the others (all to one side when the other
// has no backend). Both datapaths divide connections by it.
func (p Port) Shares() ([]int, int) {
	n := len(p.Backends)
	out := make([]int, n)
	nNew := 0
	for _, b := range p.Backends {
		if b.New {
			nNew++
		}
	}
	nOld := n - nNew
	if !p.Weighted || nNew == 0 || nOld == 0 {
		for i := range out {
			out[i] = 1
		}
		return out, n
	}
	// Out of 100·nNew·nOld: each new backend takes Split·nOld, each old
	// one (100−Split)·nNew, so the groups take Split% and the rest exactly.
	split := min(max(p.Split, 0), 100)
	for i, b := range p.Backends {
		if b.New {
			out[i] = split * nOld
		} else {
			out[i] = (100 - split) * nNew
		}
	}
	return out, 100 * nNew * nOld
}

// Compute returns the services (sorted by name) that have an endpoint —
// a VIP or at least one port — with their backends: tasks observed
// running and meant to run, whose health is none ("": no check) or
// healthy, on a node that is ready or restarting (a graceful agent
// restart keeps its tasks running). A task's address is its own IP (a
// container in its own namespace) or its node's advertised address
// (process tasks and the host network); a task with neither is left out.
func Compute(services []*api.Service, tasks []*api.Task, nodes []*api.Node) []Service {
	nodeAddr := make(map[string]netip.Addr, len(nodes))
	for _, n := range nodes {
		if n.Status != api.NodeReady && n.Status != api.NodeRestarting {
			continue
		}
		if a := NodeAddr(n); a.IsValid() {
			nodeAddr[n.ID] = a
		}
	}
	live := map[string][]liveTask{} // service ID → its live tasks
	for _, t := range tasks {
		if t.Status.State != api.TaskRunning || t.DesiredState != api.TaskRunning {
			continue
		}
		if h := t.Status.Health; h != "" && h != api.HealthHealthy {
			continue
		}
		na, ok := nodeAddr[t.NodeID]
		if !ok {
			continue
		}
		addr := na
		if t.Status.IP != "" {
			ip, err := netip.ParseAddr(t.Status.IP)
			if err != nil {
				continue
			}
			addr = ip.Unmap()
		}
		live[t.ServiceID] = append(live[t.ServiceID], liveTask{id: t.ID, addr: addr, node: t.NodeID, version: t.SpecVersion})
	}
	var out []Service
	for _, s := range services {
		ep := s.Endpoint
		if ep.VIP == "" && len(ep.Ports) == 0 {
			continue
		}
		svc := Service{ID: s.ID, Name: s.Spec.Name}
		if vip, err := netip.ParseAddr(ep.VIP); err == nil {
			svc.VIP = vip.Unmap()
		}
		ts := live[s.ID]
		split, weighted := Split(s)
		for _, t := range ts {
			svc.Live = append(svc.Live, t.id)
		}
		slices.SortFunc(ts, func(a, b liveTask) int {
			return cmp.Or(a.addr.Compare(b.addr), cmp.Compare(a.id, b.id))
		})
		for _, p := range ep.Ports {
			port := Port{Name: p.Name, Protocol: p.Protocol, Target: p.Target, Published: p.Published,
				Mode: p.Mode, ProxyProtocol: p.ProxyProtocol, Weighted: weighted, Split: split}
			if port.Protocol == "" {
				port.Protocol = "tcp"
			}
			for _, t := range ts {
				port.Backends = append(port.Backends, Backend{TaskID: t.id, Addr: netip.AddrPortFrom(t.addr, p.Target), NodeID: t.node,
					New: weighted && t.version >= s.UpdateStatus.ToVersion})
			}
			svc.Ports = append(svc.Ports, port)
		}
		out = append(out, svc)
	}
	slices.SortFunc(out, func(a, b Service) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	return out
}

type liveTask struct {
	id, node string
	addr     netip.Addr
	version  uint64
}

// Split is the traffic split of a service's update: the percentage of
// new connections that go to tasks of the version it rolls out (spec
// version at least its ToVersion), while its update policy has
// traffic_new and the update is in its canary phase (the policy's
// percentage), or promoted and still under way (100: the old tasks
// drain — no new connection — until they are stopped). ok is false
// otherwise: every backend takes an equal share.
func Split(svc *api.Service) (percent int, ok bool) {
	st, pol := svc.UpdateStatus, svc.Spec.Update
	if st == nil || pol == nil || pol.TrafficNew == nil || st.Rollback() {
		return 0, false
	}
	switch {
	case api.CanaryPhase(svc):
		return int(min(*pol.TrafficNew, 100)), true
	case st.Promoted && st.Active():
		return 100, true
	}
	return 0, false
}

// NodeAddr is the address a node advertises (the host of its p2p
// address): where its host-network tasks are reached.
func NodeAddr(n *api.Node) netip.Addr {
	ap, err := netip.ParseAddrPort(n.P2PAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Counts are the number of backends of each service (by name), the
// figure that changes are logged and exported by.
func Counts(svcs []Service) map[string]int {
	out := make(map[string]int, len(svcs))
	for _, s := range svcs {
		out[s.Name] = len(s.Live)
	}
	return out
}
