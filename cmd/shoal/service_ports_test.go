package main

import (
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestPortsColumn(t *testing.T) {
	withEndpoint := api.Service{
		Spec: api.ServiceSpec{Ports: []api.PortSpec{{TargetPort: 80, Mode: api.PublishIngress}}},
		Endpoint: api.Endpoint{VIP: "10.43.0.1", Ports: []api.EndpointPort{
			{Protocol: "tcp", Target: 80, Published: 30001, Mode: api.PublishIngress},
			{Protocol: "udp", Target: 53, Published: 5353, Mode: api.PublishHost},
			{Name: "metrics", Protocol: "tcp", Target: 9100},
		}},
	}
	if got, want := portsColumn(withEndpoint), "*:30001->80/tcp,5353->53/udp (host)"; got != want {
		t.Errorf("with an endpoint: %q, want %q", got, want)
	}
	legacy := api.Service{Spec: api.ServiceSpec{Ports: []api.PortSpec{{Port: 8080, TargetPort: 80}, {Name: "x", TargetPort: 1}}}}
	if got, want := portsColumn(legacy), "8080->80/tcp (host)"; got != want {
		t.Errorf("a record without an endpoint: %q, want %q", got, want)
	}
	if got := portsColumn(api.Service{}); got != "" {
		t.Errorf("no ports: %q", got)
	}
}

// A manifest applied again is unchanged though the API made its published
// port ingress; a port whose mode the manifest names still counts.
func TestSameSpecIgnoresFilledPublishMode(t *testing.T) {
	manifest := api.ServiceSpec{Name: "web", Command: []string{"x"}, Replicas: 1, Ports: []api.PortSpec{{Port: 8080}}}
	stored := cloneSpec(manifest)
	stored.Ports[0].Mode = api.PublishIngress
	if !sameSpec(manifest, stored) {
		t.Error("a mode the API filled in counts as a change")
	}
	manifest.Ports[0].Mode = api.PublishHost
	if sameSpec(manifest, stored) {
		t.Error("a mode the manifest changed does not count")
	}
}
