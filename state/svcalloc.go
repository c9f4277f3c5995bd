package state

import (
	"fmt"
	"net/netip"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// Service endpoints (issue 12, service traffic). The rule that keeps
// replicas equal: a service gets an endpoint only in a cluster whose
// record has a service CIDR (set at bootstrap), and it depends only on
// the stored service records:
//   - the VIP is the lowest address of the service CIDR, in address order,
//     that no other service holds; the network address and the last
//     (broadcast) address are never handed out, so a /16 gives 65534 VIPs
//     and the first service gets .0.1. A service keeps its VIP through
//     updates, and removing it frees it (the next create may reuse it);
//   - Endpoint.Ports has one entry per spec port, in spec order. A
//     published port is refused when another service publishes the same
//     port and protocol and either of the two is in ingress mode (ingress
//     ports are taken on every node); two host-mode ports may share a
//     number, the scheduler keeps their tasks apart;
//   - an ingress port with Port 0 gets the lowest port of
//     api.PublishedPortMin-api.PublishedPortMax free for its protocol (not
//     published by another service nor by this one), and keeps it through
//     updates while the spec still has an automatic ingress port with the
//     same target and protocol.
//
// A cluster without a service CIDR allocates nothing and refuses ingress
// ports: builds before service traffic stored no endpoint.

// endpointFor plans spec's endpoint in txn; old is the service being
// updated (nil on create).
func endpointFor(txn *memdb.Txn, spec *api.ServiceSpec, old *api.Service) (api.Endpoint, *api.Error) {
	c, _ := first[api.Cluster](txn, tableCluster, indexID, "cluster")
	return PlanEndpoint(c, spec, old, list[api.Service](txn, tableServices, indexID))
}

// PlanEndpoint is the endpoint the FSM gives a service with spec in a
// cluster c (nil: none yet) holding services (the one being updated,
// old, and any of spec's name are skipped). The leader's admission runs it
// on its view to refuse a conflict before it enters the log; the FSM runs
// it again on its own records.
func PlanEndpoint(c *api.Cluster, spec *api.ServiceSpec, old *api.Service, services []*api.Service) (api.Endpoint, *api.Error) {
	if c == nil || c.ServiceCIDR == "" {
		for _, p := range spec.Ports {
			if p.Mode == api.PublishIngress {
				return api.Endpoint{}, api.Errorf(api.CodeInvalid, "service %s: port %s: ingress publishing needs a cluster bootstrapped with a service CIDR; publish it with mode=host", spec.Name, portLabel(p))
			}
		}
		return api.Endpoint{}, nil
	}
	cidr, err := api.ParseServiceCIDR(c.ServiceCIDR)
	if err != nil {
		return api.Endpoint{}, api.Errorf(api.CodeInvalid, "%v", err)
	}
	var others []*api.Service
	for _, s := range services {
		if s.Spec.Name != spec.Name && (old == nil || s.ID != old.ID) {
			others = append(others, s)
		}
	}
	var ep api.Endpoint
	if old != nil && old.Endpoint.VIP != "" {
		ep.VIP = old.Endpoint.VIP
	} else {
		vip, ok := lowestFreeVIP(cidr, others)
		if !ok {
			return api.Endpoint{}, api.Errorf(api.CodeConflict, "service %s: the service CIDR %s is full (every address is another service's VIP)", spec.Name, c.ServiceCIDR)
		}
		ep.VIP = vip
	}
	ports, perr := planPorts(spec, old, others)
	if perr != nil {
		return api.Endpoint{}, perr
	}
	ep.Ports = ports
	return ep, nil
}

// lowestFreeVIP is the first address of cidr after its network address,
// before its last one, that no service in others holds.
func lowestFreeVIP(cidr netip.Prefix, others []*api.Service) (string, bool) {
	used := make(map[netip.Addr]bool, len(others))
	for _, s := range others {
		if a, err := netip.ParseAddr(s.Endpoint.VIP); err == nil {
			used[a] = true
		}
	}
	size := uint64(1) << (32 - cidr.Bits())
	a := cidr.Addr().Next()
	for i := uint64(1); i < size-1; i++ {
		if !used[a] {
			return a.String(), true
		}
		a = a.Next()
	}
	return "", false
}

type pubKey struct {
	proto string
	port  uint16
}

type holder struct {
	service string
	mode    string
}

// planPorts computes the endpoint ports of spec (see the rule above).
func planPorts(spec *api.ServiceSpec, old *api.Service, others []*api.Service) ([]api.EndpointPort, *api.Error) {
	taken := map[pubKey]holder{}
	for _, s := range others {
		for _, p := range publishedPorts(s) {
			k := pubKey{p.Protocol, p.Published}
			if h, ok := taken[k]; !ok || h.mode != api.PublishIngress && p.Mode == api.PublishIngress {
				taken[k] = holder{s.Spec.Name, p.Mode}
			}
		}
	}
	out := make([]api.EndpointPort, len(spec.Ports))
	mine := map[pubKey]bool{}
	for i, p := range spec.Ports {
		out[i] = api.EndpointPort{Name: p.Name, Protocol: protoOf(p), Target: p.Target(), Mode: p.PublishMode(), ProxyProtocol: p.ProxyProtocol}
		if p.Port == 0 {
			continue
		}
		k := pubKey{protoOf(p), p.Port}
		if h, ok := taken[k]; ok && (h.mode == api.PublishIngress || out[i].Mode == api.PublishIngress) {
			return nil, api.Errorf(api.CodeConflict, "service %s: published port %d/%s is taken by service %s", spec.Name, p.Port, k.proto, h.service)
		}
		out[i].Published = p.Port
		mine[k] = true
	}
	free := func(k pubKey) bool {
		_, held := taken[k]
		return !held && !mine[k]
	}
	for i, p := range spec.Ports {
		if p.Port != 0 || p.Mode != api.PublishIngress {
			continue
		}
		k := pubKey{proto: protoOf(p)}
		if kept := keptAutoPort(p, old); kept != 0 && free(pubKey{k.proto, kept}) {
			k.port = kept
		} else {
			for n := api.PublishedPortMin; n <= api.PublishedPortMax; n++ {
				if free(pubKey{k.proto, uint16(n)}) {
					k.port = uint16(n)
					break
				}
			}
		}
		if k.port == 0 {
			return nil, api.Errorf(api.CodeConflict, "service %s: port %s: no free published port in %d-%d/%s (every one is taken)", spec.Name, portLabel(p), api.PublishedPortMin, api.PublishedPortMax, k.proto)
		}
		out[i].Published = k.port
		mine[k] = true
	}
	return out, nil
}

// keptAutoPort is the port old allocated for an automatic ingress port
// like p (same target and protocol), or 0.
func keptAutoPort(p api.PortSpec, old *api.Service) uint16 {
	if old == nil {
		return 0
	}
	for j, o := range old.Spec.Ports {
		if o.Port == 0 && o.Mode == api.PublishIngress && o.Target() == p.Target() && protoOf(o) == protoOf(p) && j < len(old.Endpoint.Ports) {
			if n := old.Endpoint.Ports[j].Published; n >= api.PublishedPortMin && n <= api.PublishedPortMax {
				return n
			}
		}
	}
	return 0
}

// publishedPorts are the ports s publishes: its endpoint's, or for a
// record without an endpoint its spec's (host mode, as before).
func publishedPorts(s *api.Service) []api.EndpointPort {
	var out []api.EndpointPort
	if len(s.Endpoint.Ports) > 0 {
		for _, p := range s.Endpoint.Ports {
			if p.Published != 0 {
				out = append(out, p)
			}
		}
		return out
	}
	for _, p := range s.Spec.Ports {
		if p.Port != 0 {
			out = append(out, api.EndpointPort{Protocol: protoOf(p), Published: p.Port, Target: p.Target(), Mode: p.PublishMode()})
		}
	}
	return out
}

func protoOf(p api.PortSpec) string {
	if p.Protocol == "" {
		return "tcp"
	}
	return p.Protocol
}

// portLabel names a spec port in errors: "8080:80/tcp", "80/tcp" (auto).
func portLabel(p api.PortSpec) string {
	if p.Port == 0 {
		return fmt.Sprintf("%d/%s", p.Target(), protoOf(p))
	}
	return fmt.Sprintf("%d:%d/%s", p.Port, p.Target(), protoOf(p))
}
