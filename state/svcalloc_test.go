package state

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// svcCluster is a bootstrapped cluster with a task and a service CIDR.
func svcCluster(t *testing.T, serviceCIDR string) *harness {
	h := newHarness(t)
	c := testCluster()
	c.CIDR, c.ServiceCIDR = api.DefaultClusterCIDR, serviceCIDR
	h.ok(api.CmdBootstrap, api.BootstrapPayload{Cluster: c, Node: netNode("n1", "node-1")})
	return h
}

func portsSpec(name string, ports ...api.PortSpec) api.ServiceSpec {
	s := testSpec(name)
	s.Runtime, s.Command, s.Image = api.RuntimeContainerd, nil, "hello"
	s.Ports = ports
	s.Normalize()
	return s
}

func createSvc(h *harness, id string, spec api.ServiceSpec) {
	h.ok(api.CmdCreateService, api.CreateServicePayload{ServiceID: id, Spec: spec})
}

func endpointOf(t *testing.T, h *harness, name string) api.Endpoint {
	t.Helper()
	s, ok := h.fsm.store.View().ServiceByName(name)
	if !ok {
		t.Fatalf("service %s not found", name)
	}
	return s.Endpoint
}

func ingress(published, target uint16) api.PortSpec {
	return api.PortSpec{Port: published, TargetPort: target, Mode: api.PublishIngress}
}

func TestVIPsLowestFreeKeptFreedReused(t *testing.T) {
	h := svcCluster(t, api.DefaultServiceCIDR)
	for i, name := range []string{"a", "b", "c"} {
		createSvc(h, "svc-"+name, portsSpec(name))
		if got, want := endpointOf(t, h, name).VIP, fmt.Sprintf("10.43.0.%d", i+1); got != want {
			t.Fatalf("%s: VIP %q, want %q (the network address is never handed out)", name, got, want)
		}
	}
	spec := portsSpec("b")
	spec.Replicas = 5
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "b", Spec: spec})
	if got := endpointOf(t, h, "b").VIP; got != "10.43.0.2" {
		t.Fatalf("b after update: VIP %q, want it kept", got)
	}
	h.ok(api.CmdRemoveService, api.RemoveServicePayload{Name: "b"})
	createSvc(h, "svc-d", portsSpec("d"))
	if got := endpointOf(t, h, "d").VIP; got != "10.43.0.2" {
		t.Fatalf("d: VIP %q, want b's freed 10.43.0.2", got)
	}
	createSvc(h, "svc-e", portsSpec("e"))
	if got := endpointOf(t, h, "e").VIP; got != "10.43.0.4" {
		t.Fatalf("e: VIP %q", got)
	}
}

func TestVIPsFullServiceCIDR(t *testing.T) {
	h := svcCluster(t, "10.43.0.0/24") // 254 VIPs: .1 to .254
	for i := range 254 {
		createSvc(h, fmt.Sprint("svc-", i), portsSpec(fmt.Sprint("s", i)))
	}
	if got := endpointOf(t, h, "s253").VIP; got != "10.43.0.254" {
		t.Fatalf("last VIP %q (the broadcast address is never handed out)", got)
	}
	err := h.fails(api.CmdCreateService, api.CodeConflict, api.CreateServicePayload{ServiceID: "svc-x", Spec: portsSpec("x")})
	if !strings.Contains(err.Message, "service x: the service CIDR 10.43.0.0/24 is full") || strings.Contains(err.Message, "\n") {
		t.Fatalf("full CIDR: %q", err.Message)
	}
	if _, ok := h.fsm.store.View().ServiceByName("x"); ok {
		t.Fatal("a refused service was stored")
	}
}

func TestEndpointPortsExplicitAutoAndKept(t *testing.T) {
	h := svcCluster(t, api.DefaultServiceCIDR)
	createSvc(h, "svc-a", portsSpec("a", ingress(8080, 80), ingress(0, 9000), api.PortSpec{Name: "metrics", TargetPort: 9100},
		api.PortSpec{Port: 7000, Mode: api.PublishHost}, api.PortSpec{TargetPort: 53, Protocol: "udp", Mode: api.PublishIngress, Name: "dns"}))
	want := []api.EndpointPort{
		{Protocol: "tcp", Target: 80, Published: 8080, Mode: api.PublishIngress},
		{Protocol: "tcp", Target: 9000, Published: api.PublishedPortMin, Mode: api.PublishIngress},
		{Name: "metrics", Protocol: "tcp", Target: 9100},
		{Protocol: "tcp", Target: 7000, Published: 7000, Mode: api.PublishHost},
		{Name: "dns", Protocol: "udp", Target: 53, Published: api.PublishedPortMin, Mode: api.PublishIngress},
	}
	if got := endpointOf(t, h, "a").Ports; !reflect.DeepEqual(got, want) {
		t.Fatalf("ports:\n got %+v\nwant %+v", got, want)
	}
	createSvc(h, "svc-b", portsSpec("b", ingress(0, 80), ingress(0, 81)))
	if got := endpointOf(t, h, "b").Ports; got[0].Published != 30001 || got[1].Published != 30002 {
		t.Fatalf("b's automatic ports %+v, want 30001 and 30002", got)
	}
	// An update that keeps b's automatic port for target 81 keeps its
	// number, even with a lower one free now (a's removed below first).
	h.ok(api.CmdRemoveService, api.RemoveServicePayload{Name: "a"})
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "b", Spec: portsSpec("b", ingress(0, 81), ingress(0, 82))})
	got := endpointOf(t, h, "b").Ports
	if got[0].Published != 30002 || got[1].Published != api.PublishedPortMin {
		t.Fatalf("b after update %+v: want 81 kept on 30002, 82 on the freed 30000", got)
	}
}

func TestPublishedPortConflicts(t *testing.T) {
	h := svcCluster(t, api.DefaultServiceCIDR)
	createSvc(h, "svc-a", portsSpec("a", ingress(8080, 80), api.PortSpec{Port: 7000, Mode: api.PublishHost}))
	for _, c := range []struct {
		port api.PortSpec
		want string
	}{
		{ingress(8080, 81), "service b: published port 8080/tcp is taken by service a"},
		{api.PortSpec{Port: 8080, Mode: api.PublishHost}, "service b: published port 8080/tcp is taken by service a"},
		{ingress(7000, 70), "service b: published port 7000/tcp is taken by service a"},
	} {
		err := h.fails(api.CmdCreateService, api.CodeConflict, api.CreateServicePayload{ServiceID: "svc-b", Spec: portsSpec("b", c.port)})
		if err.Message != c.want {
			t.Errorf("%+v: %q, want %q", c.port, err.Message, c.want)
		}
	}
	// Other protocols, and two host ports, do not conflict.
	createSvc(h, "svc-b", portsSpec("b", api.PortSpec{Port: 8080, Protocol: "udp", Mode: api.PublishIngress}, api.PortSpec{Port: 7000, Mode: api.PublishHost}))
	// An update into a taken port is refused and changes nothing.
	createSvc(h, "svc-c", portsSpec("c", ingress(9000, 90)))
	err := h.fails(api.CmdUpdateService, api.CodeConflict, api.UpdateServicePayload{Name: "c", Spec: portsSpec("c", ingress(8080, 90))})
	if err.Message != "service c: published port 8080/tcp is taken by service a" {
		t.Fatalf("update: %q", err.Message)
	}
	if got := endpointOf(t, h, "c").Ports[0].Published; got != 9000 {
		t.Fatalf("c after a refused update publishes %d", got)
	}
	// A service keeps its own ports through an update.
	h.ok(api.CmdUpdateService, api.UpdateServicePayload{Name: "a", Spec: portsSpec("a", ingress(8080, 8081))})
	// Automatic ports skip explicit ones in the range, others' and its own.
	createSvc(h, "svc-d", portsSpec("d", ingress(30000, 1)))
	createSvc(h, "svc-e", portsSpec("e", ingress(0, 2), ingress(30001, 3)))
	if got := endpointOf(t, h, "e").Ports[0].Published; got != 30002 {
		t.Fatalf("e's automatic port %d, want 30002", got)
	}
}

func TestAutoPortRangeFull(t *testing.T) {
	h := svcCluster(t, api.DefaultServiceCIDR)
	// Fill the range with explicit ports, a service of 100 each.
	n := 0
	for p := api.PublishedPortMin; p <= api.PublishedPortMax; n++ {
		var ports []api.PortSpec
		for ; p <= api.PublishedPortMax && len(ports) < 100; p++ {
			ports = append(ports, ingress(uint16(p), uint16(p)))
		}
		createSvc(h, fmt.Sprint("svc-", n), portsSpec(fmt.Sprint("s", n), ports...))
	}
	err := h.fails(api.CmdCreateService, api.CodeConflict, api.CreateServicePayload{ServiceID: "svc-x", Spec: portsSpec("x", ingress(0, 80))})
	if err.Message != "service x: port 80/tcp: no free published port in 30000-32767/tcp (every one is taken)" {
		t.Fatalf("full range: %q", err.Message)
	}
}

func TestEndpointsOnlyWithServiceCIDR(t *testing.T) {
	h := netCluster(t, api.DefaultClusterCIDR) // bootstrapped before service traffic
	createSvc(h, "svc-a", portsSpec("a", api.PortSpec{Port: 8080}))
	if ep := endpointOf(t, h, "a"); !reflect.DeepEqual(ep, api.Endpoint{}) {
		t.Fatalf("cluster without a service CIDR gave %+v", ep)
	}
	err := h.fails(api.CmdCreateService, api.CodeInvalid, api.CreateServicePayload{ServiceID: "svc-b", Spec: portsSpec("b", ingress(0, 80))})
	if !strings.Contains(err.Message, "ingress publishing needs a cluster bootstrapped with a service CIDR") {
		t.Fatalf("ingress without a service CIDR: %q", err.Message)
	}
	// A legacy host port (no mode) still blocks an ingress port once
	// there is one: publishedPorts reads the spec of a record without an
	// endpoint.
	if got := publishedPorts(&api.Service{Spec: portsSpec("a", api.PortSpec{Port: 8080})}); len(got) != 1 || got[0].Mode != api.PublishHost {
		t.Fatalf("legacy ports %+v", got)
	}
}

func TestServiceCIDRAtBootstrap(t *testing.T) {
	for _, c := range []struct{ cidr, svc string }{
		{api.DefaultClusterCIDR, "10.42.0.0/24"}, // overlaps
		{api.DefaultClusterCIDR, "10.43.0.0/25"}, // too small
		{api.DefaultClusterCIDR, "10.43.0.1/16"}, // host bits
	} {
		h := newHarness(t)
		cl := testCluster()
		cl.CIDR, cl.ServiceCIDR = c.cidr, c.svc
		h.fails(api.CmdBootstrap, api.CodeInvalid, api.BootstrapPayload{Cluster: cl, Node: netNode("n1", "node-1")})
	}
}

// TestEndpointsDeterministicAndSnapshotted: two replicas applying the same
// entries hold byte-identical state, endpoints included, and a snapshot
// restores them.
func TestEndpointsDeterministicAndSnapshotted(t *testing.T) {
	a, b := svcCluster(t, api.DefaultServiceCIDR), svcCluster(t, api.DefaultServiceCIDR)
	for _, h := range []*harness{a, b} {
		for i := range 6 {
			createSvc(h, fmt.Sprint("svc-", i), portsSpec(fmt.Sprint("s", i), ingress(0, 80)))
		}
		h.ok(api.CmdRemoveService, api.RemoveServicePayload{Name: "s2"})
		createSvc(h, "svc-x", portsSpec("x", ingress(0, 80), ingress(9000, 90)))
	}
	snap := snapshotBytes(t, a.fsm)
	if !bytes.Equal(snap, snapshotBytes(t, b.fsm)) {
		t.Fatal("replicas differ")
	}
	want := endpointOf(t, a, "x")
	if want.VIP != "10.43.0.3" || want.Ports[0].Published != 30002 {
		t.Fatalf("x = %+v, want s2's freed VIP and port", want)
	}
	f := NewFSM(NewStore())
	if err := f.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	s, ok := f.Store().View().ServiceByName("x")
	if !ok || !reflect.DeepEqual(s.Endpoint, want) {
		t.Fatalf("restored endpoint %+v, want %+v", s, want)
	}
}
